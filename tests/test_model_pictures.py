"""model.pictures: SSIM, PSNR and the reconstruction and sample measures, on real arrays."""

from __future__ import annotations

import numpy as np
import pytest

from model.grid import tile
from model.pictures import (
    COVERAGE_SSIM,
    WINDOW,
    reconstruction_scores,
    sample_scores,
    ssim,
    tiles,
)
from tests.imagegen import picture


def cake_like_batch(count: int, side: int, seed: int) -> np.ndarray:
    """``count`` different grey pictures (shapes on a gradient) of ``side`` pixels, in [0, 1]."""
    images = [
        np.asarray(picture(side, side, seed=seed * 1000 + i).convert("L"), np.float64) / 255.0
        for i in range(count)
    ]
    return np.stack(images)[..., None]


def naive_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H, W) images, window by window, as Wang et al. define it."""
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(a.shape[0] - WINDOW + 1):
        for j in range(a.shape[1] - WINDOW + 1):
            x = a[i : i + WINDOW, j : j + WINDOW].ravel()
            y = b[i : i + WINDOW, j : j + WINDOW].ravel()
            cov = np.cov(x, y)
            numerator = (2 * x.mean() * y.mean() + c1) * (2 * cov[0, 1] + c2)
            denominator = (x.mean() ** 2 + y.mean() ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2)
            values.append(numerator / denominator)
    return float(np.mean(values))


def test_ssim_matches_the_definition_window_by_window():
    rng = np.random.default_rng(0)
    a = rng.random((2, 12, 15, 1))
    b = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    got = ssim(a, b)
    assert got == pytest.approx([naive_ssim(a[i, ..., 0], b[i, ..., 0]) for i in range(2)])
    assert ssim(a, a) == pytest.approx([1.0, 1.0])


def test_a_decoder_that_ignores_its_input_gains_nothing():
    images = cake_like_batch(16, 40, seed=1)
    same_for_all = np.repeat(images.mean(axis=0, keepdims=True), len(images), axis=0)
    scores = reconstruction_scores(images, same_for_all)
    assert abs(scores.gain) < 1e-9
    assert scores.ssim == pytest.approx(scores.ssim_other)


def test_returning_the_input_scores_the_maximum():
    images = cake_like_batch(16, 40, seed=2)
    perfect = reconstruction_scores(images, images)
    assert perfect.ssim == pytest.approx(1.0)
    assert perfect.psnr == 100.0
    # The gain is then 1 - (mean SSIM between different images), the most any model can get.
    assert perfect.gain == pytest.approx(1.0 - perfect.ssim_other)
    blurred = (images + np.roll(images, 1, axis=1) + np.roll(images, -1, axis=2)) / 3.0
    worse = reconstruction_scores(images, blurred)
    assert worse.gain < perfect.gain
    assert worse.psnr < perfect.psnr


def test_samples_that_copy_the_data_score_high_and_blank_squares_low():
    data = cake_like_batch(24, 40, seed=3)
    val = data[:8]
    copies = sample_scores(data[8:], data, val)
    assert copies.best_ssim == pytest.approx(1.0)
    assert copies.flat == 0.0
    blanks = sample_scores(np.full((8, 40, 40, 1), 0.9), data, val)
    assert blanks.flat == 1.0
    assert blanks.diversity == pytest.approx(0.0, abs=1e-9)
    assert blanks.best_ssim < copies.best_ssim
    assert copies.diversity == pytest.approx(copies.data_diversity, abs=0.2)
    covered = sample_scores(val, data, val)
    assert covered.coverage == 1.0 and COVERAGE_SSIM <= 1.0


def test_tiles_cut_a_saved_grid_back_into_its_images():
    images = cake_like_batch(6, 20, seed=4)
    grid = tile(images, columns=3).astype(np.float64) / 255.0
    back = tiles(grid, side=20, gap=2, rows=2, columns=3)
    assert np.abs(back - images).max() <= 0.5 / 255 + 1e-9
