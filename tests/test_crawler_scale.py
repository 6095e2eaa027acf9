"""One crawl on every core: processes split the hosts, each URL is fetched once, one catalog."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from farm import REPO, WNID, Farm, start_farm
from test_crawler_harvest import crawl, url_rows

from catalog import open_catalog
from crawler.partition import Partition, host_partition
from crawler.urlsafety import host_of, recorded_form

HOSTS = 8
IMAGES = 240
DEADLINE_S = 60


def table(catalog, name: str) -> sqlite_utils.db.Table:
    """A table of an open catalog, through sqlite-utils (a test-only convenience)."""
    return sqlite_utils.Database(catalog.conn)[name]


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    """Eight image hosts on 127.0.0.1-8, 50 ms per image, 30% dead."""
    running = start_farm(HOSTS, latency_ms=50, dead_fraction=0.3)
    yield running
    running.stop()


def test_every_host_has_one_owner_the_same_every_time() -> None:
    hosts = [f"127.0.0.{n}" for n in range(1, 33)] + ["images.example.org", ""]
    owners = [host_partition(host, 4) for host in hosts]
    assert owners == [host_partition(host, 4) for host in hosts]  # stable
    assert set(owners) == {0, 1, 2, 3}  # 32 hosts reach every process
    for host, owner in zip(hosts, owners, strict=True):
        url = f"http://{host}/a.jpg" if host else "data:image/png;base64,AAAA"
        assert [Partition(i, 4).owns(url) for i in range(4)].count(True) == 1
        assert Partition(owner, 4).owns(url)
    assert Partition.parse("") == Partition(0, 1) and str(Partition.parse("2/3")) == "2/3"
    with pytest.raises(ValueError):
        Partition.parse("3/3")


def test_a_crawl_runs_as_processes_that_split_the_hosts(farm: Farm, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    urls = farm.write_list(tmp_path / "urls.txt", IMAGES)
    log = crawl("imagenet_synset", data_dir, f"wnid={WNID}", f"urls_file={tmp_path / 'urls.txt'}",
                CRAWL_PROCESSES="3", CONCURRENT_REQUESTS_PER_DOMAIN="4", ROBOTSTXT_OBEY="1",
                DOWNLOAD_TIMEOUT="20")  # no URL hangs; a stall must not turn into a retry
    assert "crawling as 3 processes" in log

    rows = url_rows(data_dir)
    assert sorted(rows) == sorted(urls)  # every URL once, none lost or doubled
    assert all(row["fetched_at"] for row in rows.values())
    requested = farm.requests()
    assert {url: requested[url] for url in urls} == dict.fromkeys(urls, 1)  # fetched once
    stored = {url for url, row in rows.items() if row["sha256"]}
    assert stored == {url for url, row in rows.items() if row["http_status"] == 200}
    assert 0.5 * IMAGES < len(stored) < 0.9 * IMAGES  # ~30% dead
    with open_catalog(data_dir, create=False) as catalog:
        images = table(catalog, "images").count
        for sha256 in {rows[url]["sha256"] for url in stored}:
            path = catalog.conn.execute("SELECT path FROM images WHERE sha256 = ?",
                                        (sha256,)).fetchone()[0]
            assert catalog.store.absolute(path).is_file()
        runs = [json.loads(r["stats"]) | {"process": json.loads(r["args"])["process"]}
                for r in table(catalog, "runs").rows_where("command = 'crawl imagenet_synset'")]
    assert images == len(stored)  # every body unique, stored once
    # Each process fetched exactly the URLs of the hosts hashed to it.
    owned = Counter(host_partition(host_of(url), 3) for url in urls)
    assert {run["process"]: run["fetched"] for run in runs} == {
        f"{i}/3": owned[i] for i in range(3)
    }


def test_refused_urls_are_recorded_once_by_the_process_owning_them(farm: Farm,
                                                                  tmp_path: Path) -> None:
    """Every process reads the whole listing but judges only its own share: a refused URL
    (any scheme but http(s), no host, too long) is recorded once, by one process."""
    data_dir, listing = tmp_path / "data", tmp_path / "urls.txt"
    images = farm.write_list(listing, 12)
    too_long = f"http://127.0.0.{HOSTS}/" + "a" * 3000 + ".jpg"
    refused = {
        f"ftp://127.0.0.{n}/cake-{n}.jpg": "bad_scheme" for n in range(1, HOSTS + 1)
    } | {"javascript:alert(1)": "bad_scheme", "http:///no-host.jpg": "other", too_long: "other"}
    with listing.open("a") as out:
        out.writelines(f"{WNID}_{100 + n}\t{url}\n" for n, url in enumerate(refused))
    crawl("imagenet_synset", data_dir, f"wnid={WNID}", f"urls_file={listing}",
          CRAWL_PROCESSES="3")

    rows = url_rows(data_dir)
    recorded = {url if len(url) <= 2083 else recorded_form(url): token
                for url, token in refused.items()}
    assert sorted(rows) == sorted([*images, *recorded])  # each once, none lost or doubled
    assert {url: rows[url]["error"] for url in recorded} == recorded
    with open_catalog(data_dir, create=False) as catalog:
        fetched = [json.loads(r["stats"])["fetched"]
                   for r in table(catalog, "runs").rows_where("command = 'crawl imagenet_synset'")]
    assert len(fetched) == 3 and sum(fetched) == len(rows)  # each recorded by one process


def child_pids(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_killing_the_launcher_stops_every_crawl_process(farm: Farm, tmp_path: Path) -> None:
    farm.write_list(tmp_path / "urls.txt", IMAGES)
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a", f"wnid={WNID}",
               "-a", f"urls_file={tmp_path / 'urls.txt'}", "-s", f"SYNTHSET_DATA={tmp_path}/d",
               "-s", "CRAWL_PROCESSES=2", "-s", "DOWNLOAD_DELAY=1", "-s", "AUTOTHROTTLE_ENABLED=0"]
    launcher = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE_S
    while len(children := child_pids(launcher.pid)) < 2:
        assert launcher.poll() is None, "the launcher ended early"
        assert time.monotonic() < deadline, "the crawl processes did not start"
        time.sleep(0.05)  # polling /proc, not synchronising on time
    launcher.kill()
    launcher.wait(timeout=30)
    while any(map(running, children)):
        assert time.monotonic() < deadline, "crawl processes outlived their launcher"
        time.sleep(0.05)  # polling /proc
