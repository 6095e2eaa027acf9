"""Harvest facts: which URLs were found where, and what fetching each one gave."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from catalog.db import Catalog, utc_now
from catalog.store import StoredFile

SOURCES = ("imagenet", "web", "local", "commons", "openverse")


@dataclass(frozen=True)
class DiscoveredUrl:
    """An image URL and where it came from, before any fetch."""

    url: str
    source: str  # one of SOURCES
    wnid: str | None = None
    image_id: str | None = None
    found_on: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The facts of one fetch attempt. ``body`` is stored when not None."""

    url: str
    source: str
    wnid: str | None = None
    image_id: str | None = None
    found_on: str | None = None
    http_status: int | None = None
    error: str | None = None  # network error token, None when a response came back
    content_type: str | None = None
    final_url: str | None = None
    body: bytes | None = None


def record_discovered(catalog: Catalog, found: Iterable[DiscoveredUrl]) -> int:
    """Insert URLs not yet in the catalog (one transaction); return how many were new."""
    now = utc_now()
    rows = [(d.url, d.source, d.wnid, d.image_id, d.found_on, now) for d in found]
    with catalog.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO urls (url, source, wnid, image_id, found_on, discovered_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        return conn.total_changes - before


def record_fetches(
    catalog: Catalog,
    results: Iterable[FetchResult],
    stored_files: Sequence[StoredFile | None] | None = None,
) -> int:
    """Store bodies, then record the facts of a batch of fetches in one transaction.

    Files are written before the rows that point at them, so a crash can leave at
    most an unreferenced file (re-used by the rerun), never a row without its file.
    Returns the number of new distinct images.

    :param stored_files: where the caller already stored each result's body (None
        for a result without one), so no body is hashed or written twice; by
        default the bodies are stored here.
    """
    results = list(results)
    if stored_files is None:
        stored_files = [store_body(catalog, r) for r in results]
    now = utc_now()
    url_rows, image_rows = [], []
    for result, stored in zip(results, stored_files, strict=True):
        sha256 = stored.sha256 if stored else None
        url_rows.append(
            (
                result.url, result.source, result.wnid, result.image_id, result.found_on,
                now, now, result.http_status, result.error, result.content_type,
                stored.bytes if stored else None, result.final_url, sha256,
            )
        )
        if stored:
            image_rows.append((stored.sha256, stored.path, stored.bytes, now))
    with catalog.transaction() as conn:
        conn.executemany(
            """INSERT INTO urls (url, source, wnid, image_id, found_on, discovered_at,
                   fetched_at, http_status, error, content_type, bytes, final_url, sha256)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (url) DO UPDATE SET
                   fetched_at = excluded.fetched_at, http_status = excluded.http_status,
                   error = excluded.error, content_type = excluded.content_type,
                   bytes = excluded.bytes, final_url = excluded.final_url,
                   sha256 = excluded.sha256,
                   wnid = coalesce(urls.wnid, excluded.wnid),
                   image_id = coalesce(urls.image_id, excluded.image_id),
                   found_on = coalesce(urls.found_on, excluded.found_on)""",
            url_rows,
        )
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO images (sha256, path, bytes, first_seen) VALUES (?, ?, ?, ?)",
            image_rows,
        )
        return conn.total_changes - before


def store_body(catalog: Catalog, result: FetchResult) -> StoredFile | None:
    """Put ``result``'s body in the store (None when it has none): hashed and written once."""
    return catalog.store.put(result.body) if result.body is not None else None


def fetched_among(catalog: Catalog, urls: Iterable[str]) -> set[str]:
    """Those of ``urls`` that already have a finished fetch attempt."""
    sql = "SELECT url FROM urls WHERE fetched_at IS NOT NULL AND url IN"
    return {row[0] for row in catalog.select_in(sql, urls)}


def pending_urls(catalog: Catalog, source: str | None = None) -> list[DiscoveredUrl]:
    """URLs discovered but never fetched (what an interrupted crawl left), oldest first."""
    sql = "SELECT url, source, wnid, image_id, found_on FROM urls WHERE fetched_at IS NULL"
    params: tuple[str, ...] = ()
    if source:
        sql += " AND source = ?"
        params = (source,)
    rows = catalog.conn.execute(sql + " ORDER BY discovered_at, url", params)
    return [DiscoveredUrl(**dict(row)) for row in rows]


def count_urls(catalog: Catalog) -> int:
    """How many URLs the catalog knows."""
    return catalog.conn.execute("SELECT count(*) FROM urls").fetchone()[0]


def stored_hashes(catalog: Catalog) -> dict[str, str]:
    """Every URL whose body was stored, mapped to the sha256 of that body."""
    rows = catalog.conn.execute("SELECT url, sha256 FROM urls WHERE sha256 IS NOT NULL")
    return {row["url"]: row["sha256"] for row in rows}
