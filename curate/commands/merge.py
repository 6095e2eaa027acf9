"""`curate merge DIR...`: merge crawl workers' data directories into --data."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from catalog.merge import MergeCounts
from curate.merge import MergeReport
from curate.merge import merge as merge_dirs
from synthset.cli import data_option


def merge_table(report: MergeReport) -> Table:
    """The counts of one merge as a rich table, one row per source directory."""
    table = Table(title=f"curate merge (run {report.run_id})")
    names = [f.name for f in fields(MergeCounts)]
    for name in names:
        table.add_column(name.replace("_", " "), justify="left" if name == "source" else "right")
    for counts in report.sources:
        table.add_row(*(str(getattr(counts, name)) for name in names))
    return table


@click.command("merge")
@data_option
@click.argument("sources", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
def merge(data_dir: Path, sources: tuple[Path, ...]) -> None:
    """Merge the catalogs and image stores of SOURCES into --data (created if missing).

    URLs are merged by URL (the later fetch wins), images by sha256 (each body
    stored once, its file's hash checked). Check and dedup judgments are not
    merged: run `curate check` and `curate dedup` afterwards. Review decisions,
    keeper choices and not-duplicate pairs are added. Rerunning adds nothing twice.

    \b
        curate merge --data data worker-1/data worker-2/data worker-3/data
        curate check --data data && curate dedup --data data
    """
    console = Console(stderr=True)
    with open_catalog(data_dir) as catalog:
        report = merge_dirs(catalog, list(sources), on_merged=lambda counts: console.print(
            f"merged {counts.source}: {counts.urls_added} URLs, {counts.images_added} images",
            markup=False))
    Console().print(merge_table(report))
