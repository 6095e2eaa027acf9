"""Score a trained run on an export's validation split: ELBO, bits/dim, active units, copying."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from model.data import Export, load_export
from model.likelihoods import get_likelihood
from model.sample import PREDICT_BATCH, encode_means, load_run, sample_images
from model.vae import VAE, gaussian_kl

EVAL_LIKELIHOOD = "continuous-bernoulli"  # a proper density on [0, 1], so bits/dim mean something
ACTIVE_THRESHOLD = 0.01  # variance of a unit's posterior mean over val above which it is active
MEMORIZATION_IMAGES = 1000  # at most this many samples and val images are compared with train


@dataclass(frozen=True)
class Evaluation:
    """Validation scores of one run; nats are per image, averaged over the split."""

    n_val: int
    reconstruction: float
    kl: float
    nats_per_image: float
    bits_per_dim: float
    bce: float
    active_units: int
    latent_dim: int
    memorization: float
    sample_to_train: float
    val_to_train: float
    likelihood: str = EVAL_LIKELIHOOD

    def as_dict(self) -> dict:
        """The scores as a JSON-ready dict."""
        return asdict(self)


def elbo_terms(vae: VAE, images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-image continuous-Bernoulli NLL, Bernoulli NLL and KL (nats), one z sample each."""
    sampler = keras.random.SeedGenerator(seed)
    cb = get_likelihood(EVAL_LIKELIHOOD).nll
    bernoulli = get_likelihood("bernoulli").nll
    parts: dict[str, list[np.ndarray]] = {"reconstruction": [], "bce": [], "kl": []}
    for i in range(0, len(images), PREDICT_BATCH):
        x = ops.convert_to_tensor(images[i : i + PREDICT_BATCH])
        z_mean, z_log_var = vae.encoder(x, training=False)
        eps = keras.random.normal(ops.shape(z_mean), seed=sampler)
        logits = vae.decoder(z_mean + ops.exp(0.5 * z_log_var) * eps, training=False)
        parts["reconstruction"].append(ops.convert_to_numpy(cb(x, logits)))
        parts["bce"].append(ops.convert_to_numpy(bernoulli(x, logits)))
        parts["kl"].append(ops.convert_to_numpy(gaussian_kl(z_mean, z_log_var)))
    return {key: np.concatenate(values).astype(np.float64) for key, values in parts.items()}


def nearest_distances(queries: np.ndarray, references: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Euclidean distance from each query image to its nearest reference image."""
    q = queries.reshape(len(queries), -1).astype(np.float32)
    r = references.reshape(len(references), -1).astype(np.float32)
    r_norms = np.einsum("ij,ij->i", r, r)
    out = np.empty(len(q), dtype=np.float64)
    for start in range(0, len(q), chunk):
        block = q[start : start + chunk]
        squared = (
            np.einsum("ij,ij->i", block, block)[:, None] + r_norms[None, :] - 2.0 * block @ r.T
        )
        out[start : start + chunk] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def memorization_score(
    vae: VAE, export: Export, count: int = MEMORIZATION_IMAGES, seed: int = 0
) -> tuple[float, float]:
    """Median sample-to-nearest-train distance and median val-to-nearest-train distance."""
    train = export.require_train()
    val = export.require_val()[:count]
    samples = sample_images(vae, len(val), seed=seed)
    return (
        float(np.median(nearest_distances(samples, train))),
        float(np.median(nearest_distances(val, train))),
    )


def evaluate_run(vae: VAE, export: Export, seed: int = 0) -> Evaluation:
    """Score ``vae`` on ``export``'s validation split (see :class:`Evaluation`)."""
    val = export.require_val()
    terms = elbo_terms(vae, val, seed=seed)
    reconstruction = float(terms["reconstruction"].mean())
    kl = float(terms["kl"].mean())
    nats = reconstruction + kl
    dims = int(np.prod(export.shape))
    variances = encode_means(vae, val).var(axis=0)
    sample_dist, val_dist = memorization_score(vae, export, seed=seed)
    return Evaluation(
        n_val=len(val),
        reconstruction=reconstruction,
        kl=kl,
        nats_per_image=nats,
        bits_per_dim=nats / (dims * math.log(2.0)),
        bce=float(terms["bce"].mean()),
        active_units=int((variances > ACTIVE_THRESHOLD).sum()),
        latent_dim=vae.latent_dim,
        memorization=sample_dist / val_dist if val_dist > 0 else float("inf"),
        sample_to_train=sample_dist,
        val_to_train=val_dist,
    )


def evaluate(run_dir: Path | str, dataset_dir: Path | str, seed: int = 0) -> Evaluation:
    """Load RUN_DIR/model.keras and score it on the export at ``dataset_dir``."""
    vae = load_run(run_dir)
    return evaluate_run(vae, load_export(dataset_dir), seed=seed)
