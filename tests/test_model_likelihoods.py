"""The pixel likelihoods: against numerical integration and summation, and the honest score."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.model

LOGITS = [-30.0, -5.0, -0.5, -0.004, 0.0, 0.003, 0.5, 3.0, 20.0]


def integrate(logit: float):
    """(log of the normaliser C, mean) of the continuous Bernoulli, by the trapezoid rule."""
    xs = np.linspace(0.0, 1.0, 400_001)
    lam = 1.0 / (1.0 + np.exp(-logit))
    density = np.exp(xs * np.log(lam) + (1 - xs) * np.log1p(-lam))
    z = np.trapezoid(density, xs)
    return -np.log(z), np.trapezoid(xs * density, xs) / z


@pytest.mark.parametrize("logit", LOGITS)
def test_continuous_bernoulli_normaliser_and_mean(logit: float):
    from model.likelihoods import (
        CB_LOGIT_LIMIT,
        continuous_bernoulli_log_norm,
        continuous_bernoulli_mean,
    )

    bounded = CB_LOGIT_LIMIT * np.tanh(logit / CB_LOGIT_LIMIT)  # what the likelihood uses
    log_c, mean = integrate(bounded)
    array = np.array([[bounded]], dtype=np.float32)
    assert float(continuous_bernoulli_log_norm(array)[0, 0]) == pytest.approx(log_c, abs=2e-5)
    raw = np.array([[logit]], dtype=np.float32)
    assert float(continuous_bernoulli_mean(raw)[0, 0]) == pytest.approx(mean, abs=2e-5)


def test_nll_per_image_sums_pixels():
    from keras.ops import convert_to_numpy

    from model.likelihoods import CB_LOGIT_LIMIT, bernoulli_nll, continuous_bernoulli_nll

    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 4, 1)).astype(np.float32)
    logits = rng.normal(0, 3, (3, 4, 4, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(convert_to_numpy(bernoulli_nll(x, logits)), bce, rtol=1e-5)
    bounded = CB_LOGIT_LIMIT * np.tanh(logits.astype(np.float64) / CB_LOGIT_LIMIT)
    q = 1 / (1 + np.exp(-bounded))
    bounded_bce = -(x * np.log(q) + (1 - x) * np.log1p(-q)).reshape(3, -1).sum(axis=1)
    log_c = np.log(bounded / np.tanh(bounded / 2.0)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(
        convert_to_numpy(continuous_bernoulli_nll(x, logits)), bounded_bce - log_c, rtol=1e-4
    )


def test_unknown_likelihood_lists_the_known_ones():
    from model.errors import UnknownLikelihood
    from model.likelihoods import get_likelihood

    with pytest.raises(
        UnknownLikelihood,
        match="bernoulli, continuous-bernoulli, discretized-logistic, logistic-mixture",
    ):
        get_likelihood("gaussian")


LEVELS = np.arange(256, dtype=np.float32) / 255.0


@pytest.mark.parametrize(
    ("mean", "log_scale"),
    [(0.5, -2.0), (0.0, -7.0), (1.0, -9.0), (0.3, 3.0), (-2.0, -1.0), (0.61, -5.5), (0.5, -7.0)],
)
def test_discretized_logistic_sums_to_one_over_the_256_values(mean: float, log_scale: float):
    from keras.ops import convert_to_numpy, logsumexp

    from model.likelihoods import discretized_logistic_log_prob

    log_p = discretized_logistic_log_prob(
        LEVELS, np.full(256, mean, np.float32), np.full(256, log_scale, np.float32)
    )
    assert np.all(np.isfinite(convert_to_numpy(log_p)))
    assert float(logsumexp(log_p)) == pytest.approx(0.0, abs=1e-5)
    # Against the logistic CDF in float64, far into the tails too.
    s = np.exp(max(log_scale, -7.0))
    with np.errstate(over="ignore"):  # exp overflows to inf far in the tail: cdf 0 there
        cdf = 1 / (1 + np.exp(-(LEVELS.astype(np.float64) + 0.5 / 255 - mean) / s))
    expected = np.concatenate([cdf[:-1], [1.0]]) - np.concatenate([[0.0], cdf[:-1]])
    kept = expected > 1e-6  # float64 differences of CDFs are exact enough there
    np.testing.assert_allclose(
        convert_to_numpy(log_p)[kept], np.log(expected[kept]), rtol=1e-3, atol=1e-4
    )


def test_logistic_mixture_sums_to_one_and_one_component_is_the_logistic():
    from keras.ops import convert_to_numpy, logsumexp

    from model.likelihoods import (
        MIXTURE_COMPONENTS,
        discretized_logistic_nll,
        logistic_mixture_nll,
    )

    rng = np.random.default_rng(1)
    k = MIXTURE_COMPONENTS
    params = np.concatenate(
        [rng.normal(0, 2, k), rng.uniform(-0.2, 1.2, k), rng.uniform(-7, 0, k)]
    ).astype(np.float32)
    x = LEVELS.reshape(256, 1, 1, 1)
    out = np.broadcast_to(params, (256, 1, 1, 3 * k))
    log_p = -convert_to_numpy(logistic_mixture_nll(x, out))
    assert float(logsumexp(log_p)) == pytest.approx(0.0, abs=1e-5)

    # All weight on the first component: the mixture is that component's logistic.
    params[:k] = [50.0] + [-50.0] * (k - 1)
    out = np.broadcast_to(params, (256, 1, 1, 3 * k))
    single = np.broadcast_to(params[[k, 2 * k]], (256, 1, 1, 2))
    np.testing.assert_allclose(
        convert_to_numpy(logistic_mixture_nll(x, out)),
        convert_to_numpy(discretized_logistic_nll(x, single)),
        atol=1e-4,
    )


def exact_decoders(x: np.ndarray) -> dict[str, np.ndarray]:
    """Decoder outputs that put as much mass as each likelihood allows on the pixels x."""
    logits = np.where(x > 0.5, 1e6, -1e6).astype(np.float32)  # CB: the sharpest density there
    sharp = np.full_like(x, -30.0)  # a log scale far below the clip
    return {
        "bernoulli": logits,
        "continuous-bernoulli": logits,
        "discretized-logistic": np.concatenate([x - 0.5, sharp], axis=-1),  # 0: mid-gray
        "logistic-mixture": np.concatenate(
            [np.zeros_like(x)] * 5 + [x - 0.5] * 5 + [sharp] * 5, axis=-1
        ),
    }


@pytest.mark.parametrize(
    "name", ["bernoulli", "continuous-bernoulli", "discretized-logistic", "logistic-mixture"]
)
def test_a_decoder_predicting_the_exact_pixels_cannot_score_below_zero(name: str):
    """The old failure: at pixels of exactly 0 or 1 a continuous Bernoulli density grows with
    the logit without bound. Scored on the 8-bit values it is a probability, at most 1."""
    from keras.ops import convert_to_numpy

    from model.evaluate import bits_per_dim
    from model.likelihoods import continuous_bernoulli_nll, get_likelihood, honest_nll

    rng = np.random.default_rng(2)
    black_and_white = (rng.random((4, 8, 8, 1)) > 0.5).astype(np.float32)
    grays = rng.integers(0, 256, (4, 8, 8, 1)).astype(np.float32) / 255.0
    noise = rng.random((4, 8, 8, 1), dtype=np.float32)
    likelihood = get_likelihood(name)
    for x in (black_and_white, grays):
        nll = convert_to_numpy(honest_nll(likelihood, x, exact_decoders(x)[name], noise))
        assert np.all(nll >= 0.0) and np.all(bits_per_dim(nll, 64) >= 0.0)
    # The control: the bare density on the exact pixels goes below zero, bounded logits or not.
    logits = exact_decoders(black_and_white)["continuous-bernoulli"]
    assert float(convert_to_numpy(continuous_bernoulli_nll(black_and_white, logits)).max()) < 0.0


def test_continuous_bernoulli_logits_are_bounded():
    from keras.ops import convert_to_numpy

    from model.likelihoods import CB_LOGIT_LIMIT, continuous_bernoulli_nll

    x = np.zeros((1, 4, 4, 1), np.float32)
    nll = [
        float(convert_to_numpy(continuous_bernoulli_nll(x, np.full_like(x, -v))[0]))
        for v in (1e2, 1e4, 1e8)
    ]
    assert nll[0] == pytest.approx(nll[2], abs=1e-3)  # no reward for pushing logits further
    assert nll[0] >= -16 * np.log(CB_LOGIT_LIMIT)  # density at most ~ the limit per pixel


def test_a_uniform_model_scores_exactly_8_bits_per_dim():
    """Logit 0 is the uniform density on [0, 1]: every dequantized pixel costs log 256."""
    from keras.ops import convert_to_numpy

    from model.evaluate import bits_per_dim
    from model.likelihoods import get_likelihood, honest_nll

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (3, 5, 7, 3)).astype(np.float32) / 255.0
    noise = rng.random(x.shape, dtype=np.float32)
    nll = convert_to_numpy(honest_nll(get_likelihood("bernoulli"), x, np.zeros_like(x), noise))
    np.testing.assert_allclose(bits_per_dim(nll, 105), 8.0, rtol=1e-6)
