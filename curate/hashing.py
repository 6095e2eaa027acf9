"""Perceptual hashes (imagehash pHash, dHash, wHash) of decoded pixels, as signed int64."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

HASH_BITS = 64
HASH_SIDE = 8  # 8 x 8 = 64 bits
# Pictures are box-reduced (Image.reduce, exact integer factors) until the shorter side is
# below twice this, before imagehash resamples them with Lanczos: the hashes then cost the
# same for a 640 px photo and a 6000 px one, and differ from hashing the full picture by a
# bit or two at most (benchmarks/hashing.py measures it).
REDUCE_TO = 64
WHASH_SCALE = 64  # the wavelet hash's working size (a power of two <= REDUCE_TO)
_MASK = (1 << HASH_BITS) - 1

# --hash choice -> imagehash function on a small greyscale PIL image (house rule 7).
HASH_FUNCTIONS: dict[str, Callable[[Image.Image], imagehash.ImageHash]] = {
    "phash": lambda image: imagehash.phash(image, hash_size=HASH_SIDE),
    "dhash": lambda image: imagehash.dhash(image, hash_size=HASH_SIDE),
    "whash": lambda image: imagehash.whash(image, hash_size=HASH_SIDE, image_scale=WHASH_SCALE),
}


@dataclass(frozen=True)
class ImageHashes:
    """The content hashes of one decoded picture (perceptual ones as signed int64)."""

    pixel_sha256: str
    phash: int
    dhash: int
    whash: int

    def get(self, name: str) -> int:
        """The perceptual hash called ``name`` (phash, dhash or whash)."""
        return int(getattr(self, name))


def hash_to_int64(value: imagehash.ImageHash) -> int:
    """A 64-bit imagehash result as a signed int64 (SQLite's INTEGER), bits in row-major order.

    :raises ValueError: if the hash is not 64 bits.
    """
    bits = np.asarray(value.hash, dtype=bool).ravel()
    if bits.size != HASH_BITS:
        raise ValueError(f"expected a {HASH_BITS}-bit hash, got {bits.size} bits")
    unsigned = int("".join("1" if b else "0" for b in bits), 2)
    return unsigned - (1 << HASH_BITS) if unsigned >> (HASH_BITS - 1) else unsigned


def int64_to_hash(value: int) -> imagehash.ImageHash:
    """The imagehash object of a stored signed int64 (inverse of :func:`hash_to_int64`)."""
    unsigned = int(value) & _MASK
    bits = [(unsigned >> (HASH_BITS - 1 - i)) & 1 for i in range(HASH_BITS)]
    return imagehash.ImageHash(np.array(bits, dtype=bool).reshape(HASH_SIDE, HASH_SIDE))


def hamming(a: int, b: int) -> int:
    """The number of differing bits between two stored 64-bit hashes."""
    return ((int(a) ^ int(b)) & _MASK).bit_count()


def pixel_sha256(pixels: np.ndarray) -> str:
    """sha256 of a pixel array's shape, dtype and bytes: the same picture in any encoding."""
    digest = hashlib.sha256(f"{pixels.shape}|{pixels.dtype.str}|".encode())
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()


def small_gray(pixels: np.ndarray) -> Image.Image:
    """The picture box-reduced to a shorter side in [REDUCE_TO, 2 * REDUCE_TO), in greyscale."""
    image = Image.fromarray(pixels)
    factor = max(1, min(image.size) // REDUCE_TO)
    if factor > 1:
        image = image.reduce(factor)
    return image.convert("L")


def perceptual_hashes(image: Image.Image) -> dict[str, int]:
    """Every registered perceptual hash of a PIL image, as signed int64 by name."""
    gray = image.convert("L")
    return {name: hash_to_int64(function(gray)) for name, function in HASH_FUNCTIONS.items()}


def hash_pixels(pixels: np.ndarray) -> ImageHashes:
    """The pixel sha256 and the perceptual hashes of a decoded uint8 L or RGB array."""
    return ImageHashes(pixel_sha256=pixel_sha256(pixels), **perceptual_hashes(small_gray(pixels)))
