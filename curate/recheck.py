"""``curate check --recheck``: fetch the failed URLs again, through the harvest's own crawl.

Nothing here speaks HTTP. The URLs are fetched by a real Scrapy crawl with the crawler's
settings and middlewares (:mod:`curate.recheck_crawl`): robots.txt, the per-host limits
and AutoThrottle, retries with backoff, the ``DOWNLOAD_MAXSIZE`` cap and the crawl's error
tokens, each outcome recorded by the catalog pipeline as a fresh fetch. It runs in a child
process: Twisted's reactor starts once per process, and ``curate check`` forks its decoding
workers afterwards. A URL the crawl refused (robots.txt, a scheme other than http(s), an
unusable URL) is never requested again.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from catalog.checks import FailedUrl, failed_urls
from catalog.db import Catalog
from crawler.urlsafety import MAX_URL_LENGTH, refusal
from synthset.errors import SynthsetError

NOT_RECHECKED = frozenset({"robots", "bad_scheme"})  # errors of URLs the crawl refused to request
LOG_TAIL = 2000  # characters of the crawl's log shown when it fails


class RecheckFailed(SynthsetError):
    """The recheck crawl could not run or stopped abnormally."""


@dataclass(frozen=True)
class RecheckOptions:
    """How the failed URLs are fetched again: the crawl's settings, a few overridden."""

    retries: int | None = None  # RETRY_TIMES (None: the crawl's, 2)
    timeout_s: float | None = None  # DOWNLOAD_TIMEOUT in seconds (None: the crawl's, 30)
    settings: Mapping[str, str] = field(default_factory=dict)  # more Scrapy settings, as -s

    def scrapy_settings(self) -> dict[str, str]:
        """The settings given to the recheck crawl on top of crawler.settings."""
        chosen = {"LOG_LEVEL": "WARNING"}
        if self.retries is not None:
            chosen["RETRY_TIMES"] = str(self.retries)
        if self.timeout_s is not None:
            chosen["DOWNLOAD_TIMEOUT"] = str(self.timeout_s)
        return {**chosen, **self.settings}


def recheckable(row: FailedUrl, max_url_length: int = MAX_URL_LENGTH) -> bool:
    """Whether the crawl would request ``row``'s URL at all (refused ones stay refused)."""
    return row.error not in NOT_RECHECKED and refusal(row.url, max_url_length) is None


def recheck_candidates(catalog: Catalog, max_url_length: int = MAX_URL_LENGTH) -> list[FailedUrl]:
    """The failed URLs a recheck fetches again, in URL order."""
    return [row for row in failed_urls(catalog) if recheckable(row, max_url_length)]


def recheck_failed(
    catalog: Catalog, options: RecheckOptions, progress: Callable[[int], None] | None = None
) -> list[str]:
    """Fetch every recheckable failed URL again in a crawl; return the URLs it was given.

    The crawl records each outcome in the catalog (a revived URL gets its body stored and
    no longer counts as failed). ``progress(1)`` is called once per URL done.

    :raises RecheckFailed: if the crawl process fails.
    """
    urls = [row.url for row in recheck_candidates(catalog)]
    if not urls:
        return []
    command = [sys.executable, "-m", "curate.recheck_crawl", str(catalog.data_dir)]
    for name, value in options.scrapy_settings().items():
        command += ["-s", f"{name}={value}"]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if line.strip() == "fetched" and progress:
                    progress(1)
        except BaseException:  # Ctrl+C: the crawl must not outlive us (its writes are atomic)
            process.kill()
            process.wait()
            raise
        status = process.wait()
        if status != 0:
            log.seek(0)
            tail = log.read()[-LOG_TAIL:].strip()
            raise RecheckFailed(f"the recheck crawl failed (exit {status}): {tail}")
    return urls
