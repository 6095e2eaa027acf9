"""Stop on request, promptly: SIGTERM or one Ctrl-C ends a crawl within CRAWL_STOP_TIMEOUT s.

Scrapy's own graceful stop waits for every request in flight, up to
DOWNLOAD_TIMEOUT and its retries for a dead host; its handlers are installed only
once the reactor runs (a stop during start-up could wait for ever) and make a
second signal stop the reactor and ignore any further one. Our ``crawl`` command
runs the crawl without them and installs :class:`PromptStop` before anything
starts instead: the first signal stops the crawls gracefully, as Scrapy would, for
half of CRAWL_STOP_TIMEOUT (a live host's requests finish, a JOBDIR is written
whole); then the requests still in flight are dropped (they stay pending in the
catalog), what was fetched is committed (the :data:`COMMIT_NOW` signal, which the
catalog pipeline answers) and the process exits. A second signal, or a reactor
too busy to do the above by CRAWL_STOP_TIMEOUT, exits at once: the catalog's
transactions and the store's renames make that as safe as a kill.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import threading
import time
from types import FrameType

from scrapy.crawler import Crawler, CrawlerProcessBase
from scrapy.utils.defer import deferred_from_coro

from crawler.jobdir import DROPPED_STAT

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
COMMIT_NOW = object()  # signal: write every fetched item now (handlers return a Deferred)
FORCED_EXIT = 1  # exit code of a stop that could not end in order


class PromptStop:
    """The SIGINT/SIGTERM handler of a crawl process: a stop bounded by ``timeout`` seconds."""

    def __init__(self, process: CrawlerProcessBase, timeout: float) -> None:
        self.process = process
        self.timeout = timeout
        self.requested: float | None = None  # monotonic time of the first signal

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (call before the crawl starts)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """First signal: stop gracefully, bounded; any later one: exit now."""
        if self.requested is not None:
            os.write(2, b"second signal: exiting now, without waiting\n")
            os._exit(FORCED_EXIT)
        self.requested = time.monotonic()
        threading.Thread(target=self._watchdog, name="stop-watchdog", daemon=True).start()
        from twisted.internet import reactor

        reactor.callFromThread(self._stop, signal.Signals(signum).name)

    def _stop(self, name: str) -> None:
        """In the reactor: Scrapy's graceful stop now, the drop at half the timeout."""
        from twisted.internet import reactor

        logger.info("received %(name)s: stopping within %(t)g s (CRAWL_STOP_TIMEOUT); "
                    "send it again to exit at once", {"name": name, "t": self.timeout})
        stopping = self.process.stop()
        if inspect.isawaitable(stopping):
            deferred_from_coro(stopping)
        reactor.callLater(self.timeout / 2, self._drop_in_flight)

    def _drop_in_flight(self) -> None:
        """The crawl has not ended by itself: drop the requests in flight, commit, exit."""
        deferred_from_coro(self._commit_and_exit())

    async def _commit_and_exit(self) -> None:
        dropped = {crawler: in_flight(crawler) for crawler in self.process.crawlers}
        logger.warning(
            "stop requested %(s).1f s ago: dropping %(n)d requests in flight (they stay "
            "pending in the catalog), committing what was fetched, exiting",
            {"s": time.monotonic() - (self.requested or 0), "n": sum(dropped.values())},
        )
        try:
            for crawler, count in dropped.items():
                if crawler.stats is not None:
                    crawler.stats.set_value(DROPPED_STAT, count)
                # the async sender awaits each handler's Deferred (the plain one logs an ERROR)
                await crawler.signals.send_catch_log_async(signal=COMMIT_NOW)
        finally:
            logging.shutdown()
            os._exit(0)

    def _watchdog(self) -> None:
        """Exit at CRAWL_STOP_TIMEOUT whatever the reactor is doing."""
        time.sleep(self.timeout)
        os.write(2, f"stop did not end in order within {self.timeout:g} s "
                    "(CRAWL_STOP_TIMEOUT): exiting now\n".encode())
        os._exit(FORCED_EXIT)


def in_flight(crawler: Crawler) -> int:
    """Requests ``crawler``'s engine has sent and not yet seen the end of."""
    slot = getattr(crawler.engine, "_slot", None) if crawler.engine is not None else None
    return len(slot.inprogress) if slot is not None else 0
