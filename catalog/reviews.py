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


def validated(decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions as a list, once each is known to be one of :data:`DECISIONS`.

    :raises ValueError: naming the first unknown decision.
    """
    rows = list(decisions)
    for row in rows:
        if row.decision not in DECISIONS:
            raise ValueError(f"unknown decision {row.decision!r}; expected one of {DECISIONS}")
    return rows


def record_decisions(catalog: Catalog, decisions: Iterable[Decision]) -> list[int]:
    """Append decisions in one transaction; return their review ids.

    :raises ValueError: for a decision outside :data:`DECISIONS` (nothing is written).
    """
    rows = validated(decisions)
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


def record_note(catalog: Catalog, sha256: str, note: str) -> int | None:
    """Attach ``note`` to the decision in force by appending a copy of it with the note.

    Returns the new review id, or None when the image has no decision in force (the
    caller keeps the note for the image's next decision).
    """
    with catalog.transaction() as conn:
        row = conn.execute("SELECT decision FROM decisions WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        cursor = conn.execute(
            "INSERT INTO reviews (sha256, decision, note, decided_at) VALUES (?, ?, ?, ?)",
            (sha256, row["decision"], note, utc_now()),
        )
    return int(cursor.lastrowid)


def decisions_in_force(catalog: Catalog) -> list[Decision]:
    """Every decision in force, by sha256 (what ``curate decisions export`` writes)."""
    rows = catalog.conn.execute("SELECT sha256, decision, note FROM decisions ORDER BY sha256")
    return [Decision(**dict(row)) for row in rows]


def known_images(catalog: Catalog, sha256s: Iterable[str]) -> set[str]:
    """Those of ``sha256s`` that are images in the catalog."""
    sql = "SELECT sha256 FROM images WHERE sha256 IN"
    return {row[0] for row in catalog.select_in(sql, dict.fromkeys(sha256s))}


def record_changed_decisions(catalog: Catalog, decisions: Iterable[Decision]) -> int:
    """Append those decisions that differ from the one in force, in one transaction.

    A decision equal to the one in force (same decision and note) appends nothing, so
    recording the same list twice changes nothing the second time. Returns how many
    rows were appended.

    :raises ValueError: for a decision outside :data:`DECISIONS` (nothing is written).
    """
    rows = validated(decisions)
    now = utc_now()
    appended = 0
    with catalog.transaction() as conn:
        for row in rows:
            in_force = conn.execute(
                "SELECT decision, note FROM decisions WHERE sha256 = ?", (row.sha256,)
            ).fetchone()
            if in_force is not None and tuple(in_force) == (row.decision, row.note):
                continue
            conn.execute(
                "INSERT INTO reviews (sha256, decision, note, decided_at) VALUES (?, ?, ?, ?)",
                (row.sha256, row.decision, row.note, now),
            )
            appended += 1
    return appended
