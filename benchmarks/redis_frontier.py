"""The shared frontier's load on Redis: commands per URL, against what one server answers.

A real redis-server (no persistence) on a free 127.0.0.1 port and a loopback farm of 32
hosts (benchmarks/imagefarm.py: 100 ms per image, 30% dead). One crawl process with
``REDIS_URL`` (the frontier of crawler/frontier: every request queued, leased and
released through Redis) fetches ``--urls`` URLs at img2dataset's aggressiveness
(benchmarks/crawl.py's AGGRESSIVE); the server's ``total_commands_processed`` before and
after gives the commands per URL and the rate the crawl asked for. The baseline, in the
same run on the same server: ``redis-benchmark`` (50 clients, no pipelining) on the
commands a queue is made of (LPUSH, RPOP, SADD, GET, SET), the slowest of them kept.
Printed: commands per URL, the crawl's commands per second, the server's, their ratio
(how many such crawl processes one server keeps up with), and the images/s that makes.

    python benchmarks/redis_frontier.py          # 4,000 URLs: under a minute on 2 cores
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages first

from crawl import AGGRESSIVE, WNID, start_farm  # noqa: E402

from catalog import open_catalog  # noqa: E402

HOSTS = 32
BASELINE_COMMANDS = "lpush,rpop,sadd,get,set"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_BENCHMARK = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    """redis-server on ``port``, no persistence, answering before this returns."""
    process = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.05)  # polling the server's readiness, with a deadline


def commands_processed(port: int) -> int:
    """The server's count of commands answered so far."""
    return int(redis.Redis(port=port).info("stats")["total_commands_processed"])


def crawl(urls: list[str], port: int, work: Path) -> tuple[float, int, int]:
    """One crawl process over ``urls`` through the frontier: (seconds, stored, commands)."""
    listing, data_dir = work / "fall11_urls.txt", work / "data"
    listing.write_text("".join(f"{WNID}_{n}\t{url}\n" for n, url in enumerate(urls)))
    settings = {**AGGRESSIVE, "CRAWL_PROCESSES": 1, "SYNTHSET_DATA": data_dir,
                "REDIS_URL": f"redis://127.0.0.1:{port}/0", "REDIS_CRAWL_ID": "bench"}
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a", f"wnid={WNID}",
               "-a", f"urls_file={listing}"]
    command += [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    before = commands_processed(port)
    with (work / "crawl.log").open("w") as log:
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, stdout=log, stderr=log, check=True)
        seconds = time.perf_counter() - started
    used = commands_processed(port) - before
    with open_catalog(data_dir, create=False) as catalog:
        (stored,) = catalog.conn.execute(
            "SELECT count(*) FROM urls WHERE sha256 IS NOT NULL").fetchone()
    return seconds, stored, used


def server_rate(port: int, requests: int) -> tuple[str, float]:
    """The slowest of BASELINE_COMMANDS under redis-benchmark: (command, answers per second)."""
    done = subprocess.run(
        [REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(port), "-q", "-c", "50", "-P", "1",
         "-n", str(requests), "-t", BASELINE_COMMANDS, "--csv"],
        capture_output=True, text=True, check=True)
    rates = {}
    for line in done.stdout.splitlines():
        cells = [cell.strip('"') for cell in line.split(",")]
        if len(cells) > 1 and cells[1].replace(".", "", 1).isdigit():
            rates[cells[0]] = float(cells[1])
    slowest = min(rates, key=rates.__getitem__)
    return slowest, rates[slowest]


def main() -> None:
    """Parse the options, crawl through the frontier, measure the server, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=4_000, help="image URLs crawled")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="redis-benchmark requests per command")
    options = parser.parse_args()
    print(f"{os.cpu_count()} cores, {os.getloadavg()[0]:.1f} load; {options.urls} URLs on "
          f"{HOSTS} hosts, one crawl process with REDIS_URL", flush=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(port, Path(tmp))
        farm = start_farm(HOSTS)
        try:
            seconds, stored, used = crawl(farm.urls(options.urls), port, Path(tmp))
            command, capacity = server_rate(port, options.requests)
        finally:
            farm.stop()
            server.terminate()
            server.wait(timeout=30)
    asked = used / seconds
    print(f"  crawl: {stored} stored in {seconds:.1f} s = {stored / seconds:.1f} images/s; "
          f"{used} Redis commands = {used / options.urls:.1f} per URL, {asked:.0f} per second")
    print(f"  redis-benchmark (50 clients, no pipelining), slowest of {BASELINE_COMMANDS}: "
          f"{command} {capacity:.0f} per second")
    print(f"  one server / one crawl process = {capacity / asked:.0f}x: it keeps up with "
          f"about {capacity / asked * stored / seconds:.0f} images/s of such crawls", flush=True)


if __name__ == "__main__":
    main()
