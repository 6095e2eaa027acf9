"""The spiders, and the image-fetching base they share: skip, refuse, fetch, record."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from itertools import islice
from typing import Any, ClassVar, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from catalog import Catalog, open_catalog
from catalog.errors import CatalogUnreadable, CatalogUnwritable
from catalog.harvest import DiscoveredUrl, fetched_among
from crawler.errors import DataDirUnusable, SpiderArgumentError
from crawler.fetch import failure_token, fetched_from_response
from crawler.items import DiscoveredBatch, FetchedImage
from crawler.partition import Partition
from crawler.urlsafety import (
    MAX_RECORDED_LENGTH,
    MAX_URL_LENGTH,
    recorded_form,
    refusal,
)
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

SKIP_CHECK_BATCH = 500  # URLs per catalog lookup of what was fetched before
OTHER_PROCESS_STAT = "synthset/left_to_other_process"  # URLs whose host another process owns
QUEUED_STAT = "synthset/queued"  # URLs to fetch (or refuse) this run, as listed so far
ERROR_STAT = "synthset/error"  # stats key: the expected failure that ended the crawl
ERROR_CLOSE_REASON = "synthset_error"  # close reason of a crawl stopped by such a failure


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` consecutive items of ``items``, consumed lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ImageSpider(scrapy.Spider):
    """Base of the harvesting spiders: turns discovered image URLs into fetches and facts.

    Each URL is requested at most once per run. A URL the catalog already has a
    fetch for is skipped unless ``refetch`` is set; a URL that is not http(s) is
    recorded as an error and never requested. Every request's outcome, response
    or failure, becomes one :class:`FetchedImage` item; the URLs themselves travel
    as one :class:`DiscoveredBatch` item per batch.

    Arguments are checked by :meth:`parse_args` (which ``scrapy crawl`` also calls
    before starting anything). An expected failure found once the crawl runs is
    recorded under the stats key ``synthset/error``, for ``scrapy crawl`` to report.

    A spider whose every process lists the same URLs cheaply (``partitioned``)
    runs as CRAWL_PROCESSES processes, each fetching the hosts of its
    CRAWL_PARTITION (see :mod:`crawler.launcher`). With a shared Redis frontier
    (REDIS_URL, :mod:`crawler.frontier`) the frontier's duplicate filter, not the
    partition, makes each URL fetched once across all workers.
    """

    partitioned: ClassVar[bool] = False  # True: listing is cheap and the same in every process
    refetch: bool = False
    max_url_length: int = MAX_URL_LENGTH  # URLLENGTH_LIMIT: longer URLs are refused, recorded
    catalog: Catalog
    urls_listed: int = 0  # image URLs discovered this run (fetched before or not)

    @classmethod
    def parse_args(cls, **kwargs: Any) -> Any:
        """The spider's ``-a`` arguments as its frozen dataclass of checked values.

        :raises SpiderArgumentError: for a missing, malformed or unknown argument.
        """
        raise NotImplementedError

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider and open the catalog of SYNTHSET_DATA (for the skip check).

        :raises DataDirUnusable: if no catalog can be opened or created in SYNTHSET_DATA.
        """
        spider = super().from_crawler(crawler, *args, **kwargs)
        data_dir = crawler.settings["SYNTHSET_DATA"]
        try:
            spider.catalog = open_catalog(data_dir)
        except (OSError, sqlite3.Error, CatalogUnreadable, CatalogUnwritable) as error:
            raise DataDirUnusable(
                f"-s SYNTHSET_DATA={data_dir}: no catalog can be opened there ({error}); "
                "point it at a writable directory"
            ) from None
        spider._requested: set[str] = set()
        spider.max_url_length = crawler.settings.getint("URLLENGTH_LIMIT", MAX_URL_LENGTH)
        spider.shared_frontier = bool(crawler.settings.get("REDIS_URL"))
        try:
            partition = Partition.parse(crawler.settings.get("CRAWL_PARTITION") or "")
        except ValueError as error:
            raise SpiderArgumentError(f"-s CRAWL_PARTITION: {error}") from None
        spider.partition = Partition() if spider.shared_frontier else partition
        return spider

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        return {"refetch": self.refetch}

    def run_notes(self) -> dict[str, Any]:
        """What the crawl learnt that the runs row keeps beside its counts (none here)."""
        return {}

    async def start(self) -> AsyncIterator[Any]:
        """The first items and requests; an expected failure here stops the crawl."""
        try:
            for output in self.start_outputs():
                yield output
        except SynthsetError as error:
            raise self.abort(error) from None

    def start_outputs(self) -> Iterator[Any]:
        """The items and requests to begin with (each spider says which)."""
        return iter(())

    def record_error(self, error: SynthsetError) -> None:
        """Note ``error`` as the crawl's failure (the first one noted wins) and log it."""
        stats = self.crawler.stats
        if stats.get_value(ERROR_STAT) is None:
            stats.set_value(ERROR_STAT, str(error))
        logger.error("%(error)s", {"error": error})

    def abort(self, error: SynthsetError) -> CloseSpider:
        """Record ``error``; the exception to raise to close the spider because of it."""
        self.record_error(error)
        return CloseSpider(ERROR_CLOSE_REASON)

    def final_error(self) -> SynthsetError | None:
        """An expected failure only visible once the crawl has finished (None: all went well)."""
        return None

    def image_requests(self, found: Iterable[DiscoveredUrl]) -> Iterator[Any]:
        """Items and requests for ``found``: the new URLs as one DiscoveredBatch item per
        batch, then a fetch or a refusal for each.

        Consumes ``found`` lazily, a batch at a time, so a long stream stays small.
        """
        stats = self.crawler.stats
        for chunk in batched(found, SKIP_CHECK_BATCH):
            self.urls_listed += len(chunk)
            owned = [judged for d in chunk if (judged := self._owned_judged(d))]
            if len(owned) < len(chunk):
                stats.inc_value(OTHER_PROCESS_STAT, len(chunk) - len(owned))
            fresh = [(d, token) for d, token in owned if d.url not in self._requested]
            self._requested.update(d.url for d, _ in fresh)
            done = set() if self.refetch else fetched_among(self.catalog,
                                                            [d.url for d, _ in fresh])
            if done:
                stats.inc_value("synthset/skipped_fetched_before", len(done))
            todo = [(d, token) for d, token in fresh if d.url not in done]
            if todo:
                stats.inc_value(QUEUED_STAT, len(todo))  # the progress display's "listed"
                yield DiscoveredBatch(tuple(d for d, _ in todo))  # one item, not one per URL
            for discovered, token in todo:
                if token is None:
                    try:
                        yield scrapy.Request(
                            discovered.url,
                            callback=self.parse_image,
                            errback=self.image_failed,
                            cb_kwargs={"found": discovered},
                            # the catalog says what is done; a shared frontier's filter
                            # says what another worker has taken
                            dont_filter=not self.shared_frontier,
                        )
                        continue
                    except ValueError:
                        token = "other"
                logger.info("not fetching %(url)s: %(token)s", {"url": discovered.url[:200],
                                                               "token": token})
                yield FetchedImage.failed(discovered, token)

    def _owned_judged(self, found: DiscoveredUrl) -> tuple[DiscoveredUrl, str | None] | None:
        """``found`` judged (see :meth:`_judged`) if this process owns the URL it is recorded
        as, else None. A URL short enough is recorded as itself, so it is judged only when
        owned: each process of a crawl reads the whole listing but judges its own share."""
        if len(found.url) <= MAX_RECORDED_LENGTH:
            return self._judged(found) if self.partition.owns(found.url) else None
        judged = self._judged(found)
        return judged if self.partition.owns(judged[0].url) else None

    def _judged(self, found: DiscoveredUrl) -> tuple[DiscoveredUrl, str | None]:
        """``found`` as the catalog records it, with its refusal token (None: fetch it).

        A refused URL too long to be a primary key (a data: URI) is recorded in its
        shortened form (see :func:`recorded_form`), the same on every rerun.
        """
        token = refusal(found.url, self.max_url_length)
        if token is not None and (short := recorded_form(found.url)) != found.url:
            return replace(found, url=short), token
        return found, token

    def parse_image(self, response: Response, found: DiscoveredUrl) -> Iterator[FetchedImage]:
        """Record the response to an image request, whatever its status."""
        yield fetched_from_response(found, response)

    def image_failed(self, failure: Failure) -> Iterator[FetchedImage]:
        """Record an image request that got no response, with its error token."""
        found: DiscoveredUrl = failure.request.cb_kwargs["found"]
        token = failure_token(failure)
        logger.info(
            "fetch failed %(url)s: %(token)s (%(why)s)",
            {"url": found.url[:200], "token": token, "why": failure.getErrorMessage()[:200]},
        )
        yield FetchedImage.failed(found, token)

    def closed(self, reason: str) -> None:
        """Record a failure :meth:`final_error` finds in a finished crawl; close the catalog."""
        try:
            error = self.final_error() if reason == "finished" else None
            if error is not None:
                self.record_error(error)
        finally:
            self.catalog.close()
