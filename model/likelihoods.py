"""Pixel likelihoods p(x | logits) for images in [0, 1], written with keras.ops only."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from keras import ops

from model.errors import UnknownLikelihood

LOG_2 = math.log(2.0)
SMALL = 1e-2  # below this |logit / 2|, log C uses its Taylor series


def _sum_pixels(values):
    """Sum per-pixel values over every axis but the batch axis."""
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


def bernoulli_nll(x, logits):
    """Binary cross-entropy per image, in nats (not a density on [0, 1])."""
    # max(l, 0) - l * x + log(1 + exp(-|l|)): the stable form of BCE with logits.
    per_pixel = ops.relu(logits) - logits * x + ops.softplus(-ops.abs(logits))
    return _sum_pixels(per_pixel)


def continuous_bernoulli_log_norm(logits):
    """log C(lambda) of the continuous Bernoulli, lambda = sigmoid(logits), per pixel.

    C = 2 artanh(1 - 2 lambda) / (1 - 2 lambda) = logits / tanh(logits / 2), which tends to 2 at
    lambda = 1/2; near there the series log 2 + h^2 / 3 - 2 h^4 / 45 (h = logits / 2) is used.
    """
    half = logits / 2.0
    small = ops.abs(half) < SMALL
    safe = ops.where(small, ops.ones_like(half), half)
    exact = LOG_2 + ops.log(ops.abs(safe)) - ops.log(ops.abs(ops.tanh(safe)))
    h2 = half * half
    series = LOG_2 + h2 / 3.0 - 2.0 * h2 * h2 / 45.0
    return ops.where(small, series, exact)


def continuous_bernoulli_nll(x, logits):
    """Negative log density per image, in nats, under the continuous Bernoulli (Loaiza-Ganem
    and Cunningham, 2019): a proper density on [0, 1], so its values are comparable."""
    return bernoulli_nll(x, logits) - _sum_pixels(continuous_bernoulli_log_norm(logits))


def bernoulli_mean(logits):
    """The mean image of a Bernoulli decoder: sigmoid(logits)."""
    return ops.sigmoid(logits)


def continuous_bernoulli_mean(logits):
    """The mean image of a continuous Bernoulli decoder with logits l.

    lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda)) = 1/2 + 1 / (2 tanh(l/2)) - 1/l,
    which tends to 1/2 + l/12 near l = 0.
    """
    small = ops.abs(logits) < SMALL
    safe = ops.where(small, ops.ones_like(logits), logits)
    exact = 0.5 + 0.5 / ops.tanh(safe / 2.0) - 1.0 / safe
    return ops.clip(ops.where(small, 0.5 + logits / 12.0, exact), 0.0, 1.0)


@dataclass(frozen=True)
class Likelihood:
    """A decoder likelihood: its negative log-likelihood per image and its mean image."""

    name: str
    nll: Callable
    mean: Callable


LIKELIHOODS = {
    "bernoulli": Likelihood("bernoulli", bernoulli_nll, bernoulli_mean),
    "continuous-bernoulli": Likelihood(
        "continuous-bernoulli", continuous_bernoulli_nll, continuous_bernoulli_mean
    ),
}


def get_likelihood(name: str) -> Likelihood:
    """The likelihood registered as ``name``; raises UnknownLikelihood listing the known ones."""
    try:
        return LIKELIHOODS[name]
    except KeyError:
        known = ", ".join(sorted(LIKELIHOODS))
        raise UnknownLikelihood(f"unknown likelihood {name!r}; choose one of: {known}") from None
