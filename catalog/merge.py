"""Merging another data directory's catalog and store into this one, by URL and by sha256.

Facts are kept: a URL's row comes from whichever catalog fetched it last (the
earliest discovery and any descriptive field one side lacks are kept too); an
image's row and file are keyed by sha256, so a body stored by several workers is
stored once. Judgments are not merged but recomputed: a merged-in or re-fetched
URL and a merged-in image arrive unjudged (``curate check`` and ``curate dedup``
judge them), while the target's own judgments stay. Human decisions are facts
and are added: review rows (undo links kept, a row already present not added
twice), keeper choices and not-duplicate pairs (the target's win on conflict).
Merging the same directory again changes nothing.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from catalog.db import CATALOG_FILE, Catalog, open_catalog
from catalog.errors import UnsafePath
from synthset.errors import SynthsetError

# urls columns copied as the fetch's facts (all or none, from the later fetch)
FETCH_COLUMNS = ("fetched_at", "http_status", "error", "content_type", "bytes", "final_url",
                 "sha256")
URL_JUDGMENTS = ("status", "reason")  # recomputed by curate check, never merged
COPY_THREADS = 4  # threads reading, hashing and writing store files


class SameDataDir(SynthsetError):
    """A data directory cannot be merged into itself."""


@dataclass
class MergeCounts:
    """What merging one source directory changed."""

    source: str
    urls_added: int = 0
    urls_refetched: int = 0  # rows whose fetch was replaced by the source's later one
    images_added: int = 0
    files_copied: int = 0
    files_unusable: int = 0  # missing, unreadable or not matching their sha256: not merged
    reviews_added: int = 0


def _columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def _merge_urls_sql(columns: list[str]) -> str:
    """The upsert that merges ``src.urls`` into ``urls`` by the rules of the module docstring."""
    newer = ("(excluded.fetched_at IS NOT NULL AND "
             "(urls.fetched_at IS NULL OR excluded.fetched_at > urls.fetched_at))")
    updates = []
    for column in columns:
        if column == "url":
            continue
        if column in FETCH_COLUMNS:
            value = f"CASE WHEN {newer} THEN excluded.{column} ELSE urls.{column} END"
        elif column in URL_JUDGMENTS:
            value = f"CASE WHEN {newer} THEN NULL ELSE urls.{column} END"
        elif column == "discovered_at":
            value = "min(urls.discovered_at, excluded.discovered_at)"
        else:
            value = f"coalesce(urls.{column}, excluded.{column})"
        updates.append(f"{column} = {value}")
    selected = ", ".join("NULL" if c in URL_JUDGMENTS else c for c in columns)
    return (f"INSERT INTO urls ({', '.join(columns)}) SELECT {selected} FROM src.urls WHERE true "
            f"ON CONFLICT (url) DO UPDATE SET {', '.join(updates)}")


def merge_data_dir(target: Catalog, source_dir: Path) -> MergeCounts:
    """Merge the catalog and store of ``source_dir`` into ``target``.

    Store files are copied (and their sha256 checked) before the rows that point
    at them are written, in one transaction, so a crash leaves at most unused files.

    :raises CatalogNotFound: if ``source_dir`` holds no catalog.
    :raises SameDataDir: if ``source_dir`` is ``target``'s own directory.
    """
    if Path(source_dir).resolve() == target.data_dir.resolve():
        raise SameDataDir(f"{source_dir} is the target data directory itself")
    source = open_catalog(source_dir, create=False)  # brings an older catalog up to date
    counts = MergeCounts(str(source_dir))
    try:
        wanted = _images_missing(target, source)
        copied = _copy_files(target, source, wanted)
    finally:
        source.close()
    counts.files_copied = sum(1 for path in copied.values() if path is not None)
    counts.files_unusable = sum(1 for path in copied.values() if path is None)
    conn = target.conn
    conn.execute("ATTACH DATABASE ? AS src", (str(Path(source_dir) / CATALOG_FILE),))
    try:
        with target.transaction():
            counts.urls_refetched = conn.execute(
                "SELECT count(*) FROM src.urls s JOIN urls t USING (url) "
                "WHERE s.fetched_at IS NOT NULL AND (t.fetched_at IS NULL "
                "OR s.fetched_at > t.fetched_at)").fetchone()[0]
            before = conn.execute("SELECT count(*) FROM urls").fetchone()[0]
            columns = [c for c in _columns(conn, "urls") if c in _columns(conn, "urls", "src")]
            conn.execute(_merge_urls_sql(columns))
            counts.urls_added = conn.execute("SELECT count(*) FROM urls").fetchone()[0] - before
            counts.images_added = _merge_images(conn, copied)
            counts.reviews_added = _merge_reviews(conn)
            conn.execute("INSERT OR IGNORE INTO synsets SELECT * FROM src.synsets")
            conn.execute("INSERT OR IGNORE INTO keeper_choices SELECT * FROM src.keeper_choices")
            conn.execute("INSERT OR IGNORE INTO not_duplicates SELECT * FROM src.not_duplicates")
            conn.execute("INSERT OR IGNORE INTO placeholders SELECT * FROM src.placeholders")
    finally:
        conn.execute("DETACH DATABASE src")
    return counts


def _images_missing(target: Catalog, source: Catalog) -> dict[str, str]:
    """sha256 -> source path of the source's images the target has no row for."""
    have = {row[0] for row in target.conn.execute("SELECT sha256 FROM images")}
    rows = source.conn.execute("SELECT sha256, path FROM images")
    return {sha256: path for sha256, path in rows if sha256 not in have}


