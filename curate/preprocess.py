"""Stored images to export pixels: decode, centre-crop to a square, resize (the seed's steps)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from synthset.errors import SynthsetError
from synthset.lifetime import die_with_parent

log = logging.getLogger(__name__)

# Interpolation names accepted by --interpolation, mapped to OpenCV constants.
INTERPOLATIONS: dict[str, int] = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}
# Colour modes accepted by --color, mapped to their channel count.
COLORS: dict[str, int] = {"gray": 1, "rgb": 3}
# Reduced-resolution JPEG decode (libjpeg DCT scaling): factor -> imread flag, per colour mode.
REDUCED_FLAGS: dict[str, dict[int, int]] = {
    "gray": {
        8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
        4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
        2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    },
    "rgb": {
        8: cv2.IMREAD_REDUCED_COLOR_8,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        2: cv2.IMREAD_REDUCED_COLOR_2,
    },
}
JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})
MAX_SIZE = 4096  # pixels per side of the output
# OpenCV's default PNG settings (fast RLE strategy, as the seed's cv2.imwrite): for one OpenCV
# version the same pixels give the same bytes; export.json records the version.
PNG_PARAMS: list[int] = []


class InvalidPreprocessOption(SynthsetError, ValueError):
    """A preprocessing option (size, colour mode, interpolation) has a value we do not know."""


class UndecodableImage(Exception):
    """Neither OpenCV nor Pillow could decode one stored image (a per-image outcome, not fatal)."""


@dataclass(frozen=True)
class PreprocessOptions:
    """How each image becomes export pixels; the defaults are the seed paper's."""

    size: int = 100
    color: str = "gray"  # a key of COLORS
    interpolation: str = "linear"  # a key of INTERPOLATIONS
    reduced_decode: bool = False  # decode JPEGs at 1/2, 1/4 or 1/8 scale when still >= size


