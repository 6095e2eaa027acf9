"""Pixel likelihoods p(x | decoder output) for 8-bit images scaled to [0, 1], in keras.ops only.

The decoder emits ``params`` numbers per pixel channel, laid out parameter-major along the last
axis: (H, W, params * C), the first C channels being parameter 0 of every channel. ``bernoulli``
and ``continuous-bernoulli`` take one logit; ``discretized-logistic`` a mean and a log scale;
``logistic-mixture`` a weight, a mean and a log scale for each of its components.

Two kinds: the discretized logistics are distributions over the 256 values of an 8-bit pixel
(``discrete``), so their NLL is -log P(x) and never negative. The Bernoulli family are densities
(or, for BCE, not even that) on [0, 1]; :func:`honest_nll` scores them on uniformly dequantized
pixels (k + u) / 256 with the continuous Bernoulli density plus log 256 per pixel, an upper bound
on -log P(k) of a distribution over the 256 values (Theis et al., 2016).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from keras import ops

from model.errors import UnknownLikelihood

LOG_2 = math.log(2.0)
LEVELS = 256  # values of an 8-bit pixel
LOG_LEVELS = math.log(LEVELS)
SMALL = 1e-2  # below this |logit / 2|, log C uses its Taylor series
CB_LOGIT_LIMIT = 15.0  # continuous Bernoulli logits are squashed into (-15, 15): no divergence
MIN_LOG_SCALE = -7.0  # the logistic's log scale is clipped here (PixelCNN++ does the same)
MAX_LOG_SCALE = 7.0  # and here: far wider, a bin's width in float32 would round to 0
HALF_BIN = 0.5 / (LEVELS - 1)  # half the distance between two pixel values in [0, 1]
MEAN_OFFSET = 0.5  # a decoder output of 0 is a logistic at mid-gray ...
LOG_SCALE_OFFSET = math.log(1.0 / 16.0)  # ... with scale 1/16: a quick start from a plain init
MIXTURE_COMPONENTS = 5


def _sum_pixels(values):
    """Sum per-pixel values over every axis but the batch axis."""
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


def split_params(out, params: int) -> list:
    """Split a (..., params * C) decoder output into ``params`` tensors of shape (..., C)."""
    if params == 1:
        return [out]
    return ops.split(out, params, axis=-1)


def bernoulli_nll(x, logits):
    """Binary cross-entropy per image, in nats (not a density on [0, 1])."""
    # max(l, 0) - l * x + log(1 + exp(-|l|)): the stable form of BCE with logits.
    per_pixel = ops.relu(logits) - logits * x + ops.softplus(-ops.abs(logits))
    return _sum_pixels(per_pixel)


def bounded_logits(logits):
    """Squash logits smoothly into (-CB_LOGIT_LIMIT, CB_LOGIT_LIMIT).

    The continuous Bernoulli density at 0 or 1 grows like |logit| without bound, and 8-bit data
    has many pixels at exactly 0 or 1: unbounded logits let training chase that forever.
    """
    return CB_LOGIT_LIMIT * ops.tanh(logits / CB_LOGIT_LIMIT)


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
    and Cunningham, 2019) with bounded logits: a proper density on [0, 1]."""
    logits = bounded_logits(logits)
    return bernoulli_nll(x, logits) - _sum_pixels(continuous_bernoulli_log_norm(logits))


def bernoulli_mean(logits):
    """The mean image of a Bernoulli decoder: sigmoid(logits)."""
    return ops.sigmoid(logits)


def continuous_bernoulli_mean(logits):
    """The mean image of a continuous Bernoulli decoder with (bounded) logits l.

    lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda)) = 1/2 + 1 / (2 tanh(l/2)) - 1/l,
    which tends to 1/2 + l/12 near l = 0.
    """
    logits = bounded_logits(logits)
    small = ops.abs(logits) < SMALL
    safe = ops.where(small, ops.ones_like(logits), logits)
    exact = 0.5 + 0.5 / ops.tanh(safe / 2.0) - 1.0 / safe
    return ops.clip(ops.where(small, 0.5 + logits / 12.0, exact), 0.0, 1.0)


def log_sigmoid(t):
    """log(sigmoid(t)), stable for any t."""
    return -ops.softplus(-t)


def discretized_logistic_log_prob(x, mean, log_scale):
    """log P(pixel value) per pixel under a logistic discretized to the 256 pixel values.

    Value k (x = k / 255) owns the interval k / 255 +- HALF_BIN; the intervals of 0 and 255
    extend to -inf and +inf, so the 256 probabilities sum to 1. With a = (x + HALF_BIN - mean) / s
    and b = (x - HALF_BIN - mean) / s, sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b)
    (1 - exp(b - a)), whose log is stable in float32 however far in a tail the value lies.
    """
    inverse_scale = ops.exp(-ops.clip(log_scale, MIN_LOG_SCALE, MAX_LOG_SCALE))
    centred = x - mean
    a = (centred + HALF_BIN) * inverse_scale
    b = (centred - HALF_BIN) * inverse_scale
    width = (2.0 * HALF_BIN) * inverse_scale
    log_mid = log_sigmoid(a) + log_sigmoid(-b) + ops.log(-ops.expm1(-width))
    lowest = x < HALF_BIN
    highest = x > 1.0 - HALF_BIN
    return ops.where(lowest, log_sigmoid(a), ops.where(highest, log_sigmoid(-b), log_mid))


