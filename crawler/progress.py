"""The crawl's progress extension: a live display on a terminal, a log line a minute elsewhere.

``CRAWL_PROGRESS`` picks how a crawl process shows its progress:

- ``auto`` (the default): a rich live display on stderr when stderr is a terminal
  and no ``LOG_FILE`` is set; otherwise a compact progress line in the log every
  ``CRAWL_PROGRESS_LOG_SECONDS``. Either way a summary table at the end.
- ``log``: the log line and the summary table, even on a terminal.
- ``report``: one JSON line a second on stderr for the launcher (crawler/launcher.py),
  which draws one display for all its processes; nothing else.

With the live display, log records print above it, and unless ``LOG_LEVEL`` is given
on the command line only warnings and errors print (:func:`prepare_display`): the
display says the rest.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Self

from rich.console import Console
from rich.live import Live
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from scrapy.utils.log import get_scrapy_root_handler
from twisted.internet import task

from crawler.errors import SpiderArgumentError
from crawler.progressview import HostWait, ProgressView, Report

logger = logging.getLogger(__name__)

MODES = ("auto", "log", "report")
STATS_PREFIX = "synthset/"
REPORT_PREFIX = "synthset-progress "  # starts each report line a crawl process writes
TICK_S = 1.0  # seconds between samples of the crawl's stats
REPORTED_HOSTS = 20  # waiting hosts per report, most requests waiting first (a line < 4 KiB)


def live_allowed(settings: BaseSettings) -> bool:
    """Whether a live display may take stderr: CRAWL_PROGRESS auto, a terminal, no LOG_FILE."""
    return (settings.get("CRAWL_PROGRESS", "auto") == "auto" and sys.stderr.isatty()
            and not settings.get("LOG_FILE"))


def prepare_display(settings: BaseSettings) -> None:
    """Before logging starts: with a live display coming and no LOG_LEVEL on the command line,
    keep the log to warnings and errors (set as a command-line setting, so the launcher's
    processes get it too)."""
    given = settings.getpriority("LOG_LEVEL") or 0
    if live_allowed(settings) and given < SETTINGS_PRIORITIES["cmdline"]:
        settings.set("LOG_LEVEL", "WARNING", priority="cmdline")


class ProgressDisplay:
    """Shows a :class:`ProgressView`: live on stderr, or as a line through ``log`` now and then.

    Call :meth:`tick` about once a second and :meth:`stop` once at the end (which prints
    the summary table).
    """

    def __init__(self, view: ProgressView, live: bool, log: Callable[[str], None],
                 log_seconds: float = 60.0) -> None:
        self.view = view
        self.console = Console(stderr=True)
        self.live = Live(console=self.console, auto_refresh=False, transient=True,
                         redirect_stdout=False) if live else None
        self.log = log
        self.log_seconds = log_seconds
        self._last_log = time.monotonic()

    def start(self) -> None:
        """Start the live display (sys.stderr then prints above it)."""
        if self.live is not None:
            self.live.start()
            atexit.register(self._stop_live)  # a forced exit must not leave the cursor hidden

    def tick(self) -> None:
        """Redraw, or log a line once ``log_seconds`` have passed since the last."""
        if self.live is not None and self.live.is_started:
            self.live.update(self.view.renderable(), refresh=True)
        elif self.live is None and time.monotonic() - self._last_log >= self.log_seconds:
            self._last_log = time.monotonic()
            self.log(f"progress: {self.view.line()}")

    def stop(self) -> None:
        """End the display; log the final line (without a live display) and print the summary."""
        self._stop_live()
        if self.live is None:
            self.log(f"progress at the end: {self.view.line()}")
        self.console.print(self.view.summary())

    def _stop_live(self) -> None:
        if self.live is not None and self.live.is_started:
            self.live.stop()


def snapshot(crawler: Crawler) -> Report:
    """The crawl's ``synthset/*`` counts and the hosts its politeness holds back right now."""
    counts = {key[len(STATS_PREFIX):]: value
              for key, value in crawler.stats.get_stats().items()
              if key.startswith(STATS_PREFIX) and isinstance(value, int)}
    return Report(counts, politeness_waits(crawler))


