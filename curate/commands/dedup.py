"""`curate dedup`: a thin adapter over curate.dedup.dedup_images."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from catalog import open_catalog
from curate.commands.phase_progress import phase_progress
from curate.dedup import (
    DEFAULT_HASH,
    DEFAULT_THRESHOLD,
    MAX_THRESHOLD,
    DedupOptions,
    dedup_images,
)
from curate.hashing import PERCEPTUAL_HASHES
from synthset.cli import data_option


@click.command("dedup")
@data_option
@click.option("--hash", "hash_name", type=click.Choice(sorted(PERCEPTUAL_HASHES)),
              default=DEFAULT_HASH, show_default=True, help="Perceptual hash to compare.")
@click.option("--threshold", type=click.IntRange(0, MAX_THRESHOLD), default=DEFAULT_THRESHOLD,
              show_default=True,
              help="Hamming radius of the candidate search: at most this many differing bits "
                   "(with --no-verify, 6 is the precise choice).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Compare the pictures of each candidate pair (keypoints, geometry, pixels); "
                   "--no-verify lets the hash distance alone decide.")
@click.option("--dry-run", is_flag=True, help="Print the groups; write nothing.")
@click.option("--show-groups", is_flag=True, help="Also print the groups after a real run.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Print at most this many groups (default: all).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for hashing and verifying (default: every core).")
def dedup(data_dir: Path, hash_name: str, threshold: int, verify: bool, dry_run: bool,
          show_groups: bool, limit: int | None, workers: int | None) -> None:
    """Group exact and near duplicates of ok images; keep the largest of each group.

    Same decoded pixels, or a candidate pair (perceptual hash, or full and
    centre pHashes for crops, within --threshold bits) whose pictures match:
    keypoints agree on one scale/rotation/shift, one picture contains the
    other, and the pixels correlate after alignment. Groups never chain; each
    member's reason says what proved it. The others get duplicate_of; a rerun
    recomputes everything except decisions made in `curate review
    --duplicates`.

    \b
        curate dedup --dry-run
        curate dedup --show-groups --limit 20
        curate dedup --no-verify --threshold 6
    """
    options = DedupOptions(hash_name=hash_name, threshold=threshold, dry_run=dry_run,
                           workers=workers, verify=verify)
    console = Console()
    with open_catalog(data_dir, create=False) as catalog, \
            phase_progress(Console(stderr=True)) as progress:
        report = dedup_images(catalog, options, progress=progress)
    if dry_run or show_groups:
        console.print(report.groups_table(limit))
    console.print(report.as_table())
