"""Scrapy's log formatter, minus the two DEBUG records per URL when the log shows no DEBUG."""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.logformatter import LogFormatter, LogFormatterResult


class QuietLogFormatter(LogFormatter):
    """Builds no "Crawled (200)" and "Scraped from" records unless LOG_LEVEL shows DEBUG.

    Scrapy's root logger passes every record to its handler, which drops what is below
    LOG_LEVEL; a record per response and one per item are built, then dropped, on every
    URL of a crawl run at INFO. Returning None tells Scrapy not to log at all.
    """

    def __init__(self, debug: bool = True) -> None:
        super().__init__()
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build from LOG_LEVEL (a name or a number)."""
        level = crawler.settings.get("LOG_LEVEL", "DEBUG")
        if isinstance(level, str):
            level = logging.getLevelNamesMapping().get(level.upper(), logging.DEBUG)
        return cls(debug=int(level) <= logging.DEBUG)

    def crawled(self, *args: Any, **kwargs: Any) -> LogFormatterResult | None:
        """Scrapy's DEBUG record of a response, if DEBUG is shown."""
        return super().crawled(*args, **kwargs) if self.debug else None

    def scraped(self, *args: Any, **kwargs: Any) -> LogFormatterResult | None:
        """Scrapy's DEBUG record of an item, if DEBUG is shown."""
        return super().scraped(*args, **kwargs) if self.debug else None
