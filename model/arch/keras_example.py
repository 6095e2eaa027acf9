"""The baseline: the keras.io convolutional VAE (two stride-2 convs, dense 16), naively scaled.

Encoder: Conv2D(32, s2) -> Conv2D(64, s2) -> Flatten -> Dense(16) -> z_mean, z_log_var.
Decoder: Dense(H/4 * W/4 * 64) -> Reshape -> Conv2DTranspose(64, s2) -> Conv2DTranspose(32, s2)
-> Conv2DTranspose(params * C), the likelihood's parameters. At 28x28 that is the example; at
100x100 its dense layers grow to millions of parameters, which is the bottleneck synthset's
conv-vae avoids.
"""

from __future__ import annotations

import keras
from keras import layers

from model.arch.blocks import crop_to, halvings


def build(
    image_shape: tuple[int, int, int], latent_dim: int, params: int = 1
) -> tuple[keras.Model, keras.Model]:
    """Build the keras.io example's encoder and decoder for ``image_shape``; the decoder emits
    ``params`` numbers per pixel channel."""
    height, width, channels = image_shape
    inputs = keras.Input(shape=image_shape, name="image")
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")

    low_h, low_w = halvings(height, 2), halvings(width, 2)
    latent = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(low_h * low_w * 64, activation="relu")(latent)
    x = layers.Reshape((low_h, low_w, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    x = crop_to(x, height, width, name="crop")
    logits = layers.Conv2DTranspose(channels * params, 3, padding="same", name="logits")(x)
    decoder = keras.Model(latent, logits, name="decoder")
    return encoder, decoder
