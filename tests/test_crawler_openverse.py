"""Real `scrapy crawl openverse` runs against the mirror's Openverse API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Mirror, crawl_then_sigkill, fetched_so_far, start_mirror, stop_mirror
from test_crawler_harvest import (
    ICE_CREAM_CAKE,
    REPO,
    TEST_SETTINGS,
    assert_store_is_clean,
    crawl,
    url_rows,
)

from catalog import open_catalog
from catalog.harvest import pending_urls

# API requests one at a time but without the polite second between them (tests are local)
API_SLOT = json.dumps({"openverse-api": {"concurrency": 1, "delay": 0}})
CAP_LINE = "Openverse: reached the API's cap for this query after 240 results"
PROVENANCE = ("license", "license_url", "creator", "creator_url", "landing_url", "title",
              "attribution", "source_id")


def openverse_crawl(mirror: Mirror, data_dir: Path, *args: str, **settings: str) -> str:
    """``scrapy crawl openverse`` against the mirror's API; returns the log."""
    return crawl("openverse", data_dir, *args, OPENVERSE_API_URL=mirror.url("v1/"),
                 DOWNLOAD_SLOTS=API_SLOT, **settings)


def api_log(mirror: Mirror) -> list[dict[str, Any]]:
    """Every request the mirror's Openverse API has answered so far."""
    with urllib.request.urlopen(mirror.url("_mirror/openverse-log.json"), timeout=30) as answer:
        return json.load(answer)


def license_id(image: dict[str, Any]) -> str:
    """The short id the catalog must hold for a mirror image's licence."""
    code, version = image["license"], image["license_version"]
    return {"cc0": "cc0-1.0", "pdm": "pdm"}.get(code, f"cc-{code}-{version}")


def expected(image: dict[str, Any], wnid: str | None = None) -> dict[str, Any]:
    """What the catalog must record for one result of the mirror's API."""
    return {
        "source": "openverse", "wnid": wnid, "http_status": image["http_status"],
        "stored": image["stored"], "error": None,
        "license": license_id(image), "license_url": image["license_url"],
        "creator": image["creator"], "creator_url": image["creator_url"],
        "landing_url": image["foreign_landing_url"], "title": image["title"],
        "attribution": image["attribution"], "source_id": image["id"],
    }


