"""The catalog: schema, migrations, store safety, batched harvest facts, decisions."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from catalog import CatalogNotFound, SchemaTooNew, UnsafePath, open_catalog
from catalog.harvest import (
    DiscoveredUrl,
    FetchResult,
    Provenance,
    fetched_among,
    pending_urls,
    record_discovered,
    record_fetches,
)
from catalog.reviews import current_decision, record_decision, record_decisions, undo_review
from catalog.schema import MIGRATIONS, SCHEMA_VERSION, split_statements
from catalog.store import ImageStore, StoredFile

JPEG_START = b"\xff\xd8\xff\xe0" + b"x" * 60


def test_new_catalog_is_migrated_and_in_wal_mode(catalog):
    assert catalog.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert catalog.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = sqlite_utils.Database(catalog.conn).table_names()
    assert {"urls", "images", "reviews", "synsets", "runs"} <= set(tables)


def test_missing_catalog_is_an_error_when_not_creating(tmp_path):
    with pytest.raises(CatalogNotFound, match="no catalog"):
        open_catalog(tmp_path / "nowhere", create=False)


def test_newer_schema_is_refused(data_dir):
    open_catalog(data_dir).close()
    conn = sqlite3.connect(data_dir / "catalog.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew):
        open_catalog(data_dir)


def test_fetch_facts_are_recorded_once_per_url_and_body(catalog):
    record_discovered(catalog, [DiscoveredUrl("http://h/a.jpg", "imagenet", "n1")])
    results = [
        FetchResult("http://h/a.jpg", "imagenet", "n1", http_status=200, body=JPEG_START),
        FetchResult("http://h/b.jpg", "imagenet", "n1", http_status=200, body=JPEG_START),
        FetchResult("http://h/c.jpg", "imagenet", "n1", error="refused"),
    ]
    assert record_fetches(catalog, results) == 1
    assert record_fetches(catalog, results) == 0  # idempotent rerun
    urls = {r["url"]: dict(r) for r in catalog.conn.execute("SELECT * FROM urls")}
    assert len(urls) == 3
    assert urls["http://h/a.jpg"]["sha256"] == urls["http://h/b.jpg"]["sha256"]
    assert urls["http://h/c.jpg"]["error"] == "refused" and urls["http://h/c.jpg"]["sha256"] is None
    (image,) = catalog.conn.execute("SELECT * FROM images").fetchall()
    stored = catalog.data_dir / image["path"]
    assert stored.read_bytes() == JPEG_START and stored.suffix == ".jpg"
    assert fetched_among(catalog, ["http://h/a.jpg", "http://h/zzz.jpg"]) == {"http://h/a.jpg"}


def test_pending_urls_are_those_never_fetched(catalog):
    record_discovered(
        catalog, [DiscoveredUrl("http://h/1.jpg", "web"), DiscoveredUrl("http://h/2.jpg", "web")]
    )
    record_fetches(catalog, [FetchResult("http://h/1.jpg", "web", http_status=404)])
    assert [p.url for p in pending_urls(catalog)] == ["http://h/2.jpg"]


@pytest.mark.parametrize(
    "sha256, ext",
    [("../../etc/passwd", "jpg"), ("a" * 64, "../x"), ("A" * 64, "jpg"), ("a" * 63, "jpg")],
)
def test_store_refuses_names_that_are_not_hashes(tmp_path, sha256, ext):
    with pytest.raises(UnsafePath):
        ImageStore(tmp_path).relative_path(sha256, ext)


def test_store_refuses_paths_outside_itself(tmp_path):
    store = ImageStore(tmp_path)
    with pytest.raises(UnsafePath):
        store.absolute("images/../../outside.jpg")
    with pytest.raises(UnsafePath):
        store.absolute("/etc/passwd")


def test_store_sweeps_stale_temporary_files_only(tmp_path):
    store = ImageStore(tmp_path)
    store.put(b"first")
    incoming = Path(store.root / ".incoming")
    stale, fresh = incoming / "tmp-stale", incoming / "tmp-fresh"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    import os

    os.utime(stale, (0, 0))
    assert store.sweep_incoming() == 1
    assert not stale.exists() and fresh.exists()


def test_store_put_many_is_put_for_each_body_synced_and_renamed(tmp_path, monkeypatch):
    import os

    store = ImageStore(tmp_path)
    before = store.put(b"GIF89a old")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    monkeypatch.setattr("catalog.store.PUT_MANY_OPEN_FILES", 2)  # several groups
    bodies = [JPEG_START, b"GIF89a old", b"\x89PNG\r\n\x1a\nnew", JPEG_START, b"other"]
    found = store.put_many(bodies)
    digests = [hashlib.sha256(b).hexdigest() for b in bodies]
    assert found == [StoredFile(d, store.relative_path(d, ext), len(b)) for d, b, ext in
                     zip(digests, bodies, ["jpg", "gif", "png", "jpg", "bin"], strict=True)]
    assert found[1] == before
    assert len(synced) == 3  # the three new bodies, each once; the stored one not again
    for stored, body in zip(found, bodies, strict=True):
        assert (tmp_path / stored.path).read_bytes() == body
    assert not any((store.root / ".incoming").iterdir())


def test_store_put_many_leaves_no_temporary_file_when_a_write_fails(tmp_path, monkeypatch):
    import os

    store = ImageStore(tmp_path)
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        store.put_many([b"one", b"two", b"three"])
    assert not any((store.root / ".incoming").iterdir())
    assert not list((store.root).glob("??/??/*"))  # nothing renamed into place


def test_latest_live_decision_wins_and_undo_withdraws(catalog):
    first = record_decision(catalog, "s1", "accept")
    second = record_decision(catalog, "s1", "reject", note="two tiers")
    assert current_decision(catalog, "s1").decision == "reject"
    undo_review(catalog, second)
    assert current_decision(catalog, "s1").decision == "accept"
    undo_review(catalog, first)
    assert current_decision(catalog, "s1") is None


def test_bad_decision_writes_nothing(catalog):
    from catalog.reviews import Decision

    with pytest.raises(ValueError, match="maybe"):
        record_decisions(catalog, [Decision("s1", "accept"), Decision("s2", "maybe")])
    assert catalog.conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def _open_and_close(data_dir: str) -> int:
    open_catalog(data_dir).close()
    return 0


def test_concurrent_first_opens_migrate_once(data_dir):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        assert list(pool.map(_open_and_close, [str(data_dir)] * 8)) == [0] * 8
    with open_catalog(data_dir) as opened:
        assert opened.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("content", [b"garbage, not a database\n" * 10, b"\0" * 4096],
                         ids=["text", "zeros"])
def test_a_file_that_is_not_a_database_is_one_error_line(data_dir, content):
    from click.testing import CliRunner

    from catalog import CatalogUnreadable
    from curate.cli import cli

    data_dir.mkdir()
    (data_dir / "catalog.db").write_bytes(content * 100)
    with pytest.raises(CatalogUnreadable, match="is not a synthset catalog"):
        open_catalog(data_dir)
    result = CliRunner().invoke(cli, ["stats", "--data", str(data_dir)])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and "not a synthset catalog" in result.output
    assert (data_dir / "catalog.db").read_bytes() == content * 100  # left as it was


CC_BY = Provenance(
    license="cc-by-4.0", license_url="https://creativecommons.org/licenses/by/4.0/",
    creator="A. Baker", landing_url="https://commons.example/File:Cake.jpg",
    title="Cake", attribution='"Cake" by A. Baker, CC BY 4.0', source_id="File:Cake.jpg",
)


def test_provenance_lands_on_discovery_and_survives_the_fetch(catalog):
    found = DiscoveredUrl("http://h/cake.jpg", "commons", provenance=CC_BY)
    assert record_discovered(catalog, [found]) == 1
    assert record_discovered(catalog, [found]) == 0
    (pending,) = pending_urls(catalog)
    assert pending.provenance == CC_BY  # an interrupted crawl resumes with it
    record_fetches(catalog, [FetchResult("http://h/cake.jpg", "commons", http_status=200,
                                         body=JPEG_START)])
    row = catalog.conn.execute("SELECT * FROM urls").fetchone()
    assert {name: row[name] for name in vars(CC_BY)} == vars(CC_BY)


def test_provenance_fills_gaps_and_never_overwrites(catalog):
    record_discovered(catalog, [DiscoveredUrl("http://h/a.jpg", "web")])
    record_discovered(catalog, [DiscoveredUrl("http://h/a.jpg", "web", provenance=CC_BY)])
    other = Provenance(license="cc0-1.0", creator="Someone else")
    record_fetches(catalog, [FetchResult("http://h/a.jpg", "web", error="refused",
                                         provenance=other)])
    row = catalog.conn.execute("SELECT license, creator, title FROM urls").fetchone()
    assert tuple(row) == ("cc-by-4.0", "A. Baker", "Cake")


def test_a_version_4_catalog_keeps_its_rows_through_the_provenance_migration(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "catalog.db")
    for version in (1, 4):
        for statement in split_statements(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO urls (url, source, wnid, discovered_at, http_status, status) "
                 "VALUES ('http://h/old.jpg', 'imagenet', 'n1', '2025-01-01', 404, 'dead')")
    conn.commit()
    conn.close()
    with open_catalog(data_dir) as catalog:
        row = dict(catalog.conn.execute("SELECT * FROM urls").fetchone())
        assert row["url"] == "http://h/old.jpg" and row["status"] == "dead"
        assert row["http_status"] == 404 and row["license"] is None
        record_discovered(catalog, [DiscoveredUrl("http://h/new.jpg", "openverse")])
        indexes = {r[0] for r in catalog.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'urls'")}
        assert {"urls_sha256", "urls_wnid", "urls_fetched_at", "urls_license"} <= indexes


def test_a_version_8_catalog_gains_the_source_terms_columns_and_they_round_trip(data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "catalog.db")
    for version in sorted(v for v in MIGRATIONS if v <= 8):
        for statement in split_statements(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 8")
    conn.execute("INSERT INTO urls (url, source, discovered_at, license, creator) VALUES "
                 "('http://h/old.jpg', 'commons', '2025-01-01', 'cc0-1.0', 'A. Baker')")
    conn.commit()
    conn.close()
    said = Provenance(license="cc-by-4.0", credit="Own work", attribution_required=True,
                      usage_terms="Creative Commons Attribution 4.0",
                      restrictions="personality|trademarked", upstream_source="openimages",
                      provider="flickr", mature=False)
    with open_catalog(data_dir) as catalog:
        old = dict(catalog.conn.execute("SELECT * FROM urls").fetchone())
        assert (old["license"], old["creator"]) == ("cc0-1.0", "A. Baker")
        assert all(old[name] is None for name in ("credit", "attribution_required",
                                                  "usage_terms", "restrictions",
                                                  "upstream_source", "provider", "mature"))
        record_discovered(catalog, [DiscoveredUrl("http://h/new.jpg", "openverse",
                                                  provenance=said)])
        pending = {d.url: d.provenance for d in pending_urls(catalog)}
    assert pending["http://h/new.jpg"] == said
