"""Shared fixtures: a fresh data directory, an opened catalog, and the offline mirror."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog import Catalog, open_catalog

REPO = Path(__file__).resolve().parent.parent


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
