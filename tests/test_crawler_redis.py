"""Past one machine: three workers share a scrapy-redis frontier on a real redis-server.

One worker is killed with SIGKILL mid-crawl and restarted; `curate merge` then holds
every URL exactly once, each with its fetch.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from farm import REPO, WNID, Farm, start_farm
from scrapy.settings import Settings
from test_crawler_harvest import TEST_SETTINGS, url_rows

from catalog import CATALOG_FILE, open_catalog
from catalog.harvest import count_urls, pending_urls
from crawler.frontier import frontier_key
from curate.cli import cli as curate_cli

pytestmark = pytest.mark.redis

DEADLINE_S = 120
IMAGES = 300
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free 127.0.0.1 port, no persistence; stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)  # polling the server, not synchronising on time
    yield url
    client.close()
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    """Six image hosts, 300 ms per image (slow enough to kill a worker mid-crawl), 30% dead."""
    running = start_farm(6, latency_ms=300, dead_fraction=0.3)
    yield running
    running.stop()


def start_worker(
    data_dir: Path, urls_file: Path, redis_url: str, lease_seconds: int
) -> subprocess.Popen:
    """One crawl worker: its own data directory, the shared frontier."""
    settings = {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir), "REDIS_URL": redis_url,
                "CRAWL_PROCESSES": "1", "CONCURRENT_REQUESTS_PER_DOMAIN": "1",
                # A worker leases every request it queues for download. At the default cap
                # (128) the first worker held 229 of the 300 URLs; a later one found none.
                "CONCURRENT_REQUESTS": "12",
                "DOWNLOAD_TIMEOUT": "20", "RETRY_TIMES": "0",  # each fetch asked for once
                "CATALOG_FLUSH_ITEMS": "4", "CATALOG_FLUSH_SECONDS": "0.2",
                "REDIS_LEASE_SECONDS": str(lease_seconds)}
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset",
               "-a", f"wnid={WNID}", "-a", f"urls_file={urls_file}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def fetched_so_far(data_dir: Path) -> int:
    """URLs with a finished fetch in a worker's catalog (0 before its first stored body)."""
    if not (data_dir / CATALOG_FILE).exists() or not (data_dir / "images").is_dir():
        return 0
    with open_catalog(data_dir, create=False) as catalog:
        return count_urls(catalog) - len(pending_urls(catalog))


def finish(worker: subprocess.Popen) -> str:
    """Wait for a worker; it must end cleanly. Its log."""
    _, log = worker.communicate(timeout=DEADLINE_S)
    assert worker.returncode == 0, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    return log


def taken_keys(redis_url: str) -> dict[str, int]:
    """Each worker's lease hash in Redis and how many requests it holds."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    pattern = frontier_key(Settings(), "taken:*") % {"spider": "imagenet_synset"}
    return {key: client.hlen(key) for key in client.scan_iter(match=pattern)}


def held_by(redis_url: str, data_dir: Path) -> int:
    """How many requests the worker crawling into ``data_dir`` holds leased."""
    return sum(n for key, n in taken_keys(redis_url).items() if str(data_dir) in key)


@pytest.mark.parametrize(("restart", "lease_seconds"), [(True, 60), (False, 6)],
                         ids=["restarted", "left-dead"])
def test_three_workers_one_killed_merge_to_every_url_once(
    farm: Farm, redis_url: str, tmp_path: Path, restart: bool, lease_seconds: int
) -> None:
    """Killed mid-crawl, a worker's leases go back in the queue: when it restarts (its
    lease still valid), or when the others find its lease expired (it stays dead)."""
    urls_file = tmp_path / "urls.txt"
    urls = farm.write_list(urls_file, IMAGES)
    before = farm.requests()
    dirs = [tmp_path / f"worker-{n}" for n in range(3)]
    # The worker to be killed starts first, alone: with the other two already crawling, a
    # slow start on a busy machine once let them drain the frontier before it got going.
    workers = [None, None, start_worker(dirs[2], urls_file, redis_url, lease_seconds)]
    logs = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        # Kill it mid-crawl: once it has recorded fetches and while it holds leases (between
        # two batches of leases it can hold none, and killing it then proves nothing).
        while fetched_so_far(dirs[2]) < 10 or not held_by(redis_url, dirs[2]):
            assert workers[2].poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline, "no fetches recorded in time"
            time.sleep(0.05)  # polling the catalog and Redis, not synchronising on time
        workers[:2] = [start_worker(d, urls_file, redis_url, lease_seconds) for d in dirs[:2]]
        os.kill(workers[2].pid, signal.SIGKILL)
        workers[2].communicate(timeout=30)
        assert workers[2].returncode == -signal.SIGKILL
        held = held_by(redis_url, dirs[2])
        assert held, "the killed worker held no requests"
        if restart:
            workers[2] = start_worker(dirs[2], urls_file, redis_url, lease_seconds)
        logs = [finish(worker) for worker in workers if worker.returncode is None]
    finally:
        for worker in workers:
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.communicate(timeout=30)
    assert any("put back" in log for log in logs)
    assert not any(taken_keys(redis_url).values())  # every lease ended

    merged = tmp_path / "merged"
    result = CliRunner().invoke(curate_cli, ["merge", "--data", str(merged), *map(str, dirs)])
    assert result.exit_code == 0, result.output
    rows = url_rows(merged)
    assert sorted(rows) == sorted(urls)  # every URL exactly once
    assert all(row["fetched_at"] for row in rows.values()), "a URL was never fetched"
    alive = {url for url, row in rows.items() if row["http_status"] == 200}
    assert alive == {url for url, row in rows.items() if row["sha256"]}
    assert {row["http_status"] for url, row in rows.items() if url not in alive} == {404}
    with open_catalog(merged, create=False) as catalog:
        for url in alive:
            path = catalog.conn.execute("SELECT path FROM images WHERE sha256 = ?",
                                        (rows[url]["sha256"],)).fetchone()[0]
            assert catalog.store.absolute(path).is_file()
    assert all(n > 0 for n in map(fetched_so_far, dirs[:2])), "a worker fetched nothing"
    # Only what the killed worker held was asked for twice.
    requested = farm.requests() - before
    assert set(requested) == set(urls)
    assert sum(requested.values()) <= len(urls) + held


def test_queued_requests_travel_as_json_and_come_back_whole() -> None:
    from scrapy import Request

    from catalog.harvest import DiscoveredUrl
    from crawler.frontier import serializer

    found = DiscoveredUrl("http://h/a.jpg", "imagenet", "n07631926", "n07631926_1")
    request = Request(found.url, headers={"X-Odd": b"\xff\x00"}, cb_kwargs={"found": found},
                      meta={"retry_times": 1, "pairs": {b"k": "v"}}, priority=3)
    text = serializer.dumps(request.to_dict())
    assert text.startswith("{")  # JSON text, never a pickle
    decoded = serializer.loads(text)
    assert decoded["cb_kwargs"]["found"] == found
    assert decoded["headers"][b"X-Odd"] == [b"\xff\x00"]
    assert decoded["meta"] == {"retry_times": 1, "pairs": {b"k": "v"}}
    assert decoded["priority"] == 3


def test_a_redis_url_nobody_answers_is_one_error_line(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a", f"wnid={WNID}",
         "-s", f"REDIS_URL={url}", "-s", f"SYNTHSET_DATA={tmp_path / 'data'}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr[-4000:]
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"Error: -s REDIS_URL={url}: no Redis")
