"""`model evaluate`, `sample`, `reconstruct` on a tiny trained run, and their CLI errors."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
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
    "iw_bits_per_dim",
    "iw_nats_per_image",
    "training_loss",
    "nats_per_image",
    "reconstruction",
    "kl",
    "active_units",
    "memorization",
    "n_val",
    "reconstruction_ssim",
    "reconstruction_ssim_other",
    "reconstruction_gain",
    "reconstruction_psnr",
    "sample_best_ssim",
    "sample_coverage",
    "sample_diversity",
    "sample_flat",
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
            "1e-3",
            "--lr-warmup",
            "0",
            "--batch-size",
            "16",
        ],
    )
    assert result.exit_code == 0, result.output
    return root / "run", root / "shapes"


def test_evaluate_json_is_finite_and_consistent(run):
    run_dir, export = run
    result = CliRunner().invoke(
        cli, ["evaluate", str(run_dir), str(export), "--json", "--importance-samples", "20"]
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) >= JSON_KEYS
    assert all(math.isfinite(scores[key]) for key in JSON_KEYS)
    assert scores["n_val"] == 16 and scores["importance_samples"] == 20
    assert scores["likelihood"] == scores["scored_with"] == "discretized-logistic"
    assert scores["nats_per_image"] == pytest.approx(scores["reconstruction"] + scores["kl"])
    assert scores["bits_per_dim"] == pytest.approx(scores["nats_per_image"] / (256 * math.log(2)))
    assert 0 < scores["iw_bits_per_dim"] < scores["bits_per_dim"] < 8
    assert scores["kl"] >= 0 and 0 <= scores["active_units"] <= 6
    assert scores["memorization"] > 0


def test_evaluate_matches_the_training_objective(run):
    """A discrete decoder is scored with the likelihood it was trained on: the objective on val
    is the val_loss of training (one z sample, so up to sampling noise), the ELBO plus the
    weighted z-only likelihood of the default conv-vae-ar."""
    from model.evaluate import evaluate

    run_dir, export = run
    scores = evaluate(run_dir, export)
    best_val_loss = json.loads((run_dir / "train.json").read_text())["best_loss"]
    # one z sample per image on 16 images: over seeds 0-7 the objective fell 0.94-1.04 times
    # the val_loss (measured with evaluate's NumPy noise), so 10%, not a lucky draw's 5%
    assert scores.training_loss == pytest.approx(best_val_loss, rel=0.1)
    assert scores.nats_per_image < scores.training_loss  # the auxiliary term is not in the ELBO


def test_evaluation_is_deterministic_with_a_seed(run):
    from model.evaluate import evaluate

    run_dir, export = run
    first, again = (evaluate(run_dir, export, seed=3, importance_samples=5) for _ in range(2))
    assert first == again
    other = evaluate(run_dir, export, seed=4, importance_samples=5)
    assert other.nats_per_image != first.nats_per_image
    assert other.iw_nats_per_image != first.iw_nats_per_image


def test_importance_weighted_bound_is_below_the_elbo_and_equals_it_at_k1(run):
    from model.data import load_export
    from model.evaluate import elbo_terms, importance_log_weights, importance_weighted_nll
    from model.sample import load_run

    run_dir, export = run
    vae, val = load_run(run_dir), load_export(export).val
    log_w = importance_log_weights(vae, val, 200, seed=0)
    negative_elbo = -log_w.mean(axis=0)  # the one-sample negative ELBO, averaged over 200 z
    for k in (2, 10, 200):
        assert np.all(importance_weighted_nll(log_w[:k]) <= -log_w[:k].mean(axis=0) + 1e-9)
    assert np.all(importance_weighted_nll(log_w) < negative_elbo)
    one = importance_log_weights(vae, val, 1, seed=0)
    np.testing.assert_array_equal(importance_weighted_nll(one), -one[0])
    # With the KL in closed form: E[-log p(x|z)] + KL, the same bound as the average above.
    repeats = elbo_terms(vae, np.repeat(val, 100, axis=0), seed=1)
    draws = (repeats["reconstruction"] + repeats["kl"]).reshape(len(val), 100)
    error = np.hypot(log_w.std(axis=0) / np.sqrt(200), draws.std(axis=1) / np.sqrt(100))
    assert np.all(np.abs(negative_elbo - draws.mean(axis=1)) < 4 * error + 1e-6)


def test_a_uniform_model_scores_8_bits_per_dim_by_every_measure(tmp_path: Path):
    """Encoder = the prior (KL 0), decoder = logit 0 (the uniform density): the ELBO and the
    importance-weighted bound are both exactly 8 bits/dim on any 8-bit images."""
    import keras

    from model.data import load_export
    from model.evaluate import evaluate_run
    from model.vae import VAE

    image = keras.Input((16, 16, 1))
    flat = keras.layers.Flatten()(image)
    zeros = {"kernel_initializer": "zeros", "bias_initializer": "zeros"}
    encoder = keras.Model(
        image, [keras.layers.Dense(3, **zeros)(flat), keras.layers.Dense(3, **zeros)(flat)]
    )
    z = keras.Input((3,))
    logits = keras.layers.Reshape((16, 16, 1))(keras.layers.Dense(256, **zeros)(z))
    vae = VAE(encoder, keras.Model(z, logits), likelihood="bernoulli")
    write_export(
        tmp_path / "x", {"train": draw_shapes(8, 16, 1, 0), "val": draw_shapes(8, 16, 1, 1)}
    )
    scores = evaluate_run(vae, load_export(tmp_path / "x"), importance_samples=7)
    assert scores.scored_with == "continuous-bernoulli on dequantized pixels + log 256"
    assert scores.kl == 0.0
    assert scores.bits_per_dim == pytest.approx(8.0, rel=1e-6)
    assert scores.iw_bits_per_dim == pytest.approx(8.0, rel=1e-6)
    # The decoder ignores z: every reconstruction is the same grey square, as like its own input
    # as any other's, and every sample the same flat square.
    assert scores.reconstruction_gain == pytest.approx(0.0, abs=1e-9)
    assert scores.sample_flat == 1.0 and scores.sample_diversity == pytest.approx(0.0, abs=1e-9)


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


def test_sample_draw_gives_other_images_than_the_means_and_repeats(run, tmp_path: Path):
    run_dir, _ = run
    paths = [tmp_path / f"{name}.png" for name in ("mean", "draw", "again")]
    for path, flags in zip(paths, ([], ["--draw"], ["--draw"]), strict=True):
        args = ["sample", str(run_dir), "-n", "4", "-o", str(path), *flags]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    mean, draw, again = (np.asarray(Image.open(p)) for p in paths)
    assert np.array_equal(draw, again) and not np.array_equal(mean, draw)


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





def test_evaluate_json_is_strict_when_validation_images_were_trained_on(tmp_path: Path, run):
    run_dir, _ = run
    shapes = draw_shapes(16, 16, 1, 0)
    seen = write_export(tmp_path / "seen", {"train": shapes, "val": shapes[:8]}).path
    result = CliRunner().invoke(cli, ["evaluate", str(run_dir), str(seen), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(name))
    assert scores["memorization"] is None  # val-to-train distance 0: no finite ratio

@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_a_cut_short_model_file_is_a_clear_error(tmp_path: Path, run, command):
    run_dir, export = run
    (tmp_path / "model.keras").write_bytes((run_dir / "model.keras").read_bytes()[:3000])
    args = ["-o", str(tmp_path / "x.png")] if command == "sample" else [str(export)]
    result = CliRunner().invoke(cli, [command, str(tmp_path), *args])
    assert result.exit_code == 1, result.output
    assert "is not a whole .keras file" in result.output and "--resume" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.png").exists()

@pytest.mark.parametrize("command", ["evaluate", "reconstruct"])
def test_an_export_of_another_size_is_a_clear_error(tmp_path: Path, run, command):
    run_dir, _ = run
    other = write_export(tmp_path / "big", {"train": draw_shapes(4, 20, 3, 0),
                                            "val": draw_shapes(4, 20, 3, 1)}).path
    extra = ["-o", str(tmp_path / "x.png")] if command == "reconstruct" else []
    result = CliRunner().invoke(cli, [command, str(run_dir), str(other), *extra])
    assert result.exit_code == 1, result.output
    assert "16x16 with 1 channel" in result.output and "20x20 with 3 channels" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "x.png").exists()

def test_evaluate_scores_a_validation_only_export_against_the_runs_own_training_data(
    run, tmp_path: Path
):
    """A held-out test set (`curate export --val-fraction 1.0`) has no train split: it is scored,
    and memorization compares samples with the training export named in train.json; without that
    export the score is reported as not available, with the reason."""
    run_dir, export = run
    test_set = tmp_path / "test-set"
    write_export(test_set, {"val": draw_shapes(12, 16, 1, 5)})
    result = CliRunner().invoke(cli, ["evaluate", str(run_dir), str(test_set), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["n_val"] == 12 and scores["memorization"] > 0
    assert str(export) in scores["memorization_note"]

    moved = tmp_path / "run-copy"
    shutil.copytree(run_dir, moved)
    facts = json.loads((moved / "train.json").read_text())
    facts["dataset"]["path"] = str(tmp_path / "gone")
    (moved / "train.json").write_text(json.dumps(facts))
    result = CliRunner().invoke(cli, ["evaluate", str(moved), str(test_set), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["memorization"] is None
    assert scores["memorization_note"].startswith("not available: the training export")
    assert math.isfinite(scores["bits_per_dim"]) and math.isfinite(scores["sample_best_ssim"])


def test_readme_grids_are_what_the_demo_commands_draw(run, tmp_path: Path):
    """python -m synthset.readme_grids redraws docs/ with the demo's own commands: the same
    pixels as `model sample --seed 0` and `model reconstruct` on the run."""
    run_dir, export = run
    done = subprocess.run(
        [sys.executable, "-m", "synthset.readme_grids", "--run", str(run_dir), "--export",
         str(export), "--out", str(tmp_path / "docs"), "--samples", "9"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    direct = tmp_path / "direct.png"
    result = CliRunner().invoke(
        cli, ["sample", str(run_dir), "-n", "9", "-o", str(direct), "--seed", "0"]
    )
    assert result.exit_code == 0, result.output
    drawn = np.asarray(Image.open(tmp_path / "docs" / "demo-samples.png"))
    assert np.array_equal(drawn, np.asarray(Image.open(direct)))
    reconstructions = np.asarray(Image.open(tmp_path / "docs" / "demo-reconstructions.png"))
    original = np.asarray(Image.open(export / "images/validation/00048.png"))
    assert np.array_equal(reconstructions[2:18, 2:18], original)
