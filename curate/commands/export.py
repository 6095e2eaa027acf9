"""`curate export NAME`: a thin adapter over curate.export.export_dataset."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TimeRemainingColumn,
)

from catalog import open_catalog
from curate.export import ExportOptions, export_dataset
from curate.preprocess import COLORS, INTERPOLATIONS, MAX_SIZE
from synthset.cli import data_option


@click.command("export")
@click.argument("name")
@data_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("datasets"),
    show_default=True, help="Root folder; the export goes to OUT/NAME/.",
)
@click.option("--size", type=click.IntRange(1, MAX_SIZE), default=100, show_default=True,
              help="Side of the square output images, in pixels.")
@click.option("--color", type=click.Choice(sorted(COLORS)), default="gray", show_default=True)
@click.option("--interpolation", type=click.Choice(sorted(INTERPOLATIONS)), default="linear",
              show_default=True, help="cv2.resize interpolation (linear = the seed's).")
@click.option("--include-unreviewed", is_flag=True,
              help="Also export ok, non-duplicate images nobody accepted or rejected yet.")
@click.option("--val-fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share of images in the val split (chosen by content hash).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes to use (default: every core).")
@click.option("--reduced-decode", is_flag=True,
              help="Decode large JPEGs at 1/2-1/8 scale: faster, not pixel-identical to the seed.")
@click.option("--pixel-cache/--no-pixel-cache", default=True, show_default=True,
              help="Also write pixels.npy (N x H x W x C uint8) for fast loading.")
@click.option("--license", "license", metavar="LIST", default=None,
              help="Keep only these licence families, comma-separated: cc0, pdm, cc-by, "
                   "cc-by-sa, cc-by-nd, cc-by-nc, cc-by-nc-sa, cc-by-nc-nd (every version), "
                   "a versioned id (cc-by-4.0), or the shorthands commercial / modification. "
                   "Images of unknown licence are then left out.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT/NAME.")
def export(name: str, data_dir: Path, out: Path, **options: object) -> None:
    """Write the accepted images to OUT/NAME/ as the seed paper preprocessed them.

    Grayscale, centre-cropped to a square, resized to 100x100 with INTER_LINEAR by
    default; images/train/00000.png ..., manifest.csv, export.json, a dataset card
    (README.md) and the credits (ATTRIBUTION.md); see datasets/README.md. Loads with
    datasets.load_dataset("OUT/NAME") and keras.utils.image_dataset_from_directory.

    \b
        curate export cakes
        curate export cakes-open --license cc0,pdm,cc-by,cc-by-sa
        curate export cakes-rgb --color rgb --size 64 --include-unreviewed --overwrite
    """
    export_options = ExportOptions(out=out, **options)  # type: ignore[arg-type]
    # auto_refresh=False: no refresh thread may hold a lock while the export forks workers.
    with open_catalog(data_dir, create=False) as catalog, Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), transient=True, auto_refresh=False,
    ) as bar:
        task = bar.add_task(f"exporting {name}", total=None)
        report = export_dataset(catalog, name, export_options, progress=_updater(bar, task))
    Console().print(report.as_table())


def _updater(bar: Progress, task: TaskID) -> Callable[[int, int], None]:
    """A progress callback that redraws the bar at most ten times a second."""
    last = [0.0]

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        redraw = done == total or now - last[0] >= 0.1
        bar.update(task, completed=done, total=total, refresh=redraw)
        if redraw:
            last[0] = now

    return update
