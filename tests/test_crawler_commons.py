"""Real `scrapy crawl commons` runs against the mirror's MediaWiki API and media host."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.robotparser import RobotFileParser

import pytest
from click.testing import CliRunner
from conftest import Mirror, crawl_then_sigkill, start_mirror, stop_mirror
from test_crawler_harvest import REPO, TEST_SETTINGS, assert_store_is_clean, crawl, url_rows

from catalog import open_catalog
from crawler import commons, licenses
from crawler.middlewares import retry_after_seconds
from crawler.spiders.commons import CommonsSpider, parse_width
from curate.cli import cli
from synthset.errors import SynthsetError

CONTACT = "tests@example.org"
ROOT = "Category:Ice cream cakes"
SEARCH = "ice cream cake"
STORED_KINDS = {"ok", "sha1_mismatch"}  # with thumbnails, a bad original's SHA-1 goes unseen
# The mirror draws a file's picture on first mention (its SHA-1 is in the API's answer), which
# can take longer than the 1 s TEST_SETTINGS allow: a timed-out request is still being answered
# when its retry goes out, and would show as two API requests in flight.
COMMONS_SETTINGS = {"DOWNLOAD_TIMEOUT": "20"}


@pytest.fixture(scope="module")
def wiki() -> Iterator[Mirror]:
    """A mirror of this module's own: its once-only refusals are re-armed per crawl."""
    running = start_mirror("--images", "24")
    yield running
    stop_mirror(running)


@pytest.fixture(scope="module")
def world(wiki: Mirror) -> dict[str, Any]:
    """The Commons part of the mirror's truth."""
    return wiki.truth()["commons"]


def request_log(mirror: Mirror, reset: bool = False) -> dict[str, Any]:
    """The mirror's Commons request log (``reset``: clear it and re-arm its rules)."""
    url = mirror.url("commons/requests.json" + ("?reset=1" if reset else ""))
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def crawl_commons(mirror: Mirror, data_dir: Path, *args: str, **settings: str) -> dict[str, Any]:
    """A fresh-rules ``scrapy crawl commons``; returns the mirror's log of its requests."""
    request_log(mirror, reset=True)
    crawl("commons", data_dir, *args, CONTACT=CONTACT,
          COMMONS_API_URL=mirror.url("w/api.php"), **{**COMMONS_SETTINGS, **settings})
    return request_log(mirror)


def files_within(world: dict[str, Any], depth: int) -> set[str]:
    """Titles of the files in categories at most ``depth`` below the root."""
    return {title for category in world["categories"].values() if category["depth"] <= depth
            for title in category["files"]}


def expected_url(row: dict[str, Any], width: int | None) -> str:
    """The URL a crawl fetches for a file: the thumbnail at ``width``, or the original."""
    if width is None:
        return row["original_url"]
    return row["thumb_urls"].get(str(width), row["original_url"])


def expected_rows(world: dict[str, Any], titles: set[str], width: int | None) -> dict[str, dict]:
    """Truth rows of the still images among ``titles``, by the URL a crawl must record."""
    return {expected_url(row, width): row for row in world["files"]
            if row["title"] in titles and row["kind"] != "not_image"}


def assert_provenance(rows: dict[str, dict], expected: dict[str, dict], wnid: str | None) -> None:
    """Every expected file has its row with every licence field the API gave."""
    assert set(rows) == set(expected)
    for url, want in expected.items():
        row = rows[url]
        assert row["source"] == "commons" and row["wnid"] == wnid
        assert (row["license"], row["license_url"]) == (want["license"], want["license_url"])
        assert (row["creator"], row["creator_url"]) == (want["creator"], want["creator_url"])
        assert row["landing_url"] == row["found_on"] == want["landing_url"]
        assert row["title"] == want["name"]
        assert row["source_id"] == str(want["pageid"])
        by = f" by {want['creator']}" if want["creator"] else ", See page for author"
        assert row["attribution"] == (f'"{want["name"]}"{by}, '
                                      f'{want["license_short_name"]}, via Wikimedia Commons')
        assert row["credit"] == want["credit"]  # the source, kept apart from the creator
        assert row["attribution_required"] == int(want["attribution_required"])
        assert row["usage_terms"] == want["usage_terms"]
        assert row["restrictions"] == want["restrictions"]


