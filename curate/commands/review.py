"""`curate review`: screen the queue by keyboard, or walk duplicate groups (--duplicates)."""

from __future__ import annotations

from pathlib import Path

import click

from catalog.harvest import SOURCES
from synthset.cli import data_option

PROTOCOL_CHOICES = ("auto", "halfcell", "sixel", "kitty")  # curate.review.protocols.PROTOCOLS


@click.command("review")
@data_option
@click.option("--synset", metavar="WNID", help="Only images found for this synset.")
@click.option("--source", type=click.Choice(SOURCES), help="Only images from this source.")
@click.option("--redo", is_flag=True, help="Revisit images that already have a decision.")
@click.option("--criterion", metavar="TEXT", help="What to keep (remembered in the catalog).")
@click.option(
    "--protocol", type=click.Choice(PROTOCOL_CHOICES), default="auto", show_default=True,
    help="How to draw images: best available, unicode half blocks, Sixel or Kitty graphics.",
)
@click.option("--duplicates", is_flag=True, help="Walk near-duplicate groups instead.")
def review(
    data_dir: Path, synset: str | None, source: str | None, redo: bool,
    criterion: str | None, protocol: str, duplicates: bool,
) -> None:
    """Screen images by keyboard; every key is saved to the catalog at once.

    \b
        curate review --criterion "round, single-tiered cakes"
        curate review --synset n07631926 --source web
        curate review --duplicates
    """
    from curate.review.launch import ReviewRequest, launch_review  # Textual loads only here

    request = ReviewRequest(data_dir, synset, source, redo, criterion, protocol, duplicates)
    launch_review(request)
