"""synthset's convolutional VAE: downsample to at most 8x8 before a small dense bottleneck.

Each encoder stage is a stride-2 convolution followed by a stride-1 one; stages repeat until the
longer side is at most 8 pixels (two stages at 28x28, four at 100x100), so the flattened feature
map stays small at any input size. Channels double per stage up to 64 at the bottom and start no
lower than 16. The decoder mirrors it with transposed convolutions; its last one emits the
per-pixel logits directly (no wide layer at full resolution) and is centre-cropped to the input
size.
"""

from __future__ import annotations

import keras
from keras import layers

from model.arch.blocks import crop_to, halvings

MAX_BOTTOM_SIDE = 8  # pixels: the longest side of the last feature map
BOTTOM_FILTERS = 64
MIN_FILTERS = 16
HIDDEN = 256  # units of the dense layer on each side of z


def stage_filters(image_shape: tuple[int, int, int]) -> list[int]:
    """Filters per stage, top (full resolution) first."""
    side = max(image_shape[:2])
    stages = 2
    while halvings(side, stages) > MAX_BOTTOM_SIDE:
        stages += 1
    return [max(MIN_FILTERS, BOTTOM_FILTERS >> (stages - 1 - i)) for i in range(stages)]


def build(image_shape: tuple[int, int, int], latent_dim: int) -> tuple[keras.Model, keras.Model]:
    """Build synthset's encoder and decoder for ``image_shape``."""
    height, width, channels = image_shape
    filters = stage_filters(image_shape)

    inputs = keras.Input(shape=image_shape, name="image")
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"down{i}")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    bottom_shape = tuple(x.shape[1:])
    x = layers.Flatten()(x)
    x = layers.Dense(HIDDEN, activation="relu", name="hidden")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    latent = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(HIDDEN, activation="relu", name="hidden")(latent)
    x = layers.Dense(bottom_shape[0] * bottom_shape[1] * bottom_shape[2], activation="relu")(x)
    x = layers.Reshape(bottom_shape)(x)
    for i, f in reversed(list(enumerate(filters))):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        if i:
            x = layers.Conv2DTranspose(
                filters[i - 1], 3, strides=2, padding="same", activation="relu", name=f"up{i}"
            )(x)
    # The last upsampling emits the logits directly: a full-resolution layer with many
    # channels (the example's Conv2DTranspose(32) at 100x100) dominates the training time.
    x = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", name="up0")(x)
    logits = crop_to(x, height, width, name="logits")
    decoder = keras.Model(latent, logits, name="decoder")
    return encoder, decoder