def assert_fetch_outcomes(rows: dict[str, dict], expected: dict[str, dict],
                          stored_kinds: set[str]) -> None:
    """Stored bodies for the stored kinds; an error token and no body for the others."""
    for url, want in expected.items():
        row = rows[url]
        assert row["fetched_at"] is not None
        if want["kind"] in stored_kinds:
            assert (row["http_status"], row["error"]) == (200, None), url
            assert row["sha256"] is not None
        else:
            assert row["error"] == want["kind"] and row["sha256"] is None, url


def media_paths(log: dict[str, Any]) -> list[str]:
    """The paths of the media requests in a request log."""
    return [r["path"] for r in log["requests"] if r["role"] == "media"]


# Requests of a role that may start just after a refusal was answered: those another answer
# in flight let out before the refusal reached the crawler (with two media slots, one).
LET_OUT_BEFORE = {"api": 0, "media": 1}


def refusals(log: dict[str, Any], world: dict[str, Any]) -> list[tuple[dict, int, bool]]:
    """Each 429 or maxlag answer, the requests of its role that started within its Retry-After,
    and whether a request of its role started after that."""
    rules, wait = world["rules"], world["retry_after_s"]
    refused = [r for r in log["requests"] if r["status"] == 429
               or (r["role"], r["number"]) == ("api", rules["maxlag_at"])]
    found = []
    for refusal in refused:
        starts = [r["start"] - refusal["end"] for r in log["requests"]
                  if r["role"] == refusal["role"] and r["start"] > refusal["end"]]
        found.append((refusal, sum(s < wait for s in starts), any(s >= wait for s in starts)))
    return found


def assert_polite(log: dict[str, Any], world: dict[str, Any]) -> None:
    """Wikimedia's rules, from the mirror's side: in flight, Retry-After, widths, UA."""
    assert log["max_in_flight"]["api"] == 1
    assert log["max_in_flight"]["media"] <= 2
    for request in log["requests"]:
        assert CONTACT in request["user_agent"] and "synthset/" in request["user_agent"]
    rules = world["rules"]
    found = refusals(log, world)
    assert {(r["role"], r["number"]) for r, _, _ in found} >= {
        ("api", rules["maxlag_at"]), ("api", rules["api_burst_at"]),
        ("media", rules["media_burst_at"]),
    }
    for refusal, too_soon, waited in found:
        assert too_soon <= LET_OUT_BEFORE[refusal["role"]] and waited, refusal
    for path in media_paths(log):
        if "/thumb/" in path:
            width = int(path.rsplit("/", 1)[1].split("px-", 1)[0])
            assert width in world["standard_widths"], path


