"""Check judgments: images to check, their results, dead-URL judgments, known placeholders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.db import Catalog, utc_now

IMAGE_STATUSES = ("ok", "empty", "corrupt", "not_image", "placeholder", "too_small")
_DEAD = "(error IS NOT NULL OR http_status >= 400)"


@dataclass(frozen=True)
class ImageToCheck:
    """A stored body waiting for a judgment."""

    sha256: str
    path: str  # relative to the data directory
    bytes: int


@dataclass(frozen=True)
class ImageCheck:
    """The judgment of one stored body and what decoding it measured."""

    sha256: str
    status: str  # one of IMAGE_STATUSES
    reason: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    frames: int | None = None
    pixel_sha256: str | None = None
    phash: int | None = None
    dhash: int | None = None
    whash: int | None = None
    centre5_phash: int | None = None
    centre10_phash: int | None = None
    hash_version: int | None = None  # the method of the perceptual hashes (None without them)


@dataclass(frozen=True)
class FailedUrl:
    """The fetch facts of a URL that failed (network error or HTTP >= 400)."""

    url: str
    source: str
    wnid: str | None
    image_id: str | None
    found_on: str | None
    http_status: int | None
    error: str | None


@dataclass(frozen=True)
class UrlJudgment:
    """A judgment about one URL (``dead`` and why)."""

    url: str
    status: str
    reason: str


@dataclass(frozen=True)
class SharedContent:
    """A decoded picture (by pixel sha256) with the stored bodies and URLs that serve it."""

    pixel_sha256: str
    sha256s: tuple[str, ...]
    urls: tuple[str, ...]


def images_to_check(
    catalog: Catalog, everything: bool = False, hash_version: int | None = None
) -> list[ImageToCheck]:
    """Stored images never checked (or all of them when ``everything``), by sha256.

    With ``hash_version``, also the images whose perceptual hashes were computed by
    another method (a NULL version counts as 1), so a catalog never mixes two methods.
    """
    sql = "SELECT sha256, path, bytes FROM images"
    params: tuple[int, ...] = ()
    if not everything:
        sql += " WHERE checked_at IS NULL"
        if hash_version is not None:
            sql += " OR (phash IS NOT NULL AND coalesce(hash_version, 1) != ?)"
            params = (hash_version,)
    rows = catalog.conn.execute(sql + " ORDER BY sha256", params)
    return [ImageToCheck(**dict(row)) for row in rows]


def record_image_checks(catalog: Catalog, checks: Iterable[ImageCheck]) -> int:
    """Write a batch of judgments in one transaction; return how many rows were written."""
    now = utc_now()
    rows = [
        (
            c.status,
            c.reason,
            c.format,
            c.width,
            c.height,
            c.mode,
            c.frames,
            c.pixel_sha256,
            c.phash,
            c.dhash,
            c.whash,
            c.centre5_phash,
            c.centre10_phash,
            c.hash_version,
            now,
            c.sha256,
        )
        for c in checks
    ]
    for row in rows:
        if row[0] not in IMAGE_STATUSES:
            raise ValueError(f"unknown image status {row[0]!r}; expected one of {IMAGE_STATUSES}")
    with catalog.transaction() as conn:
        conn.executemany(
            """UPDATE images SET status = ?, reason = ?, format = ?, width = ?, height = ?,
                   mode = ?, frames = ?, pixel_sha256 = ?, phash = ?, dhash = ?, whash = ?,
                   centre5_phash = ?, centre10_phash = ?, hash_version = ?, checked_at = ?
               WHERE sha256 = ?""",
            rows,
        )
    return len(rows)


def failed_urls(catalog: Catalog) -> list[FailedUrl]:
    """Every fetched URL whose fetch failed: a network error or an HTTP status >= 400."""
    rows = catalog.conn.execute(
        "SELECT url, source, wnid, image_id, found_on, http_status, error FROM urls "
        f"WHERE fetched_at IS NOT NULL AND {_DEAD} ORDER BY url"
    )
    return [FailedUrl(**dict(row)) for row in rows]


def record_url_judgments(catalog: Catalog, judgments: Iterable[UrlJudgment]) -> int:
    """Set ``urls.status``/``reason`` for a batch of URLs in one transaction; return the count."""
    rows = [(j.status, j.reason, j.url) for j in judgments]
    with catalog.transaction() as conn:
        conn.executemany("UPDATE urls SET status = ?, reason = ? WHERE url = ?", rows)
    return len(rows)


def clear_stale_dead(catalog: Catalog) -> int:
    """Withdraw ``dead`` from URLs whose latest fetch no longer failed; return how many."""
    with catalog.transaction() as conn:
        cursor = conn.execute(
            f"UPDATE urls SET status = NULL, reason = NULL WHERE status = 'dead' AND NOT {_DEAD}"
        )
    return cursor.rowcount


def ok_image_hashes(catalog: Catalog) -> list[tuple[str, int]]:
    """(sha256, phash) of every image judged ok: the candidates for placeholder matching."""
    rows = catalog.conn.execute(
        "SELECT sha256, phash FROM images WHERE status = 'ok' AND phash IS NOT NULL ORDER BY sha256"
    )
    return [(row[0], row[1]) for row in rows]


def shared_contents(catalog: Catalog, min_urls: int) -> list[SharedContent]:
    """Ok pictures (same decoded pixels, else same bytes) that ``min_urls``+ distinct URLs serve."""
    rows = catalog.conn.execute(
        """WITH served AS (
               SELECT coalesce(i.pixel_sha256, i.sha256) AS pixel_sha256, i.sha256 AS sha256,
                      u.url AS url
               FROM images i JOIN urls u ON u.sha256 = i.sha256
               WHERE i.status = 'ok'
           ), crowded AS (
               SELECT pixel_sha256 FROM served GROUP BY pixel_sha256
               HAVING count(DISTINCT url) >= ?
           )
           SELECT s.pixel_sha256, s.sha256, s.url FROM served s
           JOIN crowded c ON c.pixel_sha256 = s.pixel_sha256
           ORDER BY s.pixel_sha256, s.url""",
        (min_urls,),
    )
    groups: dict[str, tuple[set[str], list[str]]] = {}
    for pixel, sha256, url in rows:
        shas, urls = groups.setdefault(pixel, (set(), []))
        shas.add(sha256)
        urls.append(url)
    return [
        SharedContent(pixel, tuple(sorted(shas)), tuple(urls))
        for pixel, (shas, urls) in groups.items()
    ]


def mark_placeholders(catalog: Catalog, marks: Iterable[tuple[str, str]]) -> int:
    """Judge images ``placeholder`` with a reason, from (sha256, reason) pairs; one transaction."""
    rows = [("placeholder", reason, utc_now(), sha256) for sha256, reason in marks]
    with catalog.transaction() as conn:
        conn.executemany(
            "UPDATE images SET status = ?, reason = ?, checked_at = ? WHERE sha256 = ?", rows
        )
    return len(rows)


def add_placeholder(catalog: Catalog, phash: int, name: str) -> bool:
    """Remember a placeholder pHash under ``name``; return False when the hash was known."""
    with catalog.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO placeholders (hash, name, added_at) VALUES (?, ?, ?) "
            "ON CONFLICT (hash) DO NOTHING",
            (int(phash), name, utc_now()),
        )
    return cursor.rowcount == 1


def list_placeholders(catalog: Catalog) -> list[tuple[int, str, str]]:
    """(phash, name, added_at) of every placeholder added to this catalog, oldest first."""
    rows = catalog.conn.execute(
        "SELECT hash, name, added_at FROM placeholders ORDER BY added_at, hash"
    )
    return [(row[0], row[1], row[2]) for row in rows]
