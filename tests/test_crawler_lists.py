"""The text-API parsers and the streamed fall11-style URL list."""

from __future__ import annotations

import inspect
import tracemalloc
from pathlib import Path

from crawler import imagenet


def test_parse_mapping_handles_crlf_and_blank_lines() -> None:
    text = "n07631926_1 http://a.example/1.jpg\r\n\r\nn07631926_2 http://b.example/2.jpg\r\n"
    listed = imagenet.parse_mapping(text, "n07631926")
    assert [(x.image_id, x.url) for x in listed] == [
        ("n07631926_1", "http://a.example/1.jpg"),
        ("n07631926_2", "http://b.example/2.jpg"),
    ]


def test_parse_hyponyms_and_words() -> None:
    assert imagenet.parse_hyponyms("n07628870\r\n-n07629697\r\n-n07629797\r\n") == [
        "n07628870", "n07629697", "n07629797",
    ]
    words = imagenet.parse_words("ice-cream cake\nicebox cake\n")
    assert words == ["ice-cream cake", "icebox cake"]


def test_api_urls_are_under_the_base() -> None:
    assert imagenet.mapping_url("http://h:1/mirror", "n07631926") == (
        "http://h:1/mirror/api/text/imagenet.synset.geturls.getmapping?wnid=n07631926"
    )
    url = imagenet.hyponyms_url("http://h:1/", "n07628870")
    assert url.endswith("hyponym?wnid=n07628870&full=1")


def _write_list(path: Path, lines: int) -> int:
    """A fall11-style list with every 100th line for n07631926; returns that synset's count."""
    wanted = 0
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(lines):
            wnid = "n07631926" if i % 100 == 0 else f"n{1000000 + i % 997:08d}"
            wanted += wnid == "n07631926"
            handle.write(f"{wnid}_{i}\thttp://host{i % 50}.example/images/{i:09d}/picture.jpg\n")
        handle.write("garbage line without a url\n\n n07631926_x\n")
    return wanted


def test_url_list_is_streamed_and_filtered(tmp_path: Path) -> None:
    path = tmp_path / "fall11_urls.txt"
    wanted = _write_list(path, 200_000)
    size = path.stat().st_size
    stream = imagenet.iter_url_list(path, {"n07631926"})
    assert inspect.isgenerator(stream)
    tracemalloc.start()
    count = 0
    for listed in stream:
        assert listed.wnid == "n07631926"
        assert listed.image_id.startswith("n07631926_")
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == wanted == 2000
    # Control: the list is ~13 MB; a reader that kept it (or its lines) would peak far above.
    assert size > 10_000_000
    assert peak < size / 20, f"peak {peak} bytes for a {size}-byte list"


def test_url_list_without_filter_keeps_every_wellformed_line(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("n1_1 http://a/1.jpg\nn07631926_3   http://a/3.jpg\nbad\n", encoding="utf-8")
    assert [x.url for x in imagenet.iter_url_list(path)] == ["http://a/3.jpg"]


def _line_of(length: int, number: int) -> str:
    """A well-formed list line of exactly ``length`` characters (line end not counted)."""
    head = f"n07631926_{number} http://a.example/"
    return head + "x" * (length - len(head))


def test_url_list_skips_overlong_lines_without_holding_them(tmp_path: Path, caplog) -> None:
    limit = imagenet.MAX_LINE_CHARS
    path = tmp_path / "fall11_urls.txt"
    huge = 20_000_000  # one 20 MB line: a broken or hostile list
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("n07631926_1 http://a.example/1.jpg\r\n")
        handle.write(_line_of(huge, 2) + "\n")
        handle.write(_line_of(limit, 3) + "\r\n")  # exactly at the bound: kept
        handle.write(_line_of(limit + 1, 4) + "\n")  # one over: skipped
        handle.write("n07631926_5 http://a.example/5.jpg\n")
        handle.write(_line_of(limit * 3, 6))  # over, with no line end at all
    skipped = []
    tracemalloc.start()
    listed = list(imagenet.iter_url_list(path, on_too_long=lambda: skipped.append(1)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [x.image_id for x in listed] == ["n07631926_1", "n07631926_3", "n07631926_5"]
    assert len(listed[1].url) == limit - len("n07631926_3 ")
    assert len(skipped) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"skipped line 2: {huge} characters, over {limit}",
        f"skipped line 4: {limit + 1} characters, over {limit}",
        f"skipped line 6: {limit * 3} characters, over {limit}",
    ]
    # Control: the 20 MB line is 20 MB of str; a reader holding it would peak far above.
    assert peak < 1_000_000, f"peak {peak} bytes"


def test_api_answers_skip_overlong_lines() -> None:
    limit = imagenet.MAX_LINE_CHARS
    text = ("n07631926_1 http://a.example/1.jpg\r\n" + _line_of(limit + 1, 2) + "\r\n"
            + "n07631926_3 http://a.example/3.jpg\r\n")
    skipped = []
    listed = imagenet.parse_mapping(text, "n07631926", lambda: skipped.append(1))
    assert [x.image_id for x in listed] == ["n07631926_1", "n07631926_3"]
    assert len(skipped) == 1
    assert imagenet.parse_words("cake\n" + "w" * (limit + 1) + "\nbaked goods\n") == [
        "cake", "baked goods",
    ]
    assert imagenet.parse_hyponyms("n07628870\n-" + "n" * limit + "\n-n07629697\n") == [
        "n07628870", "n07629697",
    ]
