"""The model on JAX (issue 22): a tiny train (killed, then resumed), evaluate and sample with
``KERAS_BACKEND=jax`` (CPU wheels, from the dev extra) and TensorFlow hidden, as on a machine
without it; the same
saved model scored alike on TensorFlow (this process's backend) and JAX; a missing backend as a
one-line error.

Training from one seed is not promised to give the same weights on two backends: each backend
has its own random generator, so the initial weights and the training noise differ. The honest
cross-backend check is one ``model.keras`` evaluated on both; ``model evaluate`` draws its noise
with NumPy, so the figures may differ only by float32 round-off.
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

from model.checkpoint import finished_epochs
from model.datasets import draw_shapes, write_export
from tests.killing import kill_after_epochs

pytestmark = pytest.mark.model

MODEL = Path(sys.executable).parent / "model"
# Same weights, two backends: bits/dim measured 1.3e-8 apart (16x16 shapes, latent 8, 16
# images, K=4), float32 round-off. 1e-5 leaves room for bigger models and other CPUs while staying
# far below what another noise draw moves the one-sample figure (0.03 on that model).
BITS_TOLERANCE = 1e-5
# A start-up line of a backend (glog/absl prefixes or their usual words), as in test_model_quiet.
BACKEND_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d|absl|tensorflow|cuda|cuInit|oneDNN|cpu_feature_guard",
    re.IGNORECASE | re.MULTILINE,
)
# After the kill, one process runs the commands as a user would type them (one start-up).
SESSION = """
import sys
from model.cli import cli
export, run_dir, grid = sys.argv[1:]
for args in (
    ["train", "--resume", run_dir],
    ["sample", run_dir, "-n", "4", "-o", grid],
    ["evaluate", run_dir, export, "--json", "--importance-samples", "4", "--seed", "5"],
):
    cli.main(args, prog_name="model", standalone_mode=False)
"""
EPOCHS = 4
TRAIN = [
    "--epochs",
    str(EPOCHS),
    "--latent-dim",
    "4",
    "--batch-size",
    "8",
    "--patience",
    "50",
    "--prior-components",
    "4",
]


def without_tensorflow(where: Path, backend: str) -> dict[str, str]:
    """An environment for ``backend`` in which ``import tensorflow`` fails as if it were not
    installed (a package of that name first on the path raises ModuleNotFoundError)."""
    shadow = where / "no-tensorflow" / "tensorflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        'raise ModuleNotFoundError("no tensorflow here", name="tensorflow")\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "PYTHONPATH": str(shadow.parent), "KERAS_BACKEND": backend, "COLUMNS": "100"}


def train_until_killed(export: Path, run_dir: Path, env: dict[str, str]) -> None:
    """``model train`` into ``run_dir``, SIGKILLed once its first epoch is checkpointed."""
    command = [sys.executable, "-c", "from model.cli import cli; cli()"]
    train = [*command, "train", str(export), "--out", str(run_dir), *TRAIN]
    kill_after_epochs(train, run_dir, 1, env=env)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """(root folder, export, the finished process): on JAX without TensorFlow, train a 24/8
    shapes export until killed after an epoch, then resume it, sample 4 images to
    root/grid.png and evaluate it."""
    root = tmp_path_factory.mktemp("backends")
    export = write_export(
        root / "shapes", {"train": draw_shapes(24, 12, 1, 0), "val": draw_shapes(8, 12, 1, 1)}
    ).path
    env = without_tensorflow(root, "jax")
    train_until_killed(export, root / "run", env)
    killed_at = finished_epochs(root / "run")
    assert killed_at is not None and killed_at < EPOCHS, "the run had finished"
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(export), str(root / "run"), str(root / "grid.png")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return root, export, done


def test_jax_resumes_and_samples_without_tensorflow(session):
    root, _, done = session
    assert "trained" in done.stderr and not BACKEND_LINE.search(done.stderr), done.stderr
    report = json.loads((root / "run" / "train.json").read_text())
    assert report["epochs_run"] == EPOCHS
    assert report["versions"]["backend"] == "jax" and report["versions"]["jax"] != "unknown"
    with Image.open(root / "grid.png") as grid:
        assert grid.width >= 2 * 12 and grid.height >= 2 * 12


def test_one_saved_model_scores_alike_on_tensorflow_and_jax(session):
    import keras

    from model.evaluate import evaluate

    assert keras.backend.backend() != "jax", "compare with another backend: unset KERAS_BACKEND"
    root, export, done = session
    on_jax = json.loads(done.stdout)
    assert 0 < on_jax["bits_per_dim"] < 16 and on_jax["n_val"] == 8
    here = evaluate(root / "run", export, seed=5, importance_samples=4)
    assert on_jax["bits_per_dim"] == pytest.approx(here.bits_per_dim, abs=BITS_TOLERANCE)
    assert on_jax["iw_bits_per_dim"] == pytest.approx(here.iw_bits_per_dim, abs=BITS_TOLERANCE)


def test_a_missing_backend_is_a_one_line_error(tmp_path: Path):
    done = subprocess.run(
        [str(MODEL), "sample", str(tmp_path), "-o", str(tmp_path / "grid.png")],
        capture_output=True,
        text=True,
        timeout=300,
        env=without_tensorflow(tmp_path, "tensorflow"),
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and "KERAS_BACKEND=jax" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "grid.png").exists()


def test_an_unknown_backend_name_is_a_one_line_error(tmp_path: Path):
    env = {**os.environ, "KERAS_BACKEND": "tensorfloww"}
    done = subprocess.run(
        [str(MODEL), "sample", str(tmp_path), "-o", str(tmp_path / "grid.png")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: KERAS_BACKEND='tensorfloww'"), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "grid.png").exists()
