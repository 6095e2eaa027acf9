"""Real `scrapy crawl openverse` runs against the mirror's Openverse API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
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
from crawler import openverse
from crawler.spiders.openverse import TRUNCATED
from curate.cli import cli

# API requests one at a time but without the polite second between them (tests are local)
API_SLOT = json.dumps({"openverse-api": {"concurrency": 1, "delay": 0}})
CAP_LINE = "Openverse: reached the API's cap for this query after 240 results"
PROVENANCE = ("license", "license_url", "creator", "creator_url", "landing_url", "title",
              "attribution", "source_id", "upstream_source", "provider", "mature")


def openverse_crawl(mirror: Mirror, data_dir: Path, *args: str, **settings: str) -> str:
    """``scrapy crawl openverse`` against the mirror's API; returns the log.

    Nothing here hangs, so the timeout is long: a 1 s one, on a stalled machine, recorded a
    received answer as a timeout and asked for the page again."""
    settings = {"DOWNLOAD_TIMEOUT": "20", **settings}
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
        "upstream_source": image["source"], "provider": image["provider"],
        "mature": int(image["mature"]),
    }


def recorded(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The same facts, from the catalog, by image URL."""
    return {
        url: {"source": row["source"], "wnid": row["wnid"], "http_status": row["http_status"],
              "stored": row["sha256"] is not None, "error": row["error"],
              **{name: row[name] for name in PROVENANCE}}
        for url, row in url_rows(data_dir).items()
    }


def found(truth: dict[str, Any], subject: str, mature: bool = False,
          **filters: set[str]) -> list[dict[str, Any]]:
    """The mirror's images whose title starts with ``subject``, in rank order, filtered; those
    marked mature only with ``mature`` (the API leaves them out by default)."""
    return [
        image for image in truth["openverse"]["images"]
        if image["title"].startswith(subject + " ") and (mature or not image["mature"])
        and all(image[name] in allowed for name, allowed in filters.items())
    ]


@pytest.fixture(scope="module")
def truth(mirror: Mirror) -> dict[str, Any]:
    return mirror.truth()


