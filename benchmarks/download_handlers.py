"""Scrapy's download handlers compared: CPU per URL, for Scrapy alone and for synthset.

Scrapy 2.19 fetches http(s) with its Twisted HTTP/1.1 handler by default (synthset's default
too) and ships two newer ones, both marked experimental (each logs a warning at start-up):
``AiohttpDownloadHandler`` and ``HttpxDownloadHandler``. This runs, on one loopback farm of 32
hosts (benchmarks/imagefarm.py: 100 ms per image, 30% dead) at img2dataset's aggressiveness
(benchmarks/crawl.py's AGGRESSIVE settings) in one process, each handler under Scrapy alone
(benchmarks/scrapy_floor.py) and under ``scrapy crawl imagenet_synset``, and prints:

- CPU milliseconds per URL (start-up and shut-down taken out, as benchmarks/crawl_cpu.py
  does), the least of ``--repeat`` runs, and its ratio to the Twisted handler's;
- whether synthset recorded the same outcomes (statuses, errors, images stored) with it.

Scrapy's mode without a Twisted reactor (``TWISTED_REACTOR_ENABLED=False``, always aiohttp)
is not among them: synthset's pipeline and middlewares run on the reactor.

    python benchmarks/download_handlers.py            # 4,000 URLs x 2: about 3 minutes
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages first

from crawl import AGGRESSIVE, start_farm  # noqa: E402
from crawl_cpu import (  # noqa: E402
    HOSTS,
    floor_command,
    run_folder,
    run_options,
    runs,
    synthset_command,
)

from crawler import settings as defaults  # noqa: E402

HANDLERS = {  # name -> the http(s) handler's class path (None: Scrapy's default, Twisted)
    "twisted": None,
    "aiohttp": "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler",
    "httpx": "scrapy.core.downloader.handlers._httpx.HttpxDownloadHandler",
}


def handler_settings(handler: str | None) -> dict[str, object]:
    """The settings that make ``handler`` fetch http(s), keeping synthset's other handlers."""
    if handler is None:
        return {}
    return {"DOWNLOAD_HANDLERS": json.dumps({**defaults.DOWNLOAD_HANDLERS,
                                             "http": handler, "https": handler})}


def outcomes(data_dir: Path) -> dict[str, int]:
    """What a synthset crawl recorded: URLs per status or error token, and images stored."""
    with sqlite3.connect(data_dir / "catalog.db") as conn:
        rows = conn.execute("SELECT coalesce(error, http_status), count(*), count(sha256) "
                            "FROM urls GROUP BY 1").fetchall()
    found = {str(outcome): count for outcome, count, _ in rows}
    found["stored"] = sum(stored for _, _, stored in rows)
    return found


def crawls(listing: Path, floor_list: Path, data_dir: Path) -> dict[str, list[str]]:
    """Scrapy alone and synthset under each handler, one process, scenario 1's settings."""
    found = {}
    for name, handler in HANDLERS.items():
        engine = {**AGGRESSIVE, "CRAWL_PROCESSES": 1, **handler_settings(handler)}
        found[f"Scrapy alone/{name}"] = floor_command(floor_list, engine)
        found[f"synthset/{name}"] = synthset_command(listing, Path(f"{data_dir}-{name}"), engine)
    return found


def main() -> None:
    """Run every handler under both crawlers, in turn; print CPU per URL and outcomes."""
    options = run_options(__doc__.splitlines()[0], repeat=2)
    count = options.urls
    farm = start_farm(HOSTS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            found = {run.name: run.per_url_ms(count)
                     for run in runs(farm.urls(count), farm, Path(tmp), options.repeat, crawls)}
            last = run_folder(Path(tmp), options.repeat - 1, count)
            seen = {name: outcomes(Path(f"{last / 'data'}-{name}")) for name in HANDLERS}
    finally:
        farm.stop()
    for crawler in ("Scrapy alone", "synthset"):
        base = found[f"{crawler}/twisted"]
        for name in HANDLERS:
            per_url = found[f"{crawler}/{name}"]
            line = (f"  {crawler:12s} {name:8s} {per_url:5.2f} ms CPU per URL "
                    f"({per_url / base:4.2f}x Twisted's, Scrapy's default)")
            if crawler == "synthset":
                same = seen[name] == seen["twisted"]
                line += ("; same outcomes" if same else
                         f"; outcomes DIFFER: {seen[name]} vs {seen['twisted']}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
