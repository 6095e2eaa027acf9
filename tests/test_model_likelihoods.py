"""The pixel likelihoods against direct numerical integration."""

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
    from model.likelihoods import continuous_bernoulli_log_norm, continuous_bernoulli_mean

    log_c, mean = integrate(logit)
    array = np.array([[logit]], dtype=np.float32)
    assert float(continuous_bernoulli_log_norm(array)[0, 0]) == pytest.approx(log_c, abs=2e-5)
    assert float(continuous_bernoulli_mean(array)[0, 0]) == pytest.approx(mean, abs=2e-5)


def test_nll_per_image_sums_pixels():
    from keras.ops import convert_to_numpy

    from model.likelihoods import bernoulli_nll, continuous_bernoulli_nll

    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 4, 1)).astype(np.float32)
    logits = rng.normal(0, 3, (3, 4, 4, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -(x * np.log(p) + (1 - x) * np.log1p(-p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(convert_to_numpy(bernoulli_nll(x, logits)), bce, rtol=1e-5)
    log_c = np.log(logits / np.tanh(logits / 2.0)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(
        convert_to_numpy(continuous_bernoulli_nll(x, logits)), bce - log_c, rtol=1e-4
    )


def test_unknown_likelihood_lists_the_known_ones():
    from model.errors import UnknownLikelihood
    from model.likelihoods import get_likelihood

    with pytest.raises(UnknownLikelihood, match="bernoulli, continuous-bernoulli"):
        get_likelihood("gaussian")
