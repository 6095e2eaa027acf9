"""The ``curate`` command line: one click group, one thin command per job."""

from __future__ import annotations

import click

from curate.commands.check import check
from curate.commands.decisions import decisions
from curate.commands.dedup import dedup
from curate.commands.export import export
from curate.commands.import_ import import_
from curate.commands.merge import merge
from curate.commands.placeholder import placeholder
from curate.commands.review import review
from curate.commands.stats import stats
from synthset import __version__
from synthset.cli import SynthsetGroup


@click.group(cls=SynthsetGroup)
@click.version_option(__version__, prog_name="curate")
def cli() -> None:
    """Judge, deduplicate, screen and export the images a harvest recorded.

    Every command works on one data directory (catalog.db + images/), chosen
    with --data or $SYNTHSET_DATA (default ./data). Typical order:

    \b
        curate check            # ok / dead / empty / corrupt / placeholder ...
        curate dedup            # exact and near duplicates
        curate review           # screen by keyboard
        curate export NAME      # datasets/NAME/ for `model train`
    """


for command in (check, placeholder, dedup, review, decisions, export, import_, stats, merge):
    cli.add_command(command)
