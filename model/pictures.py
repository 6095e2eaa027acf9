"""Measures of what a user sees: reconstructions beside their inputs, samples beside the data.

Every figure compares images in [0, 1] the way a person compares the grids: SSIM (Wang et al.,
2004) with a 7x7 uniform window (smaller for images under 7 pixels) on the valid interior
(scikit-image's defaults: K1 0.01, K2 0.03, sample covariances), averaged over channels, and
PSNR. All of it is numpy on arrays, so it scores
any model, and the grids of an older model cut back into tiles (:func:`tiles`).

- Reconstructions: SSIM and PSNR of each image against its own reconstruction, and against the
  reconstruction of another image (the next one, cyclically). ``reconstruction_gain`` = own minus
  other: near 0 when the reconstruction carries nothing of its input (a decoder that ignores z),
  1 - (mean SSIM between different images) when it returns its input. PSNR comes from the mean
  squared error over all pixels of all images.
- Samples: ``sample_best_ssim`` = mean over samples of the best SSIM to any image of the data;
  ``coverage`` = share of validation images with a sample at SSIM >= COVERAGE_SSIM; ``diversity``
  = mean 1 - SSIM over pairs of samples (the data's own value beside it); ``flat_samples`` = share
  of samples whose pixels vary by less than FLAT_STD (a blank square).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

WINDOW = 7  # SSIM's uniform window, pixels
K1, K2 = 0.01, 0.03  # SSIM's stabilising constants, times the data range 1
COVERAGE_SSIM = 0.5  # a validation image is covered by a sample at least this similar
FLAT_STD = 0.02  # a sample whose pixels vary less than this is a flat square
MAX_PSNR = 100.0  # dB, for identical images (zero error)
MAX_REFERENCES = 2000  # at most this many data images are searched for each sample's best match
MAX_DIVERSITY_PAIRS = 4096  # pairs of samples compared for the diversity


def window_for(shape: tuple[int, ...]) -> int:
    """WINDOW, or the largest odd side that fits images smaller than it."""
    side = min(WINDOW, *shape[1:3])
    return side if side % 2 else side - 1


def box_mean(images: np.ndarray, w: int) -> np.ndarray:
    """The mean over every w x w window of (N, H, W, C) images: (N, H - w + 1, W - w + 1, C)."""
    padded = np.pad(images.astype(np.float64), ((0, 0), (1, 0), (1, 0), (0, 0)))
    sums = padded.cumsum(axis=1).cumsum(axis=2)
    window = sums[:, w:, w:] - sums[:, :-w, w:] - sums[:, w:, :-w] + sums[:, :-w, :-w]
    return window / (w * w)


@dataclass(frozen=True)
class WindowStats:
    """Per-window means and (sample) variances of a batch of images, reused across pairs."""

    images: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    window: int

    @classmethod
    def of(cls, images: np.ndarray) -> WindowStats:
        """The window statistics of (N, H, W, C) images."""
        images = np.asarray(images, dtype=np.float64)
        w = window_for(images.shape)
        if w < 3:
            raise ValueError(f"images of {images.shape[1:3]} are too small for SSIM")
        mean = box_mean(images, w)
        variance = (box_mean(images * images, w) - mean * mean) * (w * w / (w * w - 1.0))
        return cls(images, mean, variance, w)

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index) -> WindowStats:
        """The statistics of the images at ``index``."""
        return WindowStats(
            self.images[index], self.mean[index], self.variance[index], self.window
        )


def ssim_stats(a: WindowStats, b: WindowStats) -> np.ndarray:
    """Mean SSIM of each pair (a[i], b[i]) (or broadcast, one against many), per pair."""
    c1, c2, w = K1 * K1, K2 * K2, a.window
    covariance = (box_mean(a.images * b.images, w) - a.mean * b.mean) * (w * w / (w * w - 1.0))
    numerator = (2.0 * a.mean * b.mean + c1) * (2.0 * covariance + c2)
    denominator = (a.mean**2 + b.mean**2 + c1) * (a.variance + b.variance + c2)
    return (numerator / denominator).reshape(numerator.shape[0], -1).mean(axis=1)


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean SSIM of each pair of (N, H, W, C) images in [0, 1]; ``a`` may be one image (1, ...)."""
    return ssim_stats(WindowStats.of(a), WindowStats.of(b))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of images ``b`` against images ``a`` in [0, 1], from the mean squared error
    over every pixel of every pair (so a few bad reconstructions count; MAX_PSNR if identical)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mse = float(np.mean(diff * diff))
    return MAX_PSNR if mse <= 0 else min(MAX_PSNR, -10.0 * np.log10(mse))


