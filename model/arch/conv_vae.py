"""synthset's convolutional VAE: residual stages down to at most 8x8, a small dense bottleneck.

Each encoder stage is a stride-2 convolution followed by a residual block (two 3x3 convolutions
added to their input) where the feature map is at most 16 pixels wide, a 3x3 convolution above
that; stages repeat until the longer side is at most 8 pixels (two stages at 28x28, four at
100x100), so the flattened feature map stays small at any input size. Channels double per stage
up to 64 at the bottom and start no lower than 16; a dense layer of 512 on each side of z; the
log-variance of q(z | x) softly bounded above by MAX_LOG_VAR (an unbounded one diverged). The
decoder mirrors it; its last transposed convolution emits the likelihood's parameters directly
(no wide layer at full resolution), centre-cropped to the input size. ``conv-vae-ar`` (the
default) adds an autoregressive head (model.autoregressive) that refines each pixel's parameters
from the pixels before it: 14% fewer bits/dim on Fashion-MNIST (model/README.md).
"""

from __future__ import annotations

import keras
from keras import layers

from model.arch.blocks import SoftUpperBound, crop_to, halvings
from model.autoregressive import AutoregressiveHead

MAX_BOTTOM_SIDE = 8  # pixels: the longest side of the last feature map
BOTTOM_FILTERS = 64
MIN_FILTERS = 16
RESIDUAL_MAX_SIDE = 16  # stages whose feature map is at most this size get residual blocks
HIDDEN = 512  # units of the dense layer on each side of z
AR_KERNEL = 5  # the autoregressive head's masked convolution: the 12 pixels before, 2 rows up
AR_UNITS = 64  # its hidden units per channel
MAX_LOG_VAR = 2.0  # the encoder's log-variance stays below it (blocks.SoftUpperBound)


def stage_filters(image_shape: tuple[int, int, int]) -> list[int]:
    """Filters per stage, top (full resolution) first."""
    side = max(image_shape[:2])
    stages = 2
    while halvings(side, stages) > MAX_BOTTOM_SIDE:
        stages += 1
    return [max(MIN_FILTERS, BOTTOM_FILTERS >> (stages - 1 - i)) for i in range(stages)]


def residual_block(x, filters: int, name: str):
    """x + conv3x3(relu(conv3x3(x))), then a ReLU: a block that can start as the identity."""
    y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_a")(x)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_b")(y)
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))


def stage_block(x, filters: int, name: str):
    """A residual block where the feature map is small (at most RESIDUAL_MAX_SIDE), else one
    3x3 convolution: residual blocks at full size would dominate the time at 100x100."""
    if max(x.shape[1:3]) <= RESIDUAL_MAX_SIDE:
        return residual_block(x, filters, name=f"res{name}")
    return layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{name}")(x)


def build(
    image_shape: tuple[int, int, int], latent_dim: int, params: int = 1
) -> tuple[keras.Model, keras.Model]:
    """Build synthset's encoder and decoder for ``image_shape``; the decoder emits ``params``
    numbers per pixel channel from z alone (``conv-vae``)."""
    return _build(image_shape, latent_dim, params, autoregressive=False)


def build_autoregressive(
    image_shape: tuple[int, int, int], latent_dim: int, params: int = 1
) -> tuple[keras.Model, keras.Model]:
    """``conv-vae-ar`` (the default): conv-vae whose decoder ends in the autoregressive head,
    so it maps ``[z, image]`` to each pixel's parameters given the pixels before it."""
    return _build(image_shape, latent_dim, params, autoregressive=True)


def _build(
    image_shape: tuple[int, int, int], latent_dim: int, params: int, autoregressive: bool
) -> tuple[keras.Model, keras.Model]:
    """The encoder and decoder, with or without the autoregressive head."""
    height, width, channels = image_shape
    filters = stage_filters(image_shape)

    inputs = keras.Input(shape=image_shape, name="image")
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"down{i}")(x)
        x = stage_block(x, f, name=str(i))
    bottom_shape = tuple(x.shape[1:])
    x = layers.Flatten()(x)
    x = layers.Dense(HIDDEN, activation="relu", name="hidden")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var_free")(x)
    z_log_var = SoftUpperBound(MAX_LOG_VAR, name="z_log_var")(z_log_var)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    latent = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(HIDDEN, activation="relu", name="hidden")(latent)
    x = layers.Dense(bottom_shape[0] * bottom_shape[1] * bottom_shape[2], activation="relu")(x)
    x = layers.Reshape(bottom_shape)(x)
    for i, f in reversed(list(enumerate(filters))):
        x = stage_block(x, f, name=str(i))
        if i:
            x = layers.Conv2DTranspose(
                filters[i - 1], 3, strides=2, padding="same", activation="relu", name=f"up{i}"
            )(x)
    # The last upsampling emits the likelihood's parameters directly: a full-resolution layer
    # with many channels (the example's Conv2DTranspose(32) at 100x100) dominates the time.
    x = layers.Conv2DTranspose(channels * params, 3, strides=2, padding="same", name="up0")(x)
    base = crop_to(x, height, width, name="params")
    if not autoregressive:
        return encoder, keras.Model(latent, base, name="decoder")
    image = keras.Input(shape=image_shape, name="image")
    out = AutoregressiveHead(params, kernel=AR_KERNEL, units=AR_UNITS, name="autoregressive")(
        [base, image]
    )
    decoder = keras.Model([latent, image], out, name="decoder")
    return encoder, decoder