def test_every_licence_field_lands(mirror: Mirror, truth: dict[str, Any], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    openverse_crawl(mirror, data_dir, "q=birthday cake", f"wnid={ICE_CREAM_CAKE}")
    images = found(truth, "Birthday cake")
    assert len(images) == 29  # the 30th is marked mature: left out by default
    kinds = {image["license"] for image in images}
    assert {"by", "by-sa", "cc0", "pdm", "by-nc"} <= kinds
    assert any(image["creator"] is None for image in images)
    assert any(image["source"] != image["provider"] for image in images)
    assert recorded(data_dir) == {image["url"]: expected(image, ICE_CREAM_CAKE)
                                  for image in images}
    with open_catalog(data_dir, create=False) as catalog:
        found_on = {row["found_on"] for row in catalog.conn.execute("SELECT found_on FROM urls")}
    assert found_on == {mirror.url(f"v1/images/{image['id']}/") for image in images}
    assert_store_is_clean(data_dir)


@pytest.fixture(scope="module")
def capped(mirror: Mirror, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list]:
    """An anonymous search that matches more results than its pages reach: the data
    directory, the crawl's log and the API requests it made."""
    data_dir = tmp_path_factory.mktemp("capped") / "data"
    before = len(api_log(mirror))
    log = openverse_crawl(mirror, data_dir, "q=ice cream cake")
    return data_dir, log, api_log(mirror)[before:]


def test_pagination_reaches_every_result_once_up_to_the_cap_and_waits_after_a_429(
    capped: tuple[Path, str, list], truth: dict[str, Any]
) -> None:
    data_dir, _, requests = capped
    images = found(truth, "Ice cream cake")
    assert len(images) > truth["openverse"]["anonymous_results"] == 240
    assert any(not image["stored"] for image in images[:240])  # dead links are listed too
    assert recorded(data_dir) == {image["url"]: expected(image) for image in images[:240]}

    pages = [(int(r["path"].split("page=")[1].split("&")[0]), r["status"]) for r in requests]
    # page_count comes capped at the last page an anonymous caller may ask for: no page 13
    assert [page for page, status in pages if status == 200] == list(range(1, 13))
    assert max(page for page, _ in pages) == 12
    throttled = [i for i, r in enumerate(requests) if r["status"] == 429]
    assert len(throttled) == 1, pages  # waited: no second 429 for coming back too early
    after = requests[throttled[0] + 1]
    assert after["t"] - requests[throttled[0]]["t"] >= truth["openverse"]["retry_after_s"]
    assert_store_is_clean(data_dir)


def test_a_truncated_search_says_how_many_were_left_and_how_to_get_them(
    capped: tuple[Path, str, list], truth: dict[str, Any]
) -> None:
    data_dir, log, _ = capped
    count = len(found(truth, "Ice cream cake"))
    lines = [line for line in log.splitlines() if CAP_LINE in line]
    assert len(lines) == 1, log[-3000:]
    assert f"(12 pages of 20); {count - 240} of its {count} results were left" in lines[0]
    assert "narrow the query (more words, -a license=, -a license_type=, -a source=)" in lines[0]
    assert "register a client and set OPENVERSE_CLIENT_ID and OPENVERSE_CLIENT_SECRET" in lines[0]
    with open_catalog(data_dir, create=False) as catalog:
        stats = json.loads(catalog.conn.execute(
            "SELECT stats FROM runs WHERE command = 'crawl openverse'").fetchone()[0])
    assert stats[TRUNCATED] == {"pages": 12, "page_size": 20, "listed": 240,
                                "result_count": count, "left": count - 240}


def test_the_card_of_an_export_from_a_truncated_search_says_so(
    capped: tuple[Path, str, list], truth: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(capped[0], data_dir)
    env = {"SYNTHSET_DATA": str(data_dir)}
    for args in (["check", "--workers", "1"],
                 ["export", "cakes", "--out", str(tmp_path), "--include-unreviewed",
                  "--workers", "1", "--size", "16"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
    card = (tmp_path / "cakes" / "README.md").read_text(encoding="utf-8")
    count = len(found(truth, "Ice cream cake"))
    assert (f"was truncated: the API counted {count} results, its 12 pages of 20 reached 240; "
            f"{count - 240} were never listed.") in card
    assert "q=ice cream cake" in card.split("was truncated")[0].rsplit("\n", 1)[-1]
    assert "openimages via flickr (" in card  # Openverse's source and provider, counted
    assert "- Marked mature by Openverse (`mature`): 0 image(s)." in card


def test_mature_results_come_only_with_the_option_and_are_flagged(
    mirror: Mirror, truth: dict[str, Any], tmp_path: Path
) -> None:
    searches = []
    for name, args in (("default", ()), ("mature", ("mature=1",))):
        before = len(api_log(mirror))
        openverse_crawl(mirror, tmp_path / name, "q=birthday cake", *args)
        searches.append([r["path"] for r in api_log(mirror)[before:] if r["status"] == 200])
    assert searches[0] and not any("mature=" in path for path in searches[0])
    assert searches[1] and all("mature=true" in path for path in searches[1])
    everything = found(truth, "Birthday cake", mature=True)
    flagged = {image["url"] for image in everything if image["mature"]}
    assert flagged and len(everything) == 30
    default, mature = recorded(tmp_path / "default"), recorded(tmp_path / "mature")
    assert not flagged & set(default)
    assert mature == {image["url"]: expected(image) for image in everything}
    assert {url for url, row in mature.items() if row["mature"] == 1} == flagged


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


@pytest.mark.parametrize(("page", "results", "unreachable"), [
    (12, 20, 48),  # the last page it may reach, full: 48 of 288 out of reach
    (11, 20, 0),  # not the last page yet
    (12, 7, 0),  # a short last page: the query ran out (counted results it then filtered)
])
def test_only_a_full_last_page_leaves_results_out_of_reach(page, results, unreachable) -> None:
    image = {"id": "x", "url": "https://img.test/x.jpg"}
    body = json.dumps({"result_count": 288, "page_count": 12, "page": page,
                       "results": [image] * results}).encode()
    assert openverse.parse_page(body).unreachable(20) == unreachable


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