def _copy_files(target: Catalog, source: Catalog, wanted: dict[str, str]) -> dict[str, str | None]:
    """Copy each wanted file into the target store: sha256 -> its target path (None: unusable)."""

    def copy(item: tuple[str, str]) -> tuple[str, str | None]:
        sha256, path = item
        try:
            data = source.store.absolute(path).read_bytes()
        except (OSError, UnsafePath):
            return sha256, None
        stored = target.store.put(data)
        return sha256, stored.path if stored.sha256 == sha256 else None

    with ThreadPoolExecutor(COPY_THREADS) as pool:
        return dict(pool.map(copy, wanted.items()))


def _merge_images(conn: sqlite3.Connection, copied: dict[str, str | None]) -> int:
    """Insert the copied images' facts; keep the earliest first_seen of images both have."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS merged_files (sha256 TEXT PRIMARY KEY, "
                 "path TEXT NOT NULL)")
    conn.execute("DELETE FROM temp.merged_files")
    conn.executemany("INSERT INTO temp.merged_files VALUES (?, ?)",
                     [(sha, path) for sha, path in copied.items() if path is not None])
    before = conn.total_changes
    conn.execute("INSERT INTO images (sha256, path, bytes, first_seen) "
                 "SELECT s.sha256, m.path, s.bytes, s.first_seen "
                 "FROM src.images s JOIN temp.merged_files m USING (sha256)")
    added = conn.total_changes - before
    conn.execute("UPDATE images SET first_seen = (SELECT s.first_seen FROM src.images s "
                 "WHERE s.sha256 = images.sha256) WHERE first_seen > (SELECT s.first_seen "
                 "FROM src.images s WHERE s.sha256 = images.sha256)")
    conn.execute("DELETE FROM temp.merged_files")
    return added


def _merge_reviews(conn: sqlite3.Connection) -> int:
    """Append the source's review rows in order, undo links renumbered, none added twice."""
    new_ids: dict[int, int] = {}
    added = 0
    rows = conn.execute("SELECT id, sha256, decision, note, decided_at, undoes "
                        "FROM src.reviews ORDER BY id").fetchall()
    for review in rows:
        undoes = new_ids.get(review["undoes"]) if review["undoes"] is not None else None
        existing = conn.execute(
            "SELECT id FROM reviews WHERE sha256 = ? AND decision = ? AND decided_at = ? "
            "AND note IS ? AND undoes IS ?",
            (review["sha256"], review["decision"], review["decided_at"], review["note"], undoes),
        ).fetchone()
        if existing is not None:
            new_ids[review["id"]] = existing[0]
            continue
        cursor = conn.execute(
            "INSERT INTO reviews (sha256, decision, note, decided_at, undoes) "
            "VALUES (?, ?, ?, ?, ?)",
            (review["sha256"], review["decision"], review["note"], review["decided_at"], undoes),
        )
        new_ids[review["id"]] = int(cursor.lastrowid)
        added += 1
    return added
