"""The offline mirror: its CLI contract, API formats, determinism and every planted failure mode."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import imagehash
import numpy as np
import pytest
import requests
from PIL import Image, ImageOps

from crawler.mirror.drawing import draw_placeholder, random_cake_spec
from crawler.mirror.plan import KINDS
from tests.conftest import REPO, Mirror, start_mirror, stop_mirror

ICE = "n07631926"
CAKE = "n07628870"
TIMEOUT = 10  # seconds, for requests that must answer


@pytest.fixture(scope="module")
def truth(mirror: Mirror) -> dict:
    """The shared mirror's ground truth."""
    return mirror.truth()


def rows_of(truth: dict, kind: str) -> list[dict]:
    """Truth rows of one kind (at least one must exist)."""
    rows = [row for row in truth["urls"] if row["kind"] == kind]
    assert rows, f"no {kind} planted"
    return rows


def fetch(url: str) -> requests.Response:
    """GET with a generous timeout."""
    return requests.get(url, timeout=TIMEOUT)


def decoded(body: bytes) -> Image.Image:
    """The fully decoded image (raises on truncated or broken data)."""
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def api(mirror: Mirror, endpoint: str, query: str) -> requests.Response:
    """A call to the legacy text API."""
    return fetch(mirror.url(f"api/text/{endpoint}?{query}"))


# -- CLI contract ----------------------------------------------------------------------------


