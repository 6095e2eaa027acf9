"""Shared fixtures: a fresh data directory, an opened catalog, and the offline mirror."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from catalog import CATALOG_FILE, Catalog, open_catalog
from catalog.harvest import count_urls, pending_urls

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def serving(handler: Any) -> Iterator[str]:
    """A ThreadingHTTPServer for ``handler`` on 127.0.0.1, port 0, in a thread: its base URL
    (``http://127.0.0.1:PORT``, no slash); shut down, closed and joined on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory (the catalog is created on first open)."""
    return tmp_path / "data"


@pytest.fixture
def catalog(data_dir: Path) -> Iterator[Catalog]:
    """A new, empty, migrated catalog in ``data_dir``."""
    opened = open_catalog(data_dir)
    yield opened
    opened.close()


@dataclass
class Mirror:
    """A running offline mirror: ``python -m crawler.mirror`` on 127.0.0.1, port 0."""

    base_url: str
    process: subprocess.Popen

    def url(self, path: str) -> str:
        """An absolute URL on the mirror for ``path`` (with or without a leading slash)."""
        return self.base_url + path.lstrip("/")

    def truth(self) -> dict[str, Any]:
        """The ground truth the mirror planted (its /truth.json)."""
        import urllib.request

        with urllib.request.urlopen(self.url("truth.json"), timeout=30) as response:
            return json.load(response)


def start_mirror(*args: str) -> Mirror:
    """Start a mirror subprocess with extra CLI ``args``; its first stdout line is its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.mirror", "--port", "0", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    if not base_url.startswith("http://127.0.0.1:"):
        process.kill()
        raise RuntimeError(f"mirror did not start: first line {base_url!r}")
    return Mirror(base_url=base_url.rstrip("/") + "/", process=process)


def stop_mirror(mirror: Mirror) -> None:
    """Stop a mirror subprocess started by :func:`start_mirror`."""
    mirror.process.kill()
    mirror.process.wait(timeout=30)
    if mirror.process.stdout:
        mirror.process.stdout.close()


@pytest.fixture(scope="session")
def mirror() -> Iterator[Mirror]:
    """One small offline mirror shared by the whole test session."""
    running = start_mirror("--images", "24")
    yield running
    stop_mirror(running)


def fetched_so_far(data_dir: Path) -> int:
    """URLs with a finished fetch in the catalog (0 before the first body was stored).

    The gate is the store folder, made after the crawler opened (and migrated) the
    catalog: two processes migrating one new catalog at once can collide.
    """
    if not (data_dir / CATALOG_FILE).exists() or not (data_dir / "images").is_dir():
        return 0
    with open_catalog(data_dir, create=False) as catalog:
        return count_urls(catalog) - len(pending_urls(catalog))


def crawl_then_sigkill(command: list[str], data_dir: Path, fetched: int,
                       deadline_s: float = 60.0) -> subprocess.Popen:
    """Run the crawl ``command`` into ``data_dir``; SIGKILL it once ``fetched`` URLs are in.

    Polls the catalog (not the clock) and returns the killed process.
    """
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + deadline_s
        while fetched_so_far(data_dir) < fetched:
            assert process.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, "no fetches recorded in time"
            time.sleep(0.05)  # polling the catalog, not synchronising on time
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    return process
