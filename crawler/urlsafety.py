"""Which URLs the crawler may request at all: http(s) with a host, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

FETCHABLE_SCHEMES = frozenset({"http", "https"})


def refusal(url: str) -> str | None:
    """Why ``url`` must not be requested, as a ``urls.error`` token; None when it may be.

    ``bad_scheme`` for anything but http(s) (file:, data:, ftp:, javascript:, ...),
    ``other`` for a URL that does not parse or names no host.
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "other"
    if parts.scheme.lower() not in FETCHABLE_SCHEMES:
        return "bad_scheme"
    if not host:
        return "other"
    return None


def host_of(url: str) -> str:
    """The lower-cased host name of ``url`` ('' when it has none or does not parse)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class RefusedScheme(IgnoreRequest):
    """A request for a URL the crawler must not fetch (see :func:`refusal`)."""
