"""Downloader middlewares: refuse non-http(s) URLs, retry with backoff, quiet robots.txt errors,
honour Retry-After per host, and drop responses that opt out of AI use."""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer, task

from crawler.optout import DEFAULT_DIRECTIVES, OptedOut, opts_out
from crawler.urlsafety import MAX_URL_LENGTH, RefusedScheme, refusal

logger = logging.getLogger(__name__)

RETRY_DELAY_META = "synthset_retry_delay"  # seconds to wait before this retry goes out


class SchemeGuardMiddleware:
    """Refuses every request whose URL is not http(s) with a host, redirects included.

    Placed first, so neither robots.txt nor a download handler ever sees such a URL.
    """

    def __init__(self, max_url_length: int = MAX_URL_LENGTH) -> None:
        self.max_url_length = max_url_length

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build with the URLLENGTH_LIMIT setting (characters; longer URLs are refused)."""
        return cls(crawler.settings.getint("URLLENGTH_LIMIT", MAX_URL_LENGTH))

    def process_request(self, request: Request) -> None:
        """Raise :class:`RefusedScheme` (an IgnoreRequest) for a URL that must not be fetched."""
        try:  # the split the downloader and robots.txt reuse for this request: done once
            parts = urlparse_cached(request)
        except ValueError:
            parts = None  # refusal() splits it again and says "other"
        token = refusal(request.url, self.max_url_length, parts)
        if token is not None:
            raise RefusedScheme(f"refusing {token} URL {request.url[:200]!r}", token=token)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, with retry N waiting ``RETRY_BACKOFF_BASE * 2**(N-1)`` seconds.

    Settings: ``RETRY_BACKOFF_BASE`` (seconds, 0 disables the wait) and
    ``RETRY_BACKOFF_MAX`` (seconds, the cap). The wait holds only the retried request.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    def backoff_delay(self, retry_times: int) -> float:
        """Seconds to wait before retry number ``retry_times`` (1 for the first retry)."""
        return min(self.backoff_max, self.backoff_base * 2 ** max(0, retry_times - 1))

    def _retry(self, request: Request, reason: str | Exception | type[Exception]) -> Request | None:
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            return None  # a host whose robots.txt fails is tried once; its images get retries
        retry = super()._retry(request, reason)
        if retry is not None and self.backoff_base > 0:
            retry.meta[RETRY_DELAY_META] = self.backoff_delay(retry.meta.get("retry_times", 1))
        return retry

    async def process_request(self, request: Request) -> None:
        """Hold a retried request for its backoff delay, then let it through."""
        delay = request.meta.pop(RETRY_DELAY_META, 0.0)
        if delay > 0:
            from twisted.internet import reactor  # the one Scrapy installed

            logger.debug("waiting %.2f s before retrying %s", delay, request.url)
            await maybe_deferred_to_future(task.deferLater(reactor, delay, lambda: None))


class _DowngradeRobotsErrors(logging.Filter):
    """Turns "Error downloading" records (with traceback) into one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith("Error downloading"):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "robots.txt unavailable, allowing all: " + str(record.msg)
            record.exc_info, record.exc_text = None, None
        return True


class QuietRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, but a host with no reachable robots.txt is no ERROR,
    and every request that waited for a host's robots.txt is checked against it.

    Most ImageNet hosts are dead: their robots.txt fails like their images do, and
    the image's own failure is what gets recorded. Everything else is unchanged.
    """

    _filter = _DowngradeRobotsErrors()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        robots_logger = logging.getLogger(RobotsTxtMiddleware.__module__)
        if self._filter not in robots_logger.filters:
            robots_logger.addFilter(self._filter)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The parsed robots.txt of ``request``'s host (None: none could be read, allow all).

        Scrapy (2.13 to 2.19) lets the requests that wait for a robots.txt await one shared
        Deferred; the first waiter's callback returns None, so every later waiter got None
        and went out unchecked. The parser Scrapy stored for the host is the answer.
        """
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, defer.Deferred):
                return stored
        return parser


def _sleep(seconds: float) -> defer.Deferred:
    from twisted.internet import reactor  # the one Scrapy installed

    return task.deferLater(reactor, seconds, lambda: None)


