"""``scrapy crawl`` for synthset: a user's mistake is one ``Error:`` line and exit code 1.

Scrapy's own ``crawl`` prints a traceback for a bad ``-a`` argument and exits 0 when
the spider stops on an expected failure. This subclass checks the spider and its
arguments before any crawler is built (see :mod:`crawler.preflight`), turns a
:class:`~synthset.errors.SynthsetError` raised while the crawler starts into that
line, and after the crawl reports the failure a spider recorded under the stats key
``synthset/error``. Unexpected exceptions keep their tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.utils.log import failure_to_exc_info
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler.crawllock import hold_crawl_locks
from crawler.frontier import check_frontier
from crawler.jobdir import set_aside_if_unusable
from crawler.launcher import crawl_processes, launch_crawl
from crawler.preflight import check_crawl
from crawler.progress import prepare_display
from crawler.spiders import ERROR_STAT
from crawler.stopping import PromptStop
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)


class Command(ScrapyCrawlCommand):
    """Run a spider by name; report expected failures as one line and exit code 1."""

    def __init__(self) -> None:
        super().__init__()
        self.error: str | None = None  # the expected failure to report, once known
        self.processes = 1  # crawl processes to launch (1: crawl in this process)
        self.locks: list[int] = []  # descriptors holding this crawl's locks (crawler.crawllock)

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        """Parse the options, check the spider and its arguments, then lock the data directory.

        No crawl has started yet; a second crawl of the same data directory or JOBDIR
        stops here. A JOBDIR a killed run left unusable is set aside.
        """
        super().process_options(args, opts)
        prepare_display(self.settings)  # before the log starts: the live display's log level
        if len(args) != 1:
            return  # run() lets Scrapy's usage error speak
        try:
            spidercls = check_crawl(self.settings, args[0], opts.spargs)
            check_frontier(self.settings)
            self.processes = crawl_processes(self.settings, spidercls)
            self.locks = hold_crawl_locks(self.settings)
            set_aside_if_unusable(self.settings)
        except SynthsetError as error:
            self.error = str(error)
            self.requires_crawler_process = False  # nothing to crawl: no reactor, no log banner
        if self.processes > 1:
            self.requires_crawler_process = False  # the launched processes crawl

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """Crawl, then exit 1 with one ``Error:`` line if an expected failure stopped it."""
        if self.error is None and self.processes > 1:
            print(f"crawling as {self.processes} processes (-s CRAWL_PROCESSES=N to change), "
                  "each fetching the hosts hashed to it", file=sys.stderr)
            self.exitcode = launch_crawl(args[0], opts.spargs, self.settings, self.processes,
                                         self.locks)
        elif self.error is None and len(args) == 1:
            self._crawl(args[0], opts.spargs)
        elif self.error is None:
            super().run(args, opts)
        if self.error is not None:
            print(f"Error: {self.error}", file=sys.stderr)
            self.exitcode = 1

    def _crawl(self, spider: str, spider_args: dict[str, Any]) -> None:
        assert self.crawler_process is not None
        stop_timeout = self.settings.getfloat("CRAWL_STOP_TIMEOUT", 10.0)
        if stop_timeout > 0:  # before anything starts: no moment with an unbounded stop
            PromptStop(self.crawler_process, stop_timeout).install()
        crawler = self._create_crawler(spider)
        started = self.crawler_process.crawl(crawler, **spider_args)
        if isinstance(started, Deferred):
            started.addErrback(self._startup_failed)
        else:
            started.add_done_callback(self._startup_done)
        self.crawler_process.start(install_signal_handlers=stop_timeout <= 0)
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        if self.error is None:
            self.error = recorded_error(crawler)

    def _startup_done(self, task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._startup_raised(task.exception())

    def _startup_failed(self, failure: Failure) -> None:
        self._startup_raised(failure.value, failure_to_exc_info(failure))

    def _startup_raised(self, exception: BaseException, exc_info: Any = None) -> None:
        """Keep an expected failure for the ``Error:`` line; log any other with its traceback."""
        if isinstance(exception, SynthsetError):
            self.error = str(exception)
        else:
            logger.error("the crawl failed to start", exc_info=exc_info or exception)


def recorded_error(crawler: Crawler) -> str | None:
    """The expected failure a spider recorded in ``crawler``'s stats, if any."""
    try:
        stats = crawler.stats
    except RuntimeError:  # the crawler never got as far as its stats
        return None
    value = stats.get_value(ERROR_STAT)
    return str(value) if value else None
