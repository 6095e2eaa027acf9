"""Page parsing, URL refusal, error tokens and spider-argument checks (no network)."""

from __future__ import annotations

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as neterr

from crawler.errors import SpiderArgumentError
from crawler.fetch import error_token
from crawler.pageimages import image_urls, largest_srcset_candidate, page_links
from crawler.spiders.imagenet_synset import ImagenetSynsetSpider
from crawler.spiders.web_images import WebImagesSpider
from crawler.urlsafety import RefusedScheme, refusal

PAGE = """<html><head><base href="/gallery/">
<meta property="og:image" content="http://cdn.example/og.jpg"></head><body>
<img src="a.jpg"><img src="../b.png" data-src="lazy.webp">
<img srcset="s-200.jpg 200w, s-800.jpg 800w, s-400.jpg 400w">
<picture><source srcset="p.jpg 1x, p2.jpg 2x"><img src="p.jpg"></picture>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<a href="full.JPG?size=big#top">big</a> <a href="next.html#c">next</a>
<a href="mailto:x@example.invalid">mail</a> <a href="next.html">again</a>
</body></html>"""


def test_image_urls_from_every_source_once() -> None:
    found = image_urls(PAGE, "http://site.example/index.html")
    assert found == [
        "http://cdn.example/og.jpg",
        "http://site.example/gallery/a.jpg",
        "http://site.example/b.png",
        "http://site.example/gallery/lazy.webp",
        "http://site.example/gallery/s-800.jpg",
        "http://site.example/gallery/p2.jpg",
        "http://site.example/gallery/p.jpg",
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
        "http://site.example/gallery/full.JPG?size=big",
    ]


def test_page_links_skip_images_and_fragments() -> None:
    links = list(page_links(PAGE, "http://site.example/index.html"))
    assert links == ["http://site.example/gallery/next.html", "mailto:x@example.invalid"]


@pytest.mark.parametrize(
    ("srcset", "largest"),
    [
        ("a.jpg 480w, b.jpg 1080w, c.jpg 720w", "b.jpg"),
        ("a.jpg, b.jpg 3x, c.jpg 1.5x", "b.jpg"),
        ("only.jpg", "only.jpg"),
        ("a.jpg 2x, b.jpg 100w", "b.jpg"),
        # commas inside URLs (CDN transforms, query strings) belong to the URL
        ("https://cdn.example/w_200,c_fill/a.jpg 200w, https://cdn.example/w_800,c_fill/a.jpg 800w",
         "https://cdn.example/w_800,c_fill/a.jpg"),
        ("img.jpg?w=100,h=200 1x, img.jpg?w=200,h=400 2x", "img.jpg?w=200,h=400"),
        ("a.jpg, b.jpg 2x", "b.jpg"),
        ("a.jpg,, b.jpg 0.5x", "a.jpg"),  # a URL ending in commas has no descriptor: 1x
        ("a.jpg,b.jpg 2x", "a.jpg,b.jpg"),  # no whitespace: one URL, as browsers read it
        ("  a.jpg 1x ,\n\tb.jpg   3x  ,c.jpg 2x", "b.jpg"),
        ("a.jpg 300w 200h, b.jpg 100w", "a.jpg"),  # extra descriptors are ignored
        ("", None),
        (" , ,", None),
    ],
)
def test_largest_srcset_candidate(srcset: str, largest: str) -> None:
    assert largest_srcset_candidate(srcset) == largest


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("http://example.org/a.jpg", None),
        ("HTTPS://example.org/a.jpg", None),
        ("ftp://example.org/a.jpg", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("data:image/png;base64,iVBORw0KGgo=", "bad_scheme"),
        ("javascript:alert(1)", "bad_scheme"),
        ("//example.org/a.jpg", "bad_scheme"),
        ("http:///a.jpg", "other"),
        ("http://[::1/a.jpg", "other"),
        ("http://example.org:99999/a.jpg", "other"),
    ],
)
def test_refusal(url: str, token: str | None) -> None:
    assert refusal(url) == token


@pytest.mark.parametrize(
    ("exception", "token"),
    [
        (DownloadConnectionRefusedError(), "refused"),
        (neterr.ConnectionRefusedError(), "refused"),
        (CannotResolveHostError(), "dns"),
        (neterr.DNSLookupError(), "dns"),
        (DownloadTimeoutError(), "timeout"),
        (neterr.TCPTimedOutError(), "timeout"),
        (DownloadCancelledError(), "too_large"),
        (ResponseDataLossError(), "connection_lost"),
        (neterr.ConnectionLost(), "connection_lost"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots"),
        (IgnoreRequest("max redirections reached"), "other"),
        (RefusedScheme("refusing"), "bad_scheme"),
        (ZeroDivisionError(), "other"),
    ],
)
def test_error_tokens(exception: Exception, token: str) -> None:
    assert error_token(exception) == token


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"wnid": "07631926"},
        {"wnid": "n07631926", "limit": "0"},
        {"wnid": "n07631926", "limit": "ten"},
        {"wnid": "n07631926", "hyponyms": "maybe"},
        {"wnid": "n07631926", "urls_file": "/nonexistent/fall11_urls.txt"},
    ],
)
def test_imagenet_spider_rejects_bad_arguments(kwargs: dict[str, str]) -> None:
    with pytest.raises(SpiderArgumentError, match="-a |name the synsets"):
        ImagenetSynsetSpider(**kwargs)


def test_imagenet_spider_arguments() -> None:
    spider = ImagenetSynsetSpider(wnid="n07631926, n07628870", hyponyms="1", limit="5")
    assert (spider.wnids, spider.hyponyms, spider.limit, spider.refetch) == (
        ["n07631926", "n07628870"], True, 5, False,
    )


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"start_urls": "file:///etc/"}, {"start_urls": "http://a.example/", "depth": "-1"}],
)
def test_web_spider_rejects_bad_arguments(kwargs: dict[str, str]) -> None:
    with pytest.raises(SpiderArgumentError):
        WebImagesSpider(**kwargs)


def test_web_spider_depth_defaults_to_one_hop() -> None:
    assert WebImagesSpider(start_urls="http://a.example/").max_depth == 1
    assert WebImagesSpider(start_urls="http://a.example/", depth="0").max_depth == 0


@pytest.mark.parametrize(
    ("url", "limit", "token"),
    [
        ("http://example.org/" + "a" * 2064, 2083, None),  # exactly 2083 characters
        ("http://example.org/" + "a" * 2065, 2083, "other"),
        ("http://example.org/" + "a" * 2065, 0, None),  # 0: no limit
        ("data:image/png;base64," + "A" * 5000, 2083, "bad_scheme"),
    ],
)
def test_refusal_of_overlong_urls(url: str, limit: int, token: str | None) -> None:
    assert refusal(url, limit) == token


def test_a_refusal_keeps_its_own_token() -> None:
    assert error_token(RefusedScheme("refusing", token="other")) == "other"
