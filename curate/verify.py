"""Verify a near-duplicate candidate pair by comparing the two pictures themselves.

Hashes only propose pairs (``curate.neardup``); this module decides. Two pictures
are near duplicates when one of them shows (nearly) the whole of the other, the
same photograph re-encoded, resized, cropped, rotated a little, re-coloured or
captioned; two photographs of one scene (another viewpoint, a pan, a stereo half)
are not. The test, on greyscale copies at most :data:`WORK_SIDE` pixels long:

1. **Geometry.** ORB keypoints matched by Hamming distance (Lowe's ratio test),
   then a similarity transform (scale, rotation, shift) fitted with RANSAC.
   At least :data:`MIN_INLIERS` matches must agree, the rotation stay within
   :data:`MAX_ROTATION` degrees, and the smaller picture, mapped onto the other,
   lie at least :data:`MIN_CONTAINED` inside it (a pan or a neighbouring region
   is not contained) while covering at least :data:`MIN_COVER` of it.
2. **Pixels.** The second picture is warped onto the first with that transform
   and both are compared on their overlap at :data:`COMPARE_SIDE`, blurred a
   little and standardised (so brightness, contrast and colour do not matter):
   the correlation, leaving out the :data:`TRIM` share of pixels that differ
   most (a caption or a watermark), must reach :data:`MIN_CORRELATION`. Two
   different pictures that happen to share keypoints (a repeated texture) fail
   here.

3. **Same framing, when geometry cannot speak.** Flat drawings and tiny thumbnails
   can have too few keypoints to fit a transform. Then two pictures of the same
   aspect ratio (within :data:`MAX_ASPECT_DIFFERENCE`), whose pHashes are at most
   :data:`FRAMING_MAX_PHASH` bits apart, are duplicates when their pixels, each
   scaled to the other's frame, correlate at :data:`MIN_FRAMING_CORRELATION` or
   more with nothing trimmed (different drawn cakes in one style reach 0.98; a
   thumbnail or a quality-20 copy 0.999).

Two halves of a stereo pair pass (their parallax at these sizes is a pixel or
two); docs/dedup.md says so with the measurements.

The outcome, accepted or not, is an :class:`Evidence` with the numbers, so a
report can say why a member is a duplicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from curate.hashing import hamming, hash_to_int64, phash_dct

WORK_SIDE = 320  # pictures are compared with their longer side at most this long (pixels)
ORB_FEATURES = 500
ORB_FAST_THRESHOLD = 10  # lower than OpenCV's 20, so flat or dark photographs get keypoints
RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
RANSAC_PIXELS = 4.0  # reprojection error allowed for an inlier, at WORK_SIDE
MIN_INLIERS = 10
MAX_ROTATION = 10.0  # degrees
MIN_CONTAINED = 0.9  # share of the smaller picture's area that must lie inside the other
MIN_COVER = 0.3  # share of the larger picture's area the smaller one must cover
COMPARE_SIDE = 128  # pictures are correlated at this longer side (pixels)
BLUR_SIGMA = 1.0  # pixels at COMPARE_SIDE; absorbs JPEG blocks and resampling
MIN_OVERLAP_PIXELS = 256  # fewer overlapping pixels than this at COMPARE_SIDE: no verdict
TRIM = 0.15  # share of most different pixels left out of the correlation
MIN_CORRELATION = 0.9
MAX_ASPECT_DIFFERENCE = 0.02  # same framing: relative difference of width / height
FRAMING_MAX_PHASH = 6  # same framing: pHash bits apart at most
MIN_FRAMING_CORRELATION = 0.99  # same framing: untrimmed correlation at least


@dataclass(frozen=True)
class Features:
    """One picture prepared for verification: a small greyscale copy and its ORB features."""

    gray: np.ndarray  # uint8 (h, w), longer side <= WORK_SIDE
    points: np.ndarray  # float32 (k, 2) keypoint positions
    descriptors: np.ndarray | None  # uint8 (k, 32), None when no keypoint was found
    phash: int  # pHash of the working copy, as a signed int64


@dataclass(frozen=True)
class Evidence:
    """What comparing two pictures showed; ``duplicate`` is the verdict."""

    duplicate: bool
    inliers: int = 0
    matches: int = 0
    scale: float = 0.0  # size of the second picture's content relative to the first's
    rotation: float = 0.0  # degrees
    contained: float = 0.0  # share of the smaller picture inside the other
    cover: float = 0.0  # share of the larger picture the smaller one covers
    correlation: float = 0.0  # after alignment, the most different pixels left out
    failed: str = ""  # the first test that failed ("" when duplicate)
    framing: str = ""  # set when the same-framing test decided: why geometry could not

    def describe(self) -> str:
        """One line for reports, e.g. ``verified: 143 matching keypoints, ...``."""
        if self.framing:
            return (f"verified by same framing ({self.framing}): pHash within "
                    f"{FRAMING_MAX_PHASH} bits, correlation {self.correlation:.3f}")
        if self.inliers == 0:
            return f"not verified: {self.failed}"
        words = (
            f"{self.inliers}/{self.matches} matching keypoints, scale {self.scale:.2f}, "
            f"rotation {self.rotation:+.1f} deg, {self.contained:.0%} contained, "
            f"covers {self.cover:.0%}, correlation {self.correlation:.3f}"
        )
        return f"verified: {words}" if self.duplicate else f"not verified ({self.failed}): {words}"


_ORB = None


def _orb() -> cv2.ORB:
    """One ORB detector per process (creating it costs more than a small detection)."""
    global _ORB
    if _ORB is None:
        _ORB = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=ORB_FAST_THRESHOLD)
    return _ORB


def prepare(image: Image.Image) -> Features:
    """The greyscale working copy of a PIL image and its ORB keypoints and descriptors."""
    gray = image.convert("L")
    scale = WORK_SIDE / max(gray.size)
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    if size != gray.size:
        gray = gray.resize(size, Image.BILINEAR, reducing_gap=2.0)
    pixels = np.asarray(gray)
    keypoints, descriptors = _orb().detectAndCompute(cv2.equalizeHist(pixels), None)
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
    return Features(pixels, points, descriptors, hash_to_int64(phash_dct(gray)))


def _match(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray]:
    """Matched point positions ``(in a, in b)`` that pass the ratio test.

    Hamming distances of every descriptor pair by a vectorised popcount (faster than
    OpenCV's brute-force matcher for a few hundred descriptors, and single-threaded).
    """
    empty = np.zeros((0, 2), np.float32)
    if a.descriptors is None or b.descriptors is None or len(a.points) < 2 or len(b.points) < 2:
        return empty, empty
    bits_a, bits_b = _bits(a.descriptors), _bits(b.descriptors)
    # |x ^ y| = |x| + |y| - 2 x.y for 0/1 vectors: one small matrix product
    distances = bits_b.sum(1)[:, None] + bits_a.sum(1)[None, :] - 2.0 * (bits_b @ bits_a.T)
    rows = np.arange(len(bits_b))
    best = distances.argmin(axis=1)
    first = distances[rows, best]
    distances[rows, best] = np.inf
    second = distances.min(axis=1)
    good = first < RATIO * second
    return a.points[best[good]], b.points[rows[good]]


def _bits(descriptors: np.ndarray) -> np.ndarray:
    """Binary descriptors (k, 32) bytes as (k, 256) float32 zeros and ones."""
    return np.unpackbits(descriptors, axis=1).astype(np.float32)


def _frame(shape: tuple[int, ...]) -> np.ndarray:
    """The four corners of a picture of ``shape`` as float32 points."""
    h, w = shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)


def _overlap(a_shape: tuple[int, ...], b_shape: tuple[int, ...], transform: np.ndarray
             ) -> tuple[float, float]:
    """(contained, cover): the smaller frame's share inside the other, its share of the other."""
    mapped = cv2.transform(_frame(b_shape)[None], transform)[0]
    frame_a = _frame(a_shape)
    area_a = float(cv2.contourArea(frame_a))
    area_b = float(abs(cv2.contourArea(mapped)))
    common, _ = cv2.intersectConvexConvex(frame_a, mapped)
    small, large = sorted((area_a, area_b))
    if small <= 0:
        return 0.0, 0.0
    return float(common) / small, float(common) / large


def _trimmed_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Correlation of ``a`` and ``b`` over ``mask``, leaving out the pixels that differ most.

    Both are standardised first (so brightness, contrast and colour do not matter);
    the :data:`TRIM` share of pixels with the largest difference is then dropped, so a
    caption or a watermark over part of the picture does not count.
    """
    pa, pb = a[mask].astype(np.float64), b[mask].astype(np.float64)
    keep = np.ones(pa.size, dtype=bool)
    for _ in range(2):  # the second pass standardises without the outliers the first found
        za = (pa - pa[keep].mean()) / max(pa[keep].std(), 1e-6)
        zb = (pb - pb[keep].mean()) / max(pb[keep].std(), 1e-6)
        difference = np.abs(za - zb)
        keep = difference <= np.quantile(difference, 1.0 - TRIM)
    ka, kb = za[keep] - za[keep].mean(), zb[keep] - zb[keep].mean()
    norm = math.sqrt(float((ka * ka).sum()) * float((kb * kb).sum()))
    return float((ka * kb).sum()) / norm if norm > 1e-9 else 0.0


def _scaling(sx: float, sy: float) -> np.ndarray:
    """The 3 x 3 matrix that resizes pixel indices by (sx, sy), pixel centres kept aligned."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])


def _compare_pixels(a: Features, b: Features, transform: np.ndarray) -> float:
    """Warp ``b`` onto ``a`` with ``transform`` (b -> a) and correlate them on the overlap."""
    factor = min(1.0, COMPARE_SIDE / max(a.gray.shape))
    h, w = max(1, round(a.gray.shape[0] * factor)), max(1, round(a.gray.shape[1] * factor))
    small_a = cv2.resize(a.gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    # Shrink b first, by about the factor it is shrunk in the warp, to avoid aliasing.
    b_factor = min(1.0, factor * math.sqrt(abs(np.linalg.det(transform[:, :2]))))
    b_gray = b.gray
    bh, bw = b.gray.shape
    if b_factor < 0.9:
        bh, bw = max(1, round(bh * b_factor)), max(1, round(bw * b_factor))
        b_gray = cv2.resize(b.gray, (bw, bh), interpolation=cv2.INTER_AREA)
    # pixel-centre conventions: index x at scale s lands on (x + 0.5) s - 0.5
    to_small = (_scaling(w / a.gray.shape[1], h / a.gray.shape[0])
                @ np.vstack([transform, [0, 0, 1]])
                @ _scaling(b.gray.shape[1] / bw, b.gray.shape[0] / bh))
    warped = cv2.warpAffine(b_gray.astype(np.float32), to_small[:2], (w, h),
                            flags=cv2.INTER_LINEAR)
    valid = cv2.warpAffine(np.ones(b_gray.shape, np.uint8), to_small[:2], (w, h),
                           flags=cv2.INTER_NEAREST)
    mask = cv2.erode(valid, np.ones((5, 5), np.uint8)).astype(bool)
    if mask.sum() < MIN_OVERLAP_PIXELS:
        return 0.0
    small_a = cv2.GaussianBlur(small_a, (0, 0), BLUR_SIGMA)
    warped = cv2.GaussianBlur(warped, (0, 0), BLUR_SIGMA)
    return _trimmed_correlation(small_a, warped, mask)


def verify(a: Features, b: Features) -> Evidence:
    """Whether ``a`` and ``b`` show the same photograph (see the module docstring)."""
    in_a, in_b = _match(a, b)
    if len(in_a) < MIN_INLIERS:
        failed = f"{len(in_a)} keypoint matches"
        return _same_framing(a, b, failed) or Evidence(False, matches=len(in_a), failed=failed)
    transform, inliers = cv2.estimateAffinePartial2D(
        in_b, in_a, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS,
        maxIters=2000, confidence=0.995,
    )
    count = 0 if inliers is None else int(inliers.sum())
    if transform is None or count < MIN_INLIERS:
        failed = f"{count} of {len(in_a)} matches agree on one geometry"
        return _same_framing(a, b, failed) or Evidence(False, matches=len(in_a), failed=failed)
    scale = math.hypot(transform[0, 0], transform[1, 0])
    rotation = math.degrees(math.atan2(transform[1, 0], transform[0, 0]))
    contained, cover = _overlap(a.gray.shape, b.gray.shape, transform)
    found = {"inliers": count, "matches": len(in_a), "scale": scale, "rotation": rotation,
             "contained": contained, "cover": cover}
    if abs(rotation) > MAX_ROTATION:
        return Evidence(False, failed=f"rotated {rotation:+.0f} deg", **found)
    if contained < MIN_CONTAINED or cover < MIN_COVER:
        return Evidence(False, failed="neither picture contains the other", **found)
    correlation = _correlation_of(a, b, transform)
    found["correlation"] = correlation
    if correlation < MIN_CORRELATION:
        return Evidence(False, failed="pixels differ after alignment", **found)
    return Evidence(True, **found)


def _same_framing(a: Features, b: Features, geometry_failed: str) -> Evidence | None:
    """The verdict of the same-framing test (module docstring, 3.), or None when it fails."""
    (ha, wa), (hb, wb) = a.gray.shape, b.gray.shape
    if abs((wa / ha) / (wb / hb) - 1.0) > MAX_ASPECT_DIFFERENCE:
        return None
    if hamming(a.phash, b.phash) > FRAMING_MAX_PHASH:
        return None
    large, small = (a, b) if a.gray.size >= b.gray.size else (b, a)
    factor = min(1.0, COMPARE_SIDE / max(large.gray.shape))
    height, width = large.gray.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    x, y = (cv2.GaussianBlur(cv2.resize(f.gray, size, interpolation=cv2.INTER_AREA)
                             .astype(np.float64), (0, 0), BLUR_SIGMA).ravel()
            for f in (large, small))
    x, y = x - x.mean(), y - y.mean()
    norm = math.sqrt(float(x @ x) * float(y @ y))
    correlation = float(x @ y) / norm if norm > 1e-9 else 0.0
    if correlation < MIN_FRAMING_CORRELATION:
        return None
    return Evidence(True, scale=b.gray.shape[1] / a.gray.shape[1], contained=1.0, cover=1.0,
                    correlation=correlation, failed="", framing=geometry_failed)


def _correlation_of(a: Features, b: Features, transform: np.ndarray) -> float:
    """:func:`_compare_pixels` in the larger picture's frame (the other is warped onto it)."""
    if a.gray.size >= b.gray.size:
        return _compare_pixels(a, b, transform)
    inverse = cv2.invertAffineTransform(transform)
    return _compare_pixels(b, a, inverse)
