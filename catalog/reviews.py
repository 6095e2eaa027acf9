"""Screening decisions: an append-only log whose latest live row per image is in force."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.db import Catalog, utc_now

DECISIONS = ("accept", "reject", "skip")


@dataclass(frozen=True)
class Decision:
    """One screening decision about one image."""

    sha256: str
    decision: str  # one of DECISIONS
    note: str | None = None


def record_decisions(catalog: Catalog, decisions: Iterable[Decision]) -> list[int]:
    """Append decisions in one transaction; return their review ids.

    :raises ValueError: for a decision outside :data:`DECISIONS` (nothing is written).
    """
    rows = list(decisions)
    for row in rows:
        if row.decision not in DECISIONS:
            raise ValueError(f"unknown decision {row.decision!r}; expected one of {DECISIONS}")
    now = utc_now()
    ids = []
    with catalog.transaction() as conn:
        for row in rows:
            cursor = conn.execute(
                "INSERT INTO reviews (sha256, decision, note, decided_at) VALUES (?, ?, ?, ?)",
                (row.sha256, row.decision, row.note, now),
            )
            ids.append(int(cursor.lastrowid))
    return ids


def record_decision(catalog: Catalog, sha256: str, decision: str, note: str | None = None) -> int:
    """Append one decision (committed before returning); return its review id."""
    return record_decisions(catalog, [Decision(sha256, decision, note)])[0]


def undo_review(catalog: Catalog, review_id: int) -> int:
    """Withdraw review ``review_id`` by appending an 'undo' row; return the new row's id."""
    with catalog.transaction() as conn:
        sha256 = conn.execute("SELECT sha256 FROM reviews WHERE id = ?", (review_id,)).fetchone()
        if sha256 is None:
            raise ValueError(f"no review with id {review_id}")
        cursor = conn.execute(
            "INSERT INTO reviews (sha256, decision, decided_at, undoes) VALUES (?, 'undo', ?, ?)",
            (sha256[0], utc_now(), review_id),
        )
    return int(cursor.lastrowid)


def current_decision(catalog: Catalog, sha256: str) -> Decision | None:
    """The decision in force for one image, or None when undecided."""
    row = catalog.conn.execute(
        "SELECT sha256, decision, note FROM decisions WHERE sha256 = ?", (sha256,)
    ).fetchone()
    return None if row is None else Decision(**dict(row))
