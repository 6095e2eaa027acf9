"""`curate placeholder add|list`: the catalog's known "photo unavailable" pictures."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from curate.placeholders import add_placeholder_file, known_placeholders
from synthset.cli import data_option


@click.group("placeholder")
def placeholder() -> None:
    """Known placeholder pictures ("photo unavailable"), matched by pHash in `curate check`."""


@placeholder.command("add")
@data_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="A label for the placeholder (default: the file name).")
def add(data_dir: Path, file: Path, name: str | None) -> None:
    """Remember FILE's pHash as a placeholder; the next `curate check` applies it.

    \b
        curate placeholder add flickr_unavailable.png --name "flickr unavailable"
    """
    with open_catalog(data_dir, create=False) as catalog:
        added = add_placeholder_file(catalog, file, name)
    state = "added" if added.new else "already known (unchanged)"
    click.echo(f"placeholder {added.name!r} (pHash {added.phash}) {state}")
    click.echo("run `curate check` to apply it to images already checked")


@placeholder.command("list")
@data_option
def list_(data_dir: Path) -> None:
    """List the built-in placeholders and those added to the catalog."""
    with open_catalog(data_dir, create=False) as catalog:
        known = known_placeholders(catalog)
    table = Table(title="known placeholders")
    for column in ("origin", "name", "pHash (int64)", "hex"):
        table.add_column(column)
    for entry in known:
        unsigned = entry.phash & (2**64 - 1)
        table.add_row(entry.origin, entry.name, str(entry.phash), f"{unsigned:016x}")
    Console().print(table)
