"""Train a VAE on an export and write the run folder (model, history, plots, frames, train.json)."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

import synthset
from model.arch import load_architecture
from model.callbacks import (
    DivergenceGuard,
    EpochProgress,
    EpochTimer,
    FrameWriter,
    KLWarmup,
    ProgressReporter,
)
from model.checkpoint import (
    CHECKPOINT_DIR,
    EpochCheckpoint,
    Resumed,
    discard_checkpoint,
    load_checkpoint,
    refuse_unfinished,
    rewrite_history_csv,
)
from model.data import Export, load_export
from model.errors import RunExists
from model.likelihoods import get_likelihood
from model.options import TrainOptions, auto_batch_size, auto_kl_warmup
from model.sample import MODEL_FILE
from model.schedules import learning_rate
from model.vae import build_vae

log = logging.getLogger(__name__)

RUN_OUTPUTS = (MODEL_FILE, "history.csv", "loss.png", "train.json", "samples", "reconstructions",
               CHECKPOINT_DIR)


@dataclass(frozen=True)
class TrainReport:
    """The outcome of one training run."""

    run_dir: Path
    epochs_run: int
    best_epoch: int
    stopped_early: bool
    best_loss: float
    final_logs: dict[str, float]
    images_per_second: float
    seconds: float
    history: dict[str, list[float]] = field(repr=False)


def prepare_run_dir(run_dir: Path, overwrite: bool) -> None:
    """Create RUN_DIR, or clear an earlier run's outputs from it.

    :raises RunExists: RUN_DIR holds anything but a run's outputs (never deleted, even with
        ``overwrite``); or, without ``overwrite``, a finished run, a killed one, or a run's
        leftovers.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise RunExists(f"{run_dir} is a file; pick a folder for --out")
    entries = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    temporaries = {f".{name}.tmp" for name in RUN_OUTPUTS}  # what a killed write_json leaves
    foreign = [name for name in entries if name not in RUN_OUTPUTS and name not in temporaries]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise RunExists(f"{run_dir} holds files that are not a run's ({shown}); "
                        "pick an empty or new folder for --out")
    if (run_dir / "train.json").exists() and not overwrite:
        raise RunExists(
            f"{run_dir} already holds a finished run; pass --overwrite or pick another --out"
        )
    if not overwrite:
        refuse_unfinished(run_dir)
        if entries:
            raise RunExists(f"{run_dir} holds a run's outputs ({', '.join(entries)}) but no "
                            "run to resume; pass --overwrite to replace them or pick another --out")
    for name in entries:
        target = run_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def library_versions() -> dict[str, str]:
    """Versions of Python, synthset, keras, its backend and numpy."""
    backend = keras.backend.backend()
    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    try:
        backend_version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        backend_version = "unknown"
    return {
        "python": platform.python_version(),
        "synthset": synthset.__version__,
        "keras": keras.__version__,
        "backend": backend,
        backend: backend_version,
        "numpy": np.__version__,
    }


