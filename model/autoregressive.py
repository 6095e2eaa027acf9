"""A local autoregressive output layer (PixelVAE-lite, Gulrajani et al., 2016) and its sampler.

:class:`AutoregressiveHead` turns a decoder's per-pixel ``features`` (H, W, F >= P * C, computed
from z only; the first P * C are the likelihood's parameters as a plain decoder would give them,
``base``) into the likelihood's parameters of each pixel given the pixels before it in raster
order (and, for colour, the channels before it in the same pixel):

    params = base + W_out relu(maskedconv(x) + W_features features + b)

``maskedconv`` is a ``kernel`` x ``kernel`` "type A" convolution over the image x: it sees the
rows above, the pixels to the left, and in the centre pixel only the channels before the one it
predicts. Hidden units come in one group per channel, and channel c's parameters read only its
group, so the parameters of channel c at (i, j) never depend on x[i, j, c] or later values.
Training and scoring are one parallel pass with x known (teacher forcing), so the likelihood stays
exact; generating an image is sequential, in numpy (:meth:`generate`): pixels on one wavefront
(r + 1) i + j = t (r = kernel // 2) never read each other, so each wavefront is one vectorised
step, about 3 H + W steps per image instead of H W.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from model.likelihoods import (
    CB_LOGIT_LIMIT,
    LEVELS,
    LOG_SCALE_OFFSET,
    MAX_LOG_SCALE,
    MEAN_OFFSET,
    MIN_LOG_SCALE,
    MIXTURE_COMPONENTS,
    SMALL,
)


def causal_mask(kernel: int, channels: int, units: int) -> np.ndarray:
    """The (kernel, kernel, channels, channels * units) type A mask: 1 where an input may reach
    a hidden unit (unit group c = the units of output channel c)."""
    r = kernel // 2
    mask = np.zeros((kernel, kernel, channels, channels * units), dtype=np.float32)
    mask[:r] = 1.0
    mask[r, :r] = 1.0
    for c in range(channels):
        mask[r, r, :c, c * units : (c + 1) * units] = 1.0
    return mask


def group_mask(channels: int, units: int, params: int) -> np.ndarray:
    """The (channels * units, params * channels) mask letting unit group c reach only channel c's
    parameters (parameter-major: output p * channels + c)."""
    mask = np.zeros((channels * units, params * channels), dtype=np.float32)
    for c in range(channels):
        mask[c * units : (c + 1) * units, c::channels] = 1.0
    return mask


@keras.saving.register_keras_serializable(package="synthset")
class AutoregressiveHead(keras.layers.Layer):
    """Called on ``[features, image]``: the likelihood's parameters of each pixel channel given
    the decoder's ``features`` (the first ``params * C`` of them: its own estimate of those
    parameters) and the causally preceding pixels of ``image``."""

    def __init__(self, params: int, kernel: int = 5, units: int = 32, **kwargs):
        super().__init__(**kwargs)
        if kernel < 3 or kernel % 2 == 0:
            raise ValueError(f"kernel must be odd and at least 3, not {kernel}")
        self.params = int(params)
        self.kernel = int(kernel)
        self.units = int(units)

    def build(self, input_shape):
        """Create the masked kernel, the projection of the features, the bias and the output."""
        features_shape, image_shape = input_shape
        self.channels = int(image_shape[-1])
        features = int(features_shape[-1])
        if features < self.params * self.channels:
            raise ValueError(
                f"{features} features cannot hold {self.params} parameters per channel"
            )
        hidden = self.channels * self.units
        self.image_kernel = self.add_weight(
            shape=(self.kernel, self.kernel, self.channels, hidden),
            initializer="glorot_uniform",
            name="image_kernel",
        )
        self.base_kernel = self.add_weight(
            shape=(features, hidden), initializer="glorot_uniform", name="base_kernel"
        )
        self.bias = self.add_weight(shape=(hidden,), initializer="zeros", name="bias")
        # Zero output weights: training starts from the plain decoder's parameters.
        self.out_kernel = self.add_weight(
            shape=(hidden, self.params * self.channels), initializer="zeros", name="out_kernel"
        )
        self.image_mask = causal_mask(self.kernel, self.channels, self.units)
        self.out_mask = group_mask(self.channels, self.units, self.params)

    def call(self, inputs):
        """The parameters of every pixel given its causal context in ``image`` (teacher forcing)."""
        features, image = inputs
        pre = ops.conv(image, self.image_kernel * self.image_mask, padding="same")
        hidden = ops.relu(pre + ops.matmul(features, self.base_kernel) + self.bias)
        base = features[..., : self.params * self.channels]
        return base + ops.matmul(hidden, self.out_kernel * self.out_mask)

    def compute_output_shape(self, input_shape):
        """The features' shape with ``params * C`` channels."""
        return (*input_shape[0][:-1], self.params * self.channels)

    def get_config(self):
        """The layer's config."""
        return {
            **super().get_config(),
            "params": self.params,
            "kernel": self.kernel,
            "units": self.units,
        }

    def generate(
        self, features: np.ndarray, likelihood: str, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Images (N, H, W, C) in [0, 1], pixel by pixel in raster order, from ``features``.

        Each pixel channel is drawn from its conditional distribution with ``rng``, or, without
        one, set to that distribution's mean (rounded to the nearest 8-bit value, like the data
        the head was trained on): a deterministic image per z.
        """
        weights = [np.asarray(ops.convert_to_numpy(w), dtype=np.float64) for w in self.weights]
        image_kernel, base_kernel, bias, out_kernel = weights
        image_kernel = image_kernel * self.image_mask
        out_kernel = out_kernel * self.out_mask
        features = np.asarray(features, dtype=np.float64)
        n, height, width, _ = features.shape
        c_count, r, u, k = self.channels, self.kernel // 2, self.units, self.kernel
        # Laid out (H, W, N, ...): gathering m pixels gives (m, N, ...) blocks.
        from_features = (features @ base_kernel + bias).transpose(1, 2, 0, 3)
        base = [
            features[..., c : self.params * c_count : c_count].transpose(1, 2, 0, 3)
            for c in range(c_count)
        ]
        offsets = [(dy, dx) for dy in range(r) for dx in range(k)] + [(r, dx) for dx in range(r)]
        dys, dxs = np.array(offsets).T  # the mask's causal taps, in padded coordinates
        causal = np.concatenate([image_kernel[dy, dx] for dy, dx in offsets])
        units = [slice(c * u, (c + 1) * u) for c in range(c_count)]
        centre = [image_kernel[r, r, :c, units[c]] for c in range(c_count)]
        out = [out_kernel[units[c], c::c_count] for c in range(c_count)]
        x = np.zeros((height + 2 * r, width + 2 * r, n, c_count))  # zero padding, as in training
        # Pixel (i, j) reads rows i - r .. i - 1 up to column j + r and row i left of j: all on
        # earlier wavefronts t = (r + 1) i + j, so each wavefront is one vectorised step.
        step, rows = r + 1, np.arange(height)
        for t in range(step * (height - 1) + width):
            i = rows[(t >= step * rows) & (t - step * rows < width)]
            j = t - step * i
            patches = x[i[:, None] + dys, j[:, None] + dxs]  # (m, taps, N, C)
            patches = patches.transpose(0, 2, 1, 3).reshape(len(i), n, -1)
            pre = from_features[i, j] + patches @ causal
            for c in range(c_count):
                pre_c = pre[..., units[c]]
                if c:
                    pre_c = pre_c + x[i + r, j + r, :, :c] @ centre[c]
                params = base[c][i, j] + np.maximum(pre_c, 0.0) @ out[c]
                values = pixel_value(likelihood, params.reshape(-1, self.params), rng)
                x[i + r, j + r, :, c] = values.reshape(len(i), n)
        return x[r : r + height, r : r + width].transpose(2, 0, 1, 3).astype(np.float32)


def pixel_value(likelihood: str, params: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """One value per row of ``params`` (N, P): a draw (with ``rng``) or the mean, on the 8-bit
    grid k / 255; mirrors the decoder likelihoods of model.likelihoods in numpy."""
    if likelihood == "discretized-logistic":
        locations, log_scales = params[:, :1], params[:, 1:2]
        weights = np.zeros_like(locations)
    elif likelihood == "logistic-mixture":
        k = MIXTURE_COMPONENTS
        weights, locations, log_scales = params[:, :k], params[:, k : 2 * k], params[:, 2 * k :]
    else:
        return bernoulli_value(likelihood, params[:, 0], rng)
    locations = locations + MEAN_OFFSET
    if rng is None and locations.shape[1] == 1:
        value = locations[:, 0]
    elif rng is None:
        probabilities = np.exp(weights - weights.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        value = (probabilities * np.clip(locations, 0.0, 1.0)).sum(axis=1)
    else:
        gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, weights.shape)))
        pick = np.argmax(weights + gumbel, axis=1)[:, None]
        location = np.take_along_axis(locations, pick, axis=1)[:, 0]
        log_scale = np.take_along_axis(log_scales, pick, axis=1)[:, 0] + LOG_SCALE_OFFSET
        scale = np.exp(np.clip(log_scale, MIN_LOG_SCALE, MAX_LOG_SCALE))
        uniform = rng.uniform(1e-7, 1.0 - 1e-7, len(location))
        value = location + scale * (np.log(uniform) - np.log1p(-uniform))
    return np.round(np.clip(value, 0.0, 1.0) * (LEVELS - 1)) / (LEVELS - 1)


def independent_draws(
    out: np.ndarray, channels: int, likelihood: str, rng: np.random.Generator
) -> np.ndarray:
    """Images (N, H, W, C) drawn from a plain decoder's output ``out`` (N, H, W, P * C,
    parameter-major), every pixel channel independently."""
    n, height, width, total = out.shape
    params = total // channels
    per_pixel = out.reshape(n, height, width, params, channels).transpose(0, 1, 2, 4, 3)
    values = pixel_value(likelihood, per_pixel.reshape(-1, params).astype(np.float64), rng)
    return values.reshape(n, height, width, channels).astype(np.float32)


def bernoulli_value(
    likelihood: str, logits: np.ndarray, rng: np.random.Generator | None
) -> np.ndarray:
    """The mean (or, with ``rng``, a draw) of a Bernoulli-family pixel, on the 8-bit grid."""
    if likelihood == "continuous-bernoulli":
        logits = CB_LOGIT_LIMIT * np.tanh(logits / CB_LOGIT_LIMIT)
        safe = np.where(np.abs(logits) < SMALL, 1.0, logits)
        mean = np.where(
            np.abs(logits) < SMALL, 0.5 + logits / 12.0, 0.5 + 0.5 / np.tanh(safe / 2.0) - 1 / safe
        )
    else:
        mean = 1.0 / (1.0 + np.exp(-logits))
    value = mean if rng is None else (rng.random(len(mean)) < mean).astype(np.float64)
    return np.round(np.clip(value, 0.0, 1.0) * (LEVELS - 1)) / (LEVELS - 1)
