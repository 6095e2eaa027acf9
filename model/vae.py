"""The VAE: a Sampling layer and a keras.Model composing an encoder and a decoder."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from model.autoregressive import AutoregressiveHead, independent_draws
from model.likelihoods import get_likelihood


@keras.saving.register_keras_serializable(package="synthset")
class Sampling(keras.layers.Layer):
    """Draw z = mean + exp(log_var / 2) * eps with eps ~ N(0, I) from a SeedGenerator."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        """Sample one z per row of ``inputs = (z_mean, z_log_var)``."""
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        """The layer's config, with its seed."""
        return {**super().get_config(), "seed": self.seed}


def gaussian_kl(z_mean, z_log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per row, in nats."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


@keras.saving.register_keras_serializable(package="synthset")
class VAE(keras.Model):
    """A variational autoencoder over images in [0, 1].

    ``encoder`` maps images to ``[z_mean, z_log_var]``; ``decoder`` maps z to the likelihood's
    parameters per pixel (see model.likelihoods), or, when its last layer is an
    :class:`~model.autoregressive.AutoregressiveHead`, ``[z, image]`` to each pixel's parameters
    given the pixels before it (teacher forcing: the loss stays one parallel pass, and generating
    an image goes pixel by pixel). The loss (in ``compute_loss``) is, per image
    and averaged over the batch, ``nll(x | decoded) + kl_weight * kl_scale * KL``; ``kl_scale`` is
    a non-trainable variable a warm-up callback raises from 0 to 1, and evaluation always uses
    ``kl_scale = 1`` so that ``val_loss`` measures the same objective every epoch. Metrics:
    ``loss``, ``reconstruction`` and ``kl`` (unweighted, nats per image).
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        kl_weight: float = 1.0,
        likelihood: str = "bernoulli",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.kl_weight = float(kl_weight)
        self.likelihood = get_likelihood(likelihood).name
        self.seed = seed
        self.sampling = Sampling(seed=seed, name="sampling")
        self.kl_scale = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_scale"
        )
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def build(self, input_shape):
        """Nothing to create: the encoder and decoder arrive built (functional models)."""
        self.built = True

    @property
    def latent_dim(self) -> int:
        """The size of z."""
        return int(self.decoder.inputs[0].shape[-1])

    def call(self, inputs, training=False):
        """Encode, sample z, decode: returns a dict with decoded, z_mean and z_log_var."""
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sampling([z_mean, z_log_var])
        decoded = self.decode(z, inputs, training=training)
        return {"decoded": decoded, "z_mean": z_mean, "z_log_var": z_log_var}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Negative ELBO per image (weighted KL), averaged over the batch."""
        reconstruction = get_likelihood(self.likelihood).nll(x, y_pred["decoded"])
        kl = gaussian_kl(y_pred["z_mean"], y_pred["z_log_var"])
        weight = self.kl_weight * self.kl_scale if training else self.kl_weight
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        total = ops.mean(reconstruction + ops.cast(weight, kl.dtype) * kl)
        losses = [self._aggregate_additional_loss(loss) for loss in self.losses]
        return total + ops.sum(losses) if losses else total

    @property
    def head(self) -> AutoregressiveHead | None:
        """The decoder's autoregressive output layer, or None for a plain decoder."""
        last = self.decoder.layers[-1]
        return last if isinstance(last, AutoregressiveHead) else None

    def decode(self, z, images, training=False):
        """The likelihood's parameters of ``images`` given latent codes ``z`` (the images are
        read only by an autoregressive decoder, each pixel's parameters from the pixels before
        it)."""
        if self.head is None:
            return self.decoder(z, training=training)
        return self.decoder([z, images], training=training)

    def generate(self, z, rng: np.random.Generator | None = None) -> np.ndarray:
        """Images (N, H, W, C) in [0, 1] for latent codes ``z``: each pixel channel drawn from
        the decoder's distribution with ``rng``, or without one its mean. An autoregressive
        decoder goes pixel by pixel, each conditioned on the values already chosen; a plain
        decoder's mean is the likelihood's mean image (not rounded to 8 bits)."""
        head = self.head
        if head is not None:
            features = keras.Model(self.decoder.inputs[0], head.input[0])(z, training=False)
            return head.generate(ops.convert_to_numpy(features), self.likelihood, rng)
        out = self.decoder(z, training=False)
        if rng is None:
            return ops.convert_to_numpy(get_likelihood(self.likelihood).mean(out))
        out = ops.convert_to_numpy(out)
        return independent_draws(out, self.image_channels, self.likelihood, rng)

    @property
    def image_channels(self) -> int:
        """The image channels C."""
        return int(self.encoder.inputs[0].shape[-1])

    def get_config(self):
        """Config with the serialized encoder and decoder, so from_config round-trips."""
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "kl_weight": self.kl_weight,
            "likelihood": self.likelihood,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild the VAE, deserializing its encoder and decoder."""
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def build_vae(
    arch: str,
    image_shape: tuple[int, int, int],
    latent_dim: int,
    kl_weight: float = 1.0,
    likelihood: str = "bernoulli",
    seed: int | None = None,
) -> VAE:
    """Build a VAE from the architecture registered as ``arch`` (see model.arch)."""
    from model.arch import build_architecture

    params = get_likelihood(likelihood).params
    encoder, decoder = build_architecture(arch, image_shape, latent_dim, params)
    vae = VAE(encoder, decoder, kl_weight=kl_weight, likelihood=likelihood, seed=seed, name="vae")
    vae.build((None, *image_shape))
    return vae
