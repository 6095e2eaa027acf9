"""`curate check`: judge fetched URLs and stored images (a thin adapter over curate.check)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from curate.check import (
    STATUSES,
    CheckOptions,
    CheckReport,
    check_images,
    smallest_too_small_side,
)
from curate.commands.phase_progress import phase_progress
from curate.decode import DEFAULT_MAX_PIXELS
from curate.placeholders import DEFAULT_RADIUS
from curate.recheck import RecheckOptions
from synthset.cli import data_option


def parse_settings(
    ctx: click.Context, param: click.Parameter, pairs: tuple[str, ...]
) -> dict[str, str]:
    """``NAME=VALUE`` pairs as a dict; a pair without ``=`` is a usage error."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", ctx, param)
        settings[name] = value
    return settings


def report_table(report: CheckReport) -> Table:
    """The counts of one check run as a rich table."""
    table = Table(title=f"curate check (run {report.run_id}, {report.seconds:.1f} s)")
    table.add_column("status")
    table.add_column("count", justify="right")
    for status in STATUSES:
        count = report.dead_urls if status == "dead" else report.statuses.get(status, 0)
        table.add_row(status + (" (URLs)" if status == "dead" else ""), str(count))
    table.add_row("images judged", str(report.checked), style="bold")
    table.add_row(
        "placeholders by hash / by shared URLs",
        f"{report.placeholders_matched} / {report.placeholders_shared}",
    )
    if report.rechecked:
        table.add_row("dead URLs rechecked / revived", f"{report.rechecked} / {report.revived}")
    return table


def too_small_hint(report: CheckReport, min_side: int, smallest: int | None) -> str | None:
    """When this run judged images too_small: how many, and the option that admits them."""
    count = report.statuses.get("too_small", 0)
    if not count or smallest is None:
        return None
    return (f"{count} image(s) too_small: their shorter side is under --min-side {min_side} px "
            f"(the smallest: {smallest} px); to admit them, rerun "
            f"`curate check --all --min-side {smallest}`")


@click.command("check")
@data_option
@click.option("--all", "everything", is_flag=True, help="Re-judge images already checked.")
@click.option(
    "--min-side",
    default=32,
    show_default=True,
    type=click.IntRange(1),
    help="Images whose shorter side is below this many pixels are too_small.",
)
@click.option(
    "--workers",
    default=os.cpu_count() or 1,
    show_default="all cores",
    type=click.IntRange(1),
    help="Processes decoding and hashing images.",
)
@click.option(
    "--batch-size",
    default=256,
    show_default=True,
    type=click.IntRange(1),
    help="Judgments committed per transaction.",
)
@click.option(
    "--max-pixels",
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    type=click.IntRange(1),
    help="Larger images are refused as decompression bombs.",
)
@click.option(
    "--placeholder-radius",
    default=DEFAULT_RADIUS,
    show_default=True,
    type=click.IntRange(0, 64),
    help="pHash bits from a known placeholder that match.",
)
@click.option(
    "--shared-urls",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="One picture under this many differently named URLs is a placeholder (0: off).",
)
@click.option(
    "--draft/--full-size",
    default=True,
    show_default=True,
    help="Decode large JPEGs at libjpeg's reduced DCT scale: every byte still decoded, "
    "truncation still caught, pixel_sha256 of the reduced pixels. --full-size decodes every pixel.",
)
@click.option(
    "--recheck",
    is_flag=True,
    help="Fetch failed http(s) links again first, through the crawl's own settings: robots.txt, "
    "per-host politeness, retries with backoff, the 10 MiB cap. URLs the crawl refused "
    "(robots.txt, non-http) are never requested.",
)
@click.option(
    "--retries",
    type=click.IntRange(0),
    help="With --recheck: retries after the first try (the crawl's RETRY_TIMES, 2).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    help="With --recheck: seconds per request (the crawl's DOWNLOAD_TIMEOUT, 30).",
)
@click.option(
    "-s",
    "--set",
    "scrapy_settings",
    multiple=True,
    callback=parse_settings,
    metavar="NAME=VALUE",
    help="With --recheck: a Scrapy setting for its crawl, as `scrapy crawl -s` (repeatable).",
)
@click.option("--limit", type=click.IntRange(1), help="Judge at most this many images this run.")
def check(
    data_dir: Path,
    everything: bool,
    min_side: int,
    workers: int,
    batch_size: int,
    max_pixels: int,
    placeholder_radius: int,
    shared_urls: int,
    draft: bool,
    recheck: bool,
    retries: int | None,
    timeout: float | None,
    scrapy_settings: dict[str, str],
    limit: int | None,
) -> None:
    """Judge every fetched URL and stored image with a status and a reason.

    Statuses: ok, dead (network error or HTTP >= 400), empty, corrupt, not_image,
    placeholder, too_small. Only images never checked, or whose hashes an older
    synthset computed by another method, are judged unless --all; rerunning after an
    interruption picks up where it stopped.

    \b
        curate check --recheck --min-side 64
        curate check --recheck -s USER_AGENT="mybot (+mailto:me@example.org)"
    """
    options = CheckOptions(
        everything=everything,
        min_side=min_side,
        max_pixels=max_pixels,
        draft=draft,
        workers=workers,
        batch_size=batch_size,
        placeholder_radius=placeholder_radius,
        shared_urls=shared_urls,
        recheck=recheck,
        recheck_options=RecheckOptions(retries, timeout, scrapy_settings),
        limit=limit,
    )
    console = Console()
    with open_catalog(data_dir, create=False) as catalog, phase_progress(console) as progress:
        report = check_images(catalog, options, progress=progress)
        smallest = smallest_too_small_side(catalog)
    console.print(report_table(report))
    hint = too_small_hint(report, min_side, smallest)
    if hint:
        console.print(hint, markup=False, soft_wrap=True)
