"""The recheck crawl: the failed URLs of a catalog fetched again by the harvest's own machinery.

``python -m curate.recheck_crawl DATA_DIR [-s NAME=VALUE ...]`` runs one Scrapy crawl with
crawler.settings (robots.txt, politeness, retries, size cap, the catalog pipeline) and the
:class:`RecheckSpider`. It prints ``fetched`` on stdout once per URL done, for the progress
bar of ``curate check --recheck`` (curate.recheck), which starts it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterator
from typing import Any

from scrapy import signals
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.settings import Settings

from catalog.harvest import DiscoveredUrl, FetchResult
from crawler.spiders import ImageSpider
from curate.recheck import recheck_candidates

SETTINGS_MODULE = "crawler.settings"

logger = logging.getLogger(__name__)


class RecheckSpider(ImageSpider):
    """Requests every failed URL of the catalog the crawl would request at all, once.

    Not in the project's spider list: only ``curate check --recheck`` runs it.
    """

    name = "recheck"
    refetch = True  # these URLs were fetched before; fetching them again is the point

    @classmethod
    def parse_args(cls, **kwargs: Any) -> dict[str, Any]:
        """The recheck takes no arguments."""
        return {}

    def start_outputs(self) -> Iterator[Any]:
        """A request for each failed URL that was not refused (see curate.recheck)."""
        rows = recheck_candidates(self.catalog, self.max_url_length)
        logger.info("rechecking %(n)d failed URLs", {"n": len(rows)})
        yield from self.image_requests(
            DiscoveredUrl(row.url, row.source, row.wnid, row.image_id, row.found_on)
            for row in rows
        )


def crawl_settings(data_dir: str, overrides: list[str]) -> Settings:
    """crawler.settings, with SYNTHSET_DATA and ``NAME=VALUE`` overrides at command-line priority.

    :raises SystemExit: for an override without ``=``.
    """
    settings = Settings()
    settings.setmodule(SETTINGS_MODULE, priority="project")
    settings.set("SYNTHSET_DATA", data_dir, priority="cmdline")
    for pair in overrides:
        name, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"Error: -s {pair!r}: expected NAME=VALUE")
        settings.set(name, value, priority="cmdline")
    return settings


def report_fetch(item: Any, **_: Any) -> None:
    """Print one ``fetched`` line per recorded fetch (the parent's progress)."""
    if isinstance(item, FetchResult):
        print("fetched", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the recheck crawl; exit 0 when it finished, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m curate.recheck_crawl", description=__doc__)
    parser.add_argument("data_dir")
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    process = AsyncCrawlerProcess(crawl_settings(args.data_dir, args.settings))
    crawler = process.create_crawler(RecheckSpider)
    crawler.signals.connect(report_fetch, signal=signals.item_scraped)
    failed: list[BaseException] = []

    def started(task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            failed.append(task.exception())

    process.crawl(crawler).add_done_callback(started)
    process.start()
    if failed:
        print(f"Error: {failed[0]}", file=sys.stderr)
        return 1
    reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    return 0 if reason == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
