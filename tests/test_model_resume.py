"""A tiny real training run killed mid-way goes on with ``model train --resume`` as if never
interrupted; without --resume a rerun into it says how to resume or overwrite."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from model.checkpoint import CHECKPOINT_DIR, POINTER, finished_epochs
from model.datasets import draw_shapes, write_export
from tests import killing

pytestmark = pytest.mark.model

EPOCHS = 6
TINY_FLAGS = ["--latent-dim", "4", "--lr", "3e-3", "--batch-size", "16", "--epochs", str(EPOCHS),
              "--kl-warmup", "2", "--patience", "50", "--arch", "conv-vae"]
MODEL_CLI = [sys.executable, "-c", "from model.cli import cli; cli()"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    """A 64-train / 16-val gray 16x16 export of drawn shapes."""
    out = tmp_path_factory.mktemp("exports") / "shapes"
    write_export(out, {"train": draw_shapes(64, 16, 1, 0), "val": draw_shapes(16, 16, 1, 1)})
    return out


def model_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the ``model`` command line to its end."""
    return subprocess.run([*MODEL_CLI, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def kill_after_epochs(shapes: Path, run: Path, epochs: int) -> None:
    """Start ``model train`` into ``run``; SIGKILL it once ``epochs`` epochs are checkpointed."""
    command = [*MODEL_CLI, "train", str(shapes), "--out", str(run), *TINY_FLAGS]
    killing.kill_after_epochs(command, run, epochs, cwd=REPO)


def history_rows(run: Path) -> list[dict[str, str]]:
    """history.csv's rows."""
    with (run / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_killed_training_resumes_from_its_last_epoch(shapes: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    kill_after_epochs(shapes, run, 2)
    done = finished_epochs(run)
    assert done is not None and done < EPOCHS, "the run had finished; the test proves nothing"
    assert not (run / "train.json").exists()

    rerun = model_cli("train", str(shapes), "--out", str(run), *TINY_FLAGS)
    assert rerun.returncode == 1
    assert "Error:" in rerun.stderr and f"--resume {run}" in rerun.stderr, rerun.stderr
    assert "Traceback" not in rerun.stderr

    # a kill during the next checkpoint's write: a half-made folder and pointer, ignored
    (run / CHECKPOINT_DIR / f"epoch_{done + 1:04d}").mkdir(exist_ok=True)
    (run / CHECKPOINT_DIR / f"epoch_{done + 1:04d}" / "model.keras").write_bytes(b"PK\x03")
    (run / CHECKPOINT_DIR / f".{POINTER}.tmp").write_text('{"epoch": ')

    resumed = model_cli("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    report = json.loads((run / "train.json").read_text())
    assert report["epochs_run"] == EPOCHS
    rows = history_rows(run)
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))  # continuous, no repeat
    assert all(float(row["val_loss"]) == float(row["val_loss"]) for row in rows)  # no NaN
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        f"epoch_{n:04d}.png" for n in range(1, EPOCHS + 1)]
    assert not (run / CHECKPOINT_DIR).exists()
    assert (run / "model.keras").stat().st_size > 0

    again = model_cli("train", "--resume", str(run))
    assert again.returncode == 1 and "nothing to resume" in again.stderr


def test_resume_needs_a_checkpoint(shapes: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = model_cli("train", "--resume", str(empty))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error:") and "no checkpoint" in last
