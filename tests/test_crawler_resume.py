"""A crawl killed with SIGKILL mid-way and rerun ends with every URL fetched exactly once."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Mirror, crawl_then_sigkill, start_mirror, stop_mirror
from test_crawler_harvest import (
    ICE_CREAM_CAKE,
    TEST_SETTINGS,
    assert_catalog_matches,
    assert_store_is_clean,
    crawl,
    url_rows,
)

from catalog import open_catalog
from catalog.harvest import pending_urls

DEADLINE_S = 60


@pytest.fixture(scope="module")
def slow_mirror() -> Iterator[Mirror]:
    """A mirror whose images each take 250 ms, so a crawl is still running when killed."""
    running = start_mirror("--images", "40", "--latency-ms", "250")
    yield running
    stop_mirror(running)



def test_sigkill_mid_crawl_then_rerun(slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir, job_dir = tmp_path / "data", tmp_path / "job"
    args = ["-a", f"wnid={ICE_CREAM_CAKE}"]
    settings = {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir), "JOBDIR": str(job_dir),
                "IMAGENET_API_URL": slow_mirror.base_url, "CONCURRENT_REQUESTS_PER_DOMAIN": "4",
                "CATALOG_FLUSH_ITEMS": "4", "CATALOG_FLUSH_SECONDS": "0.2"}
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", *args]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    process = crawl_then_sigkill(command, data_dir, 10, DEADLINE_S)
    assert process.returncode == -signal.SIGKILL
    with open_catalog(data_dir, create=False) as catalog:
        assert pending_urls(catalog), "the crawl had finished; the test proves nothing"
    before = {url: row["fetched_at"] for url, row in url_rows(data_dir).items()
              if row["fetched_at"]}

    crawl("imagenet_synset", data_dir, f"wnid={ICE_CREAM_CAKE}", JOBDIR=str(job_dir),
          IMAGENET_API_URL=slow_mirror.base_url, CONCURRENT_REQUESTS_PER_DOMAIN="16")

    truth: dict[str, Any] = slow_mirror.truth()
    assert_catalog_matches(data_dir, [r for r in truth["urls"] if r["wnid"] == ICE_CREAM_CAKE])
    after = url_rows(data_dir)
    assert {url: after[url]["fetched_at"] for url in before} == before  # not fetched again
    assert_store_is_clean(data_dir, killed=True)
