"""`curate merge DIR...`: workers' catalogs and stores into one, by URL and by sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlite_utils
from click.testing import CliRunner
from imagegen import jpeg

from catalog import open_catalog
from catalog.harvest import DiscoveredUrl, FetchResult, record_discovered, record_fetches
from catalog.reviews import record_decision, undo_review
from curate.cli import cli as curate_cli

X, Y, Z = (jpeg(seed=n) for n in range(3))


def table(catalog, name: str) -> sqlite_utils.db.Table:
    """A table of an open catalog, through sqlite-utils (a test-only convenience)."""
    return sqlite_utils.Database(catalog.conn)[name]


def sha(data: bytes) -> str:
    """The sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fetched(url: str, body: bytes | None, status: int = 200) -> FetchResult:
    """A fetch of ``url`` that got ``status`` (and ``body`` for a 200)."""
    return FetchResult(url=url, source="imagenet", wnid="n07631926", http_status=status,
                       body=body)


def make_worker_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Two workers' data directories that overlap in URLs and in bodies."""
    a, b = tmp_path / "a", tmp_path / "b"
    with open_catalog(a) as catalog:
        record_fetches(catalog, [fetched("http://h1/1.jpg", X), fetched("http://h1/2.jpg", None,
                                                                         404)])
        record_discovered(catalog, [DiscoveredUrl("http://h1/3.jpg", "imagenet", "n07631926",
                                                  found_on="http://h1/")])
        table(catalog, "urls").update("http://h1/2.jpg", {"status": "dead", "reason": "HTTP 404"})
        undo_review(catalog, record_decision(catalog, sha(X), "accept"))
    with open_catalog(b) as catalog:  # later: its fetch of 2.jpg is the newer one
        record_fetches(catalog, [fetched("http://h1/2.jpg", Y), fetched("http://h1/3.jpg", Z),
                                 fetched("http://h2/4.jpg", X)])
        record_decision(catalog, sha(Z), "reject", "blurry")
    return a, b


def test_merge_keeps_facts_by_url_and_sha256_and_adds_decisions(tmp_path: Path) -> None:
    a, b = make_worker_dirs(tmp_path)
    target = tmp_path / "merged"
    result = CliRunner().invoke(curate_cli, ["merge", "--data", str(target), str(a), str(b)])
    assert result.exit_code == 0, result.output

    with open_catalog(target, create=False) as catalog:
        urls = {row["url"]: row for row in table(catalog, "urls").rows}
        images = {row["sha256"]: row for row in table(catalog, "images").rows}
        reviews = list(table(catalog, "reviews").rows_where(order_by="id"))
        runs = [row["command"] for row in table(catalog, "runs").rows]
        assert sorted(urls) == ["http://h1/1.jpg", "http://h1/2.jpg", "http://h1/3.jpg",
                                "http://h2/4.jpg"]
        assert (urls["http://h1/2.jpg"]["http_status"], urls["http://h1/2.jpg"]["sha256"]) == (
            200, sha(Y))  # the later fetch wins ...
        assert urls["http://h1/2.jpg"]["status"] is None  # ... and its old judgment is dropped
        assert urls["http://h1/3.jpg"]["sha256"] == sha(Z)
        assert urls["http://h1/3.jpg"]["found_on"] == "http://h1/"  # what one side knew is kept
        assert set(images) == {sha(X), sha(Y), sha(Z)}  # X stored once for two URLs
        for sha256, image in images.items():
            assert hashlib.sha256(catalog.store.absolute(image["path"]).read_bytes()
                                  ).hexdigest() == sha256
    assert [(r["sha256"], r["decision"]) for r in reviews] == [
        (sha(X), "accept"), (sha(X), "undo"), (sha(Z), "reject")]
    assert reviews[1]["undoes"] == reviews[0]["id"]
    assert runs == ["merge"]

    again = CliRunner().invoke(curate_cli, ["merge", "--data", str(target), str(a), str(b)])
    assert again.exit_code == 0, again.output
    with open_catalog(target, create=False) as catalog:
        assert table(catalog, "urls").count == 4 and table(catalog, "images").count == 3
        assert table(catalog, "reviews").count == 3  # nothing added twice


def test_a_store_file_that_does_not_match_its_hash_is_not_merged(tmp_path: Path) -> None:
    a, b = make_worker_dirs(tmp_path)
    with open_catalog(b) as catalog:
        path = table(catalog, "images").get(sha(Z))["path"]
        catalog.store.absolute(path).write_bytes(b"tampered")
    target = tmp_path / "merged"
    result = CliRunner().invoke(curate_cli, ["merge", "--data", str(target), str(b)])
    assert result.exit_code == 0, result.output
    with open_catalog(target, create=False) as catalog:
        assert set(r["sha256"] for r in table(catalog, "images").rows) == {sha(X), sha(Y)}


def test_merge_refuses_its_own_target_and_a_folder_without_catalog(tmp_path: Path) -> None:
    a, _ = make_worker_dirs(tmp_path)
    itself = CliRunner().invoke(curate_cli, ["merge", "--data", str(a), str(a)])
    assert itself.exit_code == 1
    assert itself.output.strip().splitlines()[-1].startswith("Error: ")
    assert "target data directory itself" in itself.output
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = CliRunner().invoke(curate_cli, ["merge", "--data", str(tmp_path / "t"), str(empty)])
    assert missing.exit_code == 1
    assert "Error: no catalog at" in missing.output
