"""Perceptual hashes (imagehash pHash, dHash, wHash, centre pHashes) and the pixel sha256.

The centre hashes are pHashes of the picture's central region, with 5% and 10% of the
width and height cut from every side (:data:`CENTRE_MARGINS`): a copy cropped by about
that much has a full pHash close to the original's centre hash, which is how
``curate dedup`` finds crops (and, with the corners left out, small rotations) as
candidates; pHash alone loses a crop past about 2.5% per side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

HASH_BITS = 64
HASH_SIDE = 8  # 8 x 8 = 64 bits
# Pictures are box-reduced (Image.reduce by a whole factor, centred so no partial boxes
# skew a symmetric picture) until the shorter side is below twice this, before imagehash
# resamples them with Lanczos. The hashes then cost the same for a 640 px photo and a
# 6000 px one; benchmarks/hashing.py measures how far they are from imagehash on the
# full picture (a bit or two).
REDUCE_TO = 64
WHASH_SCALE = 64  # the wavelet hash's working size (a power of two)
PHASH_SCALE = 32  # pHash's working size: imagehash's hash_size 8 x highfreq_factor 4
# centre hash name -> share of the width and height cut from each side before hashing
CENTRE_MARGINS = {"centre5_phash": 0.05, "centre10_phash": 0.10}
_MASK = (1 << HASH_BITS) - 1
# The first HASH_SIDE rows of scipy.fftpack's unnormalised DCT-II matrix for PHASH_SCALE
# points: dct(x)[k] = 2 * sum_n x[n] cos(pi k (2n + 1) / 2N).
_DCT_LOW = 2.0 * np.cos(
    np.pi * np.outer(np.arange(HASH_SIDE), 2 * np.arange(PHASH_SCALE) + 1) / (2 * PHASH_SCALE)
)
_DCT_DECIMALS = 6  # rounding that absorbs float noise, so exact zeros stay zeros as in scipy


def _median(values: np.ndarray) -> float:
    """``np.median`` of a small array, the same value (mean of the two middle ones), 10x faster."""
    flat = np.sort(values, axis=None)
    middle = flat.size // 2
    if flat.size % 2:
        return float(flat[middle])
    return (float(flat[middle - 1]) + float(flat[middle])) / 2


def phash_dct(image: Image.Image) -> imagehash.ImageHash:
    """imagehash's ``phash(image, 8)`` with a precomputed DCT matrix instead of scipy.

    The same 32 x 32 Lanczos greyscale, the same low 8 x 8 DCT-II coefficients (rounded
    to 6 decimals: a matrix product leaves ~1e-10 noise where scipy's transform gives
    exact zeros, as for flat or one-directional pictures), the same "above the median"
    bits; tests/test_curate_check.py compares them on photos, noise, flats and gradients.
    Saves importing scipy (0.2 s) in every process.
    """
    small = image.convert("L").resize((PHASH_SCALE, PHASH_SCALE), Image.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    low = np.round(_DCT_LOW @ pixels @ _DCT_LOW.T, _DCT_DECIMALS)
    return imagehash.ImageHash(low > _median(low))


def whash_haar(image: Image.Image) -> imagehash.ImageHash:
    """imagehash's ``whash(image, 8, image_scale=64, mode='haar')`` computed exactly in numpy.

    With Haar wavelets, removing the top-level LL coefficient subtracts the mean, and the
    level-3 LL band of a 64 x 64 picture is 8 x the means of its 8 x 8 blocks; the hash is
    "block mean > median of block means". Same bits as imagehash except where pywt's
    float round trip breaks ties between blocks of exactly equal mean, and ~20x faster.
    """
    pixels = np.asarray(image.convert("L").resize((WHASH_SCALE, WHASH_SCALE), Image.LANCZOS))
    block = WHASH_SCALE // HASH_SIDE
    means = pixels.reshape(HASH_SIDE, block, HASH_SIDE, block).astype(np.int64).sum(axis=(1, 3))
    return imagehash.ImageHash(means > _median(means))


# --hash choice -> hash function of a (small, greyscale) PIL image (house rule 7).
HASH_FUNCTIONS: dict[str, Callable[[Image.Image], imagehash.ImageHash]] = {
    "phash": phash_dct,
    "dhash": lambda image: imagehash.dhash(image, hash_size=HASH_SIDE),
    "whash": whash_haar,
}


@dataclass(frozen=True)
class ImageHashes:
    """The content hashes of one decoded picture (perceptual ones as signed int64)."""

    pixel_sha256: str | None  # None when not asked for (see hash_image)
    phash: int
    dhash: int
    whash: int
    centre5_phash: int  # pHash of the picture with 5% cut from every side
    centre10_phash: int  # ... and with 10% cut

    def get(self, name: str) -> int:
        """The perceptual hash called ``name`` (phash, dhash or whash)."""
        return int(getattr(self, name))


def hash_to_int64(value: imagehash.ImageHash) -> int:
    """A 64-bit imagehash result as a signed int64 (SQLite's INTEGER), bits in row-major order.

    The unsigned value is ``int(str(value), 16)``, imagehash's own hex; bit 63 is the sign.
    :raises ValueError: if the hash is not 64 bits.
    """
    bits = np.asarray(value.hash, dtype=bool).ravel()
    if bits.size != HASH_BITS:
        raise ValueError(f"expected a {HASH_BITS}-bit hash, got {bits.size} bits")
    return int.from_bytes(np.packbits(bits).tobytes(), "big", signed=True)


def int64_to_hash(value: int) -> imagehash.ImageHash:
    """The imagehash object of a stored signed int64 (inverse of :func:`hash_to_int64`)."""
    unsigned = int(value) & _MASK
    bits = [(unsigned >> (HASH_BITS - 1 - i)) & 1 for i in range(HASH_BITS)]
    return imagehash.ImageHash(np.array(bits, dtype=bool).reshape(HASH_SIDE, HASH_SIDE))


def hamming(a: int, b: int) -> int:
    """The number of differing bits between two stored 64-bit hashes."""
    return ((int(a) ^ int(b)) & _MASK).bit_count()


def _pixel_digest(shape: tuple[int, ...], raw: bytes | memoryview) -> str:
    digest = hashlib.sha256(f"{shape}|u1|".encode())
    digest.update(raw)
    return digest.hexdigest()


def pixel_sha256(pixels: np.ndarray) -> str:
    """sha256 of a uint8 pixel array's shape and bytes: the same picture in any encoding.

    Equal digests mean equal decoded arrays. What is decoded (``curate.decode``): every
    format at full resolution, except a JPEG whose shorter side exceeds 2 x REDUCE_TO,
    which ``curate check`` (and ``decode_image`` by default) decodes at libjpeg's reduced
    DCT scale, 1/2 to 1/8. So for such a JPEG, "same pixels" means the same reduced
    pixels: the same JPEG data under any wrapping (metadata added or stripped, lossless
    progressive transcoding) matches; a PNG of its full-size decode does not (dedup still
    groups the two, at pHash distance 0, only the reason words differ); two encodings
    whose low-frequency DCT content agrees at that scale (re-encodings a quality step
    apart) also match, and are pHash distance 0 apart anyway. With draft decoding off
    (``CheckOptions(draft=False)``) JPEGs are hashed at full size, a different array:
    a catalog checked both ways can miss such a match, never invent one.
    """
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    return _pixel_digest(tuple(pixels.shape), np.ascontiguousarray(pixels).data)


def image_pixel_sha256(image: Image.Image) -> str:
    """:func:`pixel_sha256` of an L or RGB PIL image without building the array first."""
    shape = (image.height, image.width) if image.mode == "L" else (image.height, image.width, 3)
    return _pixel_digest(shape, image.tobytes())


def small_gray(image: Image.Image) -> Image.Image:
    """The picture box-reduced to a shorter side in [REDUCE_TO, 2 * REDUCE_TO), in greyscale."""
    width, height = image.size
    factor = max(1, min(width, height) // REDUCE_TO)
    if factor > 1:
        left, top = (width % factor) // 2, (height % factor) // 2
        box = (left, top, left + factor * (width // factor), top + factor * (height // factor))
        image = image.reduce(factor, box=box)
    return image.convert("L")


def centre(image: Image.Image, margin: float) -> Image.Image:
    """The central region of a picture: ``margin`` of its width and height cut per side."""
    dx, dy = round(image.width * margin), round(image.height * margin)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def perceptual_hashes(image: Image.Image) -> dict[str, int]:
    """Every registered perceptual hash and the centre hash of a PIL image, as signed int64."""
    gray = small_gray(image)
    hashes = {name: hash_to_int64(function(gray)) for name, function in HASH_FUNCTIONS.items()}
    for name, margin in CENTRE_MARGINS.items():
        hashes[name] = hash_to_int64(phash_dct(centre(gray, margin)))
    return hashes


def hash_image(image: Image.Image, with_pixels: bool = True) -> ImageHashes:
    """Pixel sha256 (unless ``with_pixels`` is false) and perceptual hashes of an L/RGB image."""
    digest = image_pixel_sha256(image) if with_pixels else None
    return ImageHashes(pixel_sha256=digest, **perceptual_hashes(image))


def hash_pixels(pixels: np.ndarray) -> ImageHashes:
    """:func:`hash_image` of a uint8 L (h, w) or RGB (h, w, 3) array."""
    return hash_image(Image.fromarray(np.ascontiguousarray(pixels)))
