"""The building blocks of the planted world: routes, lazily rendered bodies and truth rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image

from crawler.mirror import encoding
from crawler.mirror.drawing import CakeSpec, draw_cake, random_cake_spec

# kind -> (http_status, error, stored, check): what a correct crawl and `curate check` conclude
KINDS: dict[str, tuple[int | None, str | None, bool, str]] = {
    "ok": (200, None, True, "ok"),
    "not_found": (404, None, False, "dead"),
    "server_error": (500, None, False, "dead"),
    "refused": (None, "refused", False, "dead"),
    "timeout": (None, "timeout", False, "dead"),
    "empty": (200, None, True, "empty"),
    "html_as_jpg": (200, None, True, "not_image"),
    "truncated": (200, None, True, "corrupt"),
    "bomb": (200, None, True, "corrupt"),
    "placeholder": (200, None, True, "placeholder"),
    "exact_duplicate": (200, None, True, "ok"),
    "same_pixels": (200, None, True, "ok"),
    "near_duplicate": (200, None, True, "ok"),
    "redirect": (200, None, True, "ok"),
    "oversized": (None, "too_large", False, "dead"),
    "too_small": (200, None, True, "too_small"),
    "bad_scheme": (None, "bad_scheme", False, "dead"),
    "robots": (None, "robots", False, "dead"),
}

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
}


@dataclass(frozen=True)
class Resource:
    """What the server answers for one path; ``render`` makes the body (once, then cached)."""

    render: Callable[[], bytes]
    content_type: str = "image/jpeg"
    status: int = 200
    location: str | None = None
    hold_s: float = 0.0  # hold the answer this long (the timeout route)
    image: bool = True  # --latency-ms applies


@dataclass
class Planted:
    """One URL the mirror planted, with what a correct harvest and check must record for it."""

    url: str
    kind: str
    source: str = "imagenet"
    wnid: str | None = None
    image_id: str | None = None
    found_on: str | None = None
    depth: int | None = None
    http_status: int | None = None
    error: str | None = None
    stored: bool = False
    check: str = "ok"
    duplicate_of: str | None = None
    decision: str | None = None
    final_url: str | None = None
    variant: str | None = None

    def as_truth(self) -> dict:
        """The /truth.json row."""
        return asdict(self)


@lru_cache(maxsize=64)
def _drawn(spec: CakeSpec) -> Image.Image:
    return draw_cake(spec)


def picture(spec: CakeSpec) -> Image.Image:
    """The drawn cake for ``spec``: a private copy of a cached drawing.

    A copy, because request threads encode concurrently and ``Image.save`` keeps its
    parameters on the image object (``encoderinfo``): two threads saving one shared image
    at once could each write with the other's options (seen: a zlib level 9 PNG written
    byte-identical to the level 1 one).
    """
    return _drawn(spec).copy()


class Planner:
    """Collects routes and truth rows while a world is laid out; seeds come from one generator."""

    def __init__(self, base_url: str, refused_base: str, seed: int) -> None:
        self.base_url = base_url
        self.refused_base = refused_base  # http://127.0.0.1:CLOSED_PORT/
        self.rng = np.random.default_rng(seed)
        self.routes: dict[str, Resource] = {}
        self._bodies: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        """Absolute URL of a mirror path."""
        return self.base_url + path.lstrip("/")

    def new_spec(self, **overrides: object) -> CakeSpec:
        """A fresh random cake; ``overrides`` pin fields such as width and height."""
        spec = random_cake_spec(int(self.rng.integers(2**31)))
        return replace(spec, **overrides) if overrides else spec

    def add(self, path: str, resource: Resource) -> str:
        """Serve ``resource`` at ``path``; returns its absolute URL."""
        self.routes[path] = resource
        return self.url(path)

    def add_bytes(self, path: str, render: Callable[[], bytes], **fields: object) -> str:
        """Serve lazily rendered bytes at ``path`` with the content type its extension implies."""
        ext = path.rsplit(".", 1)[-1]
        fields.setdefault("content_type", CONTENT_TYPES.get(ext, "application/octet-stream"))
        return self.add(path, Resource(render=render, **fields))

    def add_cake(self, path: str, spec: CakeSpec, encode: Callable[[Image.Image], bytes]) -> str:
        """Serve cake ``spec`` encoded by ``encode`` at ``path``."""
        return self.add_bytes(path, lambda: encode(picture(spec)))

    def body(self, path: str) -> bytes:
        """The (cached) body for ``path``; renders it on first use."""
        with self._lock:
            cached = self._bodies.get(path)
        if cached is None:
            cached = self.routes[path].render()
            with self._lock:
                self._bodies[path] = cached
        return cached


def planted(url: str, kind: str, **fields: object) -> Planted:
    """A truth row for ``url`` with the status/error/stored/check its ``kind`` implies."""
    http_status, error, stored, check = KINDS[kind]
    row = Planted(
        url=url, kind=kind, http_status=http_status, error=error, stored=stored, check=check
    )
    for name, value in fields.items():
        setattr(row, name, value)
    if row.final_url is None and row.http_status is not None:
        row.final_url = url
    return row


def cake_encoder(ext: str, quality: int = 92) -> Callable[[Image.Image], bytes]:
    """The ordinary encoder for an extension: JPEG at ``quality`` or PNG."""
    if ext == "png":
        return lambda image: encoding.png(image, compress_level=6)
    return lambda image: encoding.jpeg(image, quality=quality)
