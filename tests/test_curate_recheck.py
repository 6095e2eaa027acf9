"""curate check --recheck: failed URLs fetched again by a real crawl, against real servers.

The mirror runs in this process with a request counter, so the tests see every request the
recheck crawl made: robots.txt is read, what it forbids is never requested, refused schemes
never leave the machine, retries follow the crawl's settings.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import imagegen
import pytest
from click.testing import CliRunner
from conftest import serving

from catalog import open_catalog
from catalog.harvest import FetchResult, record_fetches
from crawler.mirror.server import MirrorHandler, MirrorServer, closed_port
from crawler.mirror.site import MirrorOptions, Site
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.recheck import RecheckOptions

# The mirror is one local host: no politeness delays, no backoff wait. DOWNLOAD_TIMEOUT stays
# the crawl's 30 s: a robots.txt that times out allows everything (Scrapy's rule), and a
# loaded test machine must not turn that on.
FAST_CRAWL = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "RETRY_BACKOFF_BASE": "0"}


def failed(url: str, status: int | None = None, error: str | None = None) -> FetchResult:
    """The facts of a fetch that failed, as the crawler records them."""
    return FetchResult(url, "imagenet", "n07631926", http_status=status, error=error)


def judgments(data_dir) -> dict[str, tuple]:
    """(status, reason) of every URL."""
    with open_catalog(data_dir, create=False) as catalog:
        rows = catalog.conn.execute("SELECT url, status, reason, sha256 FROM urls")
        return {row["url"]: (row["status"], row["reason"], row["sha256"]) for row in rows}


class CountingMirrorHandler(MirrorHandler):
    """The mirror's handler, counting every request by path."""

    def _answer(self, send_body: bool) -> None:
        with self.server.lock:
            self.server.requests[urlsplit(self.path).path] += 1
        super()._answer(send_body)


@pytest.fixture
def counting_mirror() -> Iterator[MirrorServer]:
    """The offline mirror (24 cakes and every planted failure) in a thread, counting requests."""
    server = MirrorServer(0)
    server.RequestHandlerClass = CountingMirrorHandler
    server.requests = Counter()
    server.lock = threading.Lock()
    server.site = Site(MirrorOptions(images=24), server.base_url, f"http://127.0.0.1:{closed_port()}/")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_recheck_obeys_robots_and_never_requests_what_the_crawl_refuses(data_dir, counting_mirror):
    truth = json.loads(counting_mirror.site.truth_bytes())
    first = {}
    for row in truth["urls"]:
        first.setdefault(row["kind"], row["url"])
    base = counting_mirror.base_url
    forbidden_now = base + "private/was-a-timeout.jpg"  # robots.txt forbids /private/
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [
            failed(first["robots"], error="robots"),
            failed(forbidden_now, error="timeout"),
            failed(first["bad_scheme"], error="bad_scheme"),
            failed(first["not_found"], status=404),
            failed(first["server_error"], status=500),
            failed(first["oversized"], error="too_large"),
            failed(first["ok"], error="refused"),  # the host was down then; it answers now
        ])  # fmt: skip
        options = CheckOptions(
            workers=1, recheck=True, recheck_options=RecheckOptions(retries=1, settings=FAST_CRAWL)
        )
        report = check_images(catalog, options)
        runs = [row[0] for row in catalog.conn.execute("SELECT command FROM runs ORDER BY id")]

    path = lambda url: urlsplit(url).path  # noqa: E731
    assert counting_mirror.requests == {
        "/robots.txt": 1,
        path(first["not_found"]): 1,  # a 404 is final
        path(first["server_error"]): 2,  # RETRY_TIMES=1: one retry
        path(first["oversized"]): 1,  # cut at DOWNLOAD_MAXSIZE, not retried
        path(first["ok"]): 1,
    }  # nothing under /private/, no ftp: or file: anywhere
    assert (report.rechecked, report.revived) == (5, 1)
    assert runs == ["check", "crawl recheck"]
    judged = judgments(data_dir)
    refused = "; not rechecked: the crawl refuses this URL"
    still = "; still failing when rechecked"
    assert judged[first["robots"]][:2] == ("dead", "forbidden by robots.txt (robots)" + refused)
    assert judged[first["bad_scheme"]][:2] == ("dead", "not an http(s) URL (bad_scheme)" + refused)
    assert judged[forbidden_now][:2] == ("dead", "forbidden by robots.txt (robots)" + still)
    assert judged[first["not_found"]][:2] == ("dead", "HTTP 404 Not Found" + still)
    assert judged[first["server_error"]][:2] == ("dead", "HTTP 500 Internal Server Error" + still)
    assert judged[first["oversized"]][:2] == (
        "dead", "body larger than the download limit (too_large)" + still
    )  # fmt: skip
    assert judged[first["ok"]][:2] == (None, None) and judged[first["ok"]][2] is not None
    assert report.statuses["ok"] == 1  # the revived cake was stored and judged in the same run


class FlakyHandler(BaseHTTPRequestHandler):
    """/flaky.jpg answers 503 once, then an image; anything else is 404 (robots.txt too)."""

    hits: Counter = Counter()
    body = imagegen.jpeg(seed=77)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.hits[self.path] += 1
        if self.path == "/flaky.jpg" and self.hits[self.path] > 1:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
            return
        self.send_response(503 if self.path == "/flaky.jpg" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def flaky_server() -> Iterator[str]:
    FlakyHandler.hits = Counter()
    with serving(FlakyHandler) as base_url:
        yield base_url


def run_check(data_dir, *args: str):
    settings = [flag for name, value in FAST_CRAWL.items() for flag in ("-s", f"{name}={value}")]
    return CliRunner().invoke(
        cli, ["check", "--workers", "1", *args, *settings], env={"SYNTHSET_DATA": str(data_dir)}
    )


def test_recheck_through_the_cli_revives_a_link_that_answers_on_retry(data_dir, flaky_server):
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [failed(f"{flaky_server}/flaky.jpg", status=503),
                                 failed(f"{flaky_server}/gone.jpg", status=404)])
    result = run_check(data_dir, "--recheck", "--retries", "2")
    assert result.exit_code == 0, result.output
    assert FlakyHandler.hits == {"/robots.txt": 1, "/flaky.jpg": 2, "/gone.jpg": 1}
    judged = judgments(data_dir)
    assert judged[f"{flaky_server}/flaky.jpg"][:2] == (None, None)
    assert judged[f"{flaky_server}/gone.jpg"][:2] == (
        "dead", "HTTP 404 Not Found; still failing when rechecked"
    )  # fmt: skip
    assert "rechecked / revived" in result.output


def test_recheck_without_retries_leaves_the_flaky_link_dead(data_dir, flaky_server):
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [failed(f"{flaky_server}/flaky.jpg", status=503)])
    result = run_check(data_dir, "--recheck", "--retries", "0")
    assert result.exit_code == 0, result.output
    assert FlakyHandler.hits == {"/robots.txt": 1, "/flaky.jpg": 1}
    assert judgments(data_dir)[f"{flaky_server}/flaky.jpg"][:2] == (
        "dead", "HTTP 503 Service Unavailable; still failing when rechecked",
    )  # fmt: skip


def test_a_malformed_setting_is_one_usage_error(data_dir):
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [failed("http://127.0.0.1:1/a.jpg", error="refused")])
    result = CliRunner().invoke(
        cli, ["check", "--recheck", "-s", "DOWNLOAD_DELAY"], env={"SYNTHSET_DATA": str(data_dir)}
    )
    assert result.exit_code == 2
    assert "'DOWNLOAD_DELAY': expected NAME=VALUE" in result.output
