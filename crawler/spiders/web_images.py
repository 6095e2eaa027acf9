"""``scrapy crawl web_images``: images found on web pages, following links within their sites.

Examples::

    scrapy crawl web_images -a start_urls=https://example.org/cakes/
    scrapy crawl web_images -a urls_file=pages.txt -a depth=2
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from catalog.harvest import DiscoveredUrl
from crawler.errors import SpiderArgumentError
from crawler.fetch import failure_token
from crawler.imagenet import is_wnid
from crawler.pageimages import image_urls, page_links
from crawler.spiders import ImageSpider, parse_count, parse_flag, split_list
from crawler.urlsafety import host_of, refusal

logger = logging.getLogger(__name__)

DEFAULT_DEPTH = 1  # link hops followed from a start page


def read_page_list(path: Path) -> list[str]:
    """The page URLs of a file: one per line; blank lines and ``#`` comments skipped."""
    with open(path, encoding="utf-8") as handle:
        lines = (line.strip() for line in handle)
        return [line for line in lines if line and not line.startswith("#")]


class WebImagesSpider(ImageSpider):
    """Fetches the images of the start pages and of pages up to ``depth`` link hops away.

    Only links to the start pages' own hosts are followed (images may live anywhere).
    Every image URL is recorded with the page it was first found on.
    """

    name = "web_images"

    def __init__(
        self,
        start_urls: str | None = None,
        urls_file: str | None = None,
        depth: str | None = None,
        refetch: str | None = None,
        wnid: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Validate the spider arguments.

        :raises SpiderArgumentError: for a malformed argument or no start page.
        """
        super().__init__(**kwargs)
        pages = split_list(start_urls)
        if urls_file:
            if not Path(urls_file).is_file():
                raise SpiderArgumentError(f"-a urls_file={urls_file!r}: no such file")
            pages.extend(read_page_list(Path(urls_file)))
        if not pages:
            raise SpiderArgumentError("give pages: -a start_urls=URL[,URL...] or -a urls_file=PATH")
        refused = [url for url in pages if refusal(url)]
        if refused:
            raise SpiderArgumentError(f"start page {refused[0]!r} is not an http(s) URL")
        self.page_urls = pages
        self.max_depth = DEFAULT_DEPTH if depth in (None, "") else self._depth(depth)
        self.refetch = parse_flag("refetch", refetch)
        if wnid and not is_wnid(wnid):
            raise SpiderArgumentError(f"-a wnid={wnid!r}: a wnid is n + 8 digits, e.g. n07631926")
        self.wnid = wnid or None
        self.hosts = {host_of(url) for url in pages}

    @staticmethod
    def _depth(value: str) -> int:
        if str(value).strip() == "0":
            return 0
        count = parse_count("depth", value)
        assert count is not None
        return count

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        return {"start_urls": self.page_urls, "depth": self.max_depth, "refetch": self.refetch,
                "wnid": self.wnid}

    async def start(self) -> AsyncIterator[Any]:
        """Request the start pages (link depth 0)."""
        for url in self.page_urls:
            yield self._page_request(url, 0)

    def _page_request(self, url: str, depth: int) -> scrapy.Request:
        return scrapy.Request(
            url, callback=self.parse_page, errback=self.page_failed, cb_kwargs={"depth": depth}
        )

    def parse_page(self, response: Response, depth: int) -> Iterator[Any]:
        """Fetch the page's images; follow its same-site links while ``depth`` allows."""
        stats = self.crawler.stats
        if response.status >= 400 or not isinstance(response, TextResponse):
            logger.warning("page %(url)s: status %(status)d, %(type)s", {
                "url": response.url, "status": response.status,
                "type": response.headers.get(b"Content-Type", b"?").decode("latin-1"),
            })
            stats.inc_value("synthset/pages_unusable")
            return
        stats.inc_value("synthset/pages")
        found = image_urls(response.text, response.url)
        yield from self.image_requests(
            DiscoveredUrl(url, "web", wnid=self.wnid, found_on=response.url) for url in found
        )
        if depth >= self.max_depth:
            return
        for link in page_links(response.text, response.url):
            if refusal(link) is None and host_of(link) in self.hosts:
                yield self._page_request(link, depth + 1)

    def page_failed(self, failure: Failure) -> None:
        """Log a page that could not be fetched (pages are not image facts)."""
        logger.warning("page %(url)s failed: %(token)s",
                       {"url": failure.request.url, "token": failure_token(failure)})
        self.crawler.stats.inc_value("synthset/pages_failed")