def recorded(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The same facts, from the catalog, by image URL."""
    return {
        url: {"source": row["source"], "wnid": row["wnid"], "http_status": row["http_status"],
              "stored": row["sha256"] is not None, "error": row["error"],
              **{name: row[name] for name in PROVENANCE}}
        for url, row in url_rows(data_dir).items()
    }


def found(truth: dict[str, Any], subject: str, **filters: set[str]) -> list[dict[str, Any]]:
    """The mirror's images whose title starts with ``subject``, in rank order, filtered."""
    return [
        image for image in truth["openverse"]["images"]
        if image["title"].startswith(subject + " ")
        and all(image[name] in allowed for name, allowed in filters.items())
    ]


@pytest.fixture(scope="module")
def truth(mirror: Mirror) -> dict[str, Any]:
    return mirror.truth()


def test_every_licence_field_lands(mirror: Mirror, truth: dict[str, Any], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    openverse_crawl(mirror, data_dir, "q=birthday cake", f"wnid={ICE_CREAM_CAKE}")
    images = found(truth, "Birthday cake")
    assert len(images) == 30
    kinds = {image["license"] for image in images}
    assert {"by", "by-sa", "cc0", "pdm", "by-nc"} <= kinds
    assert any(image["creator"] is None for image in images)
    assert recorded(data_dir) == {image["url"]: expected(image, ICE_CREAM_CAKE)
                                  for image in images}
    with open_catalog(data_dir, create=False) as catalog:
        found_on = {row["found_on"] for row in catalog.conn.execute("SELECT found_on FROM urls")}
    assert found_on == {mirror.url(f"v1/images/{image['id']}/") for image in images}
    assert_store_is_clean(data_dir)


def test_pagination_reaches_every_result_once_up_to_the_cap_and_waits_after_a_429(
    mirror: Mirror, truth: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    before = len(api_log(mirror))
    log = openverse_crawl(mirror, data_dir, "q=ice cream cake")
    requests = api_log(mirror)[before:]

    images = found(truth, "Ice cream cake")
    assert len(images) > truth["openverse"]["anonymous_results"] == 240
    assert any(not image["stored"] for image in images[:240])  # dead links are listed too
    assert recorded(data_dir) == {image["url"]: expected(image) for image in images[:240]}
    assert log.count(CAP_LINE) == 1
    assert "register a client and set OPENVERSE_CLIENT_ID and OPENVERSE_CLIENT_SECRET" in log

    pages = [(int(r["path"].split("page=")[1].split("&")[0]), r["status"]) for r in requests]
    assert [page for page, status in pages if status == 200] == list(range(1, 13))
    assert pages[-1] == (13, 400)  # the page past the cap, refused
    throttled = [i for i, r in enumerate(requests) if r["status"] == 429]
    assert len(throttled) == 1, pages  # waited: no second 429 for coming back too early
    after = requests[throttled[0] + 1]
    assert after["t"] - requests[throttled[0]]["t"] >= truth["openverse"]["retry_after_s"]
    assert_store_is_clean(data_dir)


def test_filters_go_to_the_api(mirror: Mirror, truth: dict[str, Any], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = openverse_crawl(mirror, data_dir, "q=ice cream cake", "license=by,by-sa,cc0",
                          "license_type=commercial", "source=flickr,wikimedia", "limit=50")
    images = found(truth, "Ice cream cake", license={"by", "by-sa", "cc0"},
                   source={"flickr", "wikimedia"})
    assert len(images) > 50
    assert recorded(data_dir) == {image["url"]: expected(image) for image in images[:50]}
    assert CAP_LINE not in log


def test_a_registered_client_gets_a_token_and_uses_it(
    mirror: Mirror, truth: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    before = len(api_log(mirror))
    log = openverse_crawl(mirror, data_dir, "q=ice cream cake",
                          OPENVERSE_CLIENT_ID=truth["openverse"]["client_id"],
                          OPENVERSE_CLIENT_SECRET=truth["openverse"]["client_secret"])
    requests = api_log(mirror)[before:]
    assert requests[0]["method"] == "POST" and requests[0]["path"] == "/v1/auth_tokens/token/"
    searches = requests[1:]
    token = searches[0]["bearer"]
    assert token and all(r["bearer"] == token for r in searches)
    assert all("page_size=100" in r["path"] for r in searches)
    images = found(truth, "Ice cream cake")
    assert recorded(data_dir) == {image["url"]: expected(image) for image in images}
    assert CAP_LINE not in log


def run_failing(mirror: Mirror, data_dir: Path, *args: str,
                env: dict[str, str] | None = None, **settings: str) -> str:
    """A crawl that must end with exactly one Error: line and exit 1; returns that line."""
    command = [sys.executable, "-m", "scrapy", "crawl", "openverse"]
    for arg in args:
        command += ["-a", arg]
    every = {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir),
             "OPENVERSE_API_URL": mirror.url("v1/"), "DOWNLOAD_SLOTS": API_SLOT, **settings}
    for name, value in every.items():
        command += ["-s", f"{name}={value}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    return errors[0]


def test_wrong_credentials_are_one_error_line(
    mirror: Mirror, truth: dict[str, Any], tmp_path: Path
) -> None:
    error = run_failing(mirror, tmp_path / "data", "q=cake",
                        env={"OPENVERSE_CLIENT_ID": truth["openverse"]["client_id"],
                             "OPENVERSE_CLIENT_SECRET": "not-the-secret"})
    assert "Openverse refused the client credentials (HTTP 401" in error


@pytest.mark.parametrize(("api", "message"), [
    ("http://127.0.0.1:1/v1/", "the Openverse API failed (refused: http://127.0.0.1:1/v1/images/"),
    ("web/", "the Openverse API failed (HTTP 404 from "),
], ids=["refused", "not-the-api"])
def test_an_api_that_fails_is_one_error_line(mirror: Mirror, tmp_path: Path, api: str,
                                             message: str) -> None:
    url = api if api.startswith("http") else mirror.url(api)
    error = run_failing(mirror, tmp_path / "data", "q=cake", OPENVERSE_API_URL=url)
    assert message in error and "after listing 0 images" in error


@pytest.mark.parametrize(("args", "settings", "message"), [
    (("q=cake", "license=by-xx"), {}, "-a license='by-xx' is not one the API knows"),
    (("q=cake", "license_type=cheap"), {}, "-a license_type='cheap' is not one the API knows"),
    (("license=by",), {}, 'give the words to search for: -a q="ice cream cake"'),
    (("q=cake", "wnid=n07631926,n07628870"), {}, "tag the images with one synset"),
    (("q=cake",), {"OPENVERSE_CLIENT_ID": "someone"}, "OPENVERSE_CLIENT_SECRET is not set"),
], ids=["licence", "licence-type", "no-query", "two-wnids", "half-credentials"])
def test_mistakes_are_one_error_line(
    mirror: Mirror, tmp_path: Path, args: tuple[str, ...], settings: dict[str, str], message: str
) -> None:
    before = len(api_log(mirror))
    assert message in run_failing(mirror, tmp_path / "data", *args, **settings)
    assert len(api_log(mirror)) == before  # refused before asking the API anything


# --- a crawl killed mid-way ------------------------------------------------------------------
@pytest.fixture(scope="module")
def slow_mirror() -> Iterator[Mirror]:
    """A mirror whose images each take 250 ms, so a crawl is still running when killed."""
    running = start_mirror("--images", "24", "--latency-ms", "250")
    yield running
    stop_mirror(running)



def test_a_killed_crawl_converges_when_rerun(slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = ["q=ice cream cake", "limit=60"]
    settings = {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir), "DOWNLOAD_SLOTS": API_SLOT,
                "OPENVERSE_API_URL": slow_mirror.url("v1/"), "CONCURRENT_REQUESTS_PER_DOMAIN": "4",
                "CATALOG_FLUSH_ITEMS": "4", "CATALOG_FLUSH_SECONDS": "0.2"}
    command = [sys.executable, "-m", "scrapy", "crawl", "openverse"]
    for arg in args:
        command += ["-a", arg]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    crawl_then_sigkill(command, data_dir, 10)
    assert fetched_so_far(data_dir) < 60, "the crawl had finished; the test proves nothing"
    before = {url: row["fetched_at"] for url, row in url_rows(data_dir).items()
              if row["fetched_at"]}

    openverse_crawl(slow_mirror, data_dir, *args, CONCURRENT_REQUESTS_PER_DOMAIN="16")
    images = found(slow_mirror.truth(), "Ice cream cake")[:60]
    assert recorded(data_dir) == {image["url"]: expected(image) for image in images}
    rows = url_rows(data_dir)
    assert all(rows[url]["fetched_at"] == at for url, at in before.items())  # not fetched again
    with open_catalog(data_dir, create=False) as catalog:
        assert not pending_urls(catalog)
    assert_store_is_clean(data_dir, killed=True)
