"""Every command of both CLIs explains itself under --help."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from curate.cli import cli as curate_cli


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``group``, groups included."""
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(walk(command, (*prefix, name)))
    return paths


def lookup(group: click.Group, path: tuple[str, ...]) -> click.Command:
    """The command at ``path`` under ``group``."""
    command: click.Command = group
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", walk(curate_cli), ids=" ".join)
def test_every_curate_command_has_help(path):
    command = lookup(curate_cli, path)
    assert command.help and len(command.help.strip()) > 20, f"curate {' '.join(path)} lacks help"
    result = CliRunner().invoke(curate_cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
