"""Tiny but real training runs: files, falling loss, early stopping, KL weight, save/load."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from model.data import load_export
from model.datasets import draw_shapes, write_export
from model.errors import RunExists, UnknownArchitecture
from model.options import TrainOptions

pytestmark = pytest.mark.model

TINY = TrainOptions(
    latent_dim=4,
    lr=3e-3,
    batch_size=16,
    epochs=3,
    kl_warmup=0,
    lr_warmup=0,
    sample_count=4,
    reconstruct_every=2,
    reconstruct_count=4,
)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    """A 64-train / 16-val gray 16x16 export of drawn shapes."""
    out = tmp_path_factory.mktemp("exports") / "shapes"
    write_export(out, {"train": draw_shapes(64, 16, 1, 0), "val": draw_shapes(16, 16, 1, 1)})
    return out


@pytest.fixture(scope="module")
def trained(shapes: Path, tmp_path_factory):
    """One 3-epoch run on ``shapes`` with the full KL term: (run folder, report)."""
    from model.train import train

    run = tmp_path_factory.mktemp("runs") / "run"
    here = os.getcwd()
    os.chdir(shapes.parent)  # the export named relative to the working directory, as users do
    try:
        return run, train(Path(shapes.name), run, TINY)
    finally:
        os.chdir(here)


def read_history(run: Path) -> dict[str, list[float]]:
    """history.csv as columns of floats."""
    with (run / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: [float(row[key]) for row in rows] for key in rows[0]}


def test_run_writes_every_output(trained, shapes: Path):
    run, report = trained
    for name in ("model.keras", "history.csv", "loss.png", "train.json"):
        assert (run / name).stat().st_size > 0, name
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "epoch_0001.png",
        "epoch_0002.png",
        "epoch_0003.png",
    ]
    assert [p.name for p in (run / "reconstructions").iterdir()] == ["epoch_0002.png"]
    meta = json.loads((run / "train.json").read_text())
    assert meta["options"]["latent_dim"] == 4 and meta["seed"] == 0
    assert meta["stop_epoch"] == 3 == report.epochs_run
    assert meta["dataset"]["path"] == str(shapes.resolve())  # found from any directory
    assert meta["dataset"]["hash"] == load_export(meta["dataset"]["path"]).dataset_hash
    assert {"keras", "backend", "numpy", "python"} <= set(meta["versions"])


def test_loss_falls_and_is_finite(trained):
    run, _ = trained
    history = read_history(run)
    assert all(np.isfinite(history["loss"])) and all(np.isfinite(history["val_loss"]))
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]


def aux(history: dict[str, list[float]], prefix: str = "") -> np.ndarray:
    """The weighted z-only likelihood term of the default conv-vae-ar, per epoch."""
    return TINY.aux_weight * np.asarray(history[f"{prefix}base_reconstruction"])


def test_loss_is_reconstruction_plus_kl_plus_the_z_only_term(trained):
    history = read_history(trained[0])
    np.testing.assert_allclose(
        history["loss"],
        np.add(history["reconstruction"], history["kl"]) + aux(history),
        rtol=1e-4,
    )
    assert min(history["kl"]) > 0 and min(history["base_reconstruction"]) > 0


def test_kl_weight_zero_adds_no_kl(shapes: Path, tmp_path: Path):
    from model.train import train

    report = train(
        shapes, tmp_path / "run", TrainOptions(**{**TINY.__dict__, "kl_weight": 0.0, "epochs": 2})
    )
    history = report.history
    np.testing.assert_allclose(
        history["loss"], np.add(history["reconstruction"], aux(history)), rtol=1e-5
    )
    np.testing.assert_allclose(
        history["val_loss"],
        np.add(history["val_reconstruction"], aux(history, "val_")),
        rtol=1e-5,
    )
    assert min(history["kl"]) > 0  # the KL is still measured, just not trained on


def test_kl_warmup_starts_at_zero_and_val_loss_uses_full_weight(shapes: Path, tmp_path: Path):
    from keras.ops import convert_to_numpy

    from model.sample import load_run
    from model.train import train

    # Warm-up over 4 epochs, 3 run: the KL scale is 0, 1/4, 1/2 and never reaches 1 in training.
    report = train(shapes, tmp_path / "run", TrainOptions(**{**TINY.__dict__, "kl_warmup": 4}))
    h = report.history
    for i, scale in enumerate((0.0, 0.25, 0.5)):
        expected = h["reconstruction"][i] + scale * h["kl"][i] + aux(h)[i]
        assert h["loss"][i] == pytest.approx(expected, rel=1e-4), i
        full = h["val_reconstruction"][i] + h["val_kl"][i] + aux(h, "val_")[i]
        assert h["val_loss"][i] == pytest.approx(full, rel=1e-4), i
    # the control: the KL was left out of the first epoch's loss
    assert h["loss"][0] < h["reconstruction"][0] + 0.5 * h["kl"][0] + aux(h)[0]
    assert float(convert_to_numpy(load_run(tmp_path / "run").kl_scale)) == 1.0


def test_early_stopping_stops_and_restores_best_weights(tmp_path: Path):
    """Training on copies of one image and validating on its negative: the better the model
    fits the training set, the higher the validation loss, so epoch 1 is the best."""
    from model.sample import load_run
    from model.train import train

    one = draw_shapes(1, 16, 1, 0)
    export = write_export(
        tmp_path / "opposite", {"train": np.repeat(one, 32, 0), "val": np.repeat(255 - one, 8, 0)}
    )
    options = TrainOptions(
        latent_dim=4,
        lr=1e-3,
        lr_warmup=0,
        batch_size=16,
        epochs=30,
        patience=3,
        kl_weight=0.0,
        sample_count=4,
        reconstruct_every=0,
    )
    report = train(export.path, tmp_path / "run", options)
    val = report.history["val_loss"]
    assert report.stopped_early and report.epochs_run < 30
    assert report.epochs_run == report.best_epoch + options.patience
    assert report.best_epoch - 1 == int(np.argmin(val))
    assert val[-1] > val[report.best_epoch - 1] * 1.1  # it did get worse

    vae = load_run(tmp_path / "run")
    vae.compile()
    restored = vae.evaluate(
        load_export(export.path).val, batch_size=16, verbose=0, return_dict=True
    )["loss"]
    assert abs(restored - val[report.best_epoch - 1]) < abs(restored - val[-1]) / 4


def test_no_val_trains_all_epochs(shapes: Path, tmp_path: Path):
    from model.train import train

    report = train(
        shapes, tmp_path / "run", TrainOptions(**{**TINY.__dict__, "validate": False, "epochs": 2})
    )
    assert report.epochs_run == 2 and "val_loss" not in report.history
    assert (tmp_path / "run" / "model.keras").is_file()


def test_learning_rate_rises_linearly_and_the_run_keeps_its_schedule(shapes: Path, tmp_path: Path):
    from keras.ops import convert_to_numpy

    from model.sample import load_run
    from model.schedules import LinearWarmup
    from model.train import train

    assert [float(convert_to_numpy(LinearWarmup(1.0, 4)(s))) for s in range(6)] == [
        0.25, 0.5, 0.75, 1.0, 1.0, 1.0
    ]
    options = TrainOptions(**{**TINY.__dict__, "validate": False, "epochs": 2, "lr_warmup": 1000})
    train(shapes, tmp_path / "run", options)
    optimizer = load_run(tmp_path / "run").optimizer
    steps = int(convert_to_numpy(optimizer.iterations))
    assert steps == 2 * 64 // 16  # two epochs of 64 images in batches of 16
    rate = float(convert_to_numpy(optimizer.learning_rate))
    assert rate == pytest.approx(TINY.lr * (steps + 1) / 1000)  # still rising, saved with it


def test_reloaded_model_samples_identically(trained):
    from model.sample import load_run, sample_images
    from model.vae import VAE

    run, _ = trained
    first, second = load_run(run), load_run(run)
    a = sample_images(first, 6, seed=3)
    np.testing.assert_array_equal(a, sample_images(second, 6, seed=3))
    assert not np.allclose(a, sample_images(first, 6, seed=4))
    assert a.shape == (6, 16, 16, 1) and a.min() >= 0.0 and a.max() <= 1.0

    clone = VAE.from_config(first.get_config())
    assert (clone.latent_dim, clone.kl_weight, clone.likelihood) == (4, 1.0, "discretized-logistic")
    clone.set_weights(first.get_weights())
    np.testing.assert_allclose(sample_images(clone, 6, seed=3), a, atol=1e-6)


def test_finished_run_is_not_overwritten(trained, shapes: Path):
    from model.train import train

    run, _ = trained
    before = (run / "train.json").read_text()
    with pytest.raises(RunExists, match="--overwrite"):
        train(shapes, run, TINY)
    assert (run / "train.json").read_text() == before



def test_a_folder_that_is_not_a_run_is_never_cleared(shapes: Path, tmp_path: Path):
    from model.train import train

    mine = tmp_path / "mine"  # a user's folder whose names partly match a run's
    (mine / "samples").mkdir(parents=True)
    (mine / "samples" / "photo.txt").write_text("mine")
    (mine / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        options = TrainOptions(**{**TINY.__dict__, "overwrite": overwrite})
        with pytest.raises(RunExists, match=r"not a run's \(notes.txt\)"):
            train(shapes, mine, options)
    assert (mine / "samples" / "photo.txt").read_text() == "mine"
    assert (mine / "notes.txt").read_text() == "mine"

    leftovers = tmp_path / "leftovers"  # a run killed before its first checkpoint
    (leftovers / "samples").mkdir(parents=True)
    (leftovers / "history.csv").write_text("epoch,loss\n")
    with pytest.raises(RunExists, match="--overwrite"):
        train(shapes, leftovers, TINY)
    assert (leftovers / "history.csv").exists()

@pytest.mark.parametrize("likelihood", ["continuous-bernoulli", "logistic-mixture"])
def test_other_likelihoods_train_on_rgb_of_any_size(tmp_path: Path, likelihood: str):
    from model.sample import load_run, sample_images
    from model.train import train

    export = write_export(
        tmp_path / "rgb", {"train": draw_shapes(24, 20, 3, 0), "val": draw_shapes(8, 20, 3, 1)}
    )
    # At TINY's lr 3e-3 the 15-output mixture head overshoots on 24 images; the default lr holds.
    options = TrainOptions(**{**TINY.__dict__, "likelihood": likelihood, "epochs": 2, "lr": 1e-3})
    report = train(export.path, tmp_path / "run", options)
    assert all(np.isfinite(report.history["val_loss"]))
    assert report.history["loss"][1] < report.history["loss"][0]
    images = sample_images(load_run(tmp_path / "run"), 2)
    assert images.shape == (2, 20, 20, 3) and images.min() >= 0.0 and images.max() <= 1.0


def test_unknown_arch_fails_before_training(shapes: Path, tmp_path: Path):
    from model.train import train

    with pytest.raises(UnknownArchitecture, match="conv-vae, conv-vae-ar, keras-example"):
        train(shapes, tmp_path / "run", TrainOptions(arch="nope"))
    assert not (tmp_path / "run").exists()


def test_a_diverging_run_stops_with_an_error_before_saving_nan_weights(shapes: Path, tmp_path):
    from model.errors import TrainingDiverged
    from model.train import train

    options = TrainOptions(**{**TINY.__dict__, "lr": 1e30, "epochs": 2})
    with pytest.raises(TrainingDiverged, match="diverged in epoch 1.*--lr"):
        train(shapes, tmp_path / "run", options)
    assert not (tmp_path / "run" / "model.keras").exists()  # nothing saved from the NaN epoch
    assert not list((tmp_path / "run" / "samples").glob("*.png"))
