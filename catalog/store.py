"""The content-addressed image store: ``images/ab/cd/<sha256>.<ext>``, written atomically."""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog.errors import UnsafePath

STORE_DIR = "images"
INCOMING_DIR = ".incoming"  # temporary files live here until renamed into place
STALE_TEMP_SECONDS = 600  # a temp file this old belongs to a writer that died
PUT_MANY_OPEN_FILES = 64  # files put_many holds open at once (written, not yet synced)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^[a-z0-9]{1,5}$")

# Extensions from the first bytes of a body; anything else is stored as .bin.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
)


def sniff_extension(data: bytes) -> str:
    """A file extension for ``data`` from its magic bytes (``bin`` when unknown)."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "bin"


@dataclass(frozen=True)
class StoredFile:
    """Where one body landed in the store."""

    sha256: str
    path: str  # relative to the data directory, always with forward slashes
    bytes: int


class ImageStore:
    """Stores each distinct body once, under a name derived from its sha256."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.root = self.data_dir / STORE_DIR

    def relative_path(self, sha256: str, ext: str) -> str:
        """The store path of a body, relative to the data directory.

        :raises UnsafePath: if ``sha256`` or ``ext`` is not of the expected shape.
        """
        if not _SHA256.match(sha256) or not _EXT.match(ext):
            raise UnsafePath(f"refusing store name {sha256!r}.{ext!r}")
        return f"{STORE_DIR}/{sha256[:2]}/{sha256[2:4]}/{sha256}.{ext}"

    def absolute(self, relative: str) -> Path:
        """The absolute path of a store-relative path, refusing anything outside the data dir.

        :raises UnsafePath: if the path escapes the data directory.
        """
        path = (self.data_dir / relative).resolve()
        if not path.is_relative_to(self.root):
            raise UnsafePath(f"{relative!r} is outside the image store {self.root}")
        return path

    def put(self, data: bytes, ext: str | None = None) -> StoredFile:
        """Store ``data`` (once) and say where; the file appears whole or not at all."""
        stored, target = self._locate(data, ext)
        if not os.path.exists(target):
            _write_synced([(target, data)], self.root / INCOMING_DIR)
        return stored

    def _locate(self, data: bytes, ext: str | None = None) -> tuple[StoredFile, str]:
        """Where ``data`` belongs: its StoredFile and the absolute path of its file."""
        sha256 = hashlib.sha256(data).hexdigest()
        relative = self.relative_path(sha256, ext or sniff_extension(data))
        # A name made of a hex digest and a checked extension cannot leave the store, so no
        # resolve() (an lstat per path component) on this path, which runs once per image.
        target = os.path.join(self.data_dir, relative)
        return StoredFile(sha256=sha256, path=relative, bytes=len(data)), target

    def put_many(self, bodies: Sequence[bytes]) -> list[StoredFile]:
        """:meth:`put` for each of ``bodies``, in order; every file is synced and in place when
        this returns.

        Cheaper than a :meth:`put` each: the new files of up to ``PUT_MANY_OPEN_FILES`` bodies
        are written and their writeback started together, then each is fsynced, then each is
        renamed into place (measured on the development machine's ext4: 0.85 ms of CPU per
        45 kB file, against 0.96 ms for one file written and synced at a time and 1.5 ms for
        four threads doing that side by side, in the time the four threads took). A body twice
        in ``bodies`` is written once.
        """
        found: list[StoredFile] = []
        new: dict[str, bytes] = {}  # target -> body, each target once
        for data in bodies:
            stored, target = self._locate(data)
            found.append(stored)
            if target not in new and not os.path.exists(target):
                new[target] = data
        pending = list(new.items())
        for start in range(0, len(pending), PUT_MANY_OPEN_FILES):
            _write_synced(pending[start:start + PUT_MANY_OPEN_FILES], self.root / INCOMING_DIR)
        return found

    def sweep_incoming(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Delete temporary files left by writers that were killed; return how many."""
        incoming = self.root / INCOMING_DIR
        if not incoming.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for leftover in incoming.iterdir():
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed


def write_atomically(target: Path, data: bytes, temp_dir: Path | None = None) -> None:
    """Write ``data`` to ``target`` through a synced temporary file and a rename.

    ``temp_dir`` must be on the same filesystem as ``target`` (default: its folder).
    """
    _write_synced([(str(target), data)], temp_dir or target.parent)


def _write_synced(pending: list[tuple[str, bytes]], temp_dir: Path) -> None:
    """Write each (target, body) of ``pending`` to a temporary file in ``temp_dir``, start its
    writeback, then fsync each, then rename each into place: each target appears whole or not
    at all. Folders are made only when missing (a failed call), not checked every time."""
    written: list[tuple[str, str]] = []  # (temporary path, target)
    try:
        fds: list[int] = []
        try:
            for target, data in pending:
                try:
                    fd, tmp = tempfile.mkstemp(prefix="tmp-", dir=temp_dir)
                except FileNotFoundError:
                    temp_dir.mkdir(parents=True, exist_ok=True)
                    fd, tmp = tempfile.mkstemp(prefix="tmp-", dir=temp_dir)
                fds.append(fd)
                written.append((tmp, target))
                _write_all(fd, data)
                _start_writeback(fd)
            for fd in fds:
                os.fsync(fd)
        finally:
            for fd in fds:
                os.close(fd)
        while written:
            tmp, target = written[0]
            try:
                os.replace(tmp, target)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
            written.pop(0)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the descriptor ``fd``.

    os.write on the bare descriptor: a file object would add an fstat, an isatty ioctl and an
    lseek per image, and copy the body through its buffer.
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


_SYNC_FILE_RANGE_WRITE = 2  # sync_file_range(2): start writeback of the range, do not wait
_sync_file_range = None
if sys.platform.startswith("linux"):
    try:
        _sync_file_range = ctypes.CDLL(None, use_errno=True).sync_file_range
        _sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    except (AttributeError, OSError):  # a libc without it
        _sync_file_range = None


def _start_writeback(fd: int) -> None:
    """Start writing ``fd``'s dirty pages to disk without waiting (Linux; elsewhere nothing):
    an fsync later then waits on writes already under way. Durability still comes from that
    fsync, never from this."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)
