"""Reading ImageNet-21k archives: a per-synset tar, or the whole release (a tar of such tars).

The ImageNet-21k release (``winter21_whole.tar.gz``) is a gzip-compressed tar holding one
uncompressed tar per synset (``n07631926.tar``), each holding that synset's images as
``n07631926_NNN.JPEG``. Both are read front to back with :mod:`tarfile` in stream mode:
nothing is unpacked to disk, no member is seeked to, and only the images asked for are
held in memory, one at a time. Archives are untrusted input: a member that is no regular
file (links, devices; folders are passed over silently), whose name is absolute, climbs
(``..``) or is not of the expected shape, or that is larger than the size cap is skipped
with its reason.
"""

from __future__ import annotations

import logging
import re
import tarfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

SCHEME = "imagenet-archive"  # the identifier scheme of archive members (never fetched)
_SYNSET_TAR = re.compile(r"^(n\d{8})\.tar$")
_IMAGE = re.compile(r"^(n\d{8})_(\d+)\.(?:JPEG|jpeg|jpg|JPG)$")

READ_BYTES = 1 << 20  # tarfile's stream buffer: its 10 KiB default makes a nested tar inside
# a gzip stream slow (each small read re-copies what one compressed block expanded to)
Skipped = Callable[[str, str], None]  # (member name, reason): called once per member skipped


class ArchiveUnreadable(SynthsetError):
    """An ``-a archive=`` file is not a (gzip-compressed) tar, or ends before its last member."""


class ArchiveHasNoImages(SynthsetError):
    """An ``-a archive=`` file holds no image of the synsets asked for."""


@dataclass(frozen=True)
class ArchiveImage:
    """One image of a per-synset tar: its synset, ImageNet image id and bytes."""

    wnid: str
    image_id: str  # n07631926_123
    name: str  # the member's name in its synset's tar: n07631926_123.JPEG
    body: bytes

    @property
    def identifier(self) -> str:
        """The catalog's stable key for this image: same from a synset tar or the whole release."""
        return member_identifier(self.wnid, self.name)


def member_identifier(wnid: str, name: str) -> str:
    """``imagenet-archive:n07631926.tar/n07631926_123.JPEG``: which synset tar, which member.

    Not a URL anything can fetch (the crawler refuses every scheme but http(s)); it names
    the member of the ImageNet-21k release the bytes came from, wherever the file lies.
    """
    return f"{SCHEME}:{wnid}.tar/{name}"


def unsafe_name(name: str) -> str | None:
    """Why a member name must not be trusted (None: it is a plain relative path)."""
    if not name or "\x00" in name or "\\" in name:
        return "unexpected name"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "absolute path"
    if ".." in path.parts:
        return "path traversal"
    return None


def iter_archive(
    path: Path,
    wnids: Collection[str],
    max_bytes: int,
    skipped: Skipped,
) -> Iterator[ArchiveImage]:
    """The images of synsets ``wnids`` in the archive at ``path``, in archive order.

    ``path`` is a per-synset tar (members ``nXXXXXXXX_N.JPEG``) or a whole release whose
    members are per-synset tars (``nXXXXXXXX.tar``, in any folder), either possibly
    gzip-compressed. Members of other synsets are passed over silently; bad members are
    reported to ``skipped`` with their reason and passed over.

    :raises ArchiveUnreadable: if ``path`` is no tar, or is cut short.
    """
    try:
        with open(path, "rb") as raw, tarfile.open(
            fileobj=raw, mode="r|*", bufsize=READ_BYTES
        ) as outer:
            yield from _members(outer, set(wnids), max_bytes, skipped, inner_of=None)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveUnreadable(
            f"-a archive={str(path)!r}: not a readable tar or tar.gz ({error}); give an "
            "ImageNet-21k per-synset tar (n07631926.tar) or the release (winter21_whole.tar.gz)"
        ) from None


def _members(
    archive: tarfile.TarFile,
    wnids: set[str],
    max_bytes: int,
    skipped: Skipped,
    inner_of: str | None,
) -> Iterator[ArchiveImage]:
    """The wanted images of ``archive``, descending into synset tars when at the top level."""
    for member in archive:
        name = member.name
        shown = f"{inner_of}/{name}" if inner_of else name
        why = unsafe_name(name)
        if why is not None:
            skipped(shown, why)
            continue
        base = PurePosixPath(name).name
        synset_tar = _SYNSET_TAR.match(base) if inner_of is None else None
        if member.isdir():
            continue  # a folder (the release's winter21_whole/) holds nothing to read
        if not member.isfile():
            skipped(shown, "not a regular file")
            continue
        if synset_tar is not None:
            if synset_tar.group(1) in wnids:
                yield from _synset_tar(archive, member, wnids, max_bytes, skipped)
            continue
        image = _IMAGE.match(name)  # images sit at the top of their synset's tar
        if image is None:
            skipped(shown, "unexpected name")
            continue
        if image.group(1) not in wnids:
            continue
        if member.size > max_bytes:
            skipped(shown, "too large")
            continue
        body = _read(archive, member)
        if body is None or len(body) != member.size:
            raise tarfile.ReadError(f"member {shown} is cut short")
        yield ArchiveImage(image.group(1), f"{image.group(1)}_{image.group(2)}", name, body)


def _synset_tar(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    wnids: set[str],
    max_bytes: int,
    skipped: Skipped,
) -> Iterator[ArchiveImage]:
    """The wanted images of the synset tar ``member`` of a release, read as a stream."""
    handle = archive.extractfile(member)
    assert handle is not None  # a regular file always has a reader
    with tarfile.open(fileobj=handle, mode="r|", bufsize=READ_BYTES) as inner:
        yield from _members(inner, wnids, max_bytes, skipped, inner_of=member.name)


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    handle: IO[bytes] | None = archive.extractfile(member)
    return handle.read() if handle is not None else None
