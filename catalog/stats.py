"""Counting queries behind ``curate stats`` and a crawl's outcomes: statuses, sources, reviews."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.db import Catalog

_DEAD = "(u.error IS NOT NULL OR u.http_status >= 400)"
# An image in the screening queue: judged ok and not a removed duplicate.
_REVIEWABLE = "i.status = 'ok' AND i.duplicate_of IS NULL"


@dataclass(frozen=True)
class GroupCounts:
    """Counts of one source or synset."""

    key: str | None
    words: str | None
    urls: int
    fetched: int
    dead: int
    images: int  # distinct stored images reached from its URLs
    ok: int  # of those, judged ok


def image_status_counts(catalog: Catalog) -> dict[str | None, int]:
    """Stored images per status (None: not checked yet)."""
    rows = catalog.conn.execute("SELECT status, count(*) FROM images GROUP BY status")
    return {row[0]: row[1] for row in rows}


def url_counts(catalog: Catalog) -> dict[str, int]:
    """URLs: all, fetched, unfetched, failed (error or HTTP >= 400), judged dead, with a body."""
    row = catalog.conn.execute(
        f"""SELECT count(*), count(u.fetched_at), sum(u.fetched_at IS NULL),
                   sum(u.fetched_at IS NOT NULL AND {_DEAD}), sum(u.status = 'dead'),
                   count(u.sha256)
            FROM urls u"""
    ).fetchone()
    keys = ("total", "fetched", "unfetched", "failed", "dead", "with_body")
    return {key: int(value or 0) for key, value in zip(keys, row, strict=True)}


def outcome_counts(catalog: Catalog) -> dict[str, int]:
    """Fetched URLs per outcome: ``error/<token>`` for a failed fetch, else ``status/<HTTP>``
    (the keys a crawl counts them under)."""
    rows = catalog.conn.execute(
        """SELECT CASE WHEN error IS NOT NULL THEN 'error/' || error
                       ELSE 'status/' || http_status END, count(*)
           FROM urls WHERE fetched_at IS NOT NULL GROUP BY 1"""
    )
    return {row[0]: row[1] for row in rows}


def _group_counts(catalog: Catalog, column: str, words: str) -> list[GroupCounts]:
    rows = catalog.conn.execute(
        f"""SELECT u.{column} AS key, {words} AS words, count(*) AS urls,
                   count(u.fetched_at) AS fetched,
                   sum(u.status = 'dead') AS dead,
                   count(DISTINCT u.sha256) AS images,
                   count(DISTINCT CASE WHEN i.status = 'ok' THEN i.sha256 END) AS ok
            FROM urls u LEFT JOIN images i ON i.sha256 = u.sha256
            {"LEFT JOIN synsets s ON s.wnid = u.wnid" if column == "wnid" else ""}
            GROUP BY u.{column} ORDER BY u.{column}"""
    )
    return [
        GroupCounts(
            key=row["key"],
            words=row["words"],
            urls=row["urls"],
            fetched=row["fetched"],
            dead=row["dead"] or 0,
            images=row["images"],
            ok=row["ok"],
        )  # fmt: skip
        for row in rows
    ]


def source_counts(catalog: Catalog) -> list[GroupCounts]:
    """Counts per URL source (imagenet, web, local)."""
    return _group_counts(catalog, "source", "NULL")


def license_counts(catalog: Catalog) -> list[GroupCounts]:
    """Counts per licence id (key None for URLs whose source names no licence)."""
    return _group_counts(catalog, "license", "NULL")


def synset_counts(catalog: Catalog) -> list[GroupCounts]:
    """Counts per synset (key None for URLs of no synset), with the synset's words."""
    return _group_counts(catalog, "wnid", "max(s.words)")


def duplicate_counts(catalog: Catalog) -> dict[str, int]:
    """Images marked as duplicates (removed) and the number of images kept for them."""
    row = catalog.conn.execute(
        "SELECT count(duplicate_of), count(DISTINCT duplicate_of) FROM images"
    ).fetchone()
    return {"removed": int(row[0]), "kept_for": int(row[1])}


def review_counts(catalog: Catalog) -> dict[str, int]:
    """Screening progress over the queue (ok, non-duplicate images): decisions in force."""
    row = catalog.conn.execute(
        f"""SELECT count(*), sum(d.decision = 'accept'), sum(d.decision = 'reject'),
                   sum(d.decision = 'skip'), sum(d.decision IS NULL)
            FROM images i LEFT JOIN decisions d ON d.sha256 = i.sha256
            WHERE {_REVIEWABLE}"""
    ).fetchone()
    keys = ("reviewable", "accepted", "rejected", "skipped", "undecided")
    return {key: int(value or 0) for key, value in zip(keys, row, strict=True)}
