"""`model evaluate`, `sample`, `reconstruct` on a tiny trained run, and their CLI errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from model.cli import cli
from model.datasets import draw_shapes, write_export

pytestmark = pytest.mark.model

JSON_KEYS = {
    "bits_per_dim",
    "nats_per_image",
    "reconstruction",
    "kl",
    "active_units",
    "memorization",
    "n_val",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, export folder): 2 epochs through the CLI on a 48/16 shapes export."""
    root = tmp_path_factory.mktemp("evaluate")
    write_export(
        root / "shapes", {"train": draw_shapes(48, 16, 1, 0), "val": draw_shapes(16, 16, 1, 1)}
    )
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(root / "shapes"),
            "--out",
            str(root / "run"),
            "--epochs",
            "2",
            "--latent-dim",
            "6",
            "--lr",
            "3e-3",
            "--batch-size",
            "16",
        ],
    )
    assert result.exit_code == 0, result.output
    return root / "run", root / "shapes"


def test_evaluate_json_is_finite_and_consistent(run):
    run_dir, export = run
    result = CliRunner().invoke(cli, ["evaluate", str(run_dir), str(export), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) >= JSON_KEYS
    assert all(math.isfinite(scores[key]) for key in JSON_KEYS)
    assert scores["n_val"] == 16
    assert scores["nats_per_image"] == pytest.approx(scores["reconstruction"] + scores["kl"])
    assert scores["bits_per_dim"] == pytest.approx(scores["nats_per_image"] / (256 * math.log(2)))
    assert scores["kl"] >= 0 and 0 <= scores["active_units"] <= 6
    assert scores["memorization"] > 0


def test_evaluate_matches_the_training_objective(run):
    """Under a continuous Bernoulli, reconstruction = BCE - sum(log C) <= BCE, and the
    evaluation's BCE + KL is the val_loss the bernoulli run was trained on (one z sample)."""
    from model.evaluate import evaluate

    run_dir, export = run
    scores = evaluate(run_dir, export)
    assert scores.reconstruction < scores.bce
    best_val_loss = json.loads((run_dir / "train.json").read_text())["best_loss"]
    assert scores.bce + scores.kl == pytest.approx(best_val_loss, rel=0.05)


def test_memorization_distance_is_zero_for_training_images():
    from model.evaluate import nearest_distances

    train = draw_shapes(20, 8, 1, 0) / 255.0
    assert np.allclose(nearest_distances(train[:5], train), 0.0, atol=1e-3)
    other = draw_shapes(5, 8, 1, 7) / 255.0
    expected = [min(np.linalg.norm(o - t) for t in train) for o in other]
    np.testing.assert_allclose(nearest_distances(other, train), expected, rtol=1e-4)


def test_sample_writes_a_grid_and_repeats_with_the_seed(run, tmp_path: Path):
    run_dir, _ = run
    paths = [tmp_path / f"{name}.png" for name in ("a", "b", "c")]
    for path, seed in zip(paths, ("5", "5", "6"), strict=True):
        result = CliRunner().invoke(
            cli, ["sample", str(run_dir), "-n", "9", "-o", str(path), "--seed", seed]
        )
        assert result.exit_code == 0, result.output
    a, b, c = (np.asarray(Image.open(p)) for p in paths)
    assert a.shape == (3 * 18 + 2, 3 * 18 + 2)  # 3x3 tiles of 16 px with 2 px gaps
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_reconstruct_writes_originals_above_reconstructions(run, tmp_path: Path):
    run_dir, export = run
    out = tmp_path / "recon.png"
    result = CliRunner().invoke(
        cli, ["reconstruct", str(run_dir), str(export), "-n", "8", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 18 + 2, 8 * 18 + 2)
    original = np.asarray(Image.open(export / "images/validation/00048.png"))  # first val image
    assert np.array_equal(grid[2:18, 2:18], original)


@pytest.mark.parametrize("command", ["sample", "evaluate", "reconstruct"])
def test_run_without_model_is_a_clear_error(tmp_path: Path, run, command):
    _, export = run
    args = {
        "sample": ["-o", str(tmp_path / "x.png")],
        "evaluate": [str(export)],
        "reconstruct": [str(export), "-o", str(tmp_path / "x.png")],
    }[command]
    result = CliRunner().invoke(cli, [command, str(tmp_path), *args])
    assert result.exit_code == 1
    assert "Error:" in result.output and "model.keras does not exist" in result.output
    assert "Traceback" not in result.output
