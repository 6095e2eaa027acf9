"""A learned prior p(z): a mixture of diagonal Gaussians trained with the rest of the VAE.

With the fixed N(0, I) prior and a small dataset, the codes of the training images settle far
from where N(0, I) puts its mass within a CPU's budget of epochs (on the demo's cakes their mean
sat about 4 units from the origin), so samples decoded from N(0, I) land between the data: dark,
blurred cakes. A prior that learns where the codes are (Tomczak and Welling, 2018, use a mixture
of the encoder's posteriors; here a plain mixture of ``components`` Gaussians) closes that gap
while the model stays one proper generative model: the ELBO uses the same p(z) the samples come
from, its KL term estimated with the sampled z (log q(z | x) - log p(z)), so bits/dim stay an
honest bound.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_prob(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


@keras.saving.register_keras_serializable(package="synthset")
class MixturePrior(keras.layers.Layer):
    """p(z) = sum_k pi_k N(z; mu_k, diag(sigma_k^2)) with learned pi, mu and sigma."""

    def __init__(self, latent_dim: int, components: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.components = int(components)
        self.seed = seed
        self.means = self.add_weight(
            shape=(self.components, self.latent_dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed),
            name="means",
        )
        self.log_vars = self.add_weight(
            shape=(self.components, self.latent_dim), initializer="zeros", name="log_vars"
        )
        self.logits = self.add_weight(shape=(self.components,), initializer="zeros", name="logits")

    def log_prob(self, z):
        """log p(z) for z of shape (..., latent_dim)."""
        # tensors, not variables: older Keras' JAX variables are not JAX arrays to jax.numpy
        means, log_vars, logits = (
            ops.convert_to_tensor(w) for w in (self.means, self.log_vars, self.logits)
        )
        per_component = gaussian_log_prob(z[..., None, :], means, log_vars)
        log_weights = logits - ops.logsumexp(logits)
        return ops.logsumexp(per_component + log_weights, axis=-1)

    def sample(self, count: int, seed: int) -> np.ndarray:
        """``count`` codes drawn from the mixture with a numpy generator seeded with ``seed``."""
        means, log_vars, logits = (
            np.asarray(ops.convert_to_numpy(w), dtype=np.float64)
            for w in (self.means, self.log_vars, self.logits)
        )
        rng = np.random.default_rng(seed)
        weights = np.exp(logits - logits.max())
        pick = rng.choice(self.components, size=count, p=weights / weights.sum())
        noise = rng.standard_normal((count, self.latent_dim))
        return (means[pick] + np.exp(0.5 * log_vars[pick]) * noise).astype(np.float32)

    def get_config(self):
        """The layer's config."""
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "components": self.components,
            "seed": self.seed,
        }
