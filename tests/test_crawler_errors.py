"""`scrapy crawl` answers a user's mistake with one `Error:` line and exit code 1, no traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlite_utils
from conftest import serving

from catalog import open_catalog
from crawler.wordnet import WordNet

REPO = Path(__file__).resolve().parent.parent
REFUSED = "http://127.0.0.1:1/"  # nothing listens on port 1: connections are refused
SYSTEM_WORDNET = "/usr/share/wordnet"
FAST = {  # one 127.0.0.1 host, no politeness, no retries: failures show at once
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "DOWNLOAD_TIMEOUT": "2",
    "RETRY_TIMES": "0",
}


def crawl(spider: str, data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    """Run ``scrapy crawl`` from the repo root with ``-a`` ``args`` and ``-s`` ``settings``."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for arg in args:
        command += ["-a", arg]
    for name, value in {**FAST, "SYNTHSET_DATA": str(data_dir), **settings}.items():
        command += ["-s", f"{name}={value}"]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one ``Error:`` line of a failed crawl; asserts exit 1 and no traceback."""
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output[-4000:]
    assert done.stderr.rstrip().endswith(lines[0]), "the Error: line must come last"
    return lines[0]


# --- refused before anything starts ----------------------------------------------------------
@pytest.mark.parametrize(
    ("spider", "args", "message"),
    [
        ("imagenet_synset", ["wnid=bogus"],
         "Error: -a wnid='bogus': a wnid is n + 8 digits, e.g. n07631926"),
        ("imagenet_synset", ["wnid=n07631926", "urls_file=/nonexistent"],
         "Error: -a urls_file='/nonexistent': no such file"),
        ("imagenet_synset", [],
         'Error: name the synsets: -a wnid=n07631926[,...] or -a synset="ice-cream cake"'),
        ("imagenet_synset", ["wnid=n07631926", "limit=ten"],
         "Error: -a limit='ten': expected a whole number >= 1"),
        ("imagenet_synset", ["wnid=n07631926", "hyponyms=maybe"],
         "Error: -a hyponyms='maybe': expected 1 or 0"),
        ("imagenet_synset", ["wnid=n07631926", "limt=5"],
         "Error: -a limt='5': imagenet_synset has no such argument; "
         "use wnid, synset, hyponyms, urls_file, archive, limit, refetch"),
        ("web_images", ["start_urls=notaurl"],
         "Error: start page 'notaurl' is not an http(s) URL; give e.g. https://example.org/"),
        ("web_images", ["start_urls=file:///etc/"],
         "Error: start page 'file:///etc/' is not an http(s) URL; give e.g. https://example.org/"),
        ("web_images", ["start_urls=http://a.example/", "depth=abc"],
         "Error: -a depth='abc': expected a whole number >= 0"),
        ("web_images", ["start_urls=http://a.example/", "depth=-1"],
         "Error: -a depth='-1': expected a whole number >= 0"),
        ("web_images", [],
         "Error: give pages: -a start_urls=URL[,URL...] or -a urls_file=PATH"),
        ("web_images", ["urls_file=/nonexistent"],
         "Error: -a urls_file='/nonexistent': no such file"),
        ("web_images", ["start_urls=http://a.example/", "wnid=cake"],
         "Error: -a wnid='cake': a wnid is n + 8 digits, e.g. n07631926"),
        ("nosuch", [],
         "Error: no spider named 'nosuch'; this project has: commons, imagenet_synset, "
         "openverse, web_images (see `scrapy list`)"),
    ],
)
def test_bad_arguments_are_refused_before_the_crawl(
    spider: str, args: list[str], message: str, tmp_path: Path
) -> None:
    done = crawl(spider, tmp_path / "data", *args)
    assert error_line(done) == message
    assert done.stderr.strip() == message  # no log banner: no crawler was even built
    assert not (tmp_path / "data").exists()  # and no catalog was created


def test_page_list_that_is_empty_or_not_text_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n")
    binary = tmp_path / "pages.bin"
    binary.write_bytes(b"\xff\xfe\x00http://a.example/\n")
    line = error_line(crawl("web_images", tmp_path / "data", f"urls_file={empty}"))
    assert line == f"Error: -a urls_file='{empty}': lists no pages (one URL per line)"
    line = error_line(crawl("web_images", tmp_path / "data", f"urls_file={binary}"))
    assert line.startswith(f"Error: -a urls_file='{binary}': cannot be read as UTF-8 text (")


def test_scrapy_list_shows_every_spider() -> None:
    done = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["commons", "imagenet_synset", "openverse", "web_images"]


# --- failures that only the crawl itself can find --------------------------------------------
@pytest.mark.skipif(not WordNet.available(SYSTEM_WORDNET), reason="wordnet-base not installed")
def test_unknown_synset_name_offline(tmp_path: Path) -> None:
    done = crawl("imagenet_synset", tmp_path / "data", "synset=zzqx cake",
                 WORDNET_DIR=SYSTEM_WORDNET, IMAGENET_API_URL=REFUSED)
    assert error_line(done) == (
        f"Error: -a synset='zzqx cake' is no noun of the WordNet 3.0 in {SYSTEM_WORDNET}; "
        "try another spelling or -a wnid=nNNNNNNNN"
    )
    assert "spider_exceptions" not in done.stderr
    assert "Spider closed (synthset_error)" in done.stderr


def unreadable_wordnet(tmp_path: Path, kind: str) -> Path:
    """A WORDNET_DIR that is missing, empty, or holds noun files that are not text."""
    directory = tmp_path / "wordnet"
    if kind == "garbage":
        directory.mkdir()
        for name in ("data.noun", "index.noun"):
            (directory / name).write_bytes(b"\xff\xfe\xfa" * 100)
    elif kind == "empty":
        directory.mkdir()
    return directory


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage"])
def test_name_without_wordnet_and_without_api(kind: str, tmp_path: Path) -> None:
    wordnet = unreadable_wordnet(tmp_path, kind)
    done = crawl("imagenet_synset", tmp_path / "data", "synset=ice-cream cake",
                 WORDNET_DIR=str(wordnet), IMAGENET_API_URL=REFUSED)
    assert error_line(done) == (
        f"Error: -a synset='ice-cream cake': no readable WordNet in {wordnet}, and the ImageNet "
        f"API failed to list its synsets (refused: {REFUSED}api/text/"
        "imagenet.synset.obtain_synset_list); install wordnet-base (or set -s WORDNET_DIR=...) "
        "or give -a wnid=nNNNNNNNN"
    )


def test_wnid_with_the_api_unreachable(tmp_path: Path) -> None:
    done = crawl("imagenet_synset", tmp_path / "data", "wnid=n07631926",
                 WORDNET_DIR=str(tmp_path), IMAGENET_API_URL=REFUSED)
    assert error_line(done) == (
        f"Error: the ImageNet API failed (refused: {REFUSED}api/text/wordnet.synset.getwords"
        "?wnid=n07631926) and listed no images; set -s IMAGENET_API_URL=... to a working "
        "mirror, or give -a urls_file=fall11_urls.txt"
    )


def test_wnid_from_a_list_file_needs_no_api(tmp_path: Path) -> None:
    # Control for the test above: the words request fails the same way, but the list file
    # names the images, so the crawl did its job and exits 0.
    listing = tmp_path / "fall11_urls.txt"
    listing.write_text(f"n07631926_1\t{REFUSED}cake.jpg\n")
    done = crawl("imagenet_synset", tmp_path / "data", "wnid=n07631926",
                 f"urls_file={listing}", WORDNET_DIR=str(tmp_path), IMAGENET_API_URL=REFUSED)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Error:" not in done.stderr
    with open_catalog(tmp_path / "data", create=False) as catalog:
        rows = list(sqlite_utils.Database(catalog.conn)["urls"].rows)
    assert [(row["url"], row["error"]) for row in rows] == [(f"{REFUSED}cake.jpg", "refused")]


class _TextApi(BaseHTTPRequestHandler):
    """A legacy ImageNet text API knowing two synsets and no images."""

    WORDS = {"n07631926": "ice-cream cake\nicebox cake\n", "n07628870": "cake\n"}

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        parts = urlsplit(self.path)
        wnid = parse_qs(parts.query).get("wnid", [""])[0]
        answers = {
            "/api/text/imagenet.synset.obtain_synset_list": "".join(f"{w}\n" for w in self.WORDS),
            "/api/text/wordnet.synset.getwords": self.WORDS.get(wnid),
            "/api/text/imagenet.synset.geturls.getmapping": "" if wnid in self.WORDS else None,
        }
        body = answers.get(parts.path)
        status = 200 if body is not None else 404
        data = (body if body is not None else "not found\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture
def text_api() -> Iterator[str]:
    """The base URL of a :class:`_TextApi` on 127.0.0.1, port 0."""
    with serving(_TextApi) as base_url:
        yield f"{base_url}/"


def test_name_falls_back_to_the_api_without_wordnet(text_api: str, tmp_path: Path) -> None:
    done = crawl("imagenet_synset", tmp_path / "data", "synset=Icebox Cake",
                 WORDNET_DIR=str(unreadable_wordnet(tmp_path, "garbage")),
                 IMAGENET_API_URL=text_api)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Error:" not in done.stderr
    with open_catalog(tmp_path / "data", create=False) as catalog:
        synsets = sqlite_utils.Database(catalog.conn)["synsets"].rows
        words = {row["wnid"]: row["words"] for row in synsets}
    assert words == {"n07631926": "ice-cream cake, icebox cake"}


def test_name_the_api_does_not_know(text_api: str, tmp_path: Path) -> None:
    done = crawl("imagenet_synset", tmp_path / "data", "synset=zzqx cake",
                 WORDNET_DIR=str(tmp_path / "none"), IMAGENET_API_URL=text_api)
    assert error_line(done) == (
        f"Error: -a synset='zzqx cake': the ImageNet API at {text_api} lists no synset of that "
        "name; try another spelling or -a wnid=nNNNNNNNN"
    )


@pytest.mark.parametrize("start", [REFUSED, "missing"])
def test_no_start_page_readable(start: str, mirror: Any, tmp_path: Path) -> None:
    url = REFUSED if start == REFUSED else mirror.url("no/such/page.html")
    done = crawl("web_images", tmp_path / "data", f"start_urls={url}")
    why = f"{url} could not be fetched (refused)" if start == REFUSED else (
        f"{url} answered HTTP 404"
    )
    assert error_line(done) == (
        f"Error: no start page could be read (1 tried; {why}); check -a start_urls / -a urls_file"
    )


def test_one_readable_start_page_is_enough(mirror: Any, tmp_path: Path) -> None:
    # Control for the test above: a dead start page beside a live one is only a warning.
    pages = f"{REFUSED},{mirror.url('web/index.html')}"
    done = crawl("web_images", tmp_path / "data", f"start_urls={pages}", "depth=0")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Error:" not in done.stderr


def test_catalog_too_new_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_catalog(data).close()
    with sqlite3.connect(data / "catalog.db") as conn:  # as a future synthset would leave it
        conn.execute("PRAGMA user_version = 999")
    line = error_line(crawl("imagenet_synset", data, "wnid=n07631926", IMAGENET_API_URL=REFUSED))
    assert "999" in line, line



def test_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a directory\n")
    line = error_line(crawl("imagenet_synset", data, "wnid=n07631926", IMAGENET_API_URL=REFUSED))
    assert line.startswith(f"Error: -s SYNTHSET_DATA={data}: no catalog can be opened there (")
    assert line.endswith("); point it at a writable directory")
    assert data.read_text() == "not a directory\n"



@pytest.mark.parametrize(("setting", "message"), [
    ("CRAWL_PROCESSES=abc", "Error: -s CRAWL_PROCESSES=abc: give a number"),  # ours
    ("DOWNLOAD_TIMEOUT=2s", "Error: -s DOWNLOAD_TIMEOUT=2s: give a number"),  # Scrapy's
    ("ROBOTSTXT_OBEY=maybe", "Error: -s ROBOTSTXT_OBEY=maybe: give 1 or 0 (True or False)"),
])
def test_a_setting_that_cannot_be_read_is_one_line(tmp_path: Path, setting: str,
                                                   message: str) -> None:
    name, value = setting.split("=")
    done = crawl("imagenet_synset", tmp_path / "data", "wnid=n07631926",
                 IMAGENET_API_URL=REFUSED, **{name: value})
    assert error_line(done) == message
    assert not (tmp_path / "data").exists()  # refused before anything was written

# --- the argument dataclasses the command and the spiders share -------------------------------
def test_spider_and_command_parse_the_same_arguments() -> None:
    from crawler.spiders.imagenet_synset import ImagenetArgs, ImagenetSynsetSpider
    from crawler.spiders.web_images import WebImagesArgs, WebImagesSpider

    args = ImagenetSynsetSpider.parse_args(wnid="n07631926", synset="cake", limit="3")
    assert args == ImagenetArgs(wnids=("n07631926",), names=("cake",), limit=3)
    assert ImagenetSynsetSpider(wnid="n07631926", synset="cake", limit="3").args == args
    pages = WebImagesSpider.parse_args(start_urls="http://a.example/,http://a.example/")
    assert pages == WebImagesArgs(page_urls=("http://a.example/",))


def test_underscore_arguments_pass_through_to_the_spider() -> None:
    # scrapyd adds -a _job=...; it is Scrapy's business, not an unknown argument.
    from crawler.spiders.web_images import WebImagesSpider

    spider = WebImagesSpider(start_urls="http://a.example/", _job="abc")
    assert spider._job == "abc"
