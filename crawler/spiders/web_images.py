"""``scrapy crawl web_images``: images found on web pages, following links within their sites.

Examples::

    scrapy crawl web_images -a start_urls=https://example.org/cakes/
    scrapy crawl web_images -a urls_file=pages.txt -a depth=2
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from catalog.harvest import DiscoveredUrl
from crawler.errors import SpiderArgumentError, StartPagesUnreadable
from crawler.fetch import failure_token
from crawler.pageimages import image_urls, page_links
from crawler.spiderargs import (
    parse_count,
    parse_flag,
    parse_wnids,
    passed_through,
    readable_file,
    reject_unknown,
    split_list,
)
from crawler.spiders import ImageSpider
from crawler.urlsafety import host_of, refusal
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

DEFAULT_DEPTH = 1  # link hops followed from a start page


def read_page_list(path: Path) -> list[str]:
    """The page URLs of a file: one per line; blank lines and ``#`` comments skipped.

    :raises SpiderArgumentError: if the file cannot be read as UTF-8 text.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.strip() for line in handle]
    except (OSError, UnicodeDecodeError) as error:
        raise SpiderArgumentError(
            f"-a urls_file={str(path)!r}: cannot be read as UTF-8 text ({error})"
        ) from None
    return [line for line in lines if line and not line.startswith("#")]


@dataclass(frozen=True)
class WebImagesArgs:
    """The checked arguments of ``scrapy crawl web_images``."""

    page_urls: tuple[str, ...]
    depth: int = DEFAULT_DEPTH
    refetch: bool = False
    wnid: str | None = None


class WebImagesSpider(ImageSpider):
    """Fetches the images of the start pages and of pages up to ``depth`` link hops away.

    Only links to the start pages' own hosts are followed (images may live anywhere).
    Every image URL is recorded with the page it was first found on.
    """

    name = "web_images"

    @classmethod
    def parse_args(
        cls,
        *,
        start_urls: str | None = None,
        urls_file: str | None = None,
        depth: str | None = None,
        refetch: str | None = None,
        wnid: str | None = None,
        **extra: Any,
    ) -> WebImagesArgs:
        """Check ``-a start_urls=... -a urls_file=...`` and the rest.

        :raises SpiderArgumentError: for a malformed or unknown argument, or no start page.
        """
        reject_unknown(cls.name, cls.parse_args, extra)
        pages = split_list(start_urls)
        if urls_file:
            listed = read_page_list(readable_file("urls_file", urls_file))
            if not listed:
                raise SpiderArgumentError(
                    f"-a urls_file={urls_file!r}: lists no pages (one URL per line)"
                )
            pages.extend(listed)
        if not pages:
            raise SpiderArgumentError("give pages: -a start_urls=URL[,URL...] or -a urls_file=PATH")
        refused = [url for url in pages if refusal(url)]
        if refused:
            raise SpiderArgumentError(
                f"start page {refused[0]!r} is not an http(s) URL; give e.g. https://example.org/"
            )
        if wnid:
            parse_wnids(wnid)
        return WebImagesArgs(
            page_urls=tuple(dict.fromkeys(pages)),
            depth=DEFAULT_DEPTH if depth in (None, "") else parse_count("depth", depth, 0),
            refetch=parse_flag("refetch", refetch),
            wnid=wnid or None,
        )

    def __init__(self, **kwargs: Any) -> None:
        """Check the spider arguments (see :meth:`parse_args`).

        :raises SpiderArgumentError: for a malformed argument or no start page.
        """
        args = self.parse_args(**kwargs)
        super().__init__(**passed_through(kwargs))
        self.args = args
        self.page_urls = list(args.page_urls)
        self.max_depth = args.depth
        self.refetch = args.refetch
        self.wnid = args.wnid
        self.hosts = {host_of(url) for url in self.page_urls}
        self._start_pages_read = 0
        self._start_page_problem: str | None = None  # the first start page that failed

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        return {"start_urls": self.page_urls, "depth": self.max_depth, "refetch": self.refetch,
                "wnid": self.wnid}

    def start_outputs(self) -> Iterator[Any]:
        """Request the start pages (link depth 0)."""
        for url in self.page_urls:
            yield self._page_request(url, 0)

    def final_error(self) -> SynthsetError | None:
        """Not one start page could be read: a mistyped or dead address, most likely."""
        if self._start_pages_read or self._start_page_problem is None:
            return None
        count = len(self.page_urls)
        return StartPagesUnreadable(
            f"no start page could be read ({count} tried; {self._start_page_problem}); "
            "check -a start_urls / -a urls_file"
        )

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
            if depth == 0 and self._start_page_problem is None:
                self._start_page_problem = f"{response.url} answered HTTP {response.status}" + (
                    "" if isinstance(response, TextResponse) else ", not HTML"
                )
            return
        stats.inc_value("synthset/pages")
        if depth == 0:
            self._start_pages_read += 1
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
        url, token = failure.request.url, failure_token(failure)
        logger.warning("page %(url)s failed: %(token)s", {"url": url, "token": token})
        self.crawler.stats.inc_value("synthset/pages_failed")
        if failure.request.cb_kwargs.get("depth") == 0 and self._start_page_problem is None:
            self._start_page_problem = f"{url} could not be fetched ({token})"
