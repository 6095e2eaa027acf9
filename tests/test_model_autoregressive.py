"""The autoregressive output layer: causal, a normalised joint distribution, a sampler that draws
from the distribution training scores, and a run format that round-trips."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.model


def random_head(params: int, shape: tuple[int, int, int], seed: int = 0, extra: int = 3):
    """An AutoregressiveHead built for ``shape`` with random (non-zero) weights, and random
    ``features`` of one image (the parameters and ``extra`` more)."""
    from model.autoregressive import AutoregressiveHead

    height, width, channels = shape
    rng = np.random.default_rng(seed)
    head = AutoregressiveHead(params, kernel=5, units=4)
    features = rng.normal(0, 0.5, (1, height, width, params * channels + extra))
    head.build([features.shape, (1, *shape)])
    for weight in head.weights:
        weight.assign(rng.normal(0, 0.7, weight.shape).astype(np.float32))
    return head, features.astype(np.float32)


def all_images(shape: tuple[int, int, int]) -> np.ndarray:
    """Every 8-bit image of ``shape`` (256 ** pixel channels of them), in [0, 1]."""
    values = np.arange(256, dtype=np.float32) / 255.0
    grid = np.stack(np.meshgrid(*[values] * int(np.prod(shape)), indexing="ij"), axis=-1)
    return grid.reshape(-1, *shape)


@pytest.mark.parametrize(
    ("likelihood", "shape"),
    [
        ("discretized-logistic", (1, 2, 1)),  # two pixels in raster order
        ("discretized-logistic", (1, 1, 2)),  # two channels of one pixel
        ("logistic-mixture", (2, 1, 1)),  # two rows
    ],
)
def test_the_joint_probability_sums_to_one_over_every_image(likelihood: str, shape):
    """Teacher forcing scores each pixel given the ones before it; summed over all 65,536
    images the probabilities of those chained conditionals add up to 1."""
    from keras.ops import convert_to_numpy, logsumexp

    from model.likelihoods import get_likelihood

    chosen = get_likelihood(likelihood)
    head, features = random_head(chosen.params, shape)
    images = all_images(shape)
    out = head([np.broadcast_to(features, (len(images), *features.shape[1:])), images])
    log_p = -convert_to_numpy(chosen.nll(images, out))
    assert float(logsumexp(log_p)) == pytest.approx(0.0, abs=1e-4)


def test_a_pixel_channel_never_reads_itself_or_what_follows_it():
    """Changing pixel channel (i, j, c) changes only the parameters of later pixel channels."""
    from keras.ops import convert_to_numpy

    shape = (6, 5, 3)
    head, features = random_head(2, shape)
    rng = np.random.default_rng(3)
    x = (rng.integers(0, 256, (1, *shape)) / 255.0).astype(np.float32)
    order = np.arange(np.prod(shape)).reshape(shape)  # raster order, channels innermost
    reference = convert_to_numpy(head([features, x]))
    for i, j, c in itertools.product(range(6), range(5), range(3)):
        changed_x = x.copy()
        changed_x[0, i, j, c] = 1.0 - changed_x[0, i, j, c] + 0.5 / 255.0
        diff = np.abs(convert_to_numpy(head([features, changed_x])) - reference)[0]
        moved = diff.reshape(6, 5, 2, 3).max(axis=2) > 0  # per pixel channel
        assert not moved[order <= order[i, j, c]].any(), (i, j, c)
        if (i, j) == (2, 2):  # a pixel with neighbours on every side: its followers do move
            assert moved[order > order[i, j, c]].any()


def test_generated_means_are_what_teacher_forcing_predicts():
    """Decoding pixel by pixel to each conditional's mean yields an image at which the parallel
    (teacher-forced) pass predicts exactly those means: sampler and training agree."""
    from keras.ops import convert_to_numpy

    from model.likelihoods import MEAN_OFFSET

    shape = (7, 6, 2)
    head, features = random_head(2, shape, seed=4)
    image = head.generate(np.repeat(features, 3, axis=0), "discretized-logistic")
    assert image.shape == (3, *shape)
    params = convert_to_numpy(head([np.repeat(features, 3, axis=0), image]))
    means = np.round(np.clip(params[..., :2] + MEAN_OFFSET, 0, 1) * 255) / 255
    np.testing.assert_allclose(image, means, atol=1e-6)


def test_draws_follow_the_conditional_distribution():
    """A pixel drawn by the sampler lands on value k as often as the likelihood says."""
    from keras.ops import convert_to_numpy, exp

    from model.likelihoods import get_likelihood

    for name in ("discretized-logistic", "logistic-mixture"):
        chosen = get_likelihood(name)
        head, features = random_head(chosen.params, (1, 1, 1), seed=5)
        draws = head.generate(np.repeat(features, 40_000, axis=0), name, np.random.default_rng(0))
        counts = np.bincount(np.round(draws.ravel() * 255).astype(int), minlength=256)
        values = all_images((1, 1, 1))
        out = head([np.broadcast_to(features, (256, *features.shape[1:])), values])
        expected = convert_to_numpy(exp(-chosen.nll(values, out))) * len(draws)
        assert np.all(np.abs(counts - expected) <= 5 * np.sqrt(expected) + 3), name


def test_sampled_images_are_valid_and_repeat_with_the_seed(tmp_path: Path):
    """A conv-vae-ar (conv-vae with the autoregressive head) survives model.keras; its samples
    and draws are 8-bit images, the same for the same seed; teacher-forced scores are unchanged
    by loading."""
    import keras
    from keras.ops import convert_to_numpy

    from model.likelihoods import get_likelihood
    from model.sample import load_run, sample_images
    from model.vae import build_vae

    vae = build_vae("conv-vae-ar", (9, 8, 3), 4, likelihood="logistic-mixture", seed=0)
    assert vae.head is not None
    for weight in vae.head.weights:  # the output starts at zero: make the head matter
        weight.assign(np.random.default_rng(1).normal(0, 0.3, weight.shape).astype(np.float32))
    vae.save(tmp_path / "model.keras")
    loaded = load_run(tmp_path)
    assert isinstance(loaded.head, keras.layers.Layer)
    z = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    x = np.random.default_rng(2).integers(0, 256, (5, 9, 8, 3)).astype(np.float32) / 255
    np.testing.assert_allclose(
        convert_to_numpy(loaded.decode(z, x)), convert_to_numpy(vae.decode(z, x)), atol=1e-5
    )
    for draw in (False, True):
        a = sample_images(loaded, 5, seed=3, draw=draw)
        b = sample_images(loaded, 5, seed=3, draw=draw)
        assert a.shape == (5, 9, 8, 3) and np.array_equal(a, b)
        assert a.min() >= 0.0 and a.max() <= 1.0
    # Drawn pixel by pixel through the head: 8-bit values; the pictures without --draw are the
    # mean of the pixels given z alone (the trunk's parameters), one pass, never the head's.
    assert np.allclose(a * 255, np.round(a * 255), atol=1e-4)
    trunk = convert_to_numpy(loaded.trunk(z))[..., : loaded.head.params * 3]
    means = convert_to_numpy(get_likelihood("logistic-mixture").mean(trunk))
    np.testing.assert_allclose(loaded.generate(z), means, atol=1e-6)
    other = sample_images(loaded, 5, seed=4, draw=True)
    assert not np.array_equal(sample_images(loaded, 5, seed=3, draw=True), other)


def test_a_plain_decoder_still_loads_and_draws_pixels_on_the_8_bit_grid(tmp_path: Path):
    """keras-example has no head: its run loads as before, its means are not rounded, and its
    draws are independent per pixel, still 8-bit values."""
    from keras.ops import convert_to_numpy

    from model.sample import load_run, sample_images
    from model.vae import build_vae

    vae = build_vae("keras-example", (8, 8, 1), 3, likelihood="discretized-logistic", seed=0)
    assert vae.head is None
    vae.save(tmp_path / "model.keras")
    loaded = load_run(tmp_path)
    assert loaded.head is None
    z = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        convert_to_numpy(loaded.decode(z, None)), convert_to_numpy(vae.decode(z, None)), atol=1e-6
    )
    np.testing.assert_allclose(sample_images(loaded, 4, seed=1), sample_images(vae, 4, seed=1))
    images = sample_images(loaded, 4, seed=1, draw=True)
    assert images.shape == (4, 8, 8, 1)
    assert np.allclose(images * 255, np.round(images * 255), atol=1e-4)
    assert len(np.unique(images)) > 10  # drawn, not the (smooth) mean


def test_a_conv_vae_ar_run_trains_samples_and_evaluates_the_same_with_a_seed(tmp_path: Path):
    """`model train --arch conv-vae-ar` through the CLI: the run loads with its head, samples
    repeat with the seed, and evaluation (ELBO and the importance-weighted bound) is
    deterministic for a seed and changes with it."""
    from click.testing import CliRunner

    from model.cli import cli
    from model.datasets import draw_shapes, write_export
    from model.evaluate import evaluate
    from model.sample import load_run, sample_images

    export = tmp_path / "shapes"
    write_export(export, {"train": draw_shapes(24, 12, 1, 0), "val": draw_shapes(8, 12, 1, 1)})
    result = CliRunner().invoke(cli, ["train", str(export), "--out", str(tmp_path / "run"),
                                      "--arch", "conv-vae-ar", "--epochs", "1",
                                      "--latent-dim", "4"])
    assert result.exit_code == 0, result.output
    vae = load_run(tmp_path / "run")
    assert vae.head is not None
    np.testing.assert_array_equal(sample_images(vae, 3, seed=1), sample_images(vae, 3, seed=1))
    first, again = (evaluate(tmp_path / "run", export, seed=3, importance_samples=4)
                    for _ in range(2))
    assert first == again
    assert evaluate(tmp_path / "run", export, seed=4, importance_samples=4) != first
