"""`curate stats [--json]`: counts about the catalog as rich tables or one JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from curate.stats import collect_stats
from synthset.cli import data_option

GROUP_COLUMNS = ("urls", "fetched", "dead", "images", "ok")


def _pairs_table(title: str, pairs: dict[str, Any]) -> Table:
    table = Table(title=title)
    table.add_column("")
    table.add_column("count", justify="right")
    for key, value in pairs.items():
        table.add_row(key, str(value))
    return table


def _groups_table(title: str, groups: dict[str, dict[str, Any]], words: bool = False) -> Table:
    table = Table(title=title)
    table.add_column(title.split()[-1].rstrip("s"))
    if words:
        table.add_column("words", overflow="fold", max_width=40)
    for column in GROUP_COLUMNS:
        table.add_column(column, justify="right")
    for key, counts in groups.items():
        head = [key, counts.get("words") or ""] if words else [key]
        table.add_row(*head, *(str(counts[c]) for c in GROUP_COLUMNS))
    return table


def stats_tables(doc: dict[str, Any]) -> list[Table]:
    """The stats document as rich tables."""
    return [
        _pairs_table(
            "status", {k if k != "dead" else "dead (URLs)": v for k, v in doc["statuses"].items()}
        ),  # fmt: skip
        _pairs_table("urls", doc["urls"]),
        _groups_table("per source", doc["sources"]),
        _groups_table("per licence", doc["licenses"]),
        _groups_table("per synset", doc["synsets"], words=True),
        _pairs_table("duplicates", doc["duplicates"]),
        _pairs_table("review progress", doc["review"]),
    ]


@click.command("stats")
@data_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def stats(data_dir: Path, as_json: bool) -> None:
    """Counts per status, source, licence and synset, duplicates removed and review progress.

    \b
        curate stats --json | python -m json.tool
    """
    with open_catalog(data_dir, create=False) as catalog:
        doc = collect_stats(catalog)
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    console = Console()
    console.print(f"catalog {doc['catalog']}", markup=False)
    for table in stats_tables(doc):
        console.print(table)
