"""Crawl throughput: synthset's Scrapy harvest against a sequential ``requests`` loop.

Both fetch the same n07631926 URL list from one offline mirror started with
``--latency-ms 100 --dead-fraction 0.3 --images 2000`` and store every 2xx body
(sha256, write). Prints images stored per second for each and the ratio (target >= 30x).

    python benchmarks/crawl.py [--sample 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages first

from catalog import open_catalog  # noqa: E402
from crawler.imagenet import mapping_url, parse_mapping  # noqa: E402
from crawler.urlsafety import refusal  # noqa: E402

WNID = "n07631926"
MIRROR_ARGS = ["--latency-ms", "100", "--dead-fraction", "0.3", "--images", "2000"]
TIMEOUT_S = 2.0  # per request, both sides (the mirror's timeout route holds 60 s)
# synthset's crawl, tuned for one fast local host (the defaults are polite, for the web):
CRAWL_SETTINGS = {
    "CONCURRENT_REQUESTS": 256,  # requests in flight
    "CONCURRENT_REQUESTS_PER_DOMAIN": 256,  # all toward 127.0.0.1
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": TIMEOUT_S,
    "RETRY_TIMES": 0,  # the baseline does not retry either
    "ROBOTSTXT_OBEY": True,
    "CATALOG_FLUSH_ITEMS": 100,
    "LOG_LEVEL": "WARNING",
}


def start_mirror() -> tuple[subprocess.Popen, str]:
    """Start the benchmark mirror on a free port; return the process and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.mirror", "--port", "0", *MIRROR_ARGS],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http://127.0.0.1:"):
        process.kill()
        raise RuntimeError(f"mirror did not start: {base_url!r}")
    return process, base_url.rstrip("/") + "/"


def warm(urls: list[str]) -> None:
    """Fetch every URL once, 64 at a time, so the mirror has drawn each body before timing."""
    def get(url: str) -> None:
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=TIMEOUT_S)

    with ThreadPoolExecutor(64) as pool:
        list(pool.map(get, [u for u in urls if refusal(u) is None]))


def crawl_with_synthset(api_url: str, data_dir: Path) -> tuple[float, int]:
    """Run the imagenet_synset spider in this process; return (seconds, images stored)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict({**CRAWL_SETTINGS, "SYNTHSET_DATA": str(data_dir),
                      "IMAGENET_API_URL": api_url}, priority="cmdline")
    process = CrawlerProcess(settings)
    process.crawl("imagenet_synset", wnid=WNID)
    started = time.perf_counter()
    process.start()
    elapsed = time.perf_counter() - started
    with open_catalog(data_dir, create=False) as catalog:
        stored = catalog.db["urls"].count_where("sha256 IS NOT NULL")
    return elapsed, stored


def fetch_sequentially(urls: list[str], out_dir: Path) -> tuple[float, int]:
    """The baseline: one ``requests.get`` after another, sha256 and write each 2xx body."""
    session = requests.Session()
    stored = 0
    started = time.perf_counter()
    for url in urls:
        if refusal(url) is not None:
            continue
        try:
            response = session.get(url, timeout=TIMEOUT_S)
        except requests.RequestException:
            continue
        if 200 <= response.status_code < 300:
            digest = hashlib.sha256(response.content).hexdigest()
            (out_dir / digest).write_bytes(response.content)
            stored += 1
    return time.perf_counter() - started, stored


def main() -> None:
    """Start the mirror, time both harvesters, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300,
                        help="URLs timed for the sequential baseline (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the baseline's sample")
    options = parser.parse_args()
    mirror, base_url = start_mirror()
    try:
        listing = requests.get(mapping_url(base_url, WNID), timeout=30).text
        urls = [item.url for item in parse_mapping(listing, WNID)]
        print(f"mirror {base_url} {' '.join(MIRROR_ARGS)}: {len(urls)} URLs for {WNID}")
        warm(urls)
        print("mirror warmed (every body drawn once before timing)")
        print("synthset settings:", ", ".join(f"{k}={v}" for k, v in CRAWL_SETTINGS.items()))
        with tempfile.TemporaryDirectory() as tmp:
            crawl_s, crawl_stored = crawl_with_synthset(base_url, Path(tmp) / "data")
        sample = urls if options.sample <= 0 else random.Random(options.seed).sample(
            urls, min(options.sample, len(urls)))
        with tempfile.TemporaryDirectory() as tmp:
            seq_s, seq_stored = fetch_sequentially(sample, Path(tmp))
    finally:
        mirror.kill()
        mirror.wait(timeout=30)
    crawl_rate, seq_rate = crawl_stored / crawl_s, seq_stored / seq_s
    print(f"synthset crawl:         {len(urls):5d} URLs, {crawl_stored:5d} stored in "
          f"{crawl_s:7.2f} s = {crawl_rate:8.1f} images/s")
    print(f"sequential requests:    {len(sample):5d} URLs (seeded sample, seed {options.seed}), "
          f"{seq_stored:5d} stored in {seq_s:7.2f} s = {seq_rate:8.1f} images/s")
    print(f"ratio: {crawl_rate / seq_rate:.1f}x (target >= 30x)")


if __name__ == "__main__":
    main()
