"""Harvest facts: which URLs were found where, and what fetching each one gave."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from catalog.db import Catalog, utc_now
from catalog.store import StoredFile

SOURCES = ("imagenet", "web", "local", "commons", "openverse")


@dataclass(frozen=True)
class Provenance:
    """What a source says about an image: licence, creator, landing page. None = not said."""

    license: str | None = None  # lower-case short id: cc-by-4.0, cc-by-sa-3.0, cc0-1.0, pdm, ...
    license_url: str | None = None
    creator: str | None = None
    creator_url: str | None = None
    landing_url: str | None = None
    title: str | None = None
    attribution: str | None = None  # a ready-to-print credit line
    source_id: str | None = None  # the source API's own id
    credit: str | None = None  # Commons' Credit: where the file came from, not who made it
    attribution_required: bool | None = None  # Commons' AttributionRequired
    usage_terms: str | None = None  # Commons' UsageTerms: the licence's long name
    restrictions: str | None = None  # Commons' Restrictions: personality|trademarked|...
    upstream_source: str | None = None  # Openverse's source: the dataset it indexed
    provider: str | None = None  # Openverse's provider: the site that hosts the work
    mature: bool | None = None  # Openverse's mature flag


PROVENANCE_FIELDS = tuple(f.name for f in fields(Provenance))
_PROVENANCE_COLUMNS = ", ".join(PROVENANCE_FIELDS)
_PROVENANCE_KEEP = ", ".join(f"{name} = coalesce(urls.{name}, excluded.{name})"
                             for name in PROVENANCE_FIELDS)
_PROVENANCE_FILL = ", ".join(f"{name} = coalesce({name}, ?)" for name in PROVENANCE_FIELDS)


@dataclass(frozen=True)
class DiscoveredUrl:
    """An image URL and where it came from, before any fetch."""

    url: str
    source: str  # one of SOURCES
    wnid: str | None = None
    image_id: str | None = None
    found_on: str | None = None
    provenance: Provenance | None = None


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
    provenance: Provenance | None = None


def _provenance_values(provenance: Provenance | None) -> tuple[str | None, ...]:
    """The provenance columns' values, in PROVENANCE_FIELDS order."""
    provenance = provenance or Provenance()
    return tuple(getattr(provenance, name) for name in PROVENANCE_FIELDS)


def record_discovered(catalog: Catalog, found: Iterable[DiscoveredUrl]) -> int:
    """Insert URLs not yet in the catalog (one transaction); return how many were new.

    A URL already known keeps its row; provenance it lacked is filled in, never overwritten.
    """
    now = utc_now()
    found = list(found)
    rows = [
        (d.url, d.source, d.wnid, d.image_id, d.found_on, now, *_provenance_values(d.provenance))
        for d in found
    ]
    fill = [(*_provenance_values(d.provenance), d.url) for d in found if d.provenance]
    with catalog.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            f"""INSERT OR IGNORE INTO urls (url, source, wnid, image_id, found_on, discovered_at,
                    {_PROVENANCE_COLUMNS})
                VALUES (?, ?, ?, ?, ?, ?, {", ".join("?" * len(PROVENANCE_FIELDS))})""",
            rows,
        )
        new = conn.total_changes - before
        conn.executemany(f"UPDATE urls SET {_PROVENANCE_FILL} WHERE url = ?", fill)
        return new


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
                *_provenance_values(result.provenance),
            )
        )
        if stored:
            image_rows.append((stored.sha256, stored.path, stored.bytes, now))
    with catalog.transaction() as conn:
        conn.executemany(
            f"""INSERT INTO urls (url, source, wnid, image_id, found_on, discovered_at,
                   fetched_at, http_status, error, content_type, bytes, final_url, sha256,
                   {_PROVENANCE_COLUMNS})
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                       {", ".join("?" * len(PROVENANCE_FIELDS))})
               ON CONFLICT (url) DO UPDATE SET {_PROVENANCE_KEEP},
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
    sql = f"""SELECT url, source, wnid, image_id, found_on, {_PROVENANCE_COLUMNS}
              FROM urls WHERE fetched_at IS NULL"""
    params: tuple[str, ...] = ()
    if source:
        sql += " AND source = ?"
        params = (source,)
    rows = catalog.conn.execute(sql + " ORDER BY discovered_at, url", params)
    return [_discovered_from_row(dict(row)) for row in rows]


def _discovered_from_row(row: dict) -> DiscoveredUrl:
    """A DiscoveredUrl from a urls row holding the discovery and provenance columns."""
    said = {name: row.pop(name) for name in PROVENANCE_FIELDS}
    provenance = Provenance(**said) if any(v is not None for v in said.values()) else None
    return DiscoveredUrl(**row, provenance=provenance)


def count_urls(catalog: Catalog) -> int:
    """How many URLs the catalog knows."""
    return catalog.conn.execute("SELECT count(*) FROM urls").fetchone()[0]


def stored_hashes(catalog: Catalog) -> dict[str, str]:
    """Every URL whose body was stored, mapped to the sha256 of that body."""
    rows = catalog.conn.execute("SELECT url, sha256 FROM urls WHERE sha256 IS NOT NULL")
    return {row["url"]: row["sha256"] for row in rows}