def plot_history(history: dict[str, list[float]], path: Path) -> None:
    """Write loss.png: the loss (train, val) on the left, the KL term on the right."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100)
    left, right = figure.subplots(1, 2)
    epochs = range(1, len(history.get("loss", [])) + 1)
    for key in ("loss", "val_loss"):
        if key in history:
            left.plot(epochs, history[key], label=key)
    left.set(title="loss: reconstruction + weighted KL (nats / image)", xlabel="epoch")
    for key in ("kl", "val_kl"):
        if key in history:
            right.plot(epochs, history[key], label=key)
    right.set(title="KL (nats / image)", xlabel="epoch")
    for axes in (left, right):
        axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write JSON atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def train(
    dataset_dir: Path | str,
    run_dir: Path | str,
    options: TrainOptions | None = None,
    progress: Callable[[EpochProgress], None] | None = None,
    export: Export | None = None,
    resume: bool = False,
) -> TrainReport:
    """Train a VAE on the export at ``dataset_dir`` and write RUN_DIR; returns a TrainReport.

    :param export: an already loaded export of ``dataset_dir`` (saves re-reading it).
    :param resume: continue the killed run in RUN_DIR from its last finished epoch, with
        its options (``options`` is ignored) and, if ``dataset_dir`` is None, its dataset.
    :raises NothingToResume: with ``resume``, RUN_DIR finished or never finished an epoch.
    :raises UnknownArchitecture, UnknownLikelihood: a name is not registered.
    :raises RunExists: RUN_DIR holds a finished run and ``options.overwrite`` is false.
    :raises ExportNotFound, ExportMalformed, EmptySplit: the export cannot be used.
    """
    run_dir = Path(run_dir)
    resumed: Resumed | None = load_checkpoint(run_dir) if resume else None
    if resumed is not None:
        options = TrainOptions(**resumed.options)
        dataset_dir = dataset_dir or resumed.dataset
    options = options or TrainOptions()
    load_architecture(options.arch)  # fail fast on an unknown --arch
    get_likelihood(options.likelihood)
    export = export or load_export(dataset_dir)
    train_x = export.require_train()
    val_x = export.require_val() if options.validate else None
    if resumed is None:
        prepare_run_dir(run_dir, options.overwrite)
    else:
        rewrite_history_csv(run_dir / "history.csv", resumed.history)
    batch_size = options.batch_size or auto_batch_size(len(train_x))
    keras.utils.set_random_seed(options.seed + (resumed.epoch if resumed else 0))

    if resumed is not None:
        vae = resumed.model  # weights and optimizer state as the last finished epoch left them
    else:
        vae = build_vae(
            options.arch,
            export.shape,
            options.latent_dim,
            options.kl_weight,
            options.likelihood,
            options.seed,
            aux_weight=options.aux_weight,
            augment=options.augment,
            prior_components=options.prior_components,
        )
        rate = learning_rate(options.lr, options.lr_warmup)
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate=rate))
    monitor = "val_loss" if options.validate else "loss"
    fixed_images = (val_x if val_x is not None else train_x)[: options.reconstruct_count]
    timer = EpochTimer()
    best_model = keras.callbacks.ModelCheckpoint(
        str(run_dir / MODEL_FILE), monitor=monitor, save_best_only=options.validate
    )
    early_stopping = None
    callbacks: list[keras.callbacks.Callback] = [
        DivergenceGuard(),
        timer,
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=resumed is not None),
        best_model,
        FrameWriter(
            run_dir, options.sample_count, options.seed, fixed_images, options.reconstruct_every
        ),
    ]
    warmup = auto_kl_warmup(options.epochs) if options.kl_warmup is None else options.kl_warmup
    if warmup > 0:
        callbacks.insert(1, KLWarmup(warmup))
    if options.validate:
        early_stopping = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=options.patience, restore_best_weights=True
        )
        callbacks.append(early_stopping)
    if progress is not None:
        callbacks.append(ProgressReporter(progress, options.epochs))
    # absolute, so `--resume` and `evaluate` find it from any working directory
    about = {"options": dataclasses.asdict(options), "dataset": str(export.path.resolve())}
    checkpoint = EpochCheckpoint(run_dir, about, resumed, early_stopping, best_model)
    callbacks.append(checkpoint)
    done = resumed.epoch if resumed is not None else 0

    started = time.perf_counter()
    vae.fit(
        train_x,
        batch_size=batch_size,
        epochs=done if resumed is not None and resumed.stopped else options.epochs,
        initial_epoch=done,
        validation_data=(val_x,) if val_x is not None else None,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - started
    # EarlyStopping has restored the best weights (the last with --no-val); save them with the full
    # KL term, since the checkpoint written during a warm-up epoch holds that epoch's kl_scale.
    vae.kl_scale.assign(1.0)
    vae.save(run_dir / MODEL_FILE)
    history = checkpoint.history  # every epoch's logs, a resumed run's earlier ones first
    watched = history[monitor]
    best_epoch = int(np.argmin(watched)) + 1 if options.validate else len(watched)
    report = TrainReport(
        run_dir=run_dir,
        epochs_run=len(watched),
        best_epoch=best_epoch,
        stopped_early=len(watched) < options.epochs,
        best_loss=float(watched[best_epoch - 1]),
        final_logs={key: values[-1] for key, values in history.items()},
        images_per_second=timer.images_per_second(len(train_x)),
        seconds=seconds,
        history=history,
    )
    plot_history(history, run_dir / "loss.png")
    write_json(
        {
            "options": dataclasses.asdict(options),
            "dataset": {
                "path": str(export.path.resolve()),
                "name": export.name,
                "hash": export.dataset_hash,
                "shape": list(export.shape),
                "train": len(train_x),
                "val": len(val_x) if val_x is not None else 0,
            },
            "seed": options.seed,
            "batch_size": batch_size,
            "kl_warmup": warmup,
            "versions": library_versions(),
            "parameters": int(vae.count_params()),
            "epochs_run": report.epochs_run,
            "stop_epoch": report.epochs_run,
            "best_epoch": report.best_epoch,
            "stopped_early": report.stopped_early,
            "monitor": monitor,
            "best_loss": report.best_loss,
            "final": report.final_logs,
            "images_per_second": report.images_per_second,
            "seconds": round(seconds, 3),
        },
        run_dir / "train.json",
    )
    discard_checkpoint(run_dir)
    log.info(
        "trained %(run)s: %(epochs)d epochs, best %(best)d",
        {"run": run_dir, "epochs": report.epochs_run, "best": best_epoch},
    )
    return report
