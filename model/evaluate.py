"""Score a trained run on an export's validation split: bits/dim on the 8-bit pixels (the ELBO and
an importance-weighted bound), active units, copying, and what the user sees (model.pictures)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from keras import ops

from model.data import Export, load_export
from model.likelihoods import get_likelihood, honest_name, honest_nll
from model.pictures import reconstruction_scores, sample_scores
from model.sample import (
    PREDICT_BATCH,
    encode_means,
    load_run_for,
    reconstruct_images,
    sample_images,
)
from model.vae import VAE, posterior_draws
from synthset.errors import SynthsetError

ACTIVE_THRESHOLD = 0.01  # variance of a unit's posterior mean over val above which it is active
MEMORIZATION_IMAGES = 1000  # at most this many samples and val images are compared with train
KL_SAMPLES = 64  # z draws per image for the KL term under a learned prior (no decoder calls)
PICTURE_IMAGES = 1000  # at most this many val images are reconstructed for the picture measures
PICTURE_SAMPLES = 256  # samples scored against the data
DECODE_VALUES = 2**21  # pixel values per decoder call when drawing importance samples
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Evaluation:
    """Validation scores of one run; nats are per image, averaged over the split.

    ``reconstruction``, ``nats_per_image`` and ``bits_per_dim`` are upper bounds on -log P(x) of
    the 8-bit pixels (see :func:`model.likelihoods.honest_nll`), ``scored_with`` says how;
    ``iw_*`` the importance-weighted bound with ``importance_samples`` z per image (None when
    not asked for); ``training_loss`` the objective the run was trained on. ``reconstruction_*``
    and ``sample_*``: the picture measures of :mod:`model.pictures`, on the reconstructions and
    samples exactly as ``model reconstruct`` and ``model sample`` draw them.
    """

    n_val: int
    likelihood: str
    scored_with: str
    reconstruction: float
    kl: float
    nats_per_image: float
    bits_per_dim: float
    importance_samples: int
    iw_nats_per_image: float | None
    iw_bits_per_dim: float | None
    training_loss: float
    active_units: int
    latent_dim: int
    memorization: float | None
    sample_to_train: float | None
    val_to_train: float | None
    memorization_note: str
    reconstruction_ssim: float
    reconstruction_ssim_other: float
    reconstruction_gain: float
    reconstruction_psnr: float
    reconstruction_psnr_other: float
    reconstruction_count: int
    sample_best_ssim: float
    sample_coverage: float
    sample_diversity: float
    sample_data_diversity: float
    sample_flat: float
    sample_count: int

    def as_dict(self) -> dict:
        """The scores as a JSON-ready dict."""
        return asdict(self)


def bits_per_dim(nats_per_image: float | np.ndarray, dims: int):
    """Nats per image to bits per pixel channel."""
    return nats_per_image / (dims * math.log(2.0))


def dequantization_noise(images: np.ndarray, seed: int) -> np.ndarray:
    """Uniform noise in [0, 1), one value per pixel channel, drawn with ``seed``."""
    return np.random.default_rng(seed).random(images.shape, dtype=np.float32)


def latent_noise(seed: int) -> np.random.Generator:
    """The generator of the N(0, I) draws behind each z ~ q(z | x), seeded; NumPy's, not the
    backend's, so one seed scores one model alike on TensorFlow, JAX and PyTorch (their own
    generators draw different numbers from the same seed)."""
    return np.random.default_rng((seed, 1))  # a stream apart from dequantization_noise's


def elbo_terms(vae: VAE, images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Per image, in nats, one z sample each (the KL under a learned prior: KL_SAMPLES):
    ``reconstruction`` (the honest -log P(x | z)),
    ``trained`` (the training likelihood's NLL), ``kl`` and ``aux`` (the z-only decoder's NLL of
    an autoregressive decoder, 0 for a plain one)."""
    likelihood = get_likelihood(vae.likelihood)
    sampler = latent_noise(seed)
    noise = dequantization_noise(images, seed)
    parts: dict[str, list[np.ndarray]] = {"reconstruction": [], "trained": [], "kl": [], "aux": []}
    for i in range(0, len(images), PREDICT_BATCH):
        x = ops.convert_to_tensor(images[i : i + PREDICT_BATCH])
        z_mean, z_log_var = vae.encoder(x, training=False)
        z = posterior_draws(z_mean, z_log_var, sampler, 1)[0][0]
        decoded, base = vae.decode_with_base(z, x)
        u = ops.convert_to_tensor(noise[i : i + PREDICT_BATCH])
        parts["reconstruction"].append(ops.convert_to_numpy(honest_nll(likelihood, x, decoded, u)))
        parts["trained"].append(ops.convert_to_numpy(likelihood.nll(x, decoded)))
        kl = vae.expected_kl(z_mean, z_log_var, KL_SAMPLES, sampler)
        parts["kl"].append(ops.convert_to_numpy(kl))
        aux = np.zeros(len(x)) if base is None else likelihood.nll(x, base)
        parts["aux"].append(ops.convert_to_numpy(aux))
    return {key: np.concatenate(values).astype(np.float64) for key, values in parts.items()}


