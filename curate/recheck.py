"""Re-probing failed URLs over http(s) with bounded retries, backoff and timeouts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from synthset import __version__

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})  # worth asking again


@dataclass(frozen=True)
class RecheckOptions:
    """How hard to try a failed URL again."""

    retries: int = 2  # extra attempts after the first, for network errors and RETRY_STATUSES
    backoff_s: float = 0.5  # wait backoff_s * 2**n seconds before retry n+1
    timeout_s: float = 10.0  # connect and read timeout per attempt, seconds
    max_bytes: int = 20 * 1024 * 1024  # a longer body counts as a failure (too_large)
    threads: int = 8  # URLs probed at once


@dataclass(frozen=True)
class Probe:
    """What probing one URL gave: a body when it answered 2xx, else the failure."""

    url: str
    attempts: int
    http_status: int | None = None
    error: str | None = None  # network error token (timeout, refused, too_large, other, bad_scheme)
    content_type: str | None = None
    final_url: str | None = None
    body: bytes | None = None

    @property
    def alive(self) -> bool:
        """Whether the URL answered 2xx with a body this time."""
        return self.body is not None

    def describe(self) -> str:
        """A short human-readable outcome."""
        what = f"HTTP {self.http_status}" if self.error is None else self.error
        tries = "try" if self.attempts == 1 else "tries"
        return f"{what} after {self.attempts} {tries}"


def _error_token(error: requests.RequestException) -> str:
    """The crawl error token for a requests failure."""
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.ConnectionError):
        return "refused" if "refused" in str(error).lower() else "connection_lost"
    return "other"


def _fetch_once(session: requests.Session, url: str, options: RecheckOptions) -> Probe:
    """One GET of ``url``, reading at most ``max_bytes`` of body."""
    try:
        with session.get(
            url, timeout=options.timeout_s, stream=True, allow_redirects=True
        ) as response:
            if response.status_code >= 300:
                return Probe(url, 1, http_status=response.status_code, final_url=response.url)
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > options.max_bytes:
                    return Probe(url, 1, http_status=response.status_code, error="too_large")
                chunks.append(chunk)
            return Probe(
                url,
                1,
                http_status=response.status_code,
                content_type=response.headers.get("Content-Type"),
                final_url=response.url,
                body=b"".join(chunks),
            )
    except requests.RequestException as error:
        return Probe(url, 1, error=_error_token(error))


def probe_url(session: requests.Session, url: str, options: RecheckOptions) -> Probe:
    """GET ``url`` up to ``1 + retries`` times, backing off, until it answers or fails for good."""
    if urlsplit(url).scheme not in ("http", "https"):
        return Probe(url, 0, error="bad_scheme")
    attempt = 0
    while True:
        probe = _fetch_once(session, url, options)
        attempt += 1
        retryable = probe.error in ("timeout", "refused", "connection_lost") or (
            probe.error is None and probe.http_status in RETRY_STATUSES
        )
        if probe.alive or not retryable or attempt > options.retries:
            return Probe(**{**probe.__dict__, "attempts": attempt})
        delay = options.backoff_s * 2 ** (attempt - 1)
        log.info(
            "retrying %(url)s in %(delay).1fs: %(outcome)s",
            {"url": url, "delay": delay, "outcome": probe.describe()},
        )
        time.sleep(delay)


def recheck_urls(
    urls: Iterable[str], options: RecheckOptions, progress: Callable[[int], None] | None = None
) -> Iterator[Probe]:
    """Probe every URL (``threads`` at a time), yielding results in input order."""
    session = requests.Session()
    session.headers["User-Agent"] = f"synthset/{__version__} (curate check --recheck)"
    with session, ThreadPoolExecutor(max_workers=max(1, options.threads)) as pool:
        for probe in pool.map(lambda url: probe_url(session, url, options), urls):
            if progress:
                progress(1)
            yield probe
