"""Perceptual hashes (pHash, dHash, wHash, centre pHashes) and the pixel sha256.

Every perceptual hash comes from one small greyscale copy of the picture
(:func:`small_gray`) through one pair of matrix products (:func:`perceptual_hashes`):
the hashes are the same *kind* as imagehash's (pHash: the low 8 x 8 DCT of a 32 x 32
Lanczos resample, above the median; dHash: neighbours of a 9 x 8 resample compared;
wHash: 8 x 8 block means of a 64 x 64 resample above their median), resampled in floating
point instead of through Pillow's rounded 8-bit passes. :data:`HASH_VERSION` names that
method; catalogs record it per image, and hashes of another version are recomputed
(``curate check``, ``curate dedup``) rather than compared with these.

The centre hashes are pHashes of the picture's central region, with 5% and 10% of the
width and height cut from every side (:data:`CENTRE_MARGINS`): a copy cropped by about
that much has a full pHash close to the original's centre hash, which is how
``curate dedup`` finds crops (and, with the corners left out, small rotations) as
candidates; pHash alone loses a crop past about 2.5% per side.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import imagehash
import numpy as np
from PIL import Image
from threadpoolctl import threadpool_limits

from synthset.lifetime import die_with_parent

HASH_BITS = 64
HASH_SIDE = 8  # 8 x 8 = 64 bits
# The method of the stored perceptual hashes (catalog column images.hash_version; NULL:
# checked before versions were recorded, i.e. 1). 1: imagehash's functions on the small
# picture, through Pillow's 8-bit Lanczos resize (whose rounding differs between Pillow
# releases). 2: the same hashes from one float resampling of the small picture, centre
# margins cut exactly (perceptual_hashes); a bit or two apart from version 1.
HASH_VERSION = 2
# Pictures are box-reduced (Image.reduce by a whole factor, centred so no partial boxes
# skew a symmetric picture) until the shorter side is below twice this, before the hashes
# resample them with Lanczos. The hashes then cost the same for a 640 px photo and a
# 6000 px one; benchmarks/hashing.py measures how far they are from imagehash on the
# full picture (a bit or two).
REDUCE_TO = 64
WHASH_SCALE = 64  # the wavelet hash's working size (a power of two)
PHASH_SCALE = 32  # pHash's working size: imagehash's hash_size 8 x highfreq_factor 4
LANCZOS_LOBES = 3  # Pillow's and imagehash's Lanczos filter: sinc(x) sinc(x / 3), |x| < 3
# centre hash name -> share of the width and height cut from each side before hashing
CENTRE_MARGINS = {"centre5_phash": 0.05, "centre10_phash": 0.10}
PERCEPTUAL_HASHES = ("phash", "dhash", "whash")  # the names curate dedup --hash accepts
_MASK = (1 << HASH_BITS) - 1
# The first HASH_SIDE rows of scipy.fftpack's unnormalised DCT-II matrix for PHASH_SCALE
# points: dct(x)[k] = 2 * sum_n x[n] cos(pi k (2n + 1) / 2N).
_DCT_LOW = 2.0 * np.cos(
    np.pi * np.outer(np.arange(HASH_SIDE), 2 * np.arange(PHASH_SCALE) + 1) / (2 * PHASH_SCALE)
)
_DCT_DECIMALS = 6  # rounding that absorbs float noise, so exact zeros stay zeros as in scipy
# wHash's 8 x 8 block sums of a 64 x 64 picture, as a matrix on one axis
_BLOCK_SUMS = np.kron(np.eye(HASH_SIDE), np.ones(WHASH_SCALE // HASH_SIDE))
_PROJECTION_CACHE = 512  # side lengths whose projection matrices are kept (~40 x side each)


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
    """The picture in greyscale, box-reduced to a shorter side in [REDUCE_TO, 2 * REDUCE_TO).

    Greyscale first: the reduction then averages one channel instead of three.
    """
    gray = image.convert("L") if image.mode != "L" else image
    width, height = gray.size
    factor = max(1, min(width, height) // REDUCE_TO)
    if factor > 1:
        left, top = (width % factor) // 2, (height % factor) // 2
        box = (left, top, left + factor * (width // factor), top + factor * (height // factor))
        gray = gray.reduce(factor, box=box)
    return gray


def _int64(bits: np.ndarray) -> int:
    """64 hash bits (row-major, as imagehash orders them) as a signed int64."""
    return int.from_bytes(np.packbits(bits).tobytes(), "big", signed=True)


def lanczos_weights(size: int, out: int, margin: float = 0.0) -> np.ndarray:
    """The (out, size) matrix that resamples ``size`` samples to ``out`` with Lanczos-3.

    Pillow's antialiasing rule: the filter is stretched by the reduction factor, each
    output sample's weights are cut at the edges and sum to one; no 8-bit rounding.
    ``margin``: resample only the central part, ``margin`` of the side cut from each end
    exactly (a fraction of a pixel too), as if that part had been cropped out first.
    """
    start, stop = size * margin, size * (1 - margin)
    scale = (stop - start) / out
    stretch = max(scale, 1.0)
    centres = start + (np.arange(out) + 0.5) * scale
    pixels = np.arange(size) + 0.5
    offsets = (pixels[None, :] - centres[:, None]) / stretch
    inside = (np.abs(offsets) < LANCZOS_LOBES) & (pixels >= start) & (pixels <= stop)
    weights = np.where(inside, np.sinc(offsets) * np.sinc(offsets / LANCZOS_LOBES), 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=weights, where=totals != 0)


@lru_cache(maxsize=_PROJECTION_CACHE)
def _projections(side: int, dhash_samples: int) -> np.ndarray:
    """Every hash's linear map along one axis of a ``side``-pixel picture, stacked.

    Rows: the 8 low DCT rows of the 32-sample resample of the whole side, of its 5% and
    10% centre (exact margins, zero outside), the 8 block sums of its 64-sample resample, then its
    ``dhash_samples``-sample resample (9 across, 8 down).
    """
    margins = (0.0, *CENTRE_MARGINS.values())
    parts = [_DCT_LOW @ lanczos_weights(side, PHASH_SCALE, margin) for margin in margins]
    parts.append(_BLOCK_SUMS @ lanczos_weights(side, WHASH_SCALE))
    parts.append(lanczos_weights(side, dhash_samples))
    return np.vstack(parts)


def one_blas_thread() -> threadpool_limits:
    """Keep BLAS on the calling thread in this process (also a context manager).

    The hashes' matrix products are small: OpenBLAS would spread the larger ones over
    every core, which costs far more than it saves and competes with the other worker
    processes (measured: 6 ms instead of 0.3 ms per picture on a busy 2-core machine).
    Hashing worker processes call it once at start; an in-process run wraps its loop.
    """
    return threadpool_limits(limits=1, user_api="blas")


def hashing_worker() -> None:
    """A hashing pool worker's initializer: one BLAS thread; killed with its parent."""
    die_with_parent()
    one_blas_thread()


