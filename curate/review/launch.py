"""Start the review app for the command line: open the catalog, resolve the protocol, run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from catalog import open_catalog
from catalog.review_queue import QueueFilter
from catalog.runs import set_setting
from curate.review.app import CRITERION_SETTING, ReviewApp, ReviewOptions
from curate.review.protocols import image_widget
from synthset.errors import SynthsetError


class NotATerminal(SynthsetError):
    """The review was started without a terminal to draw in and read keys from."""


@dataclass(frozen=True)
class ReviewRequest:
    """The options of ``curate review``."""

    data_dir: Path
    synset: str | None = None
    source: str | None = None
    redo: bool = False
    criterion: str | None = None
    protocol: str = "auto"
    duplicates: bool = False


def launch_review(request: ReviewRequest) -> None:
    """Run the review (or the duplicate walk) in this terminal until the user quits.

    :raises CatalogNotFound: when the data directory has no catalog.
    :raises NotATerminal: when standard input or output is not a terminal.
    """
    with open_catalog(request.data_dir, create=False) as catalog:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise NotATerminal("curate review needs an interactive terminal; to screen without "
                               "one, write decisions to a CSV and `curate decisions import` it")
        # textual-image asks the terminal about graphics: only possible before Textual starts.
        protocol = image_widget(request.protocol)
        if request.criterion:
            set_setting(catalog, CRITERION_SETTING, request.criterion)
        if request.duplicates:
            from curate.review.duplicates import DuplicatesApp

            DuplicatesApp(catalog, protocol).run()
            return
        flt = QueueFilter(request.synset, request.source, request.redo)
        options = ReviewOptions(filter=flt, protocol=request.protocol)
        ReviewApp(catalog, options, protocol).run()
