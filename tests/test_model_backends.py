"""The model on Keras backends other than TensorFlow (issue 22): a tiny train, sample and
evaluate with ``KERAS_BACKEND=jax`` (CPU wheels, from the dev extra), and the same saved model
scored alike on TensorFlow (this process's backend) and JAX.

Training from one seed is not promised to give the same weights on two backends: each backend
has its own random generator, so the initial weights and the reparameterisation noise differ.
The honest cross-backend check is one ``model.keras`` evaluated on both; ``model evaluate`` draws
its noise with NumPy, so the figures may differ only by float32 round-off.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from model.datasets import draw_shapes, write_export

pytestmark = pytest.mark.model

# Same weights, two backends: bits/dim measured 1.3e-8 apart (16x16 shapes, latent 8, 16
# images, K=4), float32 round-off. 1e-5 leaves room for bigger models and other CPUs while staying
# far below what another noise draw moves the one-sample figure (0.03 on that model).
BITS_TOLERANCE = 1e-5
# A start-up line of a backend (glog/absl prefixes or their usual words), as in test_model_quiet.
BACKEND_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d|absl|tensorflow|cuda|cuInit|oneDNN|cpu_feature_guard",
    re.IGNORECASE | re.MULTILINE,
)
# One process runs the three commands as a user would type them (one start-up, not three).
SESSION = """
import sys
from model.cli import cli
export, run_dir, grid, *train = sys.argv[1:]
for args in (
    ["train", export, "--out", run_dir, *train],
    ["sample", run_dir, "-n", "4", "-o", grid],
    ["evaluate", run_dir, export, "--json", "--importance-samples", "4", "--seed", "5"],
):
    cli.main(args, prog_name="model", standalone_mode=False)
"""
TRAIN = ["--epochs", "1", "--latent-dim", "4", "--batch-size", "8", "--prior-components", "4"]


def other_backend() -> str:
    """JAX, unless this process already runs on JAX (then TensorFlow): the backend the model is
    trained on in a subprocess, to be compared with this process's."""
    import keras

    return "tensorflow" if keras.backend.backend() == "jax" else "jax"


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """(root folder, export, the finished process): train (one epoch of a 24/8 shapes export),
    sample and evaluate on the other backend."""
    root = tmp_path_factory.mktemp("backends")
    export = write_export(
        root / "shapes", {"train": draw_shapes(24, 12, 1, 0), "val": draw_shapes(8, 12, 1, 1)}
    ).path
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SESSION,
            str(export),
            str(root / "run"),
            str(root / "grid.png"),
            *TRAIN,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "KERAS_BACKEND": other_backend(), "COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    return root, export, done


def test_another_backend_trains_quietly_and_records_itself(session):
    root, _, done = session
    assert "trained" in done.stderr
    # TensorFlow, when installed beside JAX, is imported to save the model: still no chatter
    assert not BACKEND_LINE.search(done.stderr), done.stderr
    versions = json.loads((root / "run" / "train.json").read_text())["versions"]
    assert versions["backend"] == other_backend()
    assert versions[other_backend()] != "unknown"


def test_another_backend_samples_a_grid(session):
    root, _, _ = session
    with Image.open(root / "grid.png") as grid:
        assert grid.width >= 2 * 12 and grid.height >= 2 * 12


def test_one_saved_model_scores_alike_on_two_backends(session):
    from model.evaluate import evaluate

    root, export, done = session
    there = json.loads(done.stdout)
    assert 0 < there["bits_per_dim"] < 16 and there["n_val"] == 8
    here = evaluate(root / "run", export, seed=5, importance_samples=4)
    assert there["bits_per_dim"] == pytest.approx(here.bits_per_dim, abs=BITS_TOLERANCE)
    assert there["iw_bits_per_dim"] == pytest.approx(here.iw_bits_per_dim, abs=BITS_TOLERANCE)
