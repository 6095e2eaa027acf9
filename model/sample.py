"""Load a trained run and draw samples or reconstructions from it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np

from model.data import Export, load_export
from model.errors import RunDamaged, RunNotFound, ShapeMismatch
from model.vae import VAE

MODEL_FILE = "model.keras"
PREDICT_BATCH = 256


def load_run(run_dir: Path | str) -> VAE:
    """Load RUN_DIR/model.keras; raises RunNotFound if it is missing, RunDamaged if it cannot
    be read (cut short, or not a Keras file)."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise RunNotFound(
            f"{path} does not exist; train one with `model train DATASET --out {run_dir}`"
        )
    if not zipfile.is_zipfile(path):  # Keras says "File not found" for a cut-short file
        raise RunDamaged(f"{path} is not a whole .keras file (cut short while it was saved?); "
                         f"continue a killed run with `model train --resume {run_dir}`, or train "
                         "it again with --overwrite")
    return keras.saving.load_model(path)


def load_run_for(run_dir: Path | str, dataset_dir: Path | str) -> tuple[VAE, Export]:
    """The run's model and the export at ``dataset_dir``, checked to fit each other.

    :raises ShapeMismatch: the export's images are not the size and colour mode the run was
        trained on (besides load_run's and load_export's errors).
    """
    vae = load_run(run_dir)
    export = load_export(dataset_dir)
    trained = tuple(vae.encoder.input_shape[1:])
    if trained != tuple(export.shape):
        raise ShapeMismatch(
            f"{run_dir} was trained on images of {_describe(trained)}; {dataset_dir} holds "
            f"{_describe(tuple(export.shape))}: export the data at the run's size and colour mode"
        )
    return vae, export


def _describe(shape: tuple[int, ...]) -> str:
    """``100x100 with 1 channel`` for (100, 100, 1)."""
    return f"{shape[0]}x{shape[1]} with {shape[2]} channel{'s' if shape[2] != 1 else ''}"


def decode_images(vae: VAE, z: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Images in [0, 1] for the latent codes ``z``: the decoder's means (pixel by pixel for an
    autoregressive decoder), or with ``rng`` pixels drawn from its distribution."""
    out = [vae.generate(z[i : i + PREDICT_BATCH], rng) for i in range(0, len(z), PREDICT_BATCH)]
    return np.concatenate(out).astype(np.float32)


def sample_images(vae: VAE, count: int, seed: int = 0, draw: bool = False) -> np.ndarray:
    """``count`` images decoded from codes drawn from the model's prior with ``seed`` (N(0, I) or
    its learned mixture); with ``draw`` every pixel
    is drawn from the decoder's distribution too (seeded), else set to its mean."""
    rng = np.random.default_rng(seed) if draw else None
    return decode_images(vae, vae.sample_prior(count, seed), rng)


def encode_means(vae: VAE, images: np.ndarray) -> np.ndarray:
    """The posterior means z_mean of ``images``."""
    out = []
    for i in range(0, len(images), PREDICT_BATCH):
        z_mean, _ = vae.encoder(images[i : i + PREDICT_BATCH], training=False)
        out.append(keras.ops.convert_to_numpy(z_mean))
    return np.concatenate(out).astype(np.float32)


def reconstruct_images(vae: VAE, images: np.ndarray) -> np.ndarray:
    """Deterministic reconstructions: decode each image's posterior mean to the decoder's mean
    image (an autoregressive decoder generates it pixel by pixel from z alone, never reading the
    image it reconstructs)."""
    return decode_images(vae, encode_means(vae, images))
