"""Opt-outs: X-Robots-Tag noai/noimageai responses are recorded as opted_out, never stored."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Mirror, start_mirror, stop_mirror
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from test_crawler_commons import crawl_commons, expected_url
from test_crawler_harvest import url_rows

from crawler.fetch import error_token
from crawler.middlewares import OptOutMiddleware
from crawler.optout import OptedOut, opts_out, robots_tag_directives

DIRECTIVES = ["noai", "noimageai"]


@pytest.mark.parametrize(("values", "opted_out"), [
    (["noai"], "noai"),
    (["noindex, NoImageAI"], "noimageai"),
    (["*: noai"], "noai"),
    (["synthset: noimageai"], "noimageai"),
    (["SynthSet : noai"], "noai"),
    (["otherbot: noai, noimageai"], None),  # for another crawler only
    (["otherbot: noindex", "noai"], "noai"),  # a second header is for everyone again
    (["googlebot: noindex, synthset: noai"], "noai"),
    (["unavailable_after: 25 Jun 2010 15:00:00 PST"], None),  # a colon that names no crawler
    (["noindex, nofollow"], None),
    ([], None),
])
def test_directives_for_us_or_everyone_opt_out(values, opted_out) -> None:
    assert opts_out(values, DIRECTIVES, "synthset") == opted_out


def test_directives_are_split_per_crawler() -> None:
    pairs = list(robots_tag_directives(["otherbot: noai, nofollow", "noimageai"]))
    assert pairs == [("otherbot", "noai"), ("otherbot", "nofollow"), ("*", "noimageai")]


def middleware(**settings: object) -> OptOutMiddleware:
    return OptOutMiddleware.from_crawler(get_crawler(settings_dict=settings))


def test_middleware_raises_opted_out_with_its_token() -> None:
    request = Request("https://upload.example/cake.jpg")
    response = Response(request.url, headers={"X-Robots-Tag": "noai"}, body=b"cake",
                        request=request)
    with pytest.raises(OptedOut) as raised:
        middleware(OPTOUT_DIRECTIVES="noai,noimageai").process_response(request, response)
    assert error_token(raised.value) == "opted_out"
    plain = Response(request.url, body=b"cake", request=request)
    assert middleware().process_response(request, plain) is plain


def test_directive_list_is_a_setting() -> None:
    request = Request("https://upload.example/cake.jpg")
    response = Response(request.url, headers={"X-Robots-Tag": "noai"}, request=request)
    assert middleware(OPTOUT_DIRECTIVES="noimageai").process_response(request, response) is response


def test_robots_txt_answers_are_exempt() -> None:
    request = Request("https://upload.example/robots.txt", meta={"dont_obey_robotstxt": True})
    response = Response(request.url, headers={"X-Robots-Tag": "noai"}, request=request)
    assert middleware().process_response(request, response) is response


@pytest.fixture(scope="module")
def wiki() -> Iterator[Mirror]:
    running = start_mirror("--images", "24")
    yield running
    stop_mirror(running)


def test_opted_out_bodies_never_reach_the_store(wiki: Mirror, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crawl_commons(wiki, data_dir, "category=Ice cream cakes", "width=250")
    world = wiki.truth()["commons"]
    tagged = [row for row in world["files"] if row["x_robots_tag"]
              and row["title"] in world["categories"]["Category:Ice cream cakes"]["files"]
              + world["categories"]["Category:Ice cream cakes by flavour"]["files"]]
    assert {row["kind"] for row in tagged} == {"opted_out", "ok"}  # "otherbot: noai" is ok
    rows = url_rows(data_dir)
    stored = {path.name.split(".")[0] for path in (data_dir / "images").rglob("*.*")}
    for row in tagged:
        url = expected_url(row, 250)
        with urllib.request.urlopen(url, timeout=30) as response:
            served = hashlib.sha256(response.read()).hexdigest()
        if row["kind"] == "opted_out":
            assert rows[url]["error"] == "opted_out" and rows[url]["sha256"] is None
            assert rows[url]["license"] == row["license"]  # provenance kept all the same
            assert served not in stored
        else:
            assert rows[url]["sha256"] == served and served in stored
