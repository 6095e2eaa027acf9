"""Real `scrapy crawl` runs against the offline mirror: the catalog must hold what it planted."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from conftest import serving

from catalog import open_catalog
from crawler.urlsafety import recorded_form
from crawler.wordnet import WordNet

REPO = Path(__file__).resolve().parent.parent
ICE_CREAM_CAKE = "n07631926"
CAKE = "n07628870"
# Fast, impolite settings for one 127.0.0.1 host; the timeout route needs a short timeout.
TEST_SETTINGS = {
    "DOWNLOAD_TIMEOUT": "1",
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
    "RETRY_BACKOFF_BASE": "0.05",
    "DOWNLOAD_MAXSIZE": str(8 * 1024 * 1024),  # the mirror's oversized body is 12 MiB
    "CRAWL_PROCESSES": "1",  # one process, one runs row (test_crawler_scale tests several)
}
STORE_FILE = re.compile(r"^images/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})\.[a-z0-9]{1,5}$")
CATALOG_FILES = {"catalog.db", "catalog.db-wal", "catalog.db-shm", "crawl.lock"}
INCOMING_FILE = re.compile(r"^images/\.incoming/tmp-[^/]+$")


def crawl(spider: str, data_dir: Path, *args: str, **settings: str) -> str:
    """Run ``scrapy crawl`` from the repo root; return its log (stderr). Fails on a traceback."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for arg in args:
        command += ["-a", arg]
    for name, value in {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir), **settings}.items():
        command += ["-s", f"{name}={value}"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    return done.stderr


def url_rows(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Every urls row of the catalog, by URL (through the catalog's sqlite-utils handle)."""
    with open_catalog(data_dir, create=False) as catalog:
        return {row["url"]: row for row in sqlite_utils.Database(catalog.conn)["urls"].rows}


def facts(row: dict[str, Any]) -> tuple[Any, ...]:
    """What a crawl must record for a URL, from a catalog row."""
    return (
        row["http_status"], row["error"], row["sha256"] is not None, row["final_url"],
        row["found_on"], row["wnid"], row["fetched_at"] is not None,
    )


def planted_facts(row: dict[str, Any]) -> tuple[Any, ...]:
    """The same tuple from a /truth.json row."""
    return (
        row["http_status"], row["error"], row["stored"], row["final_url"],
        row["found_on"], row["wnid"], True,
    )


def assert_catalog_matches(data_dir: Path, planted: Iterable[dict[str, Any]]) -> None:
    """The catalog has exactly the planted URLs, each with the planted facts."""
    rows = url_rows(data_dir)
    expected = {row["url"]: planted_facts(row) for row in planted}
    assert set(rows) == set(expected)
    wrong = {url: (facts(rows[url]), want) for url, want in expected.items()
             if facts(rows[url]) != want}
    assert not wrong, wrong


def assert_store_is_clean(data_dir: Path, killed: bool = False) -> None:
    """Only catalog files and whole, hash-named store files exist in the data directory.

    After a SIGKILL (``killed``), half-written temporary files may also wait in
    ``images/.incoming/``: never part of the store, swept once they are stale.
    """
    with open_catalog(data_dir, create=False) as catalog:
        referenced = {row["path"] for row in sqlite_utils.Database(catalog.conn)["images"].rows}
    for path in data_dir.rglob("*"):
        if path.is_dir():
            continue
        relative = path.relative_to(data_dir).as_posix()
        if relative in CATALOG_FILES or (killed and INCOMING_FILE.match(relative)):
            continue
        match = STORE_FILE.match(relative)
        assert match, f"unexpected file {relative}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == match.group(3), relative
    assert all((data_dir / path).is_file() for path in referenced)


def subtree(synsets: dict[str, dict[str, Any]], root: str) -> set[str]:
    """``root`` and every synset whose parent chain in the truth reaches it."""
    def reaches(wnid: str | None) -> bool:
        while wnid and wnid != root:
            wnid = synsets.get(wnid, {}).get("parent")
        return wnid == root
    return {wnid for wnid in synsets if reaches(wnid)}


@pytest.fixture(scope="module")
def truth(mirror: Any) -> dict[str, Any]:
    return mirror.truth()


@pytest.fixture(scope="module")
def ice_cream_crawl(mirror: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full crawl of n07631926 from the mirror's API, shared by the tests below."""
    data_dir = tmp_path_factory.mktemp("ice") / "data"
    crawl("imagenet_synset", data_dir, f"wnid={ICE_CREAM_CAKE}",
          IMAGENET_API_URL=mirror.base_url)
    return data_dir


def test_imagenet_crawl_records_every_planted_fact(
    ice_cream_crawl: Path, truth: dict[str, Any]
) -> None:
    planted = [row for row in truth["urls"] if row["wnid"] == ICE_CREAM_CAKE]
    kinds = {row["kind"] for row in planted}
    assert {"timeout", "refused", "oversized", "redirect", "bad_scheme", "server_error"} <= kinds
    assert_catalog_matches(ice_cream_crawl, planted)
    rows = url_rows(ice_cream_crawl)
    by_id = {row["image_id"] for row in rows.values()}
    assert by_id == {row["image_id"] for row in planted}
    assert_store_is_clean(ice_cream_crawl)


def test_imagenet_crawl_records_synset_and_run(ice_cream_crawl: Path) -> None:
    with open_catalog(ice_cream_crawl, create=False) as catalog:
        synset = sqlite_utils.Database(catalog.conn)["synsets"].get(ICE_CREAM_CAKE)
        runs = list(sqlite_utils.Database(catalog.conn)["runs"].rows)
    assert synset["words"] == "ice-cream cake, icebox cake"  # offline, from WordNet
    assert synset["gloss"] == "ice cream molded to look like a cake"
    assert [run["command"] for run in runs] == ["crawl imagenet_synset"]
    assert runs[0]["finished_at"] is not None
    stats = json.loads(runs[0]["stats"])
    assert stats["error/timeout"] == 1
    assert stats["fetched"] == stats["discovered"] > 50
    # batched writes, never one transaction per item (flushes also come every 2 s, so the
    # bound scales with the items, not with how long a busy machine took)
    assert stats["flushes"] <= stats["fetched"] // 5
    politeness = json.loads(runs[0]["args"])["politeness"]  # for the dataset card
    assert politeness["ROBOTSTXT_OBEY"] is True
    assert politeness["USER_AGENT"].startswith("synthset/")
    assert politeness["OPTOUT_DIRECTIVES"]


def test_rerun_skips_fetched_urls_unless_refetch(ice_cream_crawl: Path, mirror: Any,
                                                 tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(ice_cream_crawl, data_dir)
    before = {url: row["fetched_at"] for url, row in url_rows(data_dir).items()}
    log = crawl("imagenet_synset", data_dir, f"wnid={ICE_CREAM_CAKE}",
                IMAGENET_API_URL=mirror.base_url)
    assert {url: row["fetched_at"] for url, row in url_rows(data_dir).items()} == before
    assert f"'synthset/skipped_fetched_before': {len(before)}" in log
    crawl("imagenet_synset", data_dir, f"wnid={ICE_CREAM_CAKE}", "refetch=1",
          IMAGENET_API_URL=mirror.base_url)
    after = {url: row["fetched_at"] for url, row in url_rows(data_dir).items()}
    assert set(after) == set(before)
    assert all(after[url] > before[url] for url in before)


@pytest.mark.parametrize(("depth", "deepest_page"), [(1, 2), (3, 4)])
def test_web_crawl_follows_links_to_depth(
    depth: int, deepest_page: int, mirror: Any, truth: dict[str, Any], tmp_path: Path
) -> None:
    # The mirror numbers its start page 1; -a depth counts link hops from it.
    start = mirror.url("web/index.html")
    crawl("web_images", tmp_path / "data", f"start_urls={start}", f"depth={depth}")
    planted = [row for row in truth["urls"]
               if row["source"] == "web" and row["depth"] <= deepest_page]
    assert {row["kind"] for row in planted} >= {"ok", "robots", "not_found", "placeholder"}
    assert_catalog_matches(tmp_path / "data", planted)


def test_urls_file_is_filtered_by_wnid_and_limited(mirror: Any, tmp_path: Path) -> None:
    listing = tmp_path / "fall11_urls.txt"
    with urllib.request.urlopen(mirror.url("fall11_urls.txt"), timeout=30) as response:
        listing.write_bytes(response.read())
    lines = [line.split("\t") for line in listing.read_text().splitlines()]
    assert {image_id.split("_")[0] for image_id, _ in lines} > {ICE_CREAM_CAKE}  # other synsets
    first = [(image_id, url) for image_id, url in lines if image_id.startswith(ICE_CREAM_CAKE)][:5]
    crawl("imagenet_synset", tmp_path / "data", f"wnid={ICE_CREAM_CAKE}",
          f"urls_file={listing}", "limit=5", IMAGENET_API_URL="http://127.0.0.1:9/unused/")
    rows = url_rows(tmp_path / "data")
    assert {(row["image_id"], url) for url, row in rows.items()} == set(first)
    assert all(row["wnid"] == ICE_CREAM_CAKE and row["fetched_at"] for row in rows.values())


def test_synset_name_resolves_offline(mirror: Any, tmp_path: Path) -> None:
    crawl("imagenet_synset", tmp_path / "data", "synset=Ice-cream Cake", "limit=2",
          IMAGENET_API_URL=mirror.base_url)
    rows = url_rows(tmp_path / "data")
    assert len(rows) == 2
    assert {row["wnid"] for row in rows.values()} == {ICE_CREAM_CAKE}


@pytest.mark.parametrize("wordnet", ["offline", "api"])
def test_hyponyms_offline_and_through_the_api(
    wordnet: str, mirror: Any, truth: dict[str, Any], tmp_path: Path
) -> None:
    # Offline: WordNet walks the tree. API: WORDNET_DIR is empty, the mirror's
    # wordnet.structure.hyponym names the tree. Both must list the same synsets.
    wordnet_dir = "/usr/share/wordnet" if wordnet == "offline" else str(tmp_path)
    if wordnet == "offline" and not WordNet.available(wordnet_dir):
        pytest.skip("Debian package wordnet-base is not installed")
    crawl("imagenet_synset", tmp_path / "data", f"wnid={CAKE}", "hyponyms=1", "limit=1",
          IMAGENET_API_URL=mirror.base_url, WORDNET_DIR=wordnet_dir)
    tree = subtree(truth["synsets"], CAKE)
    assert {"n07628870", "n07631109"} <= tree and "n07631926" not in tree
    with_images = {row["wnid"] for row in truth["urls"] if row["wnid"] in tree}
    rows = url_rows(tmp_path / "data")
    assert len(with_images) > 5
    assert sorted(row["wnid"] for row in rows.values()) == sorted(with_images)  # 1 per synset
    with open_catalog(tmp_path / "data", create=False) as catalog:
        synsets = sqlite_utils.Database(catalog.conn)["synsets"].rows
        words = {row["wnid"]: row["words"] for row in synsets}
    assert words[CAKE] == "cake"
    assert words["n07631109"] == "devil's food, devil's food cake"


def test_unsafe_urls_never_leave_the_store(mirror: Any, tmp_path: Path) -> None:
    base = mirror.base_url
    nasty = {
        "ftp://127.0.0.1/pub/cake.jpg": "bad_scheme",
        "file:///etc/passwd": "bad_scheme",
        "file://../../../../tmp/owned.jpg": "bad_scheme",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==": "bad_scheme",
        "javascript:alert(1)": "bad_scheme",
        "http:///no-host.jpg": "other",
        f"{base}../../../../etc/passwd": None,
        f"{base}img/%2e%2e/%2e%2e/%2e%2e/etc/passwd": None,
        f"{base}..%2f..%2f..%2fetc%2fpasswd.jpg": None,
        f"{base}img/cake.jpg?path=../../../../tmp/owned.jpg": None,
        f"{base}web/index.html": None,  # a real body: stored under its hash, nowhere else
    }
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{ICE_CREAM_CAKE}_{i} {url}\n" for i, url in enumerate(nasty)))
    outside_before = sorted(p.name for p in tmp_path.parent.iterdir())
    crawl("imagenet_synset", tmp_path / "data", f"wnid={ICE_CREAM_CAKE}",
          f"urls_file={listing}", IMAGENET_API_URL=base)
    rows = url_rows(tmp_path / "data")
    assert set(rows) == set(nasty)
    assert {url: rows[url]["error"] for url in nasty if nasty[url]} == {
        url: token for url, token in nasty.items() if token
    }
    assert all(rows[url]["http_status"] for url, token in nasty.items() if token is None)
    assert any(row["sha256"] for row in rows.values())
    assert_store_is_clean(tmp_path / "data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "list.txt"]
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == outside_before


def test_overlong_urls_are_recorded_as_refused_not_left_pending(
    mirror: Any, tmp_path: Path
) -> None:
    """Scrapy drops requests over URLLENGTH_LIMIT silently; the URL must still get its fact."""
    base = mirror.base_url
    long_url = f"{base}img/cake.jpg?pad={'x' * 2100}"
    short_url = f"{base}img/cake.jpg?pad=x"
    listing = tmp_path / "list.txt"
    listing.write_text(f"{ICE_CREAM_CAKE}_1 {long_url}\n{ICE_CREAM_CAKE}_2 {short_url}\n")
    crawl("imagenet_synset", tmp_path / "data", f"wnid={ICE_CREAM_CAKE}",
          f"urls_file={listing}", IMAGENET_API_URL=base)
    rows = url_rows(tmp_path / "data")
    assert long_url not in rows  # recorded shortened: a refused URL is no megabyte primary key
    recorded = recorded_form(long_url)
    assert rows[recorded]["fetched_at"] and rows[recorded]["error"] == "other"
    assert rows[short_url]["fetched_at"] and rows[short_url]["http_status"]
    with open_catalog(tmp_path / "data", create=False) as catalog:
        from catalog.harvest import pending_urls

        assert pending_urls(catalog) == []
    # Control: a higher limit lets the same URL be fetched.
    crawl("imagenet_synset", tmp_path / "data2", f"wnid={ICE_CREAM_CAKE}",
          f"urls_file={listing}", IMAGENET_API_URL=base, URLLENGTH_LIMIT="4000")
    assert url_rows(tmp_path / "data2")[long_url]["http_status"]


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A tiny static HTTP server on 127.0.0.1, port 0, serving a folder; (base URL, folder)."""
    folder = tmp_path / "site"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(functools.partial(Quiet, directory=str(folder))) as base_url:
        yield f"{base_url}/", folder


def test_long_data_uris_on_a_page_are_recorded_short_and_stable(
    page_server: tuple[str, Path], tmp_path: Path
) -> None:
    """A megabyte data: URI is no primary key: its row is a short stand-in, the same on reruns."""
    base, site = page_server
    long_a = "data:image/png;base64," + "A" * 1_000_000
    long_b = "data:image/png;base64," + "A" * 999_999 + "B"  # same first 64 chars: its own row
    short = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    (site / "cake.png").write_bytes(_tiny_png())
    (site / "index.html").write_text(
        f'<html><body><img src="{long_a}"><img src="{long_b}"><img src="{short}">'
        '<img src="cake.png"></body></html>'
    )
    data_dir = tmp_path / "data"
    crawl("web_images", data_dir, f"start_urls={base}index.html", "depth=0")
    rows = url_rows(data_dir)
    recorded_a, recorded_b = recorded_form(long_a), recorded_form(long_b)
    assert set(rows) == {recorded_a, recorded_b, short, f"{base}cake.png"}
    assert recorded_a != recorded_b
    for full, recorded in ((long_a, recorded_a), (long_b, recorded_b)):
        assert recorded == f"{full[:64]}...#sha256={hashlib.sha256(full.encode()).hexdigest()}"
        assert rows[recorded]["error"] == "bad_scheme" and rows[recorded]["fetched_at"]
        assert rows[recorded]["found_on"] == f"{base}index.html"
    assert rows[short]["error"] == "bad_scheme"  # short enough: recorded whole
    assert rows[f"{base}cake.png"]["http_status"] == 200
    before = {url: row["fetched_at"] for url, row in rows.items()}

    crawl("web_images", data_dir, f"start_urls={base}index.html", "depth=0")
    after = url_rows(data_dir)
    assert {url: row["fetched_at"] for url, row in after.items()} == before  # skipped, not redone


def _tiny_png() -> bytes:
    """A real 8 x 8 PNG."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()