class Preprocessor:
    """Configured once, called per image: ``Preprocessor(options)(path) -> uint8 array``.

    The default path is pixel-identical to the seed's loop ``cv2.imread(f)`` ->
    ``cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)`` -> centre crop -> ``cv2.resize(crop,
    (100, 100), interpolation=cv2.INTER_LINEAR)``; it crops before the colour conversion,
    which gives the same pixels for less work. ``cv2.imread`` applies EXIF orientation.
    Files OpenCV cannot read go through Pillow (EXIF-transposed, first frame, RGB).
    """

    def __init__(self, options: PreprocessOptions) -> None:
        """Validate ``options``.

        :raises InvalidPreprocessOption: for an unknown colour or interpolation, or a bad size.
        """
        if options.color not in COLORS:
            raise InvalidPreprocessOption(
                f"unknown colour mode {options.color!r}; choose one of {sorted(COLORS)}"
            )
        if options.interpolation not in INTERPOLATIONS:
            raise InvalidPreprocessOption(
                f"unknown interpolation {options.interpolation!r}; "
                f"choose one of {sorted(INTERPOLATIONS)}"
            )
        if not 1 <= options.size <= MAX_SIZE:
            raise InvalidPreprocessOption(
                f"size {options.size} is out of range; choose 1..{MAX_SIZE}"
            )
        self.options = options
        self.channels = COLORS[options.color]
        self._interpolation = INTERPOLATIONS[options.interpolation]

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of every output: (size, size, channels)."""
        return (self.options.size, self.options.size, self.channels)

    def __call__(self, path: Path | str) -> np.ndarray:
        """The export pixels of one image file: (size, size, channels) uint8, RGB order.

        :raises UndecodableImage: when no decoder can read the file.
        """
        bgr_or_gray = self._decode(Path(path))
        square = centre_crop(bgr_or_gray)
        if square.ndim == 3:  # BGR; a reduced gray decode is already single-channel
            code = cv2.COLOR_BGR2GRAY if self.channels == 1 else cv2.COLOR_BGR2RGB
            square = cv2.cvtColor(square, code)
        size = self.options.size
        out = cv2.resize(square, (size, size), interpolation=self._interpolation)
        return out.reshape(self.shape)

    def _decode(self, path: Path) -> np.ndarray:
        """BGR (or, for a reduced gray decode, single-channel) pixels, EXIF-oriented."""
        flag = self._reduced_flag(path) if self.options.reduced_decode else None
        image = cv2.imread(str(path), cv2.IMREAD_COLOR if flag is None else flag)
        if image is None:
            image = decode_with_pillow(path)
        return image

    def _reduced_flag(self, path: Path) -> int | None:
        """The most reduced JPEG decode whose shorter side stays >= size, or None."""
        if path.suffix.lower() not in JPEG_SUFFIXES:
            return None
        try:
            with Image.open(path) as header:  # reads the header only
                shorter = min(header.size)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        for factor, flag in REDUCED_FLAGS[self.options.color].items():  # 8, 4, 2
            if -(-shorter // factor) >= self.options.size:  # libjpeg rounds scaled sizes up
                return flag
        return None


def centre_crop(image: np.ndarray) -> np.ndarray:
    """The centred square of ``image``: the longer side cut to the shorter at (L - S) // 2."""
    height, width = image.shape[:2]
    side = min(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    return image[top : top + side, left : left + side]


def decode_with_pillow(path: Path) -> np.ndarray:
    """BGR pixels of the first frame of ``path`` through Pillow, EXIF orientation applied.

    :raises UndecodableImage: when Pillow cannot decode it either.
    """
    try:
        with Image.open(path) as image:
            image.seek(0)
            rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise UndecodableImage(f"{path.name}: {error}") from error
    log.debug("decoded %s with Pillow", path)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of (H, W, 1) gray or (H, W, 3) RGB pixels; the same pixels give the same bytes."""
    if pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", pixels, PNG_PARAMS)
    if not ok:  # pragma: no cover - imencode only fails for unsupported shapes
        raise ValueError(f"cannot encode pixels of shape {pixels.shape} as PNG")
    return encoded.tobytes()


# --- many images over worker processes: each holds one Preprocessor, returns pixels + PNG ---

_worker_preprocessor: Preprocessor | None = None


def _init_worker(options: PreprocessOptions, pool_worker: bool = False) -> None:
    """Set up one process (a pool worker, or this one when single-process): its Preprocessor."""
    global _worker_preprocessor
    _worker_preprocessor = Preprocessor(options)
    if pool_worker:
        die_with_parent()  # a killed command leaves no worker behind
        _keep_freed_memory()


# glibc mallopt parameters: every decoded photo is a multi-megabyte buffer. By default glibc
# serves each from a fresh mmap (or trims it back to the system) and the next one page-faults
# its way in again (measured: 0.24 s of system time per 224 photos in a fresh worker, 0.02 s
# with this). A worker is short-lived, so it keeps freed memory for reuse instead.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64-bit


def _keep_freed_memory() -> None:
    """Ask glibc (where it is the C library) to reuse freed decode buffers, not unmap them."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return
    mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
    mallopt(_M_TRIM_THRESHOLD, 4 * _KEEP_BYTES)


Processed = tuple[np.ndarray, bytes] | str  # (pixels, PNG bytes), or why the image failed


def _preprocess_one(path: str) -> Processed:
    """Pixels and PNG bytes of one image, or the reason it cannot be used."""
    assert _worker_preprocessor is not None
    try:
        pixels = _worker_preprocessor(path)
    except UndecodableImage as error:
        return f"undecodable: {error}"
    except cv2.error as error:
        return f"opencv: {str(error).strip().splitlines()[-1]}"
    return pixels, encode_png(pixels)


@contextmanager
def preprocess_all(
    paths: list[str], options: PreprocessOptions, workers: int
) -> Iterator[Iterator[Processed]]:
    """``(pixels, png)`` or a failure reason per path, in order, over ``workers`` processes.

    A context manager, so the worker pool ends when the ``with`` block does, however it ends.
    """
    workers = min(workers, len(paths))
    if workers <= 1:
        _init_worker(options)
        yield map(_preprocess_one, paths)
        return
    # fork: workers start in milliseconds with every module already imported; they only run
    # _preprocess_one, never touch the parent's SQLite connection or terminal. The executor
    # forks them at the first submit, before it starts any thread of its own. OpenCV is made
    # single-threaded around the fork: the processes already fill the cores, and a child must
    # not call cv2.setNumThreads itself (it can wait forever for the parent's pool threads).
    # gc.freeze() around the fork keeps the children's garbage collector off the parent's
    # objects, whose pages it would otherwise copy (copy-on-write) into every worker.
    # A worker that dies (a decoder crash, the OOM killer) raises BrokenProcessPool, no hang.
    chunksize = max(1, min(4, len(paths) // (workers * 8)))  # small: little idle tail
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker, initargs=(options, True),
    )
    try:
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        gc.freeze()
        try:
            results = pool.map(_preprocess_one, paths, chunksize=chunksize)  # forks here
        finally:
            gc.unfreeze()
            cv2.setNumThreads(threads)
        yield results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
