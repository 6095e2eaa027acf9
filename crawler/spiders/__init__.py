"""The spiders, and the image-fetching base they share: skip, refuse, fetch, record."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from catalog import Catalog, open_catalog
from catalog.harvest import DiscoveredUrl, fetched_among
from crawler.errors import SpiderArgumentError
from crawler.fetch import failure_token, fetched_from_response
from crawler.items import FetchedImage
from crawler.urlsafety import refusal

logger = logging.getLogger(__name__)

SKIP_CHECK_BATCH = 500  # URLs per catalog lookup of what was fetched before
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def parse_flag(name: str, value: str | bool | None) -> bool:
    """A yes/no spider argument (``-a hyponyms=1``).

    :raises SpiderArgumentError: for anything but 1/0, true/false, yes/no, on/off.
    """
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SpiderArgumentError(f"-a {name}={value!r}: expected 1 or 0")


def parse_count(name: str, value: str | int | None) -> int | None:
    """A positive whole-number spider argument (``-a limit=50``), None when not given.

    :raises SpiderArgumentError: for anything but a whole number >= 1.
    """
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise SpiderArgumentError(f"-a {name}={value!r}: expected a whole number >= 1")
    return number


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to ``size`` consecutive items of ``items``, consumed lazily."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def split_list(value: str | None) -> list[str]:
    """The non-empty, stripped items of a comma-separated spider argument."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class ImageSpider(scrapy.Spider):
    """Base of the harvesting spiders: turns discovered image URLs into fetches and facts.

    Each URL is requested at most once per run. A URL the catalog already has a
    fetch for is skipped unless ``refetch`` is set; a URL that is not http(s) is
    recorded as an error and never requested. Every request's outcome, response
    or failure, becomes one :class:`FetchedImage` item.
    """

    refetch: bool = False
    catalog: Catalog

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider and open the catalog of SYNTHSET_DATA (for the skip check)."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.catalog = open_catalog(crawler.settings["SYNTHSET_DATA"])
        spider._requested: set[str] = set()
        return spider

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        return {"refetch": self.refetch}

    def image_requests(self, found: Iterable[DiscoveredUrl]) -> Iterator[Any]:
        """Items and requests for ``found``: a DiscoveredUrl each, then a fetch or a refusal.

        Consumes ``found`` lazily, a batch at a time, so a long stream stays small.
        """
        stats = self.crawler.stats
        for chunk in batched(found, SKIP_CHECK_BATCH):
            fresh = [d for d in chunk if d.url not in self._requested]
            self._requested.update(d.url for d in fresh)
            done = set() if self.refetch else fetched_among(self.catalog, [d.url for d in fresh])
            for discovered in fresh:
                if discovered.url in done:
                    stats.inc_value("synthset/skipped_fetched_before")
                    continue
                yield discovered
                token = refusal(discovered.url)
                if token is None:
                    try:
                        yield scrapy.Request(
                            discovered.url,
                            callback=self.parse_image,
                            errback=self.image_failed,
                            cb_kwargs={"found": discovered},
                            dont_filter=True,  # the catalog, not the dupefilter, says what is done
                        )
                        continue
                    except ValueError:
                        token = "other"
                logger.info("not fetching %(url)s: %(token)s", {"url": discovered.url[:200],
                                                               "token": token})
                yield FetchedImage.failed(discovered, token)

    def parse_image(self, response: Response, found: DiscoveredUrl) -> Iterator[FetchedImage]:
        """Record the response to an image request, whatever its status."""
        yield fetched_from_response(found, response)

    def image_failed(self, failure: Failure) -> Iterator[FetchedImage]:
        """Record an image request that got no response, with its error token."""
        found: DiscoveredUrl = failure.request.cb_kwargs["found"]
        token = failure_token(failure)
        logger.info(
            "fetch failed %(url)s: %(token)s (%(why)s)",
            {"url": found.url, "token": token, "why": failure.getErrorMessage()[:200]},
        )
        yield FetchedImage.failed(found, token)

    def closed(self, reason: str) -> None:
        """Close the spider's catalog connection."""
        self.catalog.close()
