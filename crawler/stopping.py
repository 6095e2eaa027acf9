"""Stop on request, promptly: SIGTERM or one Ctrl-C ends a crawl within CRAWL_STOP_TIMEOUT s.

Scrapy's own graceful stop waits for every request in flight, up to
DOWNLOAD_TIMEOUT and its retries for a dead host, and makes a second signal
stop the reactor and ignore any further one. :class:`PromptStop` keeps Scrapy's
stop and bounds it: the first signal lets the spider close by itself for half
of CRAWL_STOP_TIMEOUT (a live host's requests finish, a JOBDIR is written
whole); then the requests still in flight are dropped (they stay pending in the
catalog), what was fetched is committed (the :data:`COMMIT_NOW` signal, which
the catalog pipeline answers) and the process exits. A second signal, or a
reactor too busy to do the above by CRAWL_STOP_TIMEOUT, exits at once: the
catalog's transactions and the store's renames make that as safe as a kill.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.jobdir import DROPPED_STAT

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # the ones Scrapy stops gracefully on
COMMIT_NOW = object()  # signal: write every fetched item now (handlers return a Deferred)
FORCED_EXIT = 1  # exit code of a stop that could not end in order


class PromptStop:
    """A Scrapy extension bounding a requested stop by CRAWL_STOP_TIMEOUT seconds (0: off)."""

    def __init__(self, crawler: Crawler, timeout: float) -> None:
        self.crawler = crawler
        self.timeout = timeout
        self.requested: float | None = None  # monotonic time of the first signal
        self.handlers: dict[int, Any] = {}  # Scrapy's handlers, called on the first signal

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Read CRAWL_STOP_TIMEOUT; install the handlers as soon as the reactor runs.

        Scrapy installs its own just before it starts the reactor: a stop requested
        while the spider is still opening is bounded too.
        """
        from twisted.internet import reactor

        timeout = crawler.settings.getfloat("CRAWL_STOP_TIMEOUT", 10.0)
        if timeout <= 0:
            raise NotConfigured("CRAWL_STOP_TIMEOUT is 0")
        extension = cls(crawler, timeout)
        reactor.callWhenRunning(extension.take_over_signals)
        crawler.signals.connect(extension.take_over_signals, signal=signals.engine_started)
        return extension

    def take_over_signals(self) -> None:
        """Put our handler in front of Scrapy's (installed by then) for SIGINT and SIGTERM."""
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            if previous != self.on_signal:  # bound methods: equal, never identical
                self.handlers[signum] = previous
                signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """First signal: Scrapy's graceful stop, bounded; any later one: exit now."""
        if self.requested is not None:
            os.write(2, b"second signal: exiting now, without waiting\n")
            os._exit(FORCED_EXIT)
        self.requested = time.monotonic()
        threading.Thread(target=self._watchdog, name="stop-watchdog", daemon=True).start()
        scrapy_handler = self.handlers.get(signum)
        if callable(scrapy_handler):
            scrapy_handler(signum, frame)  # begins the graceful stop, installs its kill handler
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, self.on_signal)  # the next signal comes to us
        from twisted.internet import reactor

        reactor.callFromThread(reactor.callLater, self.timeout / 2, self._drop_in_flight)

    def _drop_in_flight(self) -> None:
        """The spider has not closed by itself: drop the requests in flight, commit, exit."""
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(self._commit_and_exit())

    async def _commit_and_exit(self) -> None:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        in_flight = len(slot.inprogress) if slot is not None else 0
        if self.crawler.stats is not None:
            self.crawler.stats.set_value(DROPPED_STAT, in_flight)
        logger.warning(
            "stop requested %(s).1f s ago: dropping %(n)d requests in flight (they stay "
            "pending in the catalog), committing what was fetched, exiting",
            {"s": time.monotonic() - (self.requested or 0), "n": in_flight},
        )
        try:
            for deferred in self.crawler.signals.send_catch_log(signal=COMMIT_NOW):
                result = deferred[1]
                if hasattr(result, "addCallback"):
                    await maybe_deferred_to_future(result)
        finally:
            logging.shutdown()
            os._exit(0)

    def _watchdog(self) -> None:
        """Exit at CRAWL_STOP_TIMEOUT whatever the reactor is doing."""
        time.sleep(self.timeout)
        os.write(2, f"stop did not end in order within {self.timeout:g} s "
                    "(CRAWL_STOP_TIMEOUT): exiting now\n".encode())
        os._exit(FORCED_EXIT)
