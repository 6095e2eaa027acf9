"""Prepare the next images in a background thread (decode, scale, draw) before they are shown."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

Box = tuple[int, int]  # (width, height) in pixels


def decode_scaled(path: Path, box: Box) -> Image.Image:
    """Decode ``path`` upright (EXIF orientation applied), in RGB, fitted inside ``box``.

    JPEGs are decoded at a reduced scale when the box is much smaller than the image.
    """
    width, height = max(box[0], 1), max(box[1], 1)
    with Image.open(path) as image:
        image.draft("RGB", (width, height))  # a no-op for formats other than JPEG
        upright = ImageOps.exif_transpose(image)
        rgb = upright.convert("RGB")
    rgb.thumbnail((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return rgb


class Prefetcher:
    """A small cache of prepared images keyed by (key, spec), filled by one worker thread.

    ``prepare(path, spec)`` does the work: by default :func:`decode_scaled`, whose spec
    is a :data:`Box`; the review's half-block view draws too (curate.review.halfcell).
    """

    def __init__(
        self,
        keep: int = 16,
        workers: int = 1,
        prepare: Callable[[Path, Any], Any] = decode_scaled,
    ) -> None:
        self.keep = keep
        self.prepare = prepare
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch")
        self._cache: OrderedDict[tuple[str, Hashable], Future] = OrderedDict()

    def get(self, key: str, path: Path, spec: Hashable) -> Future:
        """The future prepared image of ``path`` for ``spec`` (started now unless already asked)."""
        slot = (key, spec)
        future = self._cache.get(slot)
        if future is None:
            future = self._pool.submit(self.prepare, path, spec)
            self._cache[slot] = future
        self._cache.move_to_end(slot)
        while len(self._cache) > self.keep:
            _, old = self._cache.popitem(last=False)
            old.cancel()
        return future

    def prefetch(self, wanted: Iterable[tuple[str, Path]], spec: Hashable) -> None:
        """Start preparing ``wanted`` (key, path) pairs that are not cached yet, in order."""
        for key, path in wanted:
            self.get(key, path, spec)

    def clear(self) -> None:
        """Forget every cached image (after the image area changed size)."""
        for future in self._cache.values():
            future.cancel()
        self._cache.clear()

    def close(self) -> None:
        """Stop the worker thread, dropping queued work."""
        self._pool.shutdown(wait=False, cancel_futures=True)
