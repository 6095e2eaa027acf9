"""`scrapy crawl imagenet_synset -a archive=...`: ImageNet-21k tars read as streams, safely."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_crawler_harvest import (
    CAKE,
    ICE_CREAM_CAKE,
    REPO,
    TEST_SETTINGS,
    assert_store_is_clean,
    crawl,
    url_rows,
)

from catalog import open_catalog
from crawler.archive import ArchiveUnreadable, iter_archive, member_identifier

RELEASE_SYNSETS = {ICE_CREAM_CAKE, CAKE, "n01440764"}


def download(url: str, path: Path) -> Path:
    """Save a mirror URL to ``path`` (the user's download step)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        path.write_bytes(response.read())
    return path


@pytest.fixture(scope="module")
def archives(mirror: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The mirror's archive truth, with its per-synset tar and release saved locally."""
    truth = mirror.truth()["archives"]
    folder = tmp_path_factory.mktemp("archives")
    return {
        "truth": truth,
        "tar": download(truth["synsets"][ICE_CREAM_CAKE]["url"], folder / "n07631926.tar"),
        "release": download(truth["release"], folder / "winter21_whole.tar.gz"),
    }


def archive_crawl(data_dir: Path, archive: Path, wnid: str, mirror: Any, *args: str) -> str:
    """One archive crawl (the API only names the synset); returns its log."""
    return crawl("imagenet_synset", data_dir, f"wnid={wnid}", f"archive={archive}", *args,
                 IMAGENET_API_URL=mirror.base_url)


def expected_rows(truth: dict[str, Any], wnids: set[str]) -> dict[str, tuple[Any, ...]]:
    """Identifier -> (wnid, image_id, sha256) for the good images of ``wnids``."""
    return {
        member_identifier(image["wnid"], image["name"]):
            (image["wnid"], image["image_id"], image["sha256"])
        for wnid in wnids for image in truth["synsets"][wnid]["images"]
    }


def recorded(data_dir: Path) -> dict[str, tuple[Any, ...]]:
    """Identifier -> (wnid, image_id, sha256) as the catalog holds it; every row stored."""
    rows = url_rows(data_dir)
    assert all(r["source"] == "imagenet" and r["fetched_at"] and r["error"] is None
               for r in rows.values())
    return {url: (r["wnid"], r["image_id"], r["sha256"]) for url, r in rows.items()}


def store_state(data_dir: Path) -> dict[str, int]:
    """Every file under the data directory but the catalog and the crawl lock (each crawl
    writes its pid there), with its modification time."""
    return {str(p.relative_to(data_dir)): p.stat().st_mtime_ns
            for p in data_dir.rglob("*")
            if p.is_file() and not p.name.startswith("catalog.db") and p.name != "crawl.lock"}


def test_synset_tar_records_every_image_and_skips_bad_members(
    mirror: Any, archives: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    log = archive_crawl(data_dir, archives["tar"], ICE_CREAM_CAKE, mirror)
    truth = archives["truth"]["synsets"][ICE_CREAM_CAKE]
    assert recorded(data_dir) == expected_rows(archives["truth"], {ICE_CREAM_CAKE})
    assert len(truth["skipped"]) == 6
    for member in truth["skipped"]:
        assert f"skipping member {member['name']!r}: {member['reason']}" in log
    assert "'synthset/archive_members_skipped': 6" in log
    assert_store_is_clean(data_dir)
    assert not (tmp_path / "n07631926_90003.JPEG").exists()  # nothing unpacked, anywhere
    assert sorted(p.name for p in archives["tar"].parent.iterdir()) == [
        "n07631926.tar", "winter21_whole.tar.gz"
    ]


def test_rerun_and_release_add_nothing(
    mirror: Any, archives: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    archive_crawl(data_dir, archives["tar"], ICE_CREAM_CAKE, mirror)
    first, files = recorded(data_dir), store_state(data_dir)

    again = archive_crawl(data_dir, archives["tar"], ICE_CREAM_CAKE, mirror)
    from_release = archive_crawl(data_dir, archives["release"], ICE_CREAM_CAKE, mirror)
    assert recorded(data_dir) == first
    assert store_state(data_dir) == files  # no second store write
    for log in (again, from_release):
        assert f"'synthset/skipped_fetched_before': {len(first)}" in log
        assert "'fetched':" not in log  # nothing recorded again
    with open_catalog(data_dir, create=False) as catalog:
        assert catalog.conn.execute("SELECT count(*) FROM images").fetchone()[0] == len(first)


def test_release_reads_the_synsets_asked_for(
    mirror: Any, archives: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    wanted = {ICE_CREAM_CAKE, CAKE}
    log = archive_crawl(data_dir, archives["release"], ",".join(sorted(wanted)), mirror)
    assert set(archives["truth"]["synsets"]) == RELEASE_SYNSETS  # the tench tar is there too
    assert recorded(data_dir) == expected_rows(archives["truth"], wanted)
    nested = f"winter21_whole/{ICE_CREAM_CAKE}.tar/"
    assert f"skipping member '{nested}../n07631926_90003.JPEG': path traversal" in log
    assert_store_is_clean(data_dir)


def test_limit_takes_the_first_images_of_each_synset(
    mirror: Any, archives: dict[str, Any], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    archive_crawl(data_dir, archives["release"], f"{ICE_CREAM_CAKE},{CAKE}", mirror, "limit=3")
    by_synset = {
        wnid: sorted(image_id for w, image_id, _ in recorded(data_dir).values() if w == wnid)
        for wnid in (ICE_CREAM_CAKE, CAKE)
    }
    truth = archives["truth"]["synsets"]
    assert by_synset == {
        wnid: sorted(image["image_id"] for image in truth[wnid]["images"][:3])
        for wnid in (ICE_CREAM_CAKE, CAKE)
    }


def run_failing(data_dir: Path, api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A crawl expected to end with one Error: line."""
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset"]
    for arg in args:
        command += ["-a", arg]
    settings = {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir), "IMAGENET_API_URL": api_url}
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_a_file_that_is_no_tar_is_one_error_line(mirror: Any, tmp_path: Path) -> None:
    junk = tmp_path / "n07631926.tar"
    junk.write_bytes(b"<html>not found</html>\n" * 40)
    done = run_failing(tmp_path / "data", mirror.base_url, f"wnid={ICE_CREAM_CAKE}",
                       f"archive={junk}")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "not a readable tar or tar.gz" in errors[0], done.stderr[-2000:]


def test_urls_file_and_archive_together_are_refused(mirror: Any, tmp_path: Path) -> None:
    listed = tmp_path / "urls.txt"
    listed.write_text("")
    done = run_failing(tmp_path / "data", mirror.base_url, f"wnid={ICE_CREAM_CAKE}",
                       f"archive={listed}", f"urls_file={listed}")
    assert done.returncode == 1
    assert "Error: -a urls_file and -a archive: give one source of images" in done.stderr


# --- the reader on hand-made archives -------------------------------------------------------
def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A tar of the given members."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for info, body in members:
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    return out.getvalue()


def regular(name: str, body: bytes) -> tuple[tarfile.TarInfo, bytes]:
    """A regular file member."""
    info = tarfile.TarInfo(name)
    info.size = len(body)
    return info, body


def read_all(path: Path, wnids: set[str], max_bytes: int = 1000) -> tuple[list, list]:
    """(images as (image_id, body), skipped as (name, reason)) of the archive at ``path``."""
    skipped: list[tuple[str, str]] = []
    found = iter_archive(path, wnids, max_bytes, lambda name, why: skipped.append((name, why)))
    images = [(image.image_id, image.body) for image in found]
    return images, skipped


def test_reader_skips_devices_folders_and_odd_names(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("n07631926_2.JPEG")
    fifo.type = tarfile.FIFOTYPE
    folder = tarfile.TarInfo("n07631926_3.JPEG")
    folder.type = tarfile.DIRTYPE
    path = tmp_path / "n07631926.tar"
    path.write_bytes(tar_bytes([
        regular("n07631926_1.JPEG", b"jpeg bytes"), (fifo, None), (folder, None),
        regular("sub/n07631926_5.JPEG", b"in a folder"), regular("n07631926_6.JPEG", b"x" * 1001),
        regular("n07631926_7.JPEG", b"x" * 1000),
    ]))
    images, skipped = read_all(path, {ICE_CREAM_CAKE})
    assert images == [("n07631926_1", b"jpeg bytes"), ("n07631926_7", b"x" * 1000)]
    assert skipped == [
        ("n07631926_2.JPEG", "not a regular file"),  # a folder holds nothing to read: passed
        ("sub/n07631926_5.JPEG", "unexpected name"), ("n07631926_6.JPEG", "too large"),
    ]


def test_reader_reads_gzip_goes_one_level_deep_and_stops_on_a_cut_archive(tmp_path: Path) -> None:
    deeper = tar_bytes([regular("n07631926_9.JPEG", b"deeper")])
    synset_tar = tar_bytes([regular(f"n07631926_{n}.JPEG", bytes([n]) * 600) for n in (1, 2, 3)]
                           + [regular("n07631926.tar", deeper)])
    whole = gzip.compress(tar_bytes([regular("release/n07631926.tar", synset_tar)]))
    path = tmp_path / "release.tar.gz"
    path.write_bytes(whole)
    images, skipped = read_all(path, {ICE_CREAM_CAKE})
    assert [image_id for image_id, _ in images] == ["n07631926_1", "n07631926_2", "n07631926_3"]
    assert skipped == [("release/n07631926.tar/n07631926.tar", "unexpected name")]
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ArchiveUnreadable):
        read_all(path, {ICE_CREAM_CAKE})
