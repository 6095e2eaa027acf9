"""Each finished epoch of a run, kept so that a killed ``model train`` can go on (``--resume``).

After every epoch :class:`EpochCheckpoint` writes ``RUN_DIR/checkpoint/epoch_NNNN/``:
``model.keras`` (architecture, weights and optimizer state, for any registered
architecture), ``best.weights.npz`` (the early-stopping best weights) and
``state.json`` (epoch counter, history, early-stopping and best-model state, the
run's options and dataset). Only then is ``checkpoint/latest.json`` pointed at it,
by a temporary file and ``os.replace``, and the epoch before removed: a kill at
any moment leaves the previous checkpoint whole. A finished run (train.json)
has its checkpoint removed.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from model.errors import NothingToResume, RunExists

CHECKPOINT_DIR = "checkpoint"
POINTER = "latest.json"  # {"epoch": N, "folder": "epoch_NNNN"}: the last whole checkpoint


@dataclass
class Resumed:
    """A killed run's last finished epoch, loaded."""

    model: keras.Model
    epoch: int  # epochs finished
    stopped: bool  # early stopping had already ended the run
    history: dict[str, list[float]]
    options: dict[str, Any]
    dataset: str
    early_stopping: dict[str, Any] | None
    best_weights: list[np.ndarray] | None
    best_saved: float | None  # ModelCheckpoint's best monitored value


def finished_epochs(run_dir: Path) -> int | None:
    """Epochs the checkpoint of ``run_dir`` holds (None: there is none)."""
    try:
        return int(json.loads((run_dir / CHECKPOINT_DIR / POINTER).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refuse_unfinished(run_dir: Path) -> None:
    """Raise RunExists if ``run_dir`` holds a killed run that ``--resume`` could continue."""
    epochs = finished_epochs(run_dir)
    if epochs is not None and not (run_dir / "train.json").exists():
        raise RunExists(
            f"{run_dir} holds an unfinished run ({epochs} epochs done); continue it with "
            f"`model train --resume {run_dir}` or start over with --overwrite"
        )


def load_checkpoint(run_dir: Path) -> Resumed:
    """The last whole checkpoint of ``run_dir``.

    :raises NothingToResume: the run finished, or never finished an epoch.
    """
    if (run_dir / "train.json").exists():
        raise NothingToResume(f"{run_dir} holds a finished run; nothing to resume")
    epochs = finished_epochs(run_dir)
    if epochs is None:
        raise NothingToResume(
            f"{run_dir} holds no checkpoint (no epoch finished); train it afresh with "
            f"`model train DATASET --out {run_dir} --overwrite`"
        )
    pointer = json.loads((run_dir / CHECKPOINT_DIR / POINTER).read_text())
    folder = run_dir / CHECKPOINT_DIR / pointer["folder"]
    state = json.loads((folder / "state.json").read_text())
    best_weights = None
    if (folder / "best.weights.npz").exists():
        with np.load(folder / "best.weights.npz") as stored:
            best_weights = [stored[f"w{i}"] for i in range(len(stored.files))]
    return Resumed(
        model=keras.saving.load_model(folder / "model.keras"),
        epoch=state["epoch"],
        stopped=state["stopped"],
        history=state["history"],
        options=state["options"],
        dataset=state["dataset"],
        early_stopping=state["early_stopping"],
        best_weights=best_weights,
        best_saved=state["best_saved"],
    )


def rewrite_history_csv(path: Path, history: dict[str, list[float]]) -> None:
    """history.csv as Keras' CSVLogger writes it, holding exactly the checkpoint's epochs
    (a kill after the logger's row but before the checkpoint left one more)."""
    keys = sorted(history)
    rows = len(history[keys[0]]) if keys else 0
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *keys])
        for epoch in range(rows):
            writer.writerow([epoch, *(history[key][epoch] for key in keys)])
    os.replace(temporary, path)


def discard_checkpoint(run_dir: Path) -> None:
    """Remove the checkpoint of a finished run."""
    shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)


class EpochCheckpoint(keras.callbacks.Callback):
    """Write the checkpoint after each epoch; restore the callbacks' state on a resume.

    Put it last, so that the early-stopping and best-model callbacks have seen the
    epoch before it is written, and after them, so that its ``on_train_begin``
    restores what theirs reset.
    """

    def __init__(
        self,
        run_dir: Path,
        about: dict[str, Any],
        resumed: Resumed | None,
        early_stopping: keras.callbacks.EarlyStopping | None,
        best_model: keras.callbacks.ModelCheckpoint,
    ):
        super().__init__()
        self.folder = run_dir / CHECKPOINT_DIR
        self.about = about  # the run's options and dataset, kept for --resume
        self.resumed = resumed
        self.early_stopping = early_stopping
        self.best_model = best_model
        earlier = resumed.history if resumed is not None else {}
        self.history = {key: list(values) for key, values in earlier.items()}  # a copy
        if resumed is not None:
            best_model.best = resumed.best_saved

    def on_train_begin(self, logs=None):
        """On a resume, give early stopping back its patience count, best value and weights."""
        stopping, resumed = self.early_stopping, self.resumed
        if stopping is not None and resumed is not None and resumed.early_stopping:
            for name, value in resumed.early_stopping.items():
                setattr(stopping, name, value)
            stopping.best_weights = resumed.best_weights

    def on_epoch_end(self, epoch, logs=None):
        """Write ``epoch_NNNN/`` whole, point ``latest.json`` at it, drop the one before."""
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        name = f"epoch_{epoch + 1:04d}"
        target = self.folder / name
        shutil.rmtree(target, ignore_errors=True)  # a half-written one from a killed run
        target.mkdir(parents=True)
        self.model.save(target / "model.keras")
        stopping = self.early_stopping
        if stopping is not None and stopping.best_weights is not None:
            np.savez(target / "best.weights.npz",
                     **{f"w{i}": w for i, w in enumerate(stopping.best_weights)})
        state = {
            "epoch": epoch + 1,
            "stopped": bool(stopping is not None and stopping.stopped_epoch > 0),
            "history": self.history,
            "early_stopping": None if stopping is None else {
                "wait": stopping.wait,
                "best": None if stopping.best is None else float(stopping.best),
                "best_epoch": stopping.best_epoch,
            },
            "best_saved": None if self.best_model.best is None else float(self.best_model.best),
            **self.about,
        }
        (target / "state.json").write_text(json.dumps(state), encoding="utf-8")
        previous = json.loads((self.folder / POINTER).read_text()) if (
            self.folder / POINTER).exists() else None
        temporary = self.folder / f".{POINTER}.tmp"
        temporary.write_text(json.dumps({"epoch": epoch + 1, "folder": name}), encoding="utf-8")
        os.replace(temporary, self.folder / POINTER)
        if previous is not None and previous["folder"] != name:
            shutil.rmtree(self.folder / previous["folder"], ignore_errors=True)