def best_ssim(queries: WindowStats, references: WindowStats, chunk: int = 256) -> np.ndarray:
    """For each query image, its highest SSIM to any reference image."""
    best = np.full(len(queries), -1.0)
    for i in range(len(queries)):
        one = queries.take(slice(i, i + 1))
        for start in range(0, len(references), chunk):
            block = references.take(slice(start, start + chunk))
            best[i] = max(best[i], float(ssim_stats(one, block).max()))
    return best


def mean_pairwise_dissimilarity(images: WindowStats, seed: int = 0) -> float:
    """Mean 1 - SSIM over pairs of different images (at most MAX_DIVERSITY_PAIRS, seeded)."""
    n = len(images)
    if n < 2:
        return 0.0
    first, second = np.triu_indices(n, k=1)
    if len(first) > MAX_DIVERSITY_PAIRS:
        pick = np.random.default_rng(seed).choice(len(first), MAX_DIVERSITY_PAIRS, replace=False)
        first, second = first[pick], second[pick]
    return float(np.mean(1.0 - ssim_stats(images.take(first), images.take(second))))


@dataclass(frozen=True)
class ReconstructionScores:
    """How closely reconstructions follow their own inputs, and how much more than another's."""

    ssim: float
    ssim_other: float
    gain: float
    psnr: float
    psnr_other: float
    count: int

    def as_dict(self) -> dict:
        """The scores as a JSON-ready dict, keys prefixed ``reconstruction_``."""
        return {f"reconstruction_{key}": value for key, value in asdict(self).items()}


def reconstruction_scores(
    originals: np.ndarray, reconstructions: np.ndarray
) -> ReconstructionScores:
    """Score each original against its own reconstruction and against the next one's (cyclic)."""
    if len(originals) != len(reconstructions) or len(originals) < 2:
        raise ValueError("need at least two originals, each with its reconstruction")
    others = np.roll(reconstructions, 1, axis=0)
    own_ssim = ssim(originals, reconstructions)
    other_ssim = ssim(originals, others)
    return ReconstructionScores(
        ssim=float(own_ssim.mean()),
        ssim_other=float(other_ssim.mean()),
        gain=float(own_ssim.mean() - other_ssim.mean()),
        psnr=psnr(originals, reconstructions),
        psnr_other=psnr(originals, others),
        count=len(originals),
    )


@dataclass(frozen=True)
class SampleScores:
    """How samples compare with the data: likeness, coverage, diversity, blank squares."""

    best_ssim: float
    coverage: float
    diversity: float
    data_diversity: float
    flat: float
    count: int

    def as_dict(self) -> dict:
        """The scores as a JSON-ready dict, keys prefixed ``sample_``."""
        return {f"sample_{key}": value for key, value in asdict(self).items()}


def sample_scores(
    samples: np.ndarray, data: np.ndarray, val: np.ndarray, seed: int = 0
) -> SampleScores:
    """Score ``samples`` against the export's images ``data`` (for likeness) and its validation
    images ``val`` (for coverage); at most MAX_REFERENCES data images are searched (seeded)."""
    if len(data) > MAX_REFERENCES:
        pick = np.random.default_rng(seed).choice(len(data), MAX_REFERENCES, replace=False)
        data = data[np.sort(pick)]
    sample_stats = WindowStats.of(samples)
    best = best_ssim(sample_stats, WindowStats.of(data))
    covered = best_ssim(WindowStats.of(val), sample_stats) >= COVERAGE_SSIM
    spread = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1).std(axis=1)
    return SampleScores(
        best_ssim=float(best.mean()),
        coverage=float(covered.mean()),
        diversity=mean_pairwise_dissimilarity(sample_stats, seed),
        data_diversity=mean_pairwise_dissimilarity(WindowStats.of(val), seed),
        flat=float((spread < FLAT_STD).mean()),
        count=len(samples),
    )


def tiles(grid: np.ndarray, side: int, gap: int, rows: int, columns: int) -> np.ndarray:
    """Cut a saved grid (H, W) or (H, W, C) of ``rows`` x ``columns`` images of ``side`` pixels
    spaced by ``gap`` back into (rows * columns, side, side, C) images (to score old grids)."""
    if grid.ndim == 2:
        grid = grid[..., None]
    out = []
    for r in range(rows):
        for c in range(columns):
            top, left = gap + r * (side + gap), gap + c * (side + gap)
            out.append(grid[top : top + side, left : left + side])
    return np.stack(out)

