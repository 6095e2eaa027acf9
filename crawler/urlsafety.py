"""Which URLs the crawler may request at all: http(s) with a host, nothing else."""

from __future__ import annotations

import hashlib
from urllib.parse import ParseResult, SplitResult, urlsplit

from scrapy.exceptions import IgnoreRequest

FETCHABLE_SCHEMES = frozenset({"http", "https"})
MAX_URL_LENGTH = 2083  # characters; Scrapy's URLLENGTH_LIMIT default, which drops longer ones
MAX_RECORDED_LENGTH = 2083  # characters; a longer refused URL is recorded as its shortened form
SHORTENED_PREFIX = 64  # characters of a long refused URL kept in its shortened form


def refusal(url: str, max_length: int = MAX_URL_LENGTH,
            parts: SplitResult | ParseResult | None = None) -> str | None:
    """Why ``url`` must not be requested, as a ``urls.error`` token; None when it may be.

    ``bad_scheme`` for anything but http(s) (file:, data:, ftp:, javascript:, ...),
    ``other`` for a URL that does not parse, names no host, or is longer than
    ``max_length`` characters (Scrapy would drop its request unrecorded; 0: no limit).
    ``parts``: ``url`` already split (Scrapy's ``urlparse_cached`` of a request), so it is
    not split again.
    """
    if max_length and len(url) > max_length:
        return "bad_scheme" if _scheme_refused(url) else "other"
    try:
        parts = parts or urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "other"
    if parts.scheme.lower() not in FETCHABLE_SCHEMES:
        return "bad_scheme"
    if not host:
        return "other"
    return None


def _scheme_refused(url: str) -> bool:
    """Whether ``url`` names a scheme other than http(s) (a long data: URI says bad_scheme)."""
    scheme = url.partition(":")[0].strip().lower()
    return scheme not in FETCHABLE_SCHEMES


def recorded_form(url: str, max_length: int = MAX_RECORDED_LENGTH) -> str:
    """What the catalog records for refused ``url``: itself, or a short stand-in when too long.

    A URL over ``max_length`` characters (a data: URI on a page can be megabytes)
    becomes its first ``SHORTENED_PREFIX`` characters, ``...#sha256=`` and the hex
    SHA-256 of the whole URL: stable across reruns, unique per URL, never fetched.
    """
    if len(url) <= max_length:
        return url
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{url[:SHORTENED_PREFIX]}...#sha256={digest}"


def host_of(url: str) -> str:
    """The lower-cased host name of ``url`` ('' when it has none or does not parse)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class RefusedScheme(IgnoreRequest):
    """A request for a URL the crawler must not fetch; ``token`` says why (see :func:`refusal`)."""

    def __init__(self, message: str, token: str = "bad_scheme") -> None:
        super().__init__(message)
        self.token = token
