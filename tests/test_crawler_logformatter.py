"""The log formatter builds Scrapy's per-response and per-item DEBUG records only when shown."""

from __future__ import annotations

import pytest
import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Request, Response

from crawler.logformatter import QuietLogFormatter


@pytest.mark.parametrize(("level", "shown"), [("DEBUG", True), ("debug", True), ("INFO", False),
                                              ("WARNING", False), ("10", True)])
def test_debug_records_are_built_only_when_the_log_shows_debug(level: str, shown: bool) -> None:
    formatter = QuietLogFormatter.from_crawler(Crawler(scrapy.Spider, {"LOG_LEVEL": level}))
    request = Request("http://127.0.0.1/a.jpg")
    response = Response(request.url, request=request)
    spider = scrapy.Spider("t")
    assert (formatter.crawled(request, response, spider) is not None) is shown
    assert (formatter.scraped({"url": request.url}, response, spider) is not None) is shown
    # what is never per URL stays as Scrapy has it
    assert formatter.item_error({"url": request.url}, ValueError("x"), response, spider)