def retry_after_seconds(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for (delta-seconds or HTTP date); None: unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryAfterMiddleware:
    """After a 429, a 503 or a MediaWiki ``maxlag`` error, the next request to that host waits.

    The wait is the response's ``Retry-After`` (capped by ``RETRY_AFTER_MAX`` seconds;
    ``maxlag`` without one waits ``MAXLAG_WAIT``) and holds every request of the same
    download slot (the host, or ``meta["download_slot"]``). A ``maxlag`` error (HTTP 200
    with ``MediaWiki-API-Error: maxlag``) is retried here, at most ``RETRY_TIMES`` times;
    429 and 503 are retried by the retry middleware as usual.

    Requests of a slot named in ``DOWNLOAD_SLOTS`` with a ``concurrency`` are let through
    here at most that many at a time, so that none waits in the downloader's own slot
    queue, where a pause could no longer hold it. Sits next to the downloader.
    """

    PAUSE_STATUSES = frozenset({429, 503})
    MAXLAG_HEADER = b"MediaWiki-API-Error"

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", 120.0)
        self.maxlag_wait = settings.getfloat("MAXLAG_WAIT", 5.0)
        self.max_retries = settings.getint("RETRY_TIMES", 2)
        self.limits = {
            key: int(conf["concurrency"])
            for key, conf in settings.getdict("DOWNLOAD_SLOTS").items()
            if conf.get("concurrency")
        }
        self.resume_at: dict[str, float] = {}  # slot -> monotonic time its pause ends
        self._gates: dict[str, defer.DeferredSemaphore] = {}
        self._holding: dict[int, str] = {}  # id(request) -> slot whose gate it holds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build with RETRY_AFTER_MAX, MAXLAG_WAIT, RETRY_TIMES and DOWNLOAD_SLOTS."""
        return cls(crawler)

    def _slot(self, request: Request) -> str:
        return self.crawler.engine.downloader.get_slot_key(request)

    async def process_request(self, request: Request) -> None:
        """Let ``request`` through once its slot has room and no pause holds it."""
        slot = self._slot(request)
        limit = self.limits.get(slot)
        if limit is not None:
            gate = self._gates.setdefault(slot, defer.DeferredSemaphore(limit))
            await maybe_deferred_to_future(gate.acquire())
            self._holding[id(request)] = slot
        while (wait := self.resume_at.get(slot, 0.0) - time.monotonic()) > 0:
            logger.debug("slot %s paused: %s waits %.2f s", slot, request.url, wait)
            await maybe_deferred_to_future(_sleep(wait))

    def _release(self, request: Request) -> None:
        slot = self._holding.pop(id(request), None)
        if slot is not None:
            self._gates[slot].release()

    def pause(self, slot: str, seconds: float, why: str) -> None:
        """Hold every request of ``slot`` for ``seconds`` from now (a longer pause stays)."""
        seconds = min(max(seconds, 0.0), self.max_wait)
        self.resume_at[slot] = max(self.resume_at.get(slot, 0.0), time.monotonic() + seconds)
        self.crawler.stats.inc_value("synthset/retry_after")
        logger.info("%(why)s from %(slot)s: its next request waits %(s).1f s",
                    {"why": why, "slot": slot, "s": seconds})

    def process_response(self, request: Request, response: Response) -> Request | Response:
        """Pause the slot a 429/503/maxlag answer came from; retry a maxlag error."""
        maxlag = response.headers.get(self.MAXLAG_HEADER, b"").strip() == b"maxlag"
        if response.status not in self.PAUSE_STATUSES and not maxlag:
            self._release(request)
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None and maxlag:
            wait = self.maxlag_wait
        if wait is not None:
            self.pause(self._slot(request), wait, "maxlag" if maxlag else f"HTTP {response.status}")
        self._release(request)  # after the pause: a waiting request may resume right here
        tries = request.meta.get("maxlag_retries", 0)
        if maxlag and tries < self.max_retries:
            retry = request.copy()
            retry.meta["maxlag_retries"] = tries + 1
            retry.dont_filter = True
            return retry
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Free the slot's room a failed request held."""
        self._release(request)


class OptOutMiddleware:
    """Turns a response that opts out of AI use (``X-Robots-Tag: noai``) into :class:`OptedOut`.

    Settings: ``OPTOUT_DIRECTIVES`` (default ``noai,noimageai``) and ``BOT_NAME`` (directives
    addressed to it by name count too). The body never reaches a spider, so it is never
    stored; the image's row gets the error ``opted_out``. robots.txt answers are exempt.
    """

    def __init__(
        self, directives: list[str], bot_name: str, crawler: Crawler | None = None
    ) -> None:
        self.directives = directives
        self.bot_name = bot_name
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Build with OPTOUT_DIRECTIVES and BOT_NAME."""
        settings = crawler.settings
        directives = settings.getlist("OPTOUT_DIRECTIVES", list(DEFAULT_DIRECTIVES))
        return cls(directives, settings.get("BOT_NAME", "synthset"), crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        """Raise :class:`OptedOut` for an opted-out response; pass any other through."""
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            return response
        values = [v.decode("latin-1") for v in response.headers.getlist(b"X-Robots-Tag")]
        directive = opts_out(values, self.directives, self.bot_name) if values else None
        if directive is None:
            return response
        if self.crawler is not None:
            self.crawler.stats.inc_value("synthset/opted_out")
        raise OptedOut(f"X-Robots-Tag {directive} at {response.url[:200]}")
