"""The VAE: a Sampling layer and a keras.Model composing an encoder and a decoder."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

# blocks and schedules: imported for the layers and the learning-rate schedule that saved runs
# name, so that every way of loading a run finds them
from model import schedules  # noqa: F401
from model.arch import blocks  # noqa: F401
from model.autoregressive import AutoregressiveHead, independent_draws
from model.likelihoods import get_likelihood
from model.prior import MixturePrior, gaussian_log_prob


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


def posterior_draws(z_mean, z_log_var, noise: np.random.Generator, samples: int):
    """(z, eps): ``samples`` draws z ~ q(z | x) per row, shape (samples, N, latent_dim), and the
    N(0, I) noise eps behind them, drawn from ``noise`` (NumPy's: the same on every backend)."""
    shape = (samples, *ops.shape(z_mean))
    eps = ops.convert_to_tensor(noise.standard_normal(shape, dtype=np.float32))
    return z_mean[None] + ops.exp(0.5 * z_log_var)[None] * eps, eps


@keras.saving.register_keras_serializable(package="synthset")
class VAE(keras.Model):
    """A variational autoencoder over images in [0, 1].

    ``encoder`` maps images to ``[z_mean, z_log_var]``; ``decoder`` maps z to the likelihood's
    parameters per pixel (see model.likelihoods), or, when its last layer is an
    :class:`~model.autoregressive.AutoregressiveHead`, ``[z, image]`` to each pixel's parameters
    given the pixels before it (teacher forcing: the loss stays one parallel pass, and generating
    an image goes pixel by pixel). The loss (in ``compute_loss``) is, per image
    and averaged over the batch, ``nll(x | decoded) + kl_weight * kl_scale * KL``, plus, for an
    autoregressive decoder, ``aux_weight`` times the NLL of its trunk's parameters given z alone
    (which keeps the picture in z; pictures are decoded from it); ``kl_scale`` is a
    non-trainable variable a warm-up callback raises from 0 to 1, and evaluation always uses
    ``kl_scale = 1`` so that ``val_loss`` measures the same objective every epoch. p(z) is
    N(0, I), or with ``prior_components`` a learned mixture (model.prior). ``augment`` flips and
    shifts training images. Metrics: ``loss``, ``reconstruction``, ``kl`` and
    ``base_reconstruction`` (unweighted, nats per image).
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        kl_weight: float = 1.0,
        likelihood: str = "bernoulli",
        seed: int | None = None,
        aux_weight: float = 0.0,
        augment: bool = False,
        prior_components: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.kl_weight = float(kl_weight)
        self.likelihood = get_likelihood(likelihood).name
        self.seed = seed
        self.aux_weight = float(aux_weight)
        self.augment = bool(augment)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.kl_scale = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_scale"
        )
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        head = self.head
        # An autoregressive decoder's trunk: z -> its features, the first of which are the
        # parameters of every pixel given z alone (what the pictures are decoded from).
        self.trunk = None if head is None else keras.Model(decoder.inputs[0], head.input[0])
        self.base_tracker = keras.metrics.Mean(name="base_reconstruction") if head else None
        self.augmenter = augmenter(seed) if self.augment else None
        self.prior_components = int(prior_components)
        self.prior = (
            MixturePrior(self.latent_dim, self.prior_components, seed=seed, name="prior")
            if self.prior_components
            else None
        )

    def build(self, input_shape):
        """Nothing to create: the encoder and decoder arrive built (functional models)."""
        self.built = True

    @property
    def latent_dim(self) -> int:
        """The size of z."""
        return int(self.decoder.inputs[0].shape[-1])

    def call(self, inputs, training=False):
        """Encode, sample z, decode: returns a dict with decoded, z_mean, z_log_var, the image
        modelled (``target``: the input, flipped and shifted when training with ``augment``)
        and, for an autoregressive decoder, ``base``: the parameters given z alone."""
        if training and self.augmenter is not None:
            inputs = self.augmenter(inputs, training=True)
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sampling([z_mean, z_log_var])
        out = {"z": z, "z_mean": z_mean, "z_log_var": z_log_var, "target": inputs}
        out["decoded"], base = self.decode_with_base(z, inputs, training=training)
        if base is not None:
            out["base"] = base
        return out

    def decode_with_base(self, z, images, training=False):
        """(:meth:`decode`'s parameters, the parameters given z alone or None for a plain
        decoder), the trunk run once for both."""
        if self.trunk is None:
            return self.decoder(z, training=training), None
        features = self.trunk(z, training=training)
        return self.head([features, images]), self.base_of(features)

    def base_of(self, features):
        """The likelihood's parameters given z alone: the first of the trunk's features."""
        return features[..., : self.head.params * self.image_channels]

    def base(self, z):
        """An autoregressive decoder's parameters of every pixel given ``z`` alone."""
        return self.base_of(self.trunk(z, training=False))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Negative ELBO per image (weighted KL), plus ``aux_weight`` times the z-only
        decoder's NLL for an autoregressive decoder, averaged over the batch."""
        likelihood = get_likelihood(self.likelihood)
        target = y_pred["target"]
        reconstruction = likelihood.nll(target, y_pred["decoded"])
        kl = self.kl(y_pred["z"], y_pred["z_mean"], y_pred["z_log_var"])
        weight = self.kl_weight * self.kl_scale if training else self.kl_weight
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        total = ops.mean(reconstruction + ops.cast(weight, kl.dtype) * kl)
        if "base" in y_pred:
            base = likelihood.nll(target, y_pred["base"])
            self.base_tracker.update_state(base)
            total = total + self.aux_weight * ops.mean(base)
        losses = [self._aggregate_additional_loss(loss) for loss in self.losses]
        return total + ops.sum(losses) if losses else total

    def kl(self, z, z_mean, z_log_var):
        """KL(q(z | x) || p(z)) per row, in nats: exact for the N(0, I) prior, else the
        one-sample estimate log q(z | x) - log p(z) at the drawn ``z``."""
        if self.prior is None:
            return gaussian_kl(z_mean, z_log_var)
        return gaussian_log_prob(z, z_mean, z_log_var) - self.prior.log_prob(z)

    def expected_kl(self, z_mean, z_log_var, samples: int, noise: np.random.Generator):
        """KL(q(z | x) || p(z)) per row: exact for N(0, I), else the mean of ``samples``
        one-sample estimates (each unbiased; their mean has 1/sqrt(samples) of the noise), the
        draws from ``noise`` (NumPy's: the same on every backend)."""
        if self.prior is None:
            return gaussian_kl(z_mean, z_log_var)
        z, _ = posterior_draws(z_mean, z_log_var, noise, samples)
        return ops.mean(self.kl(z, z_mean[None], z_log_var[None]), axis=0)

    def prior_log_prob(self, z):
        """log p(z) per row (z of shape (..., latent_dim))."""
        if self.prior is None:
            return gaussian_log_prob(z, ops.zeros_like(z), ops.zeros_like(z))
        return self.prior.log_prob(z)

    def sample_prior(self, count: int, seed: int) -> np.ndarray:
        """``count`` latent codes from p(z), seeded: the same seed and weights, the same codes."""
        if self.prior is None:
            z = keras.random.normal((count, self.latent_dim), seed=seed)
            return ops.convert_to_numpy(z).astype(np.float32)
        return self.prior.sample(count, seed)

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
        """Images (N, H, W, C) in [0, 1] for latent codes ``z``: without ``rng`` the mean image
        of the pixels given z alone (for an autoregressive decoder, its trunk's parameters: the
        picture z carries, in one pass; not rounded to 8 bits); with ``rng`` every pixel channel
        drawn from the decoder's distribution, an autoregressive one pixel by pixel, each
        conditioned on the values already drawn (an exact sample of the model)."""
        head = self.head
        if head is not None and rng is not None:
            features = self.trunk(z, training=False)
            return head.generate(ops.convert_to_numpy(features), self.likelihood, rng)
        out = self.base(z) if head is not None else self.decoder(z, training=False)
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
            "aux_weight": self.aux_weight,
            "augment": self.augment,
            "prior_components": self.prior_components,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild the VAE, deserializing its encoder and decoder."""
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def augmenter(seed: int | None, shift: float = 0.04) -> keras.Sequential:
    """Random horizontal flips and shifts of up to ``shift`` of each side (edges repeated)."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed),
        ],
        name="augment",
    )


def build_vae(
    arch: str,
    image_shape: tuple[int, int, int],
    latent_dim: int,
    kl_weight: float = 1.0,
    likelihood: str = "bernoulli",
    seed: int | None = None,
    aux_weight: float = 0.0,
    augment: bool = False,
    prior_components: int = 0,
) -> VAE:
    """Build a VAE from the architecture registered as ``arch`` (see model.arch); ``aux_weight``
    weighs the z-only decoder's NLL of an autoregressive decoder, ``augment`` flips and shifts
    the training images; ``prior_components`` > 0 learns a mixture prior (model.prior) instead
    of N(0, I)."""
    from model.arch import build_architecture

    params = get_likelihood(likelihood).params
    encoder, decoder = build_architecture(arch, image_shape, latent_dim, params)
    vae = VAE(
        encoder,
        decoder,
        kl_weight=kl_weight,
        likelihood=likelihood,
        seed=seed,
        aux_weight=aux_weight,
        augment=augment,
        prior_components=prior_components,
        name="vae",
    )
    vae.build((None, *image_shape))
    return vae
