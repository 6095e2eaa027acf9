"""Scrapy's own floor: a spider that fetches a URL list and keeps nothing.

``scrapy runspider benchmarks/scrapy_floor.py -a urls_file=LIST -a partition=i/N -s ...``
requests every URL of ``LIST`` (one per line) whose host hashes to process ``i`` of ``N``
(synthset's own host partition), counts the 200s in the stat ``floor/ok`` and stores
nothing: synthset's engine settings, but no catalog, image store, robots.txt, middleware,
extension or pipeline of ours (run it from the repository, where scrapy.cfg names those settings).
What it costs per URL is what Scrapy itself costs, so its images/s bound any crawler built
on Scrapy on this machine (benchmarks/crawl.py prints it next to synthset and img2dataset).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response

from crawler import settings as synthset_settings
from crawler.partition import Partition


class FloorSpider(scrapy.Spider):
    """Fetch the listed URLs of one partition; count the answers, keep nothing."""

    name = "scrapy_floor"
    # Run from the repository, so synthset's engine settings apply (scrapy.cfg); everything
    # of ours that touches a request or an item is switched off.
    custom_settings = {
        "ROBOTSTXT_OBEY": False,
        "ITEM_PIPELINES": {},
        "DOWNLOADER_MIDDLEWARES": {
            name: None for name in synthset_settings.DOWNLOADER_MIDDLEWARES
            if name.startswith("crawler.")
        },
        # our extensions (the progress display) off; Scrapy's stay as synthset sets them
        "EXTENSIONS": {
            name: None if name.startswith("crawler.") else order
            for name, order in synthset_settings.EXTENSIONS.items()
        },
        "ADDONS": {},
        "LOG_FORMATTER": "scrapy.logformatter.LogFormatter",
        "LOG_LEVEL": "WARNING",
    }

    def __init__(self, urls_file: str, partition: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls_file = urls_file
        self.partition = Partition.parse(partition)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """One request per listed URL this partition owns."""
        with open(self.urls_file, encoding="utf-8") as listing:
            for line in listing:
                url = line.strip()
                if url and self.partition.owns(url):
                    yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response: Response) -> None:
        """Count an image (a 200) or a failure; nothing is kept."""
        outcome = "ok" if response.status == 200 else "other"
        self.crawler.stats.inc_value(f"floor/{outcome}")

    def closed(self, reason: str) -> None:
        """Print the count of 200s for the benchmark to read."""
        print(f"floor/ok {self.crawler.stats.get_value('floor/ok', 0)}", flush=True)
