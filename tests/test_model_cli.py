"""The `model` CLI: help texts, option plumbing (recipes), errors, and the architecture registry."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from model.arch import available_architectures, load_architecture
from model.cli import LIKELIHOOD_NAMES, cli
from model.datasets import draw_shapes, write_export
from model.errors import UnknownArchitecture
from model.options import TrainOptions, apply_recipe


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_model_command_has_help(name: str):
    command = cli.commands[name]
    assert command.help and len(command.help.strip()) > 20
    result = CliRunner().invoke(cli, [name, "--help"], prog_name="model")
    assert result.exit_code == 0, result.output
    assert f"Usage: model {name}" in result.output


def test_registry_lists_the_built_in_architectures():
    assert {"conv-vae", "keras-example"} <= set(available_architectures())
    result = CliRunner().invoke(cli, ["archs"])
    assert result.exit_code == 0 and "conv-vae" in result.output.split()


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(
        UnknownArchitecture, match=r"'resnet'; choose one of: conv-vae, conv-vae-ar, keras-example"
    ):
        load_architecture("resnet")


def test_recipe_sets_the_seed_model_but_explicit_flags_win():
    options = apply_recipe(
        TrainOptions(latent_dim=8, kl_weight=1.0), "seed", explicit={"latent_dim"}
    )
    assert (options.latent_dim, options.kl_weight, options.likelihood, options.lr) == (
        8,
        0.0,
        "bernoulli",
        1e-4,
    )
    assert apply_recipe(TrainOptions(), None, set()) == TrainOptions()


def test_train_errors_are_one_line_with_exit_code_1(tmp_path: Path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["train", str(tmp_path / "nope"), "--out", str(tmp_path / "run")])
    assert missing.exit_code == 1 and "Error: no export at" in missing.output
    assert "Traceback" not in missing.output

    export = write_export(
        tmp_path / "shapes", {"train": draw_shapes(4, 8), "val": draw_shapes(2, 8)}
    ).path
    (export / "export.json").write_text("[]")
    malformed = runner.invoke(cli, ["train", str(export), "--out", str(tmp_path / "run")])
    assert malformed.exit_code == 1 and "must hold a JSON object" in malformed.output

    arch = runner.invoke(cli, ["train", str(export), "--out", str(tmp_path / "run"), "--arch", "x"])
    assert arch.exit_code == 1
    assert "choose one of: conv-vae, conv-vae-ar, keras-example" in arch.output
    assert not (tmp_path / "run").exists()


@pytest.mark.model
def test_train_cli_with_recipe_and_overwrite(tmp_path: Path):
    export = write_export(
        tmp_path / "shapes", {"train": draw_shapes(32, 12), "val": draw_shapes(8, 12, seed=1)}
    ).path
    args = [
        "train",
        str(export),
        "--out",
        str(tmp_path / "run"),
        "--recipe",
        "seed",
        "--epochs",
        "1",
        "--latent-dim",
        "3",
        "--batch-size",
        "16",
    ]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    options = json.loads((tmp_path / "run" / "train.json").read_text())["options"]
    assert (options["kl_weight"], options["latent_dim"], options["lr"]) == (0.0, 3, 1e-4)

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "already holds a finished run; pass --overwrite" in again.output
    replaced = CliRunner().invoke(cli, [*args, "--overwrite", "--kl-weight", "0.5"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((tmp_path / "run" / "train.json").read_text())["options"]["kl_weight"] == 0.5


@pytest.mark.model
def test_cli_likelihood_choices_match_the_library():
    from model.likelihoods import LIKELIHOODS

    assert set(LIKELIHOOD_NAMES) == set(LIKELIHOODS)
    param = next(p for p in cli.commands["train"].params if p.name == "likelihood")
    assert isinstance(param.type, click.Choice) and set(param.type.choices) == set(LIKELIHOODS)
