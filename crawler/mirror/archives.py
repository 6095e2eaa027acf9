"""ImageNet-21k style archives: per-synset tars and a gzip-compressed release of them.

``/archives/n07631926.tar`` holds drawn cakes as ``n07631926_NNNNN.JPEG`` plus planted bad
members (links, a climbing name, an absolute name, an oversized member, a stray file);
``/archives/winter21_whole.tar.gz`` holds ``winter21_whole/<wnid>.tar`` for every archived
synset. Bytes are deterministic (fixed mtimes, owners and gzip header).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass, field

import numpy as np

from crawler.mirror import encoding, wordnet_tree
from crawler.mirror.drawing import random_cake_spec
from crawler.mirror.plan import Planner, Resource, picture

RELEASE = "winter21_whole"
OVERSIZED_BYTES = 12 * 1024 * 1024  # one member larger than the tests' DOWNLOAD_MAXSIZE
FIRST_ID = 20001  # archive image numbers start here (apart from the URL lists' ids)
# synset -> how many drawn cakes its tar holds; tench is there to be filtered out
ARCHIVED = ((wordnet_tree.ICE_CREAM_CAKE, 12), (wordnet_tree.CAKE, 4), ("n01440764", 2))


@dataclass
class SynsetTar:
    """One per-synset tar: its good images and its planted bad members, in archive order."""

    wnid: str
    images: list[dict] = field(default_factory=list)  # name, image_id, wnid, sha256
    skipped: list[dict] = field(default_factory=list)  # name, reason
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def add_image(self, number: int, body: bytes) -> None:
        """A good member ``<wnid>_<number>.JPEG``."""
        name = f"{self.wnid}_{number}.JPEG"
        self.entries.append((_info(name, len(body)), body))
        self.images.append({"name": name, "image_id": f"{self.wnid}_{number}", "wnid": self.wnid,
                            "sha256": hashlib.sha256(body).hexdigest()})

    def add_bad(self, info: tarfile.TarInfo, body: bytes | None, reason: str) -> None:
        """A member a careful reader skips, with the reason it must give."""
        self.entries.append((info, body))
        self.skipped.append({"name": info.name, "reason": reason})

    def tar_bytes(self) -> bytes:
        """The uncompressed tar."""
        return _tar(self.entries)


def _info(
    name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, link
    info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = 0, 0o644, 0, 0, "", ""
    return info


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, body in entries:
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    return out.getvalue()


def _plant_bad_members(tar: SynsetTar, cake: bytes) -> None:
    wnid = tar.wnid
    tar.add_bad(_info(f"{wnid}_90001.JPEG", kind=tarfile.SYMTYPE, link="/etc/passwd"), None,
                "not a regular file")
    tar.add_bad(_info(f"{wnid}_90002.JPEG", kind=tarfile.LNKTYPE, link=f"{wnid}_{FIRST_ID}.JPEG"),
                None, "not a regular file")
    tar.add_bad(_info(f"../{wnid}_90003.JPEG", len(cake)), cake, "path traversal")
    tar.add_bad(_info(f"/tmp/{wnid}_90004.JPEG", len(cake)), cake, "absolute path")
    tar.add_bad(_info(f"{wnid}_90005.JPEG", OVERSIZED_BYTES), bytes(OVERSIZED_BYTES), "too large")
    tar.add_bad(_info("README.txt", 6), b"hello\n", "unexpected name")


class Archives:
    """The archived synsets of one mirror, registered as lazily built routes."""

    def __init__(self, planner: Planner, seed: int) -> None:
        self.planner = planner
        rng = np.random.default_rng([seed, 21])  # its own stream: the rest of the site is unmoved
        self.tars: dict[str, SynsetTar] = {}
        for wnid, count in ARCHIVED:
            tar = SynsetTar(wnid)
            for n in range(count):
                spec = random_cake_spec(int(rng.integers(2**31)))
                tar.add_image(FIRST_ID + n, encoding.jpeg(picture(spec), quality=90))
            if wnid == wordnet_tree.ICE_CREAM_CAKE:
                _plant_bad_members(tar, tar.entries[0][1] or b"")
            self.tars[wnid] = tar
            planner.add(f"/archives/{wnid}.tar", Resource(
                render=tar.tar_bytes, content_type="application/x-tar", image=False))
        planner.add(f"/archives/{RELEASE}.tar.gz", Resource(
            render=self.release_bytes, content_type="application/gzip", image=False))

    def release_bytes(self) -> bytes:
        """The whole release: ``winter21_whole/`` with one tar per synset, gzip-compressed."""
        entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
            (_info(f"{RELEASE}/", kind=tarfile.DIRTYPE), None)
        ]
        for wnid in sorted(self.tars):
            inner = self.planner.body(f"/archives/{wnid}.tar")
            entries.append((_info(f"{RELEASE}/{wnid}.tar", len(inner)), inner))
        return gzip.compress(_tar(entries), compresslevel=6, mtime=0)

    def truth(self) -> dict:
        """The ``archives`` part of /truth.json."""
        return {
            "release": self.planner.url(f"/archives/{RELEASE}.tar.gz"),
            "synsets": {
                wnid: {"url": self.planner.url(f"/archives/{wnid}.tar"), "images": tar.images,
                       "skipped": tar.skipped}
                for wnid, tar in sorted(self.tars.items())
            },
        }
