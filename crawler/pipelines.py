"""The item pipeline: batches the spiders' facts into catalog transactions, a run row per crawl."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import task, threads
from twisted.internet.defer import Deferred
from twisted.python.threadpool import ThreadPool

from catalog import Catalog, open_catalog
from catalog.harvest import DiscoveredUrl, FetchResult
from catalog.runs import finish_run, start_run
from catalog.synsets import Synset
from crawler.catalogwriter import Batch, CatalogWriterProcess
from crawler.items import DiscoveredBatch
from crawler.stopping import COMMIT_NOW

logger = logging.getLogger(__name__)

# Recorded with every crawl run, so an export's dataset card can say how it was gathered.
POLITENESS_SETTINGS = (
    "USER_AGENT", "ROBOTSTXT_OBEY", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY",
    "AUTOTHROTTLE_ENABLED", "AUTOTHROTTLE_TARGET_CONCURRENCY", "RETRY_TIMES",
    "DOWNLOAD_MAXSIZE", "OPTOUT_DIRECTIVES",
)

# Signal sent (with ``urls``) once the fetches of those URLs are committed to the catalog;
# the shared frontier (crawler.frontier) then releases its leases on them.
FETCHES_RECORDED = object()


class CatalogPipeline:
    """Collects Synset, DiscoveredUrl (or DiscoveredBatch) and FetchResult items in batches.

    A batch is written when ``CATALOG_FLUSH_ITEMS`` items are waiting, every
    ``CATALOG_FLUSH_SECONDS`` seconds, and when the spider closes; never one
    transaction per item. Batches are written one at a time by a writer process of
    their own (:mod:`crawler.catalogwriter`; bodies by ``CATALOG_STORE_THREADS`` threads
    there), which a thread of the crawl hands each batch to, so downloads go on meanwhile
    and the crawling thread never contends with the writing for the interpreter lock.
    Within a batch synsets go first, then discoveries, then fetches, so a fetch
    always lands on (or creates) its URL's row.
    """

    def __init__(
        self,
        data_dir: Path,
        flush_items: int = 100,
        flush_seconds: float = 2.0,
        store_threads: int = 1,
    ) -> None:
        if flush_items < 1 or flush_seconds <= 0 or store_threads < 1:
            raise NotConfigured(
                "CATALOG_FLUSH_ITEMS and CATALOG_STORE_THREADS must be >= 1, "
                "CATALOG_FLUSH_SECONDS > 0"
            )
        self.data_dir = Path(data_dir)
        self.flush_items = flush_items
        self.flush_seconds = flush_seconds
        self.store_threads = store_threads
        self.crawler: Crawler | None = None
        self.catalog: Catalog | None = None
        self.run_id: int | None = None
        self.synsets: list[Synset] = []
        self.discovered: list[DiscoveredUrl] = []
        self.fetched: list[FetchResult] = []
        self.counts: Counter[str] = Counter()
        self._timer: task.LoopingCall | None = None
        self._writing: Deferred | None = None
        self._writer = ThreadPool(minthreads=1, maxthreads=1, name="catalog-writer")
        self._process: CatalogWriterProcess | None = None  # started with the spider
        # item type -> the list it waits in; looked up along the item's MRO
        self._queues: dict[type, list[Any]] = {
            Synset: self.synsets,
            DiscoveredUrl: self.discovered,
            FetchResult: self.fetched,
        }

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from settings SYNTHSET_DATA and CATALOG_FLUSH_ITEMS/_SECONDS/STORE_THREADS."""
        settings = crawler.settings
        if not settings.get("SYNTHSET_DATA"):
            raise NotConfigured("set SYNTHSET_DATA to the data directory (catalog.db, images/)")
        pipeline = cls(
            Path(settings["SYNTHSET_DATA"]),
            flush_items=settings.getint("CATALOG_FLUSH_ITEMS", 100),
            flush_seconds=settings.getfloat("CATALOG_FLUSH_SECONDS", 2.0),
            store_threads=settings.getint("CATALOG_STORE_THREADS", 1),
        )
        pipeline.crawler = crawler
        crawler.signals.connect(pipeline.commit_now, signal=COMMIT_NOW)
        return pipeline

    @property
    def pending(self) -> int:
        """Items waiting for the next flush."""
        return len(self.synsets) + len(self.discovered) + len(self.fetched)

    def open_spider(self) -> None:
        """Open the catalog, record the run, and start the periodic flush."""
        self.catalog = open_catalog(self.data_dir)
        spider = self.crawler.spider if self.crawler else None
        name = getattr(spider, "name", "?")
        run_args: Callable[[], dict[str, Any]] | None = getattr(spider, "run_args", None)
        args = run_args() if run_args else {}
        if self.crawler is not None:
            settings = self.crawler.settings
            if settings.get("CRAWL_PARTITION"):
                args["process"] = settings["CRAWL_PARTITION"]  # "i/N" of the launcher
            # for the dataset card: how politely this crawl ran
            args["politeness"] = {key: settings.get(key) for key in POLITENESS_SETTINGS}
        self.run_id = start_run(self.catalog, f"crawl {name}", args)
        self._process = CatalogWriterProcess(self.data_dir, self.store_threads)
        self._writer.start()
        self._timer = task.LoopingCall(self.flush)
        self._timer.start(self.flush_seconds, now=False)

    def process_item(self, item: Any) -> Any:
        """Queue a fact for the next batch; other items pass through untouched."""
        if isinstance(item, DiscoveredBatch):
            self.discovered.extend(item.urls)
        else:
            for cls in type(item).__mro__:
                queue = self._queues.get(cls)
                if queue is not None:
                    queue.append(item)
                    break
        if self.pending >= self.flush_items:
            self.flush()
        return item

    def flush(self) -> Deferred | None:
        """Hand every waiting item to the writer thread; None if nothing was handed over.

        One batch is written at a time; items arriving meanwhile wait for the next.
        """
        if not self.pending or self.catalog is None or self._writing is not None:
            return None
        batch = Batch(list(self.synsets), list(self.discovered), list(self.fetched))
        self.synsets.clear()
        self.discovered.clear()
        self.fetched.clear()
        self._count_fetches(batch.fetched)
        from twisted.internet import reactor  # the one Scrapy installed

        self._writing = threads.deferToThreadPool(reactor, self._writer, self._write, batch)
        self._writing.addCallback(self._written, [r.url for r in batch.fetched])
        return self._writing

    def _write(self, batch: Batch) -> Counter[str]:
        """Write one batch (in the writer thread, through the writer process): bodies, each
        synced, then rows (see :func:`crawler.catalogwriter.write_batch`)."""
        assert self._process is not None
        started = time.monotonic()
        counts = self._process.write(batch)
        logger.debug("wrote %(n)d items in %(s).3f s",
                     {"n": batch.size, "s": time.monotonic() - started})
        return counts

    def _written(self, counts: Counter[str], fetched_urls: list[str]) -> None:
        self.counts.update(counts)
        if self.crawler is not None and counts["new_images"]:
            self.crawler.stats.inc_value("synthset/new_images", counts["new_images"])
        self._writing = None
        if fetched_urls and self.crawler is not None:
            self.crawler.signals.send_catch_log(signal=FETCHES_RECORDED, urls=fetched_urls)
        if self.pending >= self.flush_items:
            self.flush()

    def _count_fetches(self, fetched: list[FetchResult]) -> None:
        stats = self.crawler.stats if self.crawler else None
        for result in fetched:
            self.counts["fetched"] += 1
            key = f"error/{result.error}" if result.error else f"status/{result.http_status}"
            self.counts[key] += 1
            if result.body is not None:
                self.counts["stored"] += 1
            if stats is not None:
                stats.inc_value(f"synthset/{key}")

    async def commit_pending(self) -> None:
        """Write every waiting item; returns once the last batch is in the catalog."""
        while self._writing is not None or self.pending:
            writing = self._writing or self.flush()
            if writing is None:
                break  # no catalog open: nothing can be written
            await maybe_deferred_to_future(writing)

    def commit_now(self) -> Deferred:
        """The handler of :data:`~crawler.stopping.COMMIT_NOW`: a Deferred of the commit."""
        return deferred_from_coro(self.commit_pending())

    async def close_spider(self) -> None:
        """Write what is left, finish the run row with its counts, close the catalog."""
        if self._timer is not None and self._timer.running:
            self._timer.stop()
        await self.commit_pending()
        self._writer.stop()
        if self._process is not None:
            self._process.close()
            self._process = None
        if self.catalog is None:
            return
        stats = dict(sorted(self.counts.items()))
        run_notes: Callable[[], dict[str, Any]] | None = getattr(
            self.crawler.spider if self.crawler else None, "run_notes", None)
        if run_notes:
            stats.update(run_notes())  # what the spider learnt, such as a truncated search
        if self.run_id is not None:
            finish_run(self.catalog, self.run_id, stats)
        logger.info("harvest recorded: %(stats)s", {"stats": stats})
        self.catalog.close()
        self.catalog = None
