"""What a crawl shows while it runs and when it ends (issue 21): real crawls of the image farm."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from farm import REPO, WNID, Farm, start_farm

HOSTS = 4
IMAGES = 40
FAST = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "RETRY_TIMES": "0",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8"}


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    """Four image hosts on 127.0.0.1-4, no latency, 25% of the images dead."""
    running = start_farm(HOSTS, latency_ms=0, dead_fraction=0.25)
    yield running
    running.stop()


def crawl_command(farm: Farm, tmp_path: Path, **settings: str) -> list[str]:
    """``scrapy crawl imagenet_synset`` of IMAGES farm URLs into ``tmp_path/data``."""
    urls_file = tmp_path / "urls.txt"
    farm.write_list(urls_file, IMAGES)
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a", f"wnid={WNID}",
               "-a", f"urls_file={urls_file}"]
    for name, value in {**FAST, "SYNTHSET_DATA": str(tmp_path / "data"), **settings}.items():
        command += ["-s", f"{name}={value}"]
    return command


def test_the_settings_dump_holds_no_deprecated_setting(farm: Farm, tmp_path: Path) -> None:
    done = subprocess.run(crawl_command(farm, tmp_path, CRAWL_PROCESSES="1"), cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    dump = done.stderr[done.stderr.index("Overridden settings:"):]
    dump = dump[:dump.index("}") + 1]
    assert "'DOWNLOAD_DELAY_JITTER': 0.0" in dump  # a fixed delay, as before
    assert "RANDOMIZE_DOWNLOAD_DELAY" not in dump
    assert "deprecat" not in done.stderr.lower(), done.stderr[-4000:]
