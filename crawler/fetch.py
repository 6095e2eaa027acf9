"""Turning one image download, a response or a failure, into the facts the catalog records."""

from __future__ import annotations

import ssl

from OpenSSL import SSL
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotSupported,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from scrapy.http import Response
from twisted.internet import defer
from twisted.internet import error as neterr
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from catalog.harvest import DiscoveredUrl
from crawler.items import FetchedImage
from crawler.optout import OptedOut
from crawler.urlsafety import RefusedScheme

# Exception class -> urls.error token, first match wins (subclasses before their bases).
# Tokens are the fixed vocabulary of docs/mirror.md.
ERROR_TOKENS: tuple[tuple[type[BaseException], str], ...] = (
    (OptedOut, "opted_out"),  # X-Robots-Tag: noai (an IgnoreRequest that is no robots.txt)
    (UnsupportedURLSchemeError, "bad_scheme"),
    (NotSupported, "bad_scheme"),  # no download handler for the scheme (e.g. a redirect to file:)
    (DownloadConnectionRefusedError, "refused"),
    (neterr.ConnectionRefusedError, "refused"),
    (CannotResolveHostError, "dns"),
    (neterr.DNSLookupError, "dns"),
    (DownloadTimeoutError, "timeout"),
    (neterr.TimeoutError, "timeout"),
    (neterr.TCPTimedOutError, "timeout"),
    (defer.TimeoutError, "timeout"),
    (DownloadCancelledError, "too_large"),  # DOWNLOAD_MAXSIZE by the announced length
    (defer.CancelledError, "too_large"),  # DOWNLOAD_MAXSIZE while the body streamed in
    (SSL.Error, "tls"),
    (ssl.SSLError, "tls"),
    (ResponseDataLossError, "connection_lost"),
    (neterr.ConnectionLost, "connection_lost"),
    (neterr.ConnectionDone, "connection_lost"),
    (ResponseFailed, "connection_lost"),  # also ResponseNeverReceived; TLS reasons checked first
    (DownloadFailedError, "connection_lost"),
)
ROBOTS_MESSAGE = "robots.txt"  # RobotsTxtMiddleware's IgnoreRequest says "Forbidden by robots.txt"


def error_token(exception: BaseException) -> str:
    """The ``urls.error`` token for a download that raised ``exception`` (``other`` if unknown)."""
    if isinstance(exception, ResponseFailed):
        # Twisted wraps the real causes (TLS handshake errors among them) in .reasons.
        for reason in exception.reasons:
            inner = error_token(reason.value)
            if inner == "tls":
                return inner
    if isinstance(exception, RefusedScheme):
        return exception.token
    for cls, token in ERROR_TOKENS:
        if isinstance(exception, cls):
            return token
    if isinstance(exception, IgnoreRequest):
        return "robots" if ROBOTS_MESSAGE in str(exception) else "other"
    return "other"


def failure_token(failure: Failure) -> str:
    """The ``urls.error`` token for a Scrapy errback's ``failure``."""
    return error_token(failure.value)


def fetched_from_response(found: DiscoveredUrl, response: Response) -> FetchedImage:
    """The facts of ``response`` to a request for ``found``; the body is kept only for 2xx."""
    content_type = response.headers.get(b"Content-Type")
    return FetchedImage(
        url=found.url,
        source=found.source,
        wnid=found.wnid,
        image_id=found.image_id,
        found_on=found.found_on,
        http_status=response.status,
        content_type=content_type.decode("latin-1") if content_type else None,
        final_url=response.url,
        body=response.body if 200 <= response.status < 300 else None,
        provenance=found.provenance,
    )
