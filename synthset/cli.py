"""What the ``curate`` and ``model`` CLIs share: error wording and the data option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from synthset.errors import SynthsetError
from synthset.paths import DATA_ENV_VAR, DEFAULT_DATA_DIR


class SynthsetGroup(click.Group):
    """A click group that turns expected failures into one ``Error:`` line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a :class:`SynthsetError` becomes a ClickException."""
        try:
            return super().invoke(ctx)
        except SynthsetError as error:
            raise click.ClickException(str(error)) from error
        except PermissionError as error:  # a folder the user may not write to: theirs to fix
            where = f": {error.filename}" if error.filename else ""
            raise click.ClickException(f"permission denied{where}; pick a folder you can "
                                       "write to, or change its permissions") from error


data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=DATA_ENV_VAR,
    default=DEFAULT_DATA_DIR,
    show_default=True,
    show_envvar=True,
    help="Data directory holding catalog.db and images/.",
)