def politeness_waits(crawler: Crawler) -> tuple[HostWait, ...]:
    """Hosts with requests waiting on their delay or concurrency, when that is the limit.

    Empty while the downloader is full (CONCURRENT_REQUESTS is the limit then).
    """
    engine = getattr(crawler, "engine", None)
    downloader = getattr(engine, "downloader", None)
    if downloader is None or len(downloader.active) >= downloader.total_concurrency:
        return ()
    waiting = [HostWait(key, len(slot.queue), slot.delay)
               for key, slot in list(downloader.slots.items()) if slot.queue]
    return tuple(sorted(waiting, key=lambda w: -w.queued)[:REPORTED_HOSTS])


def write_report(report: Report) -> None:
    """Write ``report`` as one line on file descriptor 2 (one write: lines never interleave)."""
    sys.stderr.flush()
    os.write(2, (REPORT_PREFIX + json.dumps(report.as_json()) + "\n").encode())


def read_report(line: str) -> Report | None:
    """The report on ``line`` if it is a report line, else None."""
    if not line.startswith(REPORT_PREFIX):
        return None
    try:
        return Report.from_json(json.loads(line[len(REPORT_PREFIX):]))
    except ValueError:
        return None


class CrawlProgress:
    """Samples the crawl's stats every second and shows them as ``CRAWL_PROGRESS`` says."""

    def __init__(self, crawler: Crawler, mode: str, log_seconds: float) -> None:
        self.crawler = crawler
        self.mode = mode
        view = ProgressView(f"crawl {getattr(crawler.spidercls, 'name', '?')}")
        self.display = ProgressDisplay(view, live_allowed(crawler.settings),
                                       lambda line: logger.info("%(line)s", {"line": line}),
                                       log_seconds)
        self._timer: task.LoopingCall | None = None
        self._log_stream: Any = None  # the log handler's stream while the display has it
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from CRAWL_PROGRESS and CRAWL_PROGRESS_LOG_SECONDS.

        :raises SpiderArgumentError: for a CRAWL_PROGRESS that is not one of :data:`MODES`.
        """
        mode = crawler.settings.get("CRAWL_PROGRESS", "auto")
        if mode not in MODES:
            raise SpiderArgumentError(f"-s CRAWL_PROGRESS={mode}: give one of {', '.join(MODES)}")
        return cls(crawler, mode, crawler.settings.getfloat("CRAWL_PROGRESS_LOG_SECONDS", 60.0))

    def engine_started(self) -> None:
        """Start sampling (and the live display, which the log then prints above)."""
        if self.mode != "report":
            self.display.start()
            if self.display.live is not None:
                self._log_stream = self._route_log(sys.stderr)  # Live's proxy of stderr
        self._timer = task.LoopingCall(self.tick)
        self._timer.start(TICK_S, now=True)

    def tick(self) -> None:
        """Sample the stats once; report them, or show them."""
        report = snapshot(self.crawler)
        self.display.view.update("", report)
        if self.mode == "report":
            write_report(report)
        else:
            self.display.tick()

    def spider_closed(self) -> None:
        """Take the final counts (the pipeline has committed everything); show the summary."""
        if self._timer is None:
            return
        if self._timer.running:
            self._timer.stop()
        self._timer = None
        report = snapshot(self.crawler)
        self.display.view.update("", report)
        if self.mode == "report":
            write_report(report)
            return
        if self._log_stream is not None:
            self._route_log(self._log_stream)
        self.display.stop()

    @staticmethod
    def _route_log(stream: Any) -> Any:
        """Point Scrapy's log handler (when it writes to a stream) at ``stream``; the old one."""
        handler = get_scrapy_root_handler()
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            return handler.setStream(stream)
        return None
