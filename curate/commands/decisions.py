"""`curate decisions export/import`: screening decisions as CSV for bulk work in a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from catalog import open_catalog
from curate.decisions import export_decisions, import_decisions
from synthset.cli import SynthsetGroup, data_option


@click.group("decisions", cls=SynthsetGroup)
def decisions() -> None:
    """Export or import screening decisions as CSV (sha256,decision,note).

    \b
        curate decisions export decisions.csv
        curate decisions import decisions.csv
    """


@decisions.command("export")
@data_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_command(data_dir: Path, file: Path) -> None:
    """Write every decision in force to FILE.csv (replaced whole)."""
    with open_catalog(data_dir, create=False) as catalog:
        report = export_decisions(catalog, file)
    Console(soft_wrap=True).print(f"Wrote {report.rows:,} decisions to {report.path}")


@decisions.command("import")
@data_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(data_dir: Path, file: Path) -> None:
    """Record the decisions in FILE.csv: all of them or, if any row is bad, none."""
    with open_catalog(data_dir, create=False) as catalog:
        report = import_decisions(catalog, file)
    Console(soft_wrap=True).print(
        f"Read {report.rows:,} decisions from {report.path}: {report.recorded:,} recorded, "
        f"{report.unchanged:,} already in force"
    )
