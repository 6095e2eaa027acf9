"""The screening queue: ok, non-duplicate, undecided images, paged by sha256 and counted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.db import Catalog, utc_now

# The scope of a review: checked ok and not folded into another image. The unary
# ``+`` keeps SQLite off the status and wnid indexes, so pages walk the primary key
# in order (no sort of the whole scope) and url lookups go by sha256.
_SCOPE = "+i.status = 'ok' AND +i.duplicate_of IS NULL"
# Same meaning as "no row in the decisions view" (an image has a decision in force
# iff some accept/reject/skip row of it is not withdrawn), without the view's max().
_UNDECIDED = """NOT EXISTS (
    SELECT 1 FROM reviews r
    WHERE r.sha256 = i.sha256 AND r.decision != 'undo'
      AND NOT EXISTS (SELECT 1 FROM reviews w WHERE w.undoes = r.id))"""


@dataclass(frozen=True)
class QueueFilter:
    """Which images a review walks: by synset, by source, and whether decided ones come back."""

    synset: str | None = None
    source: str | None = None
    redo: bool = False  # include images that already have a decision in force


@dataclass(frozen=True)
class QueueItem:
    """One image of the queue: its hash, store path and decoded size."""

    sha256: str
    path: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class QueueCounts:
    """Progress of a review over its scope (the filter without the 'undecided' condition)."""

    total: int  # images in scope
    decided: int  # of those, with accept/reject/skip in force
    accepted: int
    rejected: int
    skipped: int

    @property
    def accept_rate(self) -> float | None:
        """Accepted over accepted plus rejected; None before the first verdict."""
        judged = self.accepted + self.rejected
        return None if judged == 0 else self.accepted / judged


@dataclass(frozen=True)
class ImageFacts:
    """What the facts panel shows about one image."""

    sha256: str
    url: str | None
    other_urls: int  # further URLs that gave the same bytes
    source: str | None
    wnid: str | None
    words: str | None
    found_on: str | None
    width: int | None
    height: int | None
    bytes: int
    format: str | None
    duplicates: int  # images whose duplicate_of points here


def _where(flt: QueueFilter) -> tuple[str, list[str]]:
    """The WHERE clause and its parameters for ``flt`` (images aliased ``i``)."""
    clauses, params = [_SCOPE], []
    if not flt.redo:
        clauses.append(_UNDECIDED)
    if flt.synset:
        clauses.append("EXISTS (SELECT 1 FROM urls u WHERE u.sha256 = i.sha256 AND +u.wnid = ?)")
        params.append(flt.synset)
    if flt.source:
        clauses.append("EXISTS (SELECT 1 FROM urls u WHERE u.sha256 = i.sha256 AND +u.source = ?)")
        params.append(flt.source)
    return " AND ".join(clauses), params


def queue_page(
    catalog: Catalog, flt: QueueFilter, after: str | None = None, limit: int = 64
) -> list[QueueItem]:
    """Up to ``limit`` queued images with sha256 greater than ``after``, in sha256 order.

    Keyset pagination on the primary key: each page costs the same however deep it is.
    """
    where, params = _where(flt)
    if after is not None:
        where += " AND i.sha256 > ?"
        params.append(after)
    rows = catalog.conn.execute(
        f"SELECT i.sha256, i.path, i.width, i.height FROM images i WHERE {where} "
        "ORDER BY i.sha256 LIMIT ?",
        (*params, limit),
    )
    return [QueueItem(**dict(row)) for row in rows]


def queue_counts(catalog: Catalog, flt: QueueFilter) -> QueueCounts:
    """Counts for the progress bar over the scope of ``flt`` (decided ones included)."""
    where, params = _where(QueueFilter(flt.synset, flt.source, redo=True))
    total = catalog.conn.execute(
        f"SELECT count(*) FROM images i WHERE {where}", params
    ).fetchone()[0]
    by_decision = dict(
        catalog.conn.execute(
            f"""SELECT d.decision, count(*) FROM decisions d
                JOIN images i ON i.sha256 = d.sha256
                WHERE {where} GROUP BY d.decision""",
            params,
        ).fetchall()
    )
    return QueueCounts(
        total=total,
        decided=sum(by_decision.values()),
        accepted=by_decision.get("accept", 0),
        rejected=by_decision.get("reject", 0),
        skipped=by_decision.get("skip", 0),
    )


def image_facts(catalog: Catalog, sha256: str) -> ImageFacts | None:
    """The facts panel of one image: its first URL, source, synset, size, folded duplicates."""
    image = catalog.conn.execute(
        "SELECT sha256, width, height, bytes, format FROM images WHERE sha256 = ?", (sha256,)
    ).fetchone()
    if image is None:
        return None
    urls = catalog.conn.execute(
        """SELECT u.url, u.source, u.wnid, u.found_on, s.words
           FROM urls u LEFT JOIN synsets s ON s.wnid = u.wnid
           WHERE u.sha256 = ? ORDER BY u.discovered_at, u.url""",
        (sha256,),
    ).fetchall()
    first = dict(urls[0]) if urls else {}
    duplicates = catalog.conn.execute(
        "SELECT count(*) FROM images WHERE duplicate_of = ?", (sha256,)
    ).fetchone()[0]
    return ImageFacts(
        sha256=sha256,
        url=first.get("url"),
        other_urls=max(len(urls) - 1, 0),
        source=first.get("source"),
        wnid=first.get("wnid"),
        words=first.get("words"),
        found_on=first.get("found_on"),
        width=image["width"],
        height=image["height"],
        bytes=image["bytes"],
        format=image["format"],
        duplicates=duplicates,
    )


@dataclass(frozen=True)
class SeedImage:
    """A checked-ok image inserted directly (benchmarks and demos), with the URL it came from."""

    sha256: str
    path: str  # store-relative; several rows may share one file
    bytes: int
    width: int
    height: int
    url: str
    source: str = "local"
    wnid: str | None = None
    format: str = "JPEG"


def seed_checked_images(catalog: Catalog, images: Iterable[SeedImage]) -> int:
    """Insert ``images`` as already fetched and checked ok, in one transaction; return how many.

    This skips the harvest and the check on purpose: it builds a big queue in
    seconds for ``benchmarks/review.py``. Existing hashes and URLs are left alone.
    """
    now = utc_now()
    image_rows, url_rows = [], []
    for image in images:
        image_rows.append(
            (image.sha256, image.path, image.bytes, now, image.format, image.width,
             image.height, now)
        )
        url_rows.append(
            (image.url, image.source, image.wnid, now, now, 200, image.bytes, image.sha256)
        )
    with catalog.transaction() as conn:
        before = conn.total_changes
        conn.executemany(
            """INSERT OR IGNORE INTO images (sha256, path, bytes, first_seen, format, width,
                   height, status, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'ok', ?)""",
            image_rows,
        )
        inserted = conn.total_changes - before
        conn.executemany(
            """INSERT OR IGNORE INTO urls (url, source, wnid, discovered_at, fetched_at,
                   http_status, bytes, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            url_rows,
        )
    return inserted
