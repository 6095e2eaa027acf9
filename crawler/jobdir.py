"""A JOBDIR is resumed only if its last run closed it cleanly; any other is set aside.

Scrapy writes a JOBDIR's disk queues as it goes and their sizes only when the
spider closes, so a run killed (or stopped with requests in flight dropped)
leaves queues that lie: a 0-byte queue file crashes the next run
(``struct.error``), a queue shorter than its header hangs it. So
:class:`JobDirMarker` writes ``synthset-running`` into JOBDIR when the spider
opens and removes it once the spider has closed with its queues and state
written whole; before a crawl starts, :func:`set_aside_if_unusable` moves a
JOBDIR that still has the marker, or whose queues or state do not read back,
to ``JOBDIR.set-aside-<time>`` with one warning line. The crawl then starts
afresh: the spider lists again and the catalog skips every URL already
fetched, so the URLs it holds as pending are requested again (docs/resume.md).
"""

from __future__ import annotations

import json
import pickle
import struct
import sys
import time
from pathlib import Path
from typing import Self

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from crawler.crawllock import LOCK_FILE

MARKER = "synthset-running"  # present while a run has the JOBDIR open
DROPPED_STAT = "synthset/stop_dropped_in_flight"  # set by a prompt stop (crawler.stopping)
LIFO_SIZE = struct.Struct(">L")  # queuelib's LifoDiskQueue: a count header, records + length


def lifo_queue_problem(path: Path) -> str | None:
    """Why the LifoDiskQueue file ``path`` does not read back whole (None: it does)."""
    data = path.read_bytes()
    if len(data) < LIFO_SIZE.size:
        return f"{path.name} is truncated ({len(data)} bytes)"
    (claimed,) = LIFO_SIZE.unpack_from(data, 0)
    end, found = len(data), 0
    while end > LIFO_SIZE.size:
        (size,) = LIFO_SIZE.unpack_from(data, end - LIFO_SIZE.size)
        end -= LIFO_SIZE.size + size
        found += 1
    if end != LIFO_SIZE.size or found != claimed:
        return f"{path.name} holds {found} whole records, its header says {claimed}"
    return None


def unusable_reason(jobdir: Path) -> str | None:
    """Why ``jobdir`` cannot be resumed from (None: it can, or there is nothing to resume)."""
    if (jobdir / MARKER).exists():
        return "its last run did not close it cleanly (killed, or stopped with requests in flight)"
    try:
        state = jobdir / "spider.state"
        if state.exists():
            pickle.loads(state.read_bytes())  # what Scrapy's SpiderState does on open
        queues = jobdir / "requests.queue"
        if (queues / "active.json").exists():
            json.loads((queues / "active.json").read_text(encoding="utf-8"))
        for path in sorted(queues.rglob("*")) if queues.is_dir() else []:
            if path.is_dir() or path.name == "active.json":
                continue
            if (path.parent / "info.json").exists():  # a FifoDiskQueue's folder
                if path.name == "info.json":
                    json.loads(path.read_text(encoding="utf-8"))
                continue
            if problem := lifo_queue_problem(path):
                return f"requests.queue/{path.relative_to(queues)}: {problem}"
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError,
            ImportError, IndexError, TypeError) as error:
        return f"it does not read back ({type(error).__name__}: {str(error)[:120]})"
    return None


def set_aside_if_unusable(settings: BaseSettings) -> Path | None:
    """Move an unusable JOBDIR's contents to ``JOBDIR.set-aside-<time>``; where, or None.

    The lock file stays (this crawl holds it). Prints one warning line saying so.
    """
    if not settings.get("JOBDIR"):
        return None
    jobdir = Path(settings["JOBDIR"])
    if not jobdir.is_dir():
        return None
    reason = unusable_reason(jobdir)
    if reason is None:
        return None
    aside = jobdir.with_name(f"{jobdir.name}.set-aside-{time.strftime('%Y%m%dT%H%M%S')}")
    suffix = 0
    while aside.exists():
        suffix += 1
        aside = aside.with_name(f"{aside.name.split('~')[0]}~{suffix}")
    aside.mkdir()
    for entry in jobdir.iterdir():
        if entry.name != LOCK_FILE:
            entry.rename(aside / entry.name)
    print(f"Warning: -s JOBDIR={jobdir} set aside as {aside}: {reason}; "
          "starting afresh, the catalog's pending URLs are requested again", file=sys.stderr)
    return aside


class JobDirMarker:
    """A Scrapy extension: marks JOBDIR in use while the spider runs (see the module doc).

    Scrapy's own JOBDIR extension saves ``spider.state`` on ``spider_closed`` and
    is connected before this one, so the marker goes only after it has written.
    """

    def __init__(self, crawler: Crawler, jobdir: Path) -> None:
        self.crawler = crawler
        self.marker = jobdir / MARKER

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Enabled with JOBDIR only."""
        if not crawler.settings.get("JOBDIR"):
            raise NotConfigured  # no message: Scrapy would log it as a WARNING on every crawl
        extension = cls(crawler, Path(crawler.settings["JOBDIR"]))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        """Mark the JOBDIR in use."""
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.write_text("a crawl has this JOBDIR open\n", encoding="utf-8")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        """Unmark it if the queues were written whole and no request in flight was dropped."""
        stats = self.crawler.stats
        if stats is not None and stats.get_value(DROPPED_STAT):
            return
        self.marker.unlink(missing_ok=True)
