"""Duplicate judgments: dedup's inputs and outputs, and the review's keeper/break decisions.

``images.duplicate_of`` / ``duplicate_reason`` are judgments: ``curate dedup``
recomputes them wholesale on every run (:func:`replace_duplicates`). What a
reviewer decides is kept apart, in two tables that every rerun respects:

- ``keeper_choices``: :func:`choose_keeper` pins a whole group (every member and
  the keeper it was given); a rerun reproduces a pinned group as it is, at any
  threshold, and may only add new near duplicates to it.
- ``not_duplicates``: :func:`break_group` / :func:`break_member` record the pairs a
  reviewer said are different pictures; a rerun never puts such a pair in one group.

Every change a run or a reviewer makes is appended to ``duplicate_log`` with the
action ``dedup``, ``keeper`` or ``break``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass

from catalog.db import Catalog, utc_now
from catalog.runs import get_setting
from synthset.errors import SynthsetError

HASH_SETTING = "dedup.hash"  # the perceptual hash the last dedup run used
DEFAULT_HASH = "phash"
HASH_COLUMNS = ("phash", "dhash", "whash")
_MASK = (1 << 64) - 1
_INSERT_NOT_DUPLICATE = (
    "INSERT OR IGNORE INTO not_duplicates (sha256_a, sha256_b, decided_at) VALUES (?, ?, ?)"
)


class NoDuplicateGroup(SynthsetError):
    """No image is marked as a duplicate of the given keeper."""


class NotInGroup(SynthsetError):
    """The image is not a member of the duplicate group named."""


@dataclass(frozen=True)
class DedupCandidate:
    """An ``ok`` image with what dedup needs: size, age and content hashes."""

    sha256: str
    path: str
    bytes: int
    width: int | None
    height: int | None
    first_seen: str
    discovered_at: str  # earliest discovery of any URL serving it (first_seen when none)
    pixel_sha256: str | None
    phash: int | None
    dhash: int | None
    whash: int | None
    centre5_phash: int | None = None
    centre10_phash: int | None = None

    @property
    def area(self) -> int:
        """Pixel area (0 when unknown)."""
        return (self.width or 0) * (self.height or 0)

    def has_hashes(self) -> bool:
        """Whether the pixel sha256 and every perceptual hash are stored."""
        return self.pixel_sha256 is not None and None not in (
            self.phash, self.dhash, self.whash, self.centre5_phash, self.centre10_phash
        )


@dataclass(frozen=True)
class StoredHashes:
    """Content hashes computed for an image whose check predates them."""

    sha256: str
    pixel_sha256: str
    phash: int
    dhash: int
    whash: int
    centre5_phash: int
    centre10_phash: int


@dataclass(frozen=True)
class DuplicateJudgment:
    """One image marked as a duplicate of the kept image of its group."""

    sha256: str
    duplicate_of: str
    reason: str


@dataclass(frozen=True)
class GroupImage:
    """One image of a duplicate group as the review shows it."""

    sha256: str
    path: str
    width: int | None
    height: int | None
    bytes: int
    distance: int | None  # Hamming distance to the keeper by the last run's hash (0 for it)
    reason: str | None  # ``duplicate_reason``; None for the keeper


@dataclass(frozen=True)
class DuplicateGroup:
    """A kept image and the images marked as its duplicates (closest first)."""

    keeper: GroupImage
    members: tuple[GroupImage, ...]

    @property
    def sha256s(self) -> tuple[str, ...]:
        """The keeper's sha256 then the members'."""
        return (self.keeper.sha256, *(m.sha256 for m in self.members))


def hamming(a: int, b: int) -> int:
    """Differing bits between two stored (signed int64) hashes."""
    return ((int(a) ^ int(b)) & _MASK).bit_count()


PERCEPTUAL_COLUMNS = ("phash", "dhash", "whash", "centre5_phash", "centre10_phash")


def dedup_candidates(catalog: Catalog, hash_version: int) -> list[DedupCandidate]:
    """Every image judged ``ok`` by ``curate check`` (the only ones dedup considers), by sha256.

    Perceptual hashes of another method than ``hash_version`` (NULL counts as 1) come back
    as None: missing, to be recomputed, never compared with hashes of this method.
    """
    current = ", ".join(
        f"CASE WHEN coalesce(i.hash_version, 1) = :version THEN i.{c} END AS {c}"
        for c in PERCEPTUAL_COLUMNS
    )
    rows = catalog.conn.execute(
        f"""SELECT i.sha256, i.path, i.bytes, i.width, i.height, i.first_seen,
                  coalesce(min(u.discovered_at), i.first_seen) AS discovered_at,
                  i.pixel_sha256, {current}
           FROM images i LEFT JOIN urls u ON u.sha256 = i.sha256
           WHERE i.status = 'ok'
           GROUP BY i.sha256
           ORDER BY i.sha256""",
        {"version": hash_version},
    )
    return [DedupCandidate(**dict(row)) for row in rows]


def record_hashes(catalog: Catalog, hashes: Iterable[StoredHashes], hash_version: int) -> int:
    """Store hashes computed for images that lacked them; return rows written.

    Hashes stored by method ``hash_version`` are kept (only missing ones are filled in),
    as is a stored pixel sha256 (its meaning does not depend on the method); perceptual
    hashes of another method (NULL counts as 1) are replaced, and the row is marked
    ``hash_version``.
    """
    rows = [{"sha256": h.sha256, "pixel_sha256": h.pixel_sha256, "version": hash_version,
             **{c: getattr(h, c) for c in PERCEPTUAL_COLUMNS}} for h in hashes]
    kept = ", ".join(
        f"{c} = CASE WHEN coalesce(hash_version, 1) = :version THEN coalesce({c}, :{c}) "
        f"ELSE :{c} END"
        for c in PERCEPTUAL_COLUMNS
    )
    with catalog.transaction() as conn:
        conn.executemany(
            f"""UPDATE images SET pixel_sha256 = coalesce(pixel_sha256, :pixel_sha256), {kept},
                   hash_version = :version
               WHERE sha256 = :sha256""",
            rows,
        )
    return len(rows)


def not_duplicate_pairs(catalog: Catalog) -> set[tuple[str, str]]:
    """Pairs ``(a, b)`` with ``a < b`` that a reviewer said are not duplicates."""
    rows = catalog.conn.execute("SELECT sha256_a, sha256_b FROM not_duplicates")
    return {(row[0], row[1]) for row in rows}


def pinned_groups(catalog: Catalog) -> dict[str, str]:
    """Reviewer-pinned group membership: image sha256 -> its keeper (keepers map to themselves)."""
    rows = catalog.conn.execute("SELECT sha256, keeper FROM keeper_choices ORDER BY sha256")
    return {row[0]: row[1] for row in rows}


def count_shared_bodies(catalog: Catalog) -> int:
    """Exact duplicates by sha256: URLs of ``ok`` images beyond the first URL per body."""
    row = catalog.conn.execute(
        """SELECT count(u.url) - count(DISTINCT u.sha256) FROM urls u
           JOIN images i ON i.sha256 = u.sha256 WHERE i.status = 'ok'"""
    ).fetchone()
    return int(row[0] or 0)


def replace_duplicates(
    catalog: Catalog, judgments: Iterable[DuplicateJudgment], hash_name: str
) -> int:
    """Make ``judgments`` the whole of ``duplicate_of`` (all others cleared), in one transaction.

    Only rows that change are written; each change of ``duplicate_of`` is logged in
    ``duplicate_log`` with action ``dedup``. Remembers ``hash_name`` for
    :func:`duplicate_groups`. Returns how many images changed ``duplicate_of``.
    """
    wanted = {j.sha256: (j.duplicate_of, j.reason) for j in judgments}
    now = utc_now()
    with catalog.transaction() as conn:
        current = {
            row[0]: (row[1], row[2])
            for row in conn.execute(
                "SELECT sha256, duplicate_of, duplicate_reason FROM images "
                "WHERE duplicate_of IS NOT NULL OR duplicate_reason IS NOT NULL"
            )
        }
        updates, log = [], []
        for sha256 in sorted(set(current) | set(wanted)):
            old = current.get(sha256, (None, None))
            new = wanted.get(sha256, (None, None))
            if old != new:
                updates.append((new[0], new[1], sha256))
            if old[0] != new[0]:
                log.append((sha256, old[0], new[0], "dedup", now))
        conn.executemany(
            "UPDATE images SET duplicate_of = ?, duplicate_reason = ? WHERE sha256 = ?", updates
        )
        conn.executemany(
            "INSERT INTO duplicate_log (sha256, old_duplicate_of, new_duplicate_of, action, "
            "decided_at) VALUES (?, ?, ?, ?, ?)",
            log,
        )
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (HASH_SETTING, hash_name),
        )
    return len(log)


def current_duplicates(catalog: Catalog) -> dict[str, tuple[str, str | None]]:
    """Every image marked as a duplicate: sha256 -> (duplicate_of, duplicate_reason)."""
    rows = catalog.conn.execute(
        "SELECT sha256, duplicate_of, duplicate_reason FROM images "
        "WHERE duplicate_of IS NOT NULL ORDER BY sha256"
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def latest_dedup_stats(catalog: Catalog) -> dict | None:
    """``runs.stats`` of the latest finished ``dedup`` run, or None when there was none."""
    row = catalog.conn.execute(
        "SELECT stats FROM runs WHERE command = 'dedup' AND finished_at IS NOT NULL "
        "ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return None if row is None else json.loads(row[0])


def duplicate_groups(catalog: Catalog) -> list[DuplicateGroup]:
    """Every duplicate group, for ``curate review --duplicates``.

    Groups come ordered by the keeper's ``first_seen`` then sha256; members by
    their distance to the keeper (by the hash the last dedup run used), then sha256.
    """
    hash_column = get_setting(catalog, HASH_SETTING, DEFAULT_HASH) or DEFAULT_HASH
    if hash_column not in HASH_COLUMNS:
        hash_column = DEFAULT_HASH
    rows = catalog.conn.execute(
        f"""SELECT m.sha256, m.path, m.width, m.height, m.bytes, m.duplicate_reason,
                  m.{hash_column} AS hash, m.pixel_sha256,
                  k.sha256 AS k_sha256, k.path AS k_path, k.width AS k_width,
                  k.height AS k_height, k.bytes AS k_bytes, k.{hash_column} AS k_hash,
                  k.pixel_sha256 AS k_pixel_sha256, k.first_seen AS k_first_seen
           FROM images m JOIN images k ON k.sha256 = m.duplicate_of
           WHERE m.duplicate_of IS NOT NULL
           ORDER BY k.first_seen, k.sha256"""
    )
    keepers: dict[str, GroupImage] = {}
    members: dict[str, list[GroupImage]] = {}
    for row in rows:
        keeper = row["k_sha256"]
        if keeper not in keepers:
            keepers[keeper] = GroupImage(
                keeper, row["k_path"], row["k_width"], row["k_height"], row["k_bytes"], 0, None
            )
            members[keeper] = []
        distance = None
        if row["hash"] is not None and row["k_hash"] is not None:
            distance = hamming(row["hash"], row["k_hash"])
        elif row["pixel_sha256"] is not None and row["pixel_sha256"] == row["k_pixel_sha256"]:
            distance = 0
        members[keeper].append(
            GroupImage(
                row["sha256"], row["path"], row["width"], row["height"], row["bytes"],
                distance, row["duplicate_reason"],
            )
        )
    return [
        DuplicateGroup(
            keepers[k],
            tuple(sorted(members[k], key=lambda m: (m.distance is None, m.distance, m.sha256))),
        )
        for k in keepers
    ]


def _group_members(catalog: Catalog, keeper_sha256: str) -> list[str]:
    """sha256s marked as duplicates of ``keeper_sha256``.

    :raises NoDuplicateGroup: when there are none.
    """
    members = [
        row[0]
        for row in catalog.conn.execute(
            "SELECT sha256 FROM images WHERE duplicate_of = ? ORDER BY sha256", (keeper_sha256,)
        )
    ]
    if not members:
        raise NoDuplicateGroup(
            f"no duplicate group is kept as {keeper_sha256[:12]}; run `curate dedup` "
            "or pick a keeper from `curate review --duplicates`"
        )
    return members


HashFacts = tuple[str | None, int | None]  # (pixel_sha256, perceptual hash)


def _hash_facts(catalog: Catalog, sha256s: list[str], column: str) -> dict[str, HashFacts]:
    """sha256 -> (pixel_sha256, perceptual hash in ``column``) for the given images."""
    sql = f"SELECT sha256, pixel_sha256, {column} FROM images WHERE sha256 IN"
    return {row[0]: (row[1], row[2]) for row in catalog.select_in(sql, sha256s)}


def review_reason(member: HashFacts, keeper: HashFacts, keeper_sha256: str, hash_name: str) -> str:
    """The ``duplicate_reason`` of an image a reviewer put in a group kept as ``keeper_sha256``."""
    short = keeper_sha256[:12]
    if member[0] is not None and member[0] == keeper[0]:
        return f"same pixels as {short} (keeper chosen in review)"
    if member[1] is not None and keeper[1] is not None:
        distance = hamming(member[1], keeper[1])
        return f"{hash_name} distance {distance} to {short} (keeper chosen in review)"
    return f"grouped with {short} in review"


def choose_keeper(catalog: Catalog, group_keeper_sha256: str, new_keeper_sha256: str) -> None:
    """Make ``new_keeper_sha256`` the kept image of the group now kept as ``group_keeper_sha256``.

    The old keeper and every other member become duplicates of the new keeper. The
    whole group is pinned in ``keeper_choices``, so a rerun of ``curate dedup`` (at
    any threshold) keeps this group and this keeper. Each change is logged with
    action ``keeper``. Choosing the current keeper pins the group as it is.

    :raises NoDuplicateGroup: if nothing is a duplicate of ``group_keeper_sha256``.
    :raises NotInGroup: if ``new_keeper_sha256`` is not in that group.
    """
    hash_name = get_setting(catalog, HASH_SETTING, DEFAULT_HASH) or DEFAULT_HASH
    if hash_name not in HASH_COLUMNS:
        hash_name = DEFAULT_HASH
    now = utc_now()
    with catalog.transaction() as conn:
        members = _group_members(catalog, group_keeper_sha256)
        group = [group_keeper_sha256, *members]
        if new_keeper_sha256 not in group:
            raise NotInGroup(
                f"image {new_keeper_sha256[:12]} is not in the group kept as "
                f"{group_keeper_sha256[:12]}; pick one of its members"
            )
        facts = _hash_facts(catalog, group, hash_name)
        keeper_facts = facts.get(new_keeper_sha256, (None, None))
        updates, log, pins = [], [], []
        for sha256 in group:
            old_of = None if sha256 == group_keeper_sha256 else group_keeper_sha256
            new_of = None if sha256 == new_keeper_sha256 else new_keeper_sha256
            reason = None
            if new_of is not None:
                member_facts = facts.get(sha256, (None, None))
                reason = review_reason(member_facts, keeper_facts, new_of, hash_name)
            updates.append((new_of, reason, sha256))
            pins.append((sha256, new_keeper_sha256, now))
            if old_of != new_of:
                log.append((sha256, old_of, new_of, "keeper", now))
        conn.executemany(
            "UPDATE images SET duplicate_of = ?, duplicate_reason = ? WHERE sha256 = ?", updates
        )
        conn.executemany(
            "INSERT INTO keeper_choices (sha256, keeper, decided_at) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO UPDATE SET keeper = excluded.keeper, "
            "decided_at = excluded.decided_at",
            pins,
        )
        conn.executemany(
            "INSERT INTO duplicate_log (sha256, old_duplicate_of, new_duplicate_of, action, "
            "decided_at) VALUES (?, ?, ?, ?, ?)",
            log,
        )


def _break(catalog: Catalog, keeper_sha256: str, members: list[str], apart: list[str]) -> None:
    """Un-mark ``members`` and record every pair of ``apart`` as not duplicates."""
    now = utc_now()
    pairs = [(*sorted(pair), now) for pair in itertools.combinations(sorted(set(apart)), 2)]
    with catalog.transaction() as conn:
        conn.executemany(
            "UPDATE images SET duplicate_of = NULL, duplicate_reason = NULL WHERE sha256 = ?",
            [(m,) for m in members],
        )
        conn.executemany(
            _INSERT_NOT_DUPLICATE,
            pairs,
        )
        conn.executemany(
            "DELETE FROM keeper_choices WHERE sha256 = ?", [(s,) for s in set(apart)]
        )
        conn.executemany(
            "INSERT INTO duplicate_log (sha256, old_duplicate_of, new_duplicate_of, action, "
            "decided_at) VALUES (?, ?, NULL, 'break', ?)",
            [(m, keeper_sha256, now) for m in members],
        )


def break_group(catalog: Catalog, keeper_sha256: str) -> list[str]:
    """Mark the group kept as ``keeper_sha256`` as not duplicates; return the freed members.

    Every member loses ``duplicate_of``; every pair within the group (keeper and
    members) is recorded in ``not_duplicates`` so no rerun of ``curate dedup`` puts
    any two of them in one group again; a pin on the group is dropped. Each freed
    member is logged with action ``break``.

    :raises NoDuplicateGroup: if nothing is a duplicate of ``keeper_sha256``.
    """
    members = _group_members(catalog, keeper_sha256)
    _break(catalog, keeper_sha256, members, [keeper_sha256, *members])
    return members


def break_member(catalog: Catalog, sha256: str) -> str:
    """Take one image out of its duplicate group (it differs from the rest); return its old keeper.

    The image loses ``duplicate_of``; its pairs with the keeper and with every other
    member are recorded in ``not_duplicates``; its pin is dropped. Logged as ``break``.

    :raises NotInGroup: if the image is not marked as a duplicate.
    """
    row = catalog.conn.execute(
        "SELECT duplicate_of FROM images WHERE sha256 = ?", (sha256,)
    ).fetchone()
    if row is None or row[0] is None:
        raise NotInGroup(f"image {sha256[:12]} is not marked as a duplicate; nothing to break")
    keeper = row[0]
    others = [m for m in _group_members(catalog, keeper) if m != sha256]
    now = utc_now()
    pairs = [(*sorted((sha256, other)), now) for other in [keeper, *others]]
    with catalog.transaction() as conn:
        conn.execute(
            "UPDATE images SET duplicate_of = NULL, duplicate_reason = NULL WHERE sha256 = ?",
            (sha256,),
        )
        conn.executemany(
            _INSERT_NOT_DUPLICATE,
            pairs,
        )
        conn.execute("DELETE FROM keeper_choices WHERE sha256 = ?", (sha256,))
        conn.execute(
            "INSERT INTO duplicate_log (sha256, old_duplicate_of, new_duplicate_of, action, "
            "decided_at) VALUES (?, ?, NULL, 'break', ?)",
            (sha256, keeper, now),
        )
    return keeper
