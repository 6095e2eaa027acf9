"""The Keras callbacks a training run uses: KL warm-up, timing, frames, progress."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from model.errors import TrainingDiverged
from model.grid import interleave_rows, save_grid
from model.sample import decode_images, reconstruct_images


@dataclass(frozen=True)
class EpochProgress:
    """What the progress callback hears after each epoch."""

    epoch: int
    epochs: int
    logs: dict[str, float]


class KLWarmup(keras.callbacks.Callback):
    """Raise the VAE's ``kl_scale`` linearly from 0 (epoch 1) to 1 over ``epochs`` epochs."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = int(epochs)

    def on_epoch_begin(self, epoch, logs=None):
        """Set this epoch's KL scale, epoch / warm-up epochs, capped at 1."""
        scale = min(1.0, epoch / self.epochs) if self.epochs > 0 else 1.0
        self.model.kl_scale.assign(scale)

    def on_train_end(self, logs=None):
        """Leave the model with the full KL term."""
        self.model.kl_scale.assign(1.0)


class DivergenceGuard(keras.callbacks.Callback):
    """Stop with :class:`TrainingDiverged` at the end of an epoch whose loss is not finite,
    before any later callback saves its weights or draws from them (the run's checkpoint
    stays at the last finite epoch)."""

    def on_epoch_end(self, epoch, logs=None):
        """Raise when the epoch's loss is NaN or infinite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            kept = f"the run keeps epoch {epoch}" if epoch else "nothing was saved"
            raise TrainingDiverged(
                f"training diverged in epoch {epoch + 1} (loss {float(loss)}); {kept}. "
                "Try another --seed, a lower --lr or a longer --lr-warmup."
            )


class EpochTimer(keras.callbacks.Callback):
    """Record the seconds each epoch spends on training batches (validation excluded)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0
        self._stopped = False

    def on_epoch_begin(self, epoch, logs=None):
        """Start the clock."""
        self._start = time.perf_counter()
        self._stopped = False

    def on_test_begin(self, logs=None):
        """Stop the clock when validation starts."""
        if not self._stopped:
            self.seconds.append(time.perf_counter() - self._start)
            self._stopped = True

    def on_epoch_end(self, epoch, logs=None):
        """Stop the clock if there was no validation."""
        self.on_test_begin()

    def images_per_second(self, images: int) -> float:
        """Training throughput: median over epochs, the first (tracing) epoch left out."""
        timed = self.seconds[1:] or self.seconds
        return float(images / np.median(timed)) if timed else 0.0


class FrameWriter(keras.callbacks.Callback):
    """Write samples/epoch_NNNN.png every epoch and reconstructions/epoch_NNNN.png every N."""

    def __init__(
        self, run_dir: Path, samples: int, seed: int, originals: np.ndarray, every: int
    ):
        super().__init__()
        self.run_dir = run_dir
        self.samples = samples
        self.seed = seed
        self.originals = originals
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        """Decode seeded prior draws (the same noise every epoch, so frames compare) and, every
        N epochs, the fixed images to PNG grids."""
        number = epoch + 1
        save_grid(
            decode_images(self.model, self.model.sample_prior(self.samples, self.seed)),
            self.run_dir / "samples" / f"epoch_{number:04d}.png",
        )
        if self.every and number % self.every == 0 and len(self.originals):
            recon = reconstruct_images(self.model, self.originals)
            columns = min(8, len(self.originals))
            save_grid(
                interleave_rows(self.originals, recon, columns),
                self.run_dir / "reconstructions" / f"epoch_{number:04d}.png",
                columns=columns,
            )


class ProgressReporter(keras.callbacks.Callback):
    """Forward each epoch's logs to a plain callable."""

    def __init__(self, report: Callable[[EpochProgress], None], epochs: int):
        super().__init__()
        self.report = report
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        """Call the reporter with the epoch number (from 1) and float logs."""
        self.report(
            EpochProgress(epoch + 1, self.epochs, {k: float(v) for k, v in (logs or {}).items()})
        )