@pytest.fixture(scope="module")
def deep_walk(wiki: Mirror, world: dict[str, Any],
              tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One crawl of the root category two levels deep, at the default width."""
    data_dir = tmp_path_factory.mktemp("commons") / "data"
    log = crawl_commons(wiki, data_dir, "category=Ice cream cakes", "depth=2")
    return data_dir, log


def test_category_walk_records_every_licence_field(deep_walk, world) -> None:
    data_dir, _ = deep_walk
    expected = expected_rows(world, files_within(world, 2), commons.DEFAULT_WIDTH)
    assert any("/thumb/" in url for url in expected) and any("/thumb/" not in u for u in expected)
    rows = url_rows(data_dir)
    assert_provenance(rows, expected, wnid=None)
    assert_fetch_outcomes(rows, expected, STORED_KINDS)
    assert_store_is_clean(data_dir)


def test_walk_visits_each_category_and_file_once(deep_walk, world) -> None:
    _, log = deep_walk
    refused = {("api", world["rules"]["maxlag_at"])}
    answered = [r for r in log["requests"]
                if r["status"] == 200 and (r["role"], r["number"]) not in refused]
    api = [parse_qs(urlsplit(r["path"]).query) for r in answered if r["role"] == "api"]
    first_pages = Counter((q.get("gcmtitle") or q["cmtitle"])[0] for q in api
                          if "continue" not in q)
    walked = {t for t, c in world["categories"].items() if c["depth"] < 2}  # subcats listed
    assert first_pages == Counter({**dict.fromkeys(world["categories"], 1),
                                   **dict.fromkeys(walked, 2)})  # files + subcats, once each
    assert any("iicontinue" in q for q in api) and any("gcmcontinue" in q for q in api)
    fetched = Counter(r["path"] for r in answered if r["role"] == "media")
    assert fetched and set(fetched.values()) == {1}  # the file in two categories too


def test_wikimedia_etiquette_holds(wiki, deep_walk, world) -> None:
    _, log = deep_walk
    assert_polite(log, world)
    robots = RobotFileParser()
    with urllib.request.urlopen(wiki.url("robots.txt"), timeout=30) as response:
        robots.parse(response.read().decode().splitlines())
    assert not robots.can_fetch("synthset", world["api_url"])  # /w/ is closed, as on Wikimedia
    assert robots.can_fetch("synthset", world["files"][0]["original_url"])
    assert any(r["role"] == "api" and r["status"] == 200 for r in log["requests"])  # exempt


def test_licences_counted_by_curate_stats(deep_walk, world) -> None:
    data_dir, _ = deep_walk
    result = CliRunner().invoke(cli, ["stats", "--json"], env={"SYNTHSET_DATA": str(data_dir)})
    assert result.exit_code == 0, result.output
    counted = {key: value["urls"] for key, value in json.loads(result.output)["licenses"].items()}
    expected = Counter(row["license"] or "unknown" for row in
                       expected_rows(world, files_within(world, 2), 1280).values())
    assert counted == dict(expected) and len(counted) >= 5


@pytest.fixture(scope="module")
def exported(deep_walk, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deep walk's images checked and exported (all to train), from a copy of its data."""
    root = tmp_path_factory.mktemp("commons-export")
    shutil.copytree(deep_walk[0], root / "data")
    env = {"SYNTHSET_DATA": str(root / "data")}
    for args in (["check", "--workers", "1"],
                 ["export", "cakes", "--out", str(root), "--include-unreviewed",
                  "--val-fraction", "0", "--workers", "1"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
    return root / "cakes"


def manifest_by_url(folder: Path) -> dict[str, dict[str, str]]:
    """The export's manifest rows, by source URL."""
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as file:
        return {row["url"]: row for row in csv.DictReader(file)}


def test_a_file_with_only_a_credit_has_no_creator_and_its_credit_line_says_so(
    exported, world
) -> None:
    expected = expected_rows(world, files_within(world, 2), commons.DEFAULT_WIDTH)
    only_credit = {url: row for url, row in expected.items()
                   if row["creator"] is None and row["kind"] == "ok"}
    asks = {url for url, row in only_credit.items() if row["license"] not in ("pdm", "cc0-1.0")}
    assert asks and all(row["credit"].startswith("Birthday cake") for row in only_credit.values())
    manifest = manifest_by_url(exported)
    lines = {line.split("`")[1]: line for line in
             (exported / "ATTRIBUTION.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("- `")}
    for url, want in only_credit.items():
        row = manifest[url]
        assert (row["creator"], row["credit"]) == ("", want["credit"])
        if url in asks:
            line = lines[row["file"]]
            assert f"by an unknown author ([see page for author]({want['landing_url']}))" in line
            assert want["credit"] not in line  # a title or a source is no author
    named = [url for url, row in expected.items() if row["creator"] and url in manifest
             and manifest[url]["file"] in lines]
    assert named and all("unknown author" not in lines[manifest[url]["file"]] for url in named)


def test_restrictions_and_commons_terms_reach_the_manifest_and_the_card(exported, world) -> None:
    expected = expected_rows(world, files_within(world, 2), commons.DEFAULT_WIDTH)
    manifest = manifest_by_url(exported)
    restricted = {url: row["restrictions"] for url, row in expected.items()
                  if row["restrictions"] and url in manifest}
    assert len(restricted) == 2
    for url, row in manifest.items():
        want = expected[url]
        assert row["restrictions"] == (want["restrictions"] or "")
        assert row["usage_terms"] == want["usage_terms"]
        assert row["attribution_required"] == str(want["attribution_required"]).lower()
        assert row["upstream_source"] == row["provider"] == row["mature"] == ""  # Openverse's
    card = (exported / "README.md").read_text(encoding="utf-8")
    names = Counter(name for value in restricted.values() for name in value.split("|"))
    shown = ", ".join(f"{name} ({count})" for name, count in sorted(names.items()))
    assert f"- Restrictions (`restrictions`): 2 image(s): {shown}." in card
    required = Counter(row["attribution_required"] for row in manifest.values())
    assert (f"- Attribution required (`attribution_required`, Commons): "
            f"yes {required['true']}, no {required['false']}.") in card


def test_a_catalog_from_before_the_credit_fix_is_corrected_as_docs_sources_says(
    wiki, world, tmp_path
) -> None:
    data_dir = tmp_path / "data"
    crawl_commons(wiki, data_dir, f"category={ROOT}", "depth=0")
    expected = expected_rows(world, files_within(world, 0), commons.DEFAULT_WIDTH)
    with open_catalog(data_dir, create=False) as catalog, catalog.transaction() as conn:
        conn.execute("""UPDATE urls SET creator = coalesce(creator, credit), credit = NULL,
                        attribution_required = NULL, usage_terms = NULL, restrictions = NULL""")
    assert any(row["creator"] == want["credit"] for url, row in url_rows(data_dir).items()
               if (want := expected[url])["creator"] is None)  # the old, wrong record
    with open_catalog(data_dir, create=False) as catalog, catalog.transaction() as conn:
        conn.execute("""UPDATE urls SET creator = NULL, creator_url = NULL, attribution = NULL
                        WHERE source = 'commons' AND credit IS NULL""")  # docs/sources.md
    crawl_commons(wiki, data_dir, f"category={ROOT}", "depth=0", "refetch=1")
    assert_provenance(url_rows(data_dir), expected, wnid=None)


def test_default_depth_and_width_rounded_up(wiki, world, tmp_path) -> None:
    log = crawl_commons(wiki, tmp_path / "data", "category=Category:Ice_cream_cakes",
                        "width=300", "wnid=n07631926")
    expected = expected_rows(world, files_within(world, 1), 330)
    assert files_within(world, 1) != files_within(world, 2)
    rows = url_rows(tmp_path / "data")
    assert_provenance(rows, expected, wnid="n07631926")
    assert all("/330px-" in path for path in media_paths(log) if "/thumb/" in path)
    assert_polite(log, world)


def test_originals_are_checked_against_the_api_sha1(wiki, world, tmp_path) -> None:
    crawl_commons(wiki, tmp_path / "data", f"category={ROOT}", "depth=2", "width=original")
    expected = expected_rows(world, files_within(world, 2), None)
    assert any(row["kind"] == "sha1_mismatch" for row in expected.values())
    rows = url_rows(tmp_path / "data")
    assert_fetch_outcomes(rows, expected, {"ok"})


def test_search_follows_continuation_and_limit(wiki, world, tmp_path) -> None:
    hits = set(world["search"][SEARCH])
    assert len(hits) > world["rules"]["max_limit"]  # more than one page of results
    log = crawl_commons(wiki, tmp_path / "all", f"search={SEARCH}")
    expected = expected_rows(world, hits, commons.DEFAULT_WIDTH)
    assert set(url_rows(tmp_path / "all")) == set(expected)
    assert any("gsroffset" in r["path"] for r in log["requests"])
    crawl_commons(wiki, tmp_path / "four", f"search={SEARCH}", "limit=4")
    assert len(url_rows(tmp_path / "four")) == 4



def test_killed_crawl_rerun_converges(wiki, world, tmp_path) -> None:
    data_dir = tmp_path / "data"
    request_log(wiki, reset=True)
    command = [sys.executable, "-m", "scrapy", "crawl", "commons", "-a", f"category={ROOT}",
               "-a", "depth=2"]
    settings = {**TEST_SETTINGS, **COMMONS_SETTINGS, "SYNTHSET_DATA": str(data_dir),
                "CONTACT": CONTACT,
                "COMMONS_API_URL": wiki.url("w/api.php"), "CATALOG_FLUSH_ITEMS": "2",
                "CATALOG_FLUSH_SECONDS": "0.2"}
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    crawl_then_sigkill(command, data_dir, 3)
    expected = expected_rows(world, files_within(world, 2), commons.DEFAULT_WIDTH)
    before = {url: row["fetched_at"] for url, row in url_rows(data_dir).items()
              if row["fetched_at"]}
    assert 0 < len(before) < len(expected), "the crawl had finished; the test proves nothing"

    crawl_commons(wiki, data_dir, f"category={ROOT}", "depth=2")
    rows = url_rows(data_dir)
    assert_provenance(rows, expected, wnid=None)
    assert_fetch_outcomes(rows, expected, STORED_KINDS)
    assert {url: rows[url]["fetched_at"] for url in before} == before  # not fetched again
    assert_store_is_clean(data_dir, killed=True)


def test_missing_contact_is_one_error_line(wiki, tmp_path) -> None:
    command = [sys.executable, "-m", "scrapy", "crawl", "commons", "-a", f"category={ROOT}",
               "-s", f"SYNTHSET_DATA={tmp_path / 'data'}", "-s", "CONTACT=",
               "-s", f"COMMONS_API_URL={wiki.url('w/api.php')}"]
    env = {k: v for k, v in os.environ.items() if k != "SYNTHSET_CONTACT"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "-s CONTACT=" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything started


@pytest.mark.parametrize(("args", "message"), [
    ({}, "give one of"),
    ({"category": "X", "search": "y"}, "give one of"),
    ({"search": "y", "depth": "2"}, "applies to -a category"),
    ({"category": "X", "width": "4000"}, "use width=original"),
    ({"category": "X", "width": "wide"}, "whole number"),
    ({"category": "X", "wnid": "n1,n2"}, "wnid"),
    ({"category": "X", "colour": "red"}, "no such argument"),
])
def test_bad_arguments_are_refused(args, message) -> None:
    with pytest.raises(SynthsetError, match=message):
        CommonsSpider.parse_args(**args)


def test_widths_round_up_to_standard_steps() -> None:
    assert [parse_width(w) for w in ("20", "21", "300", "1280", "1281", "3840")] == [
        20, 40, 330, 1280, 1920, 3840]
    assert parse_width(None) == 1280 and parse_width("original") is None
    assert commons.category_title("category:ice_cream  cakes") == ROOT


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == 30.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:00 GMT", now=now) == 0.0  # past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_artist_html_becomes_text_and_link() -> None:
    html = ('<bdi><a rel="nofollow" href="//commons.wikimedia.org/wiki/User:A">A &amp; '
            "B&#39;s</a><br/>\n<i>Vienna</i></bdi><script>alert(1)</script>")
    assert commons.plain_text(html) == "A & B's Vienna"
    assert commons.first_link(html, "https://x.test/") == "https://commons.wikimedia.org/wiki/User:A"
    assert commons.first_link('<a href="javascript:alert(1)">x</a>', "https://x.test/") is None


def test_a_page_with_only_a_credit_names_no_creator() -> None:
    """The issue's reproduction: a Flickr link as Credit (its text a photo title), CC0."""
    meta = {"Credit": {"value": '<a rel="nofollow" class="external text" href="https://www.'
                                'flickr.com/photos/x/1">Birthday cake</a>'},
            "LicenseShortName": {"value": "CC0"}, "ObjectName": {"value": "Torta gelato 12"}}
    page = {"pageid": 1, "title": "File:Torta gelato 12.jpg", "imageinfo": [{
        "url": "https://upload.test/a.jpg", "mime": "image/jpeg", "extmetadata": meta,
        "descriptionurl": "https://commons.test/wiki/File:Torta_gelato_12.jpg"}]}
    file = commons.commons_file(page, original=True)
    provenance = file.provenance()
    assert (provenance.creator, provenance.creator_url) == (None, None)
    assert provenance.credit == "Birthday cake"
    assert provenance.attribution == ('"Torta gelato 12", See page for author, CC0, '
                                      "via Wikimedia Commons")
    assert (provenance.attribution_required, provenance.usage_terms,
            provenance.restrictions) == (None, None, None)  # not said, not guessed


def test_restrictions_keep_only_well_formed_names() -> None:
    assert commons.restriction_list("Personality|trademarked|trademarked||x y|<b>ok</b>") == (
        "personality|trademarked|ok")
    assert commons.restriction_list("") is commons.restriction_list(None) is None


@pytest.mark.parametrize(("name", "license_id"), [
    ("CC BY-SA 4.0", "cc-by-sa-4.0"), ("CC0", "cc0-1.0"), ("Public domain", "pdm"),
    ("CC BY 2.0 de", "cc-by-2.0-de"), ("CC-BY-SA-3.0", "cc-by-sa-3.0"),
    ("CC BY-SA 3.0 IGO", "cc-by-sa-3.0-igo"), ("CC BY-NC-SA 2.0", "cc-by-nc-sa-2.0"),
    ("GFDL", None), ("", None), ("CC BY-SA 2.5,2.0,1.0", None),
])
def test_commons_licence_names(name, license_id) -> None:
    assert licenses.from_short_name(name) == license_id


def test_openverse_licence_codes() -> None:
    assert licenses.from_openverse("by-sa", "4.0") == "cc-by-sa-4.0"
    assert licenses.from_openverse("cc0", "1.0") == licenses.from_openverse("CC0") == "cc0-1.0"
    assert licenses.from_openverse("pdm", "") == "pdm"
    assert licenses.from_openverse("by", None) is None
    assert licenses.from_openverse("nope", "1.0") is None


def test_sha1_of_served_original_differs_only_for_the_planted_file(wiki, world) -> None:
    """The mirror's own contract: the API's SHA-1 matches what it serves, but once."""
    api = wiki.url("w/api.php")
    request_log(wiki, reset=True)
    params = commons.category_files_params("Category:Chocolate ice cream cakes", None)
    described: dict[str, str] = {}
    cont: dict[str, Any] | None = {}
    while cont is not None:
        with urllib.request.urlopen(commons.api_url(api, commons.continued(params, cont))) as r:
            answer = commons.read_answer(r.read())
        if answer.error:  # the mirror's once-only maxlag: ask again
            continue
        for page in answer.pages:
            if page.get("imageinfo"):
                info = page["imageinfo"][0]
                described[info["url"]] = info["sha1"]
        cont = answer.cont
    kinds = {row["original_url"]: row["kind"] for row in world["files"]}
    for url, sha1 in described.items():
        if kinds[url] == "not_image":
            continue
        try:
            with urllib.request.urlopen(url) as response:
                body = response.read()
        except urllib.error.HTTPError as error:  # the media host's once-only 429
            assert error.code == 429
            with urllib.request.urlopen(url) as response:
                body = response.read()
        same = hashlib.sha1(body).hexdigest() == sha1  # noqa: S324
        assert same == (kinds[url] != "sha1_mismatch"), url


def test_in_flight_count_sees_a_looser_crawler(wiki, tmp_path) -> None:
    """The control for the etiquette checks: with 4 media slots the mirror counts more than 2."""
    slots = '{"commons-api": {"concurrency": 1}, "commons-media": {"concurrency": 4}}'
    log = crawl_commons(wiki, tmp_path / "data", f"category={ROOT}", DOWNLOAD_SLOTS=slots)
    assert log["max_in_flight"]["api"] == 1
    assert log["max_in_flight"]["media"] > 2


def test_retry_after_check_sees_a_crawler_that_ignores_it(wiki, world, tmp_path) -> None:
    """The control for the Retry-After checks: without RetryAfterMiddleware they fail
    (and the maxlag error, no longer retried, ends the crawl as one Error: line)."""
    from crawler import settings as defaults

    middlewares = {**defaults.DOWNLOADER_MIDDLEWARES,
                   "crawler.middlewares.RetryAfterMiddleware": None}
    settings = {**TEST_SETTINGS, **COMMONS_SETTINGS, "SYNTHSET_DATA": str(tmp_path / "data"),
                "CONTACT": CONTACT, "COMMONS_API_URL": wiki.url("w/api.php"),
                "DOWNLOADER_MIDDLEWARES": json.dumps(middlewares)}
    command = [sys.executable, "-m", "scrapy", "crawl", "commons", "-a", f"category={ROOT}"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    request_log(wiki, reset=True)
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    log = request_log(wiki)
    assert done.returncode == 1 and "Error: the Commons API" in done.stderr
    assert "maxlag" in done.stderr.splitlines()[-1]
    assert any(too_soon > LET_OUT_BEFORE[refusal["role"]]
               for refusal, too_soon, _ in refusals(log, world))