def perceptual_hashes(image: Image.Image) -> dict[str, int]:
    """pHash, dHash, wHash and the centre pHashes of a PIL image, as signed int64.

    The picture is reduced once (:func:`small_gray`); every hash is then a block of
    ``rows @ pixels @ columns.T`` (:func:`_projections` of each axis), rounded to 6
    decimals so float noise cannot break ties: pHash bits are DCT coefficients above
    their median, wHash bits block sums above theirs, dHash bits "brighter than the
    left neighbour" on the 9 x 8 resample rounded to whole grey levels (as an 8-bit
    resample is: neighbours on a smooth gradient tie and give 0, as imagehash's do).
    """
    gray = small_gray(image)
    pixels = np.frombuffer(gray.tobytes(), np.uint8).reshape(gray.height, gray.width)
    rows = _projections(gray.height, HASH_SIDE)
    columns = _projections(gray.width, HASH_SIDE + 1)
    values = np.round(rows @ pixels.astype(np.float64) @ columns.T, _DCT_DECIMALS)
    side = HASH_SIDE
    blocks = [values[k * side : (k + 1) * side, k * side : (k + 1) * side] for k in range(4)]
    resampled = np.round(values[4 * side :, 4 * side :])  # whole grey levels, see above
    names = ["phash", *CENTRE_MARGINS, "whash"]
    hashes = {
        name: _int64(block > _median(block)) for name, block in zip(names, blocks, strict=True)
    }
    hashes["dhash"] = _int64(resampled[:, 1:] > resampled[:, :-1])
    return hashes


def hash_image(image: Image.Image, with_pixels: bool = True) -> ImageHashes:
    """Pixel sha256 (unless ``with_pixels`` is false) and perceptual hashes of an L/RGB image."""
    digest = image_pixel_sha256(image) if with_pixels else None
    return ImageHashes(pixel_sha256=digest, **perceptual_hashes(image))


def hash_pixels(pixels: np.ndarray) -> ImageHashes:
    """:func:`hash_image` of a uint8 L (h, w) or RGB (h, w, 3) array."""
    return hash_image(Image.fromarray(np.ascontiguousarray(pixels)))
