"""The README's pictures: the demo's sample and reconstruction grids, drawn by the same commands.

``make demo`` draws ``demo/samples.png`` and ``demo/reconstructions.png`` with the commands of
:func:`grid_commands`; ``make readme-grids`` (``python -m synthset.readme_grids``) runs the very
same commands on the demo's run and export into ``docs/``, so the README shows what the demo
makes at this version, never an older model's pictures.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import click

BIN = Path(sys.executable).parent
SAMPLES_FILE = "demo-samples.png"
RECONSTRUCTIONS_FILE = "demo-reconstructions.png"


def grid_commands(
    run_dir: Path,
    export_dir: Path,
    samples_png: Path,
    reconstructions_png: Path,
    samples: int,
    model: Sequence[str | Path] = (BIN / "model",),
) -> list[list[str]]:
    """``model sample`` and ``model reconstruct`` as the demo runs them (seed 0); ``model`` is
    the command that starts the model CLI (with ``--verbose`` when the demo has it)."""
    prefix = [str(part) for part in model]
    return [
        [*prefix, "sample", str(run_dir), "-n", str(samples), "-o", str(samples_png), "--seed",
         "0"],
        [*prefix, "reconstruct", str(run_dir), str(export_dir), "-o", str(reconstructions_png)],
    ]


@click.command()
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("demo/run"), show_default=True, help="The demo's trained run.")
@click.option("--export", "export_dir", default=Path("demo/datasets/demo"), show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The demo's export (its validation images are reconstructed).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("docs"),
              show_default=True, help="Where the README's grids live.")
@click.option("--samples", type=click.IntRange(min=1), default=64, show_default=True)
def main(run_dir: Path, export_dir: Path, out: Path, samples: int) -> None:
    """Redraw the README's grids from the demo's run (run `make demo` first)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / SAMPLES_FILE, out / RECONSTRUCTIONS_FILE)
    for command in grid_commands(run_dir, export_dir, *paths, samples):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise click.ClickException(
                f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()}"
            )
    for path in paths:
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main(prog_name="python -m synthset.readme_grids")