def discretized_logistic_nll(x, out):
    """-log P(x) per image, in nats; ``out`` holds, per pixel channel, the logistic's location
    minus MEAN_OFFSET and its log scale minus LOG_SCALE_OFFSET."""
    mean, log_scale = split_params(out, 2)
    return -_sum_pixels(
        discretized_logistic_log_prob(x, mean + MEAN_OFFSET, log_scale + LOG_SCALE_OFFSET)
    )


def discretized_logistic_mean(out):
    """The decoder's mean image: the logistic's location, clipped to [0, 1]."""
    return ops.clip(split_params(out, 2)[0] + MEAN_OFFSET, 0.0, 1.0)


def logistic_mixture_nll(x, out):
    """-log P(x) per image, in nats, under a mixture of discretized logistics per pixel channel
    (MIXTURE_COMPONENTS each: weight logits, locations and log scales with the offsets of
    :func:`discretized_logistic_nll`, parameter-major)."""
    parts = split_params(out, 3 * MIXTURE_COMPONENTS)
    k = MIXTURE_COMPONENTS
    weights, means, log_scales = (ops.stack(parts[i * k : (i + 1) * k]) for i in range(3))
    log_weights = weights - ops.logsumexp(weights, axis=0, keepdims=True)
    log_probs = discretized_logistic_log_prob(
        x[None], means + MEAN_OFFSET, log_scales + LOG_SCALE_OFFSET
    )
    return -_sum_pixels(ops.logsumexp(log_weights + log_probs, axis=0))


def logistic_mixture_mean(out):
    """The mixture's mean image: the weighted mean of its components' locations, in [0, 1]."""
    parts = split_params(out, 3 * MIXTURE_COMPONENTS)
    k = MIXTURE_COMPONENTS
    weights = ops.softmax(ops.stack(parts[:k]), axis=0)
    means = ops.clip(ops.stack(parts[k : 2 * k]) + MEAN_OFFSET, 0.0, 1.0)
    return ops.sum(weights * means, axis=0)


@dataclass(frozen=True)
class Likelihood:
    """A decoder likelihood: its NLL per image, its mean image and its decoder outputs.

    ``params``: numbers the decoder emits per pixel channel. ``discrete``: a distribution over
    the 256 pixel values (so its NLL is already the honest figure).
    """

    name: str
    nll: Callable
    mean: Callable
    params: int = 1
    discrete: bool = False


LIKELIHOODS = {
    "bernoulli": Likelihood("bernoulli", bernoulli_nll, bernoulli_mean),
    "continuous-bernoulli": Likelihood(
        "continuous-bernoulli", continuous_bernoulli_nll, continuous_bernoulli_mean
    ),
    "discretized-logistic": Likelihood(
        "discretized-logistic",
        discretized_logistic_nll,
        discretized_logistic_mean,
        params=2,
        discrete=True,
    ),
    "logistic-mixture": Likelihood(
        "logistic-mixture",
        logistic_mixture_nll,
        logistic_mixture_mean,
        params=3 * MIXTURE_COMPONENTS,
        discrete=True,
    ),
}


def get_likelihood(name: str) -> Likelihood:
    """The likelihood registered as ``name``; raises UnknownLikelihood listing the known ones."""
    try:
        return LIKELIHOODS[name]
    except KeyError:
        known = ", ".join(sorted(LIKELIHOODS))
        raise UnknownLikelihood(f"unknown likelihood {name!r}; choose one of: {known}") from None


def honest_name(likelihood: Likelihood) -> str:
    """How :func:`honest_nll` scores a decoder with ``likelihood``, in words."""
    if likelihood.discrete:
        return likelihood.name
    return "continuous-bernoulli on dequantized pixels + log 256"


def dequantize(x, noise):
    """(k + u) / 256 for pixels x = k / 255 and uniform noise u in [0, 1)."""
    return (ops.round(x * (LEVELS - 1)) + noise) / LEVELS


def honest_nll(likelihood: Likelihood, x, out, noise):
    """An upper bound on -log P(x) per image, in nats, for 8-bit pixels x = k / 255.

    A discrete likelihood gives -log P(x) itself. A continuous decoder's logits are scored with
    the continuous Bernoulli density at the dequantized pixels (k + noise) / 256, plus log 256
    per pixel: -log P(k) <= E_u[-log p((k + u) / 256)] + log 256, so the figure is never negative.
    """
    if likelihood.discrete:
        return likelihood.nll(x, out)
    pixels = math.prod(x.shape[1:])
    return continuous_bernoulli_nll(dequantize(x, noise), out) + pixels * LOG_LEVELS