def importance_log_weights(
    vae: VAE, images: np.ndarray, samples: int, seed: int = 0
) -> np.ndarray:
    """log p(x | z) + log p(z) - log q(z | x) for ``samples`` draws z ~ q(z | x) per image.

    Returns a (samples, N) float64 array; p(x | z) is the honest likelihood of the 8-bit pixels
    (a continuous decoder sees the same dequantization noise for every z of an image). Work is
    batched: each decoder call decodes about DECODE_VALUES pixel values.
    """
    likelihood = get_likelihood(vae.likelihood)
    sampler = latent_noise(seed)
    noise = dequantization_noise(images, seed)
    dims = int(np.prod(images.shape[1:]))
    per_call = max(1, DECODE_VALUES // (dims * likelihood.params))
    block = min(len(images), per_call)
    out = np.empty((samples, len(images)), dtype=np.float64)
    for i in range(0, len(images), block):
        x = ops.convert_to_tensor(images[i : i + block])
        u = ops.convert_to_tensor(noise[i : i + block])
        n = int(x.shape[0])
        z_mean, z_log_var = vae.encoder(x, training=False)
        step = max(1, per_call // n)
        for s in range(0, samples, step):
            count = min(step, samples - s)
            z, eps = posterior_draws(z_mean, z_log_var, sampler, count)
            tiled_x = ops.reshape(ops.broadcast_to(x[None], (count, *x.shape)), (-1, *x.shape[1:]))
            decoded = vae.decode(ops.reshape(z, (count * n, -1)), tiled_x)
            tiled_u = ops.reshape(ops.broadcast_to(u[None], (count, *u.shape)), (-1, *u.shape[1:]))
            log_px = -ops.reshape(honest_nll(likelihood, tiled_x, decoded, tiled_u), (count, n))
            log_pz = vae.prior_log_prob(z)
            log_qz = -0.5 * ops.sum(LOG_2PI + z_log_var[None] + ops.square(eps), axis=-1)
            out[s : s + count, i : i + n] = ops.convert_to_numpy(log_px + log_pz - log_qz)
    return out


def importance_weighted_nll(log_weights: np.ndarray) -> np.ndarray:
    """-log (1/K sum_k w_k) per image (Burda et al., 2015): an upper bound on -log p(x) that
    tightens as K grows; at K = 1 it is the one-sample negative ELBO."""
    top = log_weights.max(axis=0)
    mean = np.log(np.mean(np.exp(log_weights - top), axis=0))
    return -(top + mean)


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
    vae: VAE, export: Export, count: int = MEMORIZATION_IMAGES, seed: int = 0,
    train: np.ndarray | None = None,
) -> tuple[float, float]:
    """Median sample-to-nearest-train distance and median val-to-nearest-train distance
    (``train``: the run's training images, by default the export's own)."""
    train = export.require_train() if train is None else train
    val = export.require_val()[:count]
    samples = sample_images(vae, len(val), seed=seed)
    return (
        float(np.median(nearest_distances(samples, train))),
        float(np.median(nearest_distances(val, train))),
    )


def evaluate_run(
    vae: VAE,
    export: Export,
    seed: int = 0,
    importance_samples: int = 0,
    train_images: np.ndarray | None = None,
    memorization_note: str = "",
) -> Evaluation:
    """Score ``vae`` on ``export``'s validation split (see :class:`Evaluation`); with
    ``importance_samples`` K > 0 also the importance-weighted bound. The memorization score
    compares samples with ``train_images`` (the run's training data), by default the export's
    training split; with neither it is None and ``memorization_note`` says why."""
    val = export.require_val()
    terms = elbo_terms(vae, val, seed=seed)
    reconstruction = float(terms["reconstruction"].mean())
    kl = float(terms["kl"].mean())
    dims = int(np.prod(export.shape))
    iw_nats = None
    if importance_samples > 0:
        log_weights = importance_log_weights(vae, val, importance_samples, seed=seed)
        iw_nats = float(importance_weighted_nll(log_weights).mean())
    variances = encode_means(vae, val).var(axis=0)
    if train_images is None and len(export.train):
        train_images = export.train
        memorization_note = f"against the {len(train_images)} training images of {export.path}"
    sample_dist = val_dist = None
    if train_images is not None:
        sample_dist, val_dist = memorization_score(vae, export, seed=seed, train=train_images)
    shown = val[:PICTURE_IMAGES]
    pictures = {
        **reconstruction_scores(shown, reconstruct_images(vae, shown)).as_dict(),
        **sample_scores(
            sample_images(vae, PICTURE_SAMPLES, seed=seed), export_images(export), val, seed
        ).as_dict(),
    }
    return Evaluation(
        n_val=len(val),
        likelihood=vae.likelihood,
        scored_with=honest_name(get_likelihood(vae.likelihood)),
        reconstruction=reconstruction,
        kl=kl,
        nats_per_image=reconstruction + kl,
        bits_per_dim=bits_per_dim(reconstruction + kl, dims),
        importance_samples=importance_samples,
        iw_nats_per_image=iw_nats,
        iw_bits_per_dim=None if iw_nats is None else bits_per_dim(iw_nats, dims),
        training_loss=float(
            (terms["trained"] + vae.kl_weight * terms["kl"] + vae.aux_weight * terms["aux"]).mean()
        ),
        active_units=int((variances > ACTIVE_THRESHOLD).sum()),
        latent_dim=vae.latent_dim,
        memorization=memorization_ratio(sample_dist, val_dist),
        sample_to_train=sample_dist,
        val_to_train=val_dist,
        memorization_note=memorization_note,
        **pictures,
    )


def export_images(export: Export) -> np.ndarray:
    """Every image of the export, train then val."""
    return np.concatenate([split for split in (export.train, export.val) if len(split)])


def memorization_ratio(sample_dist: float | None, val_dist: float | None) -> float | None:
    """Sample-to-train over val-to-train distance (None when there was no training data)."""
    if sample_dist is None or val_dist is None:
        return None
    return sample_dist / val_dist if val_dist > 0 else float("inf")


def run_training_images(run_dir: Path) -> tuple[np.ndarray | None, str]:
    """The training images of the run's own export (named in RUN_DIR/train.json), if that
    export is still there unchanged; else None and the reason."""
    facts = Path(run_dir) / "train.json"
    try:
        dataset = json.loads(facts.read_text(encoding="utf-8"))["dataset"]
        path = Path(dataset["path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, f"not available: {facts} does not name the training export"
    try:
        trained_on = load_export(path)
    except SynthsetError as error:
        return None, f"not available: the training export {path} cannot be read ({error})"
    if trained_on.dataset_hash != dataset.get("hash") or not len(trained_on.train):
        return None, f"not available: the training export {path} changed since training"
    return trained_on.train, f"against the {len(trained_on.train)} training images of {path}"


def evaluate(
    run_dir: Path | str, dataset_dir: Path | str, seed: int = 0, importance_samples: int = 0
) -> Evaluation:
    """Load RUN_DIR/model.keras and score it on the export at ``dataset_dir``; an export with a
    validation split only (a held-out test set) is compared for memorization with the run's
    own training export (see :func:`run_training_images`)."""
    vae, export = load_run_for(run_dir, dataset_dir)
    export.require_val()
    train_images, note = None, ""
    if not len(export.train):
        train_images, note = run_training_images(Path(run_dir))
    return evaluate_run(
        vae,
        export,
        seed=seed,
        importance_samples=importance_samples,
        train_images=train_images,
        memorization_note=note,
    )
