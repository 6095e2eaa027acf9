"""Finding image URLs and followable links in an HTML page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urldefrag, urljoin, urlsplit

from parsel import Selector

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif"}
)
OG_IMAGE_PROPERTIES = ("og:image", "og:image:url", "og:image:secure_url")
_DESCRIPTOR = re.compile(r"^(\d+(?:\.\d+)?)([wx])$")


def srcset_candidates(srcset: str) -> Iterator[tuple[str, str]]:
    """The (URL, descriptor) pairs of a ``srcset``, split as the HTML standard does.

    A URL runs to the next whitespace, so commas inside it (CDN transforms such as
    ``w_200,c_fill``) stay in it; a URL ending in commas has no descriptor; descriptors
    run to the next comma outside parentheses. ``descriptor`` is '' when absent.
    """
    position, end = 0, len(srcset)
    while True:
        while position < end and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        if position >= end:
            return
        start = position
        while position < end and not srcset[position].isspace():
            position += 1
        url, descriptor = srcset[start:position], ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            start, depth = position, 0
            while position < end and (srcset[position] != "," or depth):
                depth += {"(": 1, ")": -1 if depth else 0}.get(srcset[position], 0)
                position += 1
            descriptor = srcset[start:position].strip()
            position += 1  # past the comma
        if url:
            yield url, descriptor


def largest_srcset_candidate(srcset: str) -> str | None:
    """The URL of the largest candidate of a ``srcset`` (by width, else by density).

    A candidate without a (valid) descriptor counts as ``1x``; ``w`` descriptors beat
    ``x``; other descriptors (``200h``) are ignored.
    """
    best: tuple[int, float] | None = None
    best_url = None
    for url, descriptor in srcset_candidates(srcset):
        match = next(filter(None, map(_DESCRIPTOR.match, descriptor.lower().split())), None)
        rank = (1 if match.group(2) == "w" else 0, float(match.group(1))) if match else (0, 1.0)
        if best is None or rank > best:
            best, best_url = rank, url
    return best_url


def looks_like_image(url: str) -> bool:
    """Whether the path of ``url`` ends in an image file extension."""
    path = urlsplit(url).path.lower()
    return any(path.endswith(ext) for ext in IMAGE_EXTENSIONS)


def _absolute(base: str, link: str | None) -> str | None:
    link = (link or "").strip()
    if not link:
        return None
    return urldefrag(urljoin(base, link)).url if not link.startswith("data:") else link


def image_urls(html: str, base_url: str) -> list[str]:
    """Absolute image URLs of a page, each once.

    Sources: ``<img src>``, ``data-src``, the largest ``srcset``/``data-srcset``
    candidate (also of ``<picture><source>``), ``og:image`` meta tags, and ``<a href>``
    links to image files.
    """
    page = Selector(text=html)
    base = _absolute(base_url, page.css("base::attr(href)").get()) or base_url
    found: dict[str, None] = {}

    def add(link: str | None) -> None:
        url = _absolute(base, link)
        if url:
            found.setdefault(url, None)

    for prop in OG_IMAGE_PROPERTIES:
        for content in page.css(f'meta[property="{prop}"]::attr(content)').getall():
            add(content)
    for node in page.xpath("//img | //picture/source"):
        add(node.attrib.get("src"))
        add(node.attrib.get("data-src"))
        for attribute in ("srcset", "data-srcset"):
            if node.attrib.get(attribute):
                add(largest_srcset_candidate(node.attrib[attribute]))
    for href in page.css("a::attr(href)").getall():
        url = _absolute(base, href)
        if url and looks_like_image(url):
            add(url)
    return list(found)


def page_links(html: str, base_url: str) -> Iterator[str]:
    """Absolute URLs (fragments dropped) of the page's ``<a href>`` links that are not images."""
    page = Selector(text=html)
    base = _absolute(base_url, page.css("base::attr(href)").get()) or base_url
    seen: set[str] = set()
    for href in page.css("a::attr(href)").getall():
        url = _absolute(base, href)
        if url and url not in seen and not looks_like_image(url):
            seen.add(url)
            yield url
