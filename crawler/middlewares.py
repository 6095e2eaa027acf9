"""Downloader middlewares: refuse non-http(s) URLs, retry with backoff, quiet robots.txt errors."""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import task
from twisted.internet.defer import Deferred

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
        token = refusal(request.url, self.max_url_length)
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
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return parser