def test_first_stdout_line_is_the_base_url(mirror: Mirror, truth: dict) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", mirror.base_url)
    assert truth["base_url"] == mirror.base_url
    assert truth["seed"] == 0 and truth["options"]["images"] == 24


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "::"])
def test_hosts_other_than_loopback_are_refused(host: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "crawler.mirror", "--host", host, "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1, res.stderr
    assert res.stdout == ""
    assert res.stderr.startswith(f"Error: --host {host}:"), res.stderr
    assert "Traceback" not in res.stderr


def test_a_taken_port_is_a_one_line_error(mirror: Mirror) -> None:
    port = str(urlsplit(mirror.base_url).port)
    res = subprocess.run(
        [sys.executable, "-m", "crawler.mirror", "--port", port],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith(f"Error: --port {port}: cannot listen"), res.stderr


def test_sigterm_stops_the_mirror_while_a_response_is_held() -> None:
    running = start_mirror("--images", "1")
    try:
        held = next(r["url"] for r in running.truth()["urls"] if r["kind"] == "timeout")
        with pytest.raises(requests.Timeout):
            requests.get(held, timeout=0.5)
        running.process.terminate()
        assert running.process.wait(timeout=10) == 0
    finally:
        stop_mirror(running)


# -- text API and URL lists ------------------------------------------------------------------


def test_geturls_lists_the_synset_in_truth_order_with_crlf(mirror: Mirror, truth: dict) -> None:
    res = api(mirror, "imagenet.synset.geturls", f"wnid={ICE}")
    assert res.status_code == 200
    assert res.content.endswith(b"\r\n") and b"\n" not in res.content.replace(b"\r\n", b"")
    listed = res.text.split("\r\n")[:-1]
    assert listed == [row["url"] for row in truth["urls"] if row["wnid"] == ICE]
    assert len(listed) == truth["synsets"][ICE]["images"]
    assert sum(row["kind"] == "ok" for row in truth["urls"] if row["wnid"] == ICE) >= 24


def test_getmapping_pairs_image_ids_with_urls(mirror: Mirror, truth: dict) -> None:
    res = api(mirror, "imagenet.synset.geturls.getmapping", f"wnid={CAKE}")
    pairs = [line.split(" ", 1) for line in res.text.split("\r\n")[:-1]]
    expected = [[row["image_id"], row["url"]] for row in truth["urls"] if row["wnid"] == CAKE]
    assert pairs == expected and pairs
    assert all(re.fullmatch(rf"{CAKE}_\d+", image_id) for image_id, _ in pairs)


def test_hyponyms_direct_and_full_come_from_wordnet(mirror: Mirror) -> None:
    direct = api(mirror, "wordnet.structure.hyponym", f"wnid={CAKE}").text.split("\r\n")[:-1]
    full = api(mirror, "wordnet.structure.hyponym", f"wnid={CAKE}&full=1").text.split("\r\n")[:-1]
    assert direct[0] == full[0] == CAKE
    assert all(line.startswith("-n") for line in direct[1:] + full[1:])
    assert len(direct) == 1 + 39 and len(full) == 1 + 101
    assert "-n07629797" in direct  # baba
    assert "-n07629898" in full and "-n07629898" not in direct  # baba au rhum, under baba
    assert "-" + ICE not in full  # ice-cream cake is a frozen dessert in WordNet 3.0


def test_getwords_and_synset_table(mirror: Mirror, truth: dict) -> None:
    assert api(mirror, "wordnet.synset.getwords", f"wnid={ICE}").text == (
        "ice-cream cake\r\nicebox cake\r\n"
    )
    assert truth["synsets"][ICE] == {
        "words": ["ice-cream cake", "icebox cake"],
        "parent": "n07611358",
        "images": truth["synsets"][ICE]["images"],
    }
    assert len(truth["synsets"]) == 102 + 3  # the cake tree, ice-cream cake, tench, wok


def test_synset_list_names_every_listed_synset(mirror: Mirror, truth: dict) -> None:
    listed = api(mirror, "imagenet.synset.obtain_synset_list", "").text.split("\r\n")[:-1]
    assert listed == sorted({row["wnid"] for row in truth["urls"] if row["wnid"]})
    assert ICE in listed and CAKE in listed


def test_api_rejects_bad_input(mirror: Mirror) -> None:
    assert api(mirror, "imagenet.synset.geturls", "wnid=cake").status_code == 400
    assert api(mirror, "imagenet.synset.nothing", f"wnid={ICE}").status_code == 404
    unknown = api(mirror, "imagenet.synset.geturls", "wnid=n99999999")
    assert unknown.status_code == 200 and unknown.content == b""


def test_fall11_list_covers_every_imagenet_url(mirror: Mirror, truth: dict) -> None:
    res = fetch(mirror.url("fall11_urls.txt"))
    lines = [line.split("\t") for line in res.text.splitlines()]
    expected = [[r["image_id"], r["url"]] for r in truth["urls"] if r["source"] == "imagenet"]
    assert lines == expected
    wnids = {image_id.split("_")[0] for image_id, _ in lines}
    assert {"n01440764", "n04596742", ICE, CAKE} <= wnids


# -- truth ----------------------------------------------------------------------------------


def test_truth_covers_every_kind_with_consistent_fields(truth: dict) -> None:
    assert {row["kind"] for row in truth["urls"]} == set(KINDS)
    for row in truth["urls"]:
        assert (row["http_status"], row["error"], row["stored"], row["check"]) == KINDS[
            row["kind"]
        ], row
        if row["kind"] in ("exact_duplicate", "same_pixels", "near_duplicate"):
            assert row["duplicate_of"] in {r["url"] for r in truth["urls"]}
        else:
            assert row["duplicate_of"] is None
    assert len({row["url"] for row in truth["urls"]}) == len(truth["urls"])


def test_decisions_split_roughly_in_half(truth: dict) -> None:
    decisions = Counter(row["decision"] for row in truth["urls"] if row["decision"])
    share = decisions["accept"] / (decisions["accept"] + decisions["reject"])
    assert 0.35 < share < 0.65, decisions
    specs = [random_cake_spec(seed) for seed in range(400)]
    accepted = [s for s in specs if s.decision == "accept"]
    assert all(s.shape == "round" and s.tiers == 1 for s in accepted)
    assert {s.tiers for s in specs} == {1, 2, 3} and {s.shape for s in specs} == {"round", "square"}


def test_cakes_come_in_several_sizes_and_aspects(mirror: Mirror, truth: dict) -> None:
    plain = [r for r in truth["urls"] if r["kind"] == "ok" and not r["variant"]][:40]
    with ThreadPoolExecutor(8) as pool:
        sizes = [decoded(res.content).size for res in pool.map(fetch, [r["url"] for r in plain])]
    assert all(min(size) >= 80 and max(size) <= 640 for size in sizes), sizes
    assert {w > h for w, h in sizes} == {True, False} and any(w == h for w, h in sizes)
    assert len(set(sizes)) > 20


# -- each planted kind behaves as its truth says --------------------------------------------


def check_http_status(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        res = fetch(row["url"])
        assert res.status_code == row["http_status"], row
        assert res.status_code >= 400 or res.content


def check_refused(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        assert urlsplit(row["url"]).hostname == "127.0.0.1"
        with pytest.raises(requests.ConnectionError):
            requests.get(row["url"], timeout=TIMEOUT)


def check_timeout(mirror: Mirror, truth: dict, kind: str) -> None:
    row = rows_of(truth, kind)[0]
    with pytest.raises(requests.Timeout):
        requests.get(row["url"], timeout=1)
    # control: while that answer is held, other requests are answered at once
    ok = rows_of(truth, "ok")[0]
    assert requests.get(ok["url"], timeout=TIMEOUT).status_code == 200  # not held 60 s


def check_empty(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        res = fetch(row["url"])
        assert res.status_code == 200 and res.content == b""
        assert res.headers["Content-Type"].startswith("image/")


def check_html_as_jpg(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        res = fetch(row["url"])
        assert row["url"].endswith(".jpg") and res.headers["Content-Type"] == "image/jpeg"
        assert res.content.startswith(b"<!DOCTYPE html>")


def check_truncated(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        body = fetch(row["url"]).content
        assert body.startswith(b"\xff\xd8") and Image.open(io.BytesIO(body)).format == "JPEG"
        with pytest.raises(OSError):
            decoded(body)


def check_bomb(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        body = fetch(row["url"]).content
        assert len(body) < 10_000
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(body))


def check_placeholder(mirror: Mirror, truth: dict, kind: str) -> None:
    rows = rows_of(truth, kind)
    assert len(rows) >= 5
    reference = imagehash.phash(draw_placeholder(500, 374))
    bodies = [fetch(row["url"]) for row in rows]
    for row, res in zip(rows, bodies, strict=True):
        assert res.url == row["final_url"]
        assert imagehash.phash(decoded(res.content)) - reference <= 6, row
    counts = Counter(res.content for res in bodies)
    assert max(counts.values()) >= 2  # the same bytes under several URLs
    assert len({decoded(body).size for body in counts}) >= 3  # and re-encoded at other sizes
    cake = decoded(fetch(rows_of(truth, "ok")[0]["url"]).content)
    assert imagehash.phash(cake) - reference > 12  # control: a cake is not a placeholder


def original_of(truth: dict, row: dict) -> bytes:
    return fetch(row["duplicate_of"]).content


def check_exact_duplicate(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        assert fetch(row["url"]).content == original_of(truth, row)
        assert row["url"] != row["duplicate_of"]


def check_same_pixels(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        body, original = fetch(row["url"]).content, original_of(truth, row)
        assert body != original
        assert np.array_equal(np.asarray(decoded(body)), np.asarray(decoded(original)))


def check_near_duplicate(mirror: Mirror, truth: dict, kind: str) -> None:
    rows = rows_of(truth, kind)
    assert {row["variant"] for row in rows} == {"resized", "quality30", "crop4", "bright10"}
    for row in rows:
        body, original = fetch(row["url"]).content, original_of(truth, row)
        near, first = decoded(body), decoded(original)
        assert near.width * near.height < first.width * first.height and len(body) < len(original)
        assert imagehash.phash(near) - imagehash.phash(first) <= 8, row
    unrelated = decoded(fetch(rows_of(truth, "redirect")[0]["url"]).content)
    assert imagehash.phash(unrelated) - imagehash.phash(first) > 8  # control


def check_redirect(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        res = fetch(row["url"])
        assert [hop.status_code for hop in res.history] == [302, 301]
        assert res.url == row["final_url"] != row["url"]
        assert res.status_code == 200 and decoded(res.content).format == "JPEG"


def check_oversized(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        with requests.get(row["url"], timeout=TIMEOUT, stream=True) as res:
            assert int(res.headers["Content-Length"]) >= 12 * 1024 * 1024


def check_too_small(mirror: Mirror, truth: dict, kind: str) -> None:
    for row in rows_of(truth, kind):
        assert min(decoded(fetch(row["url"]).content).size) < 32


def check_bad_scheme(mirror: Mirror, truth: dict, kind: str) -> None:
    schemes = {urlsplit(row["url"]).scheme for row in rows_of(truth, kind)}
    assert schemes == {"ftp", "file", "data"}
    listed = api(mirror, "imagenet.synset.geturls", f"wnid={ICE}").text
    assert "file:///etc/passwd\r\n" in listed


def check_robots(mirror: Mirror, truth: dict, kind: str) -> None:
    robots = RobotFileParser()
    robots.parse(fetch(mirror.url("robots.txt")).text.splitlines())
    for row in rows_of(truth, kind):
        assert not robots.can_fetch("synthset", row["url"])
        assert urlsplit(row["url"]).path in fetch(row["found_on"]).text
        assert decoded(fetch(row["url"]).content)  # served: only politeness keeps it out
    assert robots.can_fetch("synthset", rows_of(truth, "ok")[0]["url"])  # control


def check_ok(mirror: Mirror, truth: dict, kind: str) -> None:
    special = {row["variant"]: row for row in rows_of(truth, kind) if row["variant"]}
    images = {name: decoded(fetch(row["url"]).content) for name, row in special.items()}
    rotated = images["exif_orientation_6"]
    assert rotated.getexif()[0x0112] == 6
    assert ImageOps.exif_transpose(rotated).size == rotated.size[::-1]
    assert images["cmyk"].mode == "CMYK"
    assert images["palette"].mode == "P" and images["rgba"].mode == "RGBA"
    png16 = fetch(special["png_16bit"]["url"]).content
    assert png16[24] == 16 and png16[25] == 2  # IHDR bit depth 16, colour type RGB
    assert images["animated_gif"].n_frames > 1
    assert all(min(image.size) >= 32 for image in images.values())


CHECKS = {
    "ok": check_ok,
    "not_found": check_http_status,
    "server_error": check_http_status,
    "refused": check_refused,
    "timeout": check_timeout,
    "empty": check_empty,
    "html_as_jpg": check_html_as_jpg,
    "truncated": check_truncated,
    "bomb": check_bomb,
    "placeholder": check_placeholder,
    "exact_duplicate": check_exact_duplicate,
    "same_pixels": check_same_pixels,
    "near_duplicate": check_near_duplicate,
    "redirect": check_redirect,
    "oversized": check_oversized,
    "too_small": check_too_small,
    "bad_scheme": check_bad_scheme,
    "robots": check_robots,
}


def test_every_kind_has_a_check() -> None:
    assert set(CHECKS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_planted_kind_behaves_as_truth_says(mirror: Mirror, truth: dict, kind: str) -> None:
    CHECKS[kind](mirror, truth, kind)


# -- web pages ------------------------------------------------------------------------------


class _Harvest(HTMLParser):
    """A reference extractor: img src, largest srcset, data-src, og:image, image links, pages."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page, self.images, self.links = page, set(), set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        found = []
        if tag == "img":
            found += [a.get("src", ""), a.get("data-src", "")]
            if "srcset" in a:
                candidates = [c.split() for c in a["srcset"].split(",")]
                found.append(max(candidates, key=lambda c: float(c[1][:-1]))[0])
        elif tag == "meta" and a.get("property") == "og:image":
            found.append(a["content"])
        elif tag == "a" and a.get("href"):
            target = urldefrag(urljoin(self.page, a["href"]))[0]
            if re.search(r"\.(jpe?g|png|gif)$", target):
                found.append(target)
            elif target.startswith("http"):
                self.links.add(target)
        self.images |= {urljoin(self.page, url) for url in found if url}


def test_pages_list_exactly_the_truth_images_and_depths(mirror: Mirror, truth: dict) -> None:
    start = mirror.url("web/index.html")
    depths, queue, harvested = {start: 1}, [start], {}
    while queue:
        page = queue.pop(0)
        parser = _Harvest(page)
        parser.feed(fetch(page).text)
        harvested[page] = parser.images
        for link in sorted(parser.links):
            if urlsplit(link).netloc == urlsplit(start).netloc and link not in depths:
                depths[link] = depths[page] + 1
                queue.append(link)
    assert depths == {p["url"]: p["depth"] for p in truth["pages"]}
    assert max(depths.values()) == 4
    web = [row for row in truth["urls"] if row["source"] == "web"]
    for page, images in harvested.items():
        assert images == {r["url"] for r in web if r["found_on"] == page}, page
    assert all(row["depth"] == depths[row["found_on"]] for row in web)
    assert {row["kind"] for row in web} >= {"ok", "robots", "not_found", "placeholder"}


def test_srcset_truth_is_the_largest_candidate(mirror: Mirror, truth: dict) -> None:
    rows = [row for row in truth["urls"] if (row["variant"] or "").startswith("largest srcset")]
    assert len(rows) == 2
    for row in rows:
        assert decoded(fetch(row["url"]).content).width == 800


# -- determinism and options ----------------------------------------------------------------


def _normalised(body: bytes, truth: dict) -> bytes:
    refused = next(r["url"] for r in truth["urls"] if r["kind"] == "refused")
    port, own = urlsplit(refused).port, urlsplit(truth["base_url"]).port
    body = body.replace(truth["base_url"].encode(), b"BASE/")
    body = body.replace(f"localhost:{own}/".encode(), b"OFFSITE/")
    return body.replace(f"127.0.0.1:{port}/".encode(), b"REFUSED/")


def _snapshot(mirror: Mirror, truth: dict) -> dict[str, bytes]:
    paths = ["truth.json", "fall11_urls.txt", "web/index.html", "robots.txt"]
    paths.append(f"api/text/imagenet.synset.geturls.getmapping?wnid={ICE}")
    picked = [r for r in truth["urls"] if r["stored"] and r["kind"] != "robots"][::7]
    paths += [r["url"][len(truth["base_url"]) :] for r in picked]
    return {path: _normalised(fetch(mirror.url(path)).content, truth) for path in paths}


def test_same_seed_gives_byte_identical_site(mirror: Mirror, truth: dict) -> None:
    again = start_mirror("--images", "24")
    other = start_mirror("--images", "24", "--seed", "1")
    try:
        first = _snapshot(mirror, truth)
        assert _snapshot(again, again.truth()) == first
        different = _snapshot(other, other.truth())
        assert sum(different.get(path) != body for path, body in first.items()) > len(first) // 2
    finally:
        stop_mirror(again)
        stop_mirror(other)


def test_benchmark_list_latency_and_truth_file(tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.json"
    latency = 1.5  # long beside a stall of a busy machine, so the bounds below hold there
    options = ["--images", "40", "--dead-fraction", "0.3", "--latency-ms", str(int(latency * 1000)),
               "--prerender", "--truth"]
    bench = start_mirror(*options, str(truth_file))
    try:
        truth = bench.truth()
        assert json.loads(truth_file.read_text()) == truth
        listed = [row for row in truth["urls"] if row["wnid"] == ICE]
        assert Counter(row["kind"] for row in listed) == {"ok": 28, "not_found": 12}
        assert {row["kind"] for row in truth["urls"] if row["wnid"] == CAKE} >= set(KINDS) - {
            "robots"
        }
        urls = [row["url"] for row in listed[:10]]
        began = time.perf_counter()
        with ThreadPoolExecutor(10) as pool:
            statuses = [res.status_code for res in pool.map(fetch, urls)]
        elapsed = time.perf_counter() - began
        assert statuses == [row["http_status"] for row in listed[:10]]
        # each answer waits the latency, the ten at once: one at a time would take 10 of them
        assert latency <= elapsed < 3 * latency
        began = time.perf_counter()
        fetch(bench.url(f"api/text/imagenet.synset.geturls?wnid={ICE}"))
        assert time.perf_counter() - began < latency  # control: the API is not delayed
    finally:
        stop_mirror(bench)


def test_concurrent_renders_of_one_drawing_keep_their_own_encodings() -> None:
    """Regression: a shared cached Image saved by two threads at once mixed their options."""
    from concurrent.futures import ThreadPoolExecutor

    from crawler.mirror import encoding
    from crawler.mirror.drawing import random_cake_spec
    from crawler.mirror.plan import picture

    spec = random_cake_spec(7)
    expected = {level: encoding.png(picture(spec), level) for level in (1, 9)}
    assert expected[1] != expected[9]
    with ThreadPoolExecutor(8) as pool:
        levels = [1, 9] * 200
        bodies = list(pool.map(lambda level: encoding.png(picture(spec), level), levels))
    assert all(body == expected[level] for body, level in zip(bodies, levels, strict=True))
