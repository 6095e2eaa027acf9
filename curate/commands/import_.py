"""`curate import DIR`: add local image files to the catalog (a thin adapter)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from catalog import CATALOG_FILE, CatalogNotFound, open_catalog
from curate.commands.phase_progress import phase_progress
from curate.importer import ImportOptions, import_images
from synthset.cli import data_option


@click.command("import")
@data_option
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--wnid", help="The WordNet synset the images show (e.g. n07631926).")
@click.option("--create", is_flag=True, help="Create the catalog if the data folder has none.")
@click.option("--max-mb", type=click.IntRange(min=1), default=64, show_default=True,
              help="Skip files larger than this many MiB.")
def import_(data_dir: Path, directory: Path, wnid: str | None, create: bool, max_mb: int) -> None:
    """Add the image files under DIRECTORY (recursively, by extension) with source 'local'.

    Each file is recorded under its file:// URI; importing again is harmless.
    Links to files outside DIRECTORY, FIFOs and files over --max-mb are skipped.
    Run `curate check` afterwards to judge them.

    \b
        curate import ~/Pictures/cakes --wnid n07631926
    """
    console = Console()
    try:
        opened = open_catalog(data_dir, create=create)
    except CatalogNotFound:
        raise CatalogNotFound(
            f"no catalog at {data_dir / CATALOG_FILE}; add --create to start one there with "
            "these files, or pass --data with a data folder that has one"
        ) from None
    with opened as catalog, phase_progress(console) as progress:
        options = ImportOptions(wnid=wnid, max_bytes=max_mb * 1024 * 1024)
        report = import_images(catalog, directory, options, progress=progress)
    console.print(
        f"{report.imported} of {report.found} image files recorded "
        f"({report.new_images} new images, {len(report.skipped)} skipped)"
    )
    for path, reason in report.skipped:
        console.print(f"  skipped {path}: {reason}", markup=False, soft_wrap=True)
