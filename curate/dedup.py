"""`curate dedup`: group exact and near duplicates of ok images and keep one image per group.

Only images that ``curate check`` judged ``ok`` take part. Two images are
duplicates when they decode to the same pixels (``pixel_sha256``; the same body
under several URLs is already one ``images`` row), or when hashes propose them
and comparing the pictures confirms it. Candidates (``curate.pairs``) are pairs
whose perceptual hash (``--hash``) differs in at most ``--threshold`` bits, and
pairs whose full or centre pHashes do, in any combination (crops, small
rotations); ``curate.verify`` then decides each candidate on the two pictures
(matching keypoints under one similarity transform, one picture containing the
other, pixels that correlate after alignment), on worker processes. The evidence
is each member's ``duplicate_reason``. With ``verify=False`` (``--no-verify``)
the hash distance alone decides, as before verification existed.

Groups are *stars*, never chains: images are visited in keeper order (pixel
area, then bytes, largest first; then earliest discovered; then sha256) and the
first image not yet grouped becomes a keeper whose group is every ungrouped
image within the radius of *that keeper*. So if A~B and B~C but A and C are far
apart, A keeps B and C stays apart (or keeps its own group). With verification,
a keeper's candidates also include the ungrouped hash neighbours of its members
(and of the members these bring; :data:`TWO_HOP_LIMIT` at most, nearest to the
keeper first), each compared with the keeper itself: C joins A's group above only
if the pictures of A and C prove it. That keeps an original with its edits when a
larger copy whose hashes moved (a caption band added under the picture) is visited
first and takes some of the edits.

Near-uniform images stay out of the near-duplicate graph: a hash with at most
``curate.pairs.FLAT_BITS`` bits set, or at most that many clear, carries no picture (a
blank, a flat colour or a plain gradient gives pHash ``0x8000000000000000``,
dHash all zeros or all ones) and would collide with every other such image.
pHash and wHash threshold at their median, so a real photograph has 32 bits
set; dHash of a photograph has 19..45 set on scikit-image's samples. They are
still grouped with images of exactly the same pixels.

Reviewer decisions (``catalog.duplicates``) are respected: groups pinned by
``choose_keeper`` are reproduced as they are, and pairs a reviewer broke apart
are never grouped again. Everything else is recomputed from scratch on each run.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.table import Table

from catalog.db import Catalog
from catalog.duplicates import (
    DedupCandidate,
    DuplicateJudgment,
    count_shared_bodies,
    dedup_candidates,
    not_duplicate_pairs,
    pinned_groups,
    replace_duplicates,
    review_reason,
)
from catalog.errors import UnsafePath
from catalog.runs import finish_run, start_run
from curate.hashing import HASH_VERSION, PERCEPTUAL_HASHES, hamming
from curate.missing_hashes import fill_missing_hashes
from curate.pairs import (
    CROP_HASHES,
    POOL_PAIRS,
    find_candidates,
    is_flat,
    verification_pool,
    verify_pairs,
)
from curate.verify import Evidence
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

DEFAULT_HASH = "phash"
DEFAULT_THRESHOLD = 8  # candidate radius; without verification 6 is the precise choice
MAX_THRESHOLD = 32  # beyond half the bits two random hashes are "near"
TWO_HOP_LIMIT = 32  # a keeper's candidates from its members' hash neighbours, at most

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class UnknownHash(SynthsetError):
    """The perceptual hash asked for is not one of curate.hashing.PERCEPTUAL_HASHES."""


class InvalidThreshold(SynthsetError):
    """The Hamming radius is outside 0 .. MAX_THRESHOLD."""


@dataclass(frozen=True)
class DedupOptions:
    """What ``curate dedup`` was asked to do."""

    hash_name: str = DEFAULT_HASH
    threshold: int = DEFAULT_THRESHOLD
    dry_run: bool = False
    workers: int | None = None  # processes for hashing and verifying (default: every core)
    verify: bool = True  # compare the pictures of each candidate pair (else: hashes decide)

    def __post_init__(self) -> None:
        if self.hash_name not in PERCEPTUAL_HASHES:
            raise UnknownHash(
                f"unknown hash {self.hash_name!r}; use one of {', '.join(PERCEPTUAL_HASHES)}"
            )
        if not 0 <= self.threshold <= MAX_THRESHOLD:
            raise InvalidThreshold(
                f"threshold {self.threshold} is outside 0..{MAX_THRESHOLD}; pass --threshold 6"
            )


@dataclass(frozen=True)
class Member:
    """An image judged a duplicate of its group's keeper."""

    sha256: str
    distance: int  # Hamming distance to the keeper by the chosen hash
    reason: str


@dataclass(frozen=True)
class Group:
    """A kept image and its duplicates (closest first)."""

    keeper: str
    members: tuple[Member, ...]
    pinned: bool = False  # reproduced from a reviewer's choose_keeper


@dataclass
class DedupReport:
    """What one dedup run found and did."""

    options: DedupOptions
    candidates: int = 0  # ok images considered
    hashed: int = 0  # ok images whose missing hashes this run computed
    unhashable: int = 0  # ok images left out: hashes missing and the file does not decode
    flat: int = 0  # near-uniform images kept out of the near-duplicate graph
    near_pairs: int = 0  # candidate pairs within the radius found by the searches
    verified_pairs: int = 0  # candidates the pictures confirmed
    rejected_pairs: int = 0  # candidates the pictures did not confirm
    unverifiable_pairs: int = 0  # candidates with a file that no longer decodes
    verify_seconds: float = 0.0
    blocked_pairs: int = 0  # reviewer "not duplicates" pairs known
    shared_urls: int = 0  # URLs sharing a stored body with another URL (exact sha256 dups)
    groups: list[Group] = field(default_factory=list)
    changed: int = 0  # images whose duplicate_of changed (0 on a dry run)
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def duplicates(self) -> int:
        """Images marked as duplicates of a kept image."""
        return sum(len(g.members) for g in self.groups)

    @property
    def same_pixels(self) -> int:
        """Duplicates with exactly the keeper's pixels (another encoding)."""
        return sum(1 for g in self.groups for m in g.members if m.reason.startswith("same pixels"))

    def stats(self) -> dict[str, Any]:
        """The counts recorded in ``runs.stats``."""
        return {
            "hash": self.options.hash_name, "threshold": self.options.threshold,
            "candidates": self.candidates, "hashed": self.hashed, "unhashable": self.unhashable,
            "verify": self.options.verify, "flat": self.flat, "near_pairs": self.near_pairs,
            "verified_pairs": self.verified_pairs, "rejected_pairs": self.rejected_pairs,
            "unverifiable_pairs": self.unverifiable_pairs,
            "verify_seconds": round(self.verify_seconds, 3), "groups": len(self.groups),
            "duplicates": self.duplicates, "same_pixels": self.same_pixels,
            "near": self.duplicates - self.same_pixels, "shared_urls": self.shared_urls,
            "pinned_groups": sum(1 for g in self.groups if g.pinned),
            "blocked_pairs": self.blocked_pairs, "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }

    def as_table(self) -> Table:
        """A two-column summary of the run."""
        title = "dedup (dry run: nothing written)" if self.options.dry_run else "dedup"
        table = Table(title=title, show_header=False, min_width=len(title) + 4)
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, value in self.stats().items():
            table.add_row(key.replace("_", " "), str(value))
        return table

    def groups_table(self, limit: int | None = None) -> Table:
        """One row per duplicate (keeper first in each group), ``limit`` groups at most."""
        shown = self.groups[:limit]
        table = Table(title=f"{len(shown)} of {len(self.groups)} duplicate groups")
        for column in ("group", "keeper", "duplicate", "distance"):
            table.add_column(column, no_wrap=True)
        table.add_column("reason")
        for number, group in enumerate(shown, 1):
            keeper = group.keeper[:12] + (" (pinned)" if group.pinned else "")
            for index, member in enumerate(group.members):
                table.add_row(
                    str(number) if index == 0 else "", keeper if index == 0 else "",
                    member.sha256[:12], str(member.distance), member.reason,
                )
        return table


def dedup_images(
    catalog: Catalog, options: DedupOptions, progress: Progress | None = None
) -> DedupReport:
    """Group the ok images of ``catalog`` and mark all but one per group ``duplicate_of``.

    Recomputes every judgment (reviewer decisions excepted) in one transaction, so a
    rerun with another threshold replaces the previous result cleanly and a crash
    leaves the previous result whole. With ``options.dry_run`` nothing is written:
    no judgments, no computed hashes, no ``runs`` row. Returns the report.
    """
    started = time.monotonic()
    report = DedupReport(options=options)
    run_id = None
    if not options.dry_run:
        run_id = start_run(catalog, "dedup", {"hash": options.hash_name,
                                              "threshold": options.threshold,
                                              "verify": options.verify})
    filled = fill_missing_hashes(catalog, dedup_candidates(catalog, HASH_VERSION),
                                 options.workers or os.cpu_count() or 1, options.dry_run, progress)
    candidates = filled.candidates
    report.hashed, report.unhashable = filled.hashed, filled.unhashable
    report.candidates = len(candidates)
    report.shared_urls = count_shared_bodies(catalog)
    blocked = not_duplicate_pairs(catalog)
    report.blocked_pairs = len(blocked)
    with ExitStack() as stack:
        verifier = None
        if options.verify:
            verifier = _store_verifier(catalog, candidates, options, progress, stack)
        report.groups = plan_groups(
            candidates, options.hash_name, options.threshold, pinned_groups(catalog), blocked,
            report, progress, verifier,
        )
    if run_id is not None:
        judgments = [
            DuplicateJudgment(member.sha256, group.keeper, member.reason)
            for group in report.groups
            for member in group.members
        ]
        report.changed = replace_duplicates(catalog, judgments, options.hash_name)
    report.seconds = time.monotonic() - started
    if run_id is not None:
        report.run_id = run_id
        finish_run(catalog, run_id, report.stats())
    logger.info("dedup: %s", report.stats())
    return report


# --- grouping --------------------------------------------------------------------------


def keeper_order(candidates: list[DedupCandidate], pinned_keepers: set[str]) -> list[int]:
    """Indices of ``candidates`` in the order they are offered to become keepers.

    Reviewer-pinned keepers first; then largest pixel area, then most bytes, then
    earliest discovered (then first seen), then sha256 so the order is total.
    """
    return sorted(
        range(len(candidates)),
        key=lambda i: (
            candidates[i].sha256 not in pinned_keepers, -candidates[i].area,
            -candidates[i].bytes, candidates[i].discovered_at, candidates[i].first_seen,
            candidates[i].sha256,
        ),
    )


Verifier = Callable[[list[tuple[int, int]]], list[Evidence | None]]  # index pairs -> verdicts


def _store_verifier(catalog: Catalog, candidates: list[DedupCandidate], options: DedupOptions,
                    progress: Progress | None, stack: ExitStack) -> Verifier:
    """A :data:`Verifier` that compares the stored files, on ``options.workers`` processes.

    The process pool starts on the first batch big enough to need it and is shut down
    with ``stack``; later verification rounds reuse it.
    """
    workers = options.workers or os.cpu_count() or 1
    pools: list[ProcessPoolExecutor] = []

    def verifier(pairs: list[tuple[int, int]]) -> list[Evidence | None]:
        paths = []
        for a, b in pairs:
            try:
                paths.append((str(catalog.store.absolute(candidates[a].path)),
                              str(catalog.store.absolute(candidates[b].path))))
            except UnsafePath:
                logger.warning("dedup: refusing store path of %s or %s",
                               candidates[a].sha256, candidates[b].sha256)
                paths.append(("", ""))

        def verified(done: int, total: int) -> None:
            if progress:
                progress("verify", done, total)

        if workers > 1 and len(paths) >= POOL_PAIRS and not pools:
            pools.append(stack.enter_context(verification_pool(workers)))
        return verify_pairs(paths, workers, verified, pools[0] if pools else None)

    return verifier


def _edges(
    candidates: list[DedupCandidate], hash_name: str, threshold: int, rank: np.ndarray,
    report: DedupReport, progress: Progress | None, verifier: Verifier | None,
) -> tuple[dict[int, list[tuple[int, int]]], dict[tuple[int, int], str]]:
    """Neighbours of each image, ``(distance, other)`` sorted (candidate pairs and same
    pixels), and what proposed each candidate pair ``(lower, higher index)``."""
    names = {hash_name, *CROP_HASHES} if verifier else {hash_name}
    hashes = {name: np.array([getattr(c, name) for c in candidates], dtype=np.int64)
              for name in names}
    report.flat = int(is_flat(hashes[hash_name]).sum())

    def searched(done: int, total: int) -> None:
        if progress:
            progress("search", done, total)

    found = find_candidates(hashes, hash_name, threshold, crops=verifier is not None,
                            progress=searched)
    report.near_pairs = len(found)
    pixels = [c.pixel_sha256 for c in candidates]
    labels = {
        (a, b): found.label(k)
        for k, (a, b) in enumerate(zip(found.left.tolist(), found.right.tolist(), strict=True))
        if pixels[a] is None or pixels[a] != pixels[b]
    }
    neighbours: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for a, b in labels:
        d = _distance(candidates[a], candidates[b], hash_name)
        neighbours[a].append((d, b))
        neighbours[b].append((d, a))
    # Same pixels: a star from the best-ranked image of each pixel group (equality is
    # transitive, so a star loses nothing); this also covers near-uniform images.
    by_pixels: dict[str, list[int]] = defaultdict(list)
    for index, candidate in enumerate(candidates):
        if candidate.pixel_sha256 is not None:
            by_pixels[candidate.pixel_sha256].append(index)
    for twins in by_pixels.values():
        if len(twins) > 1:
            hub = min(twins, key=lambda i: rank[i])
            for other in twins:
                if other != hub:
                    d = _distance(candidates[hub], candidates[other], hash_name)
                    neighbours[hub].append((d, other))
                    neighbours[other].append((d, hub))
    for index, near in neighbours.items():
        neighbours[index] = sorted(set(near), key=lambda p: (p[0], rank[p[1]]))
    return neighbours, labels


def plan_groups(
    candidates: list[DedupCandidate],
    hash_name: str,
    threshold: int,
    pinned: dict[str, str] | None = None,
    blocked: set[tuple[str, str]] | None = None,
    report: DedupReport | None = None,
    progress: Progress | None = None,
    verifier: Verifier | None = None,
) -> list[Group]:
    """Star-cluster ``candidates`` (all with hashes) into duplicate groups; writes nothing.

    :param pinned: reviewer-pinned membership (image -> keeper), reproduced as is.
    :param blocked: pairs ``(a, b)``, ``a < b``, never to share a group.
    :param verifier: decides each candidate pair on the pictures (candidates then also
        come from the centre hashes); None: the hash distance alone decides.
    :returns: groups with at least one member, in keeper order.
    """
    pinned = pinned or {}
    blocked = blocked or set()
    report = report or DedupReport(options=DedupOptions(hash_name=hash_name))
    index_of = {c.sha256: i for i, c in enumerate(candidates)}
    pinned_keepers = {k for s, k in pinned.items() if s == k and k in index_of}
    order = keeper_order(candidates, pinned_keepers)
    rank = np.empty(len(candidates), dtype=np.int64)
    rank[order] = np.arange(len(candidates))
    neighbours, labels = _edges(candidates, hash_name, threshold, rank, report, progress,
                                verifier)
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in blocked:
        if a in index_of and b in index_of:
            apart[index_of[a]].add(index_of[b])
            apart[index_of[b]].add(index_of[a])
    pins = [(index_of[s], index_of[k]) for s, k in sorted(pinned.items())
            if s != k and s in index_of and k in pinned_keepers]
    # Verify lazily: plan the stars as if every untested candidate held, verify the
    # keeper-member pairs the plan uses, and plan again until it uses only verified pairs.
    # Pairs between two members of one star are never compared.
    verdicts: dict[tuple[int, int], str | None] = {}  # pair -> evidence; None: rejected
    if verifier is None:
        verdicts.update(dict.fromkeys(labels, ""))
    hashes = np.array([getattr(c, hash_name) for c in candidates], dtype=np.int64)
    while True:
        edges = _stars(order, neighbours, pins, apart, verdicts, progress,
                       hashes if verifier else None)
        proposed = {(min(k, j), max(k, j)): via for _, (k, j), via in edges}
        untested = sorted(pair for pair, via in proposed.items()
                          if (via is not None or pair in labels) and pair not in verdicts)
        if not untested:
            break
        _verify(untested, verifier, verdicts, report)
    members: dict[int, list[Member]] = defaultdict(list)
    for i, k in pins:
        distance = _distance(candidates[i], candidates[k], hash_name)
        reason = review_reason(_facts(candidates[i], hash_name),
                               _facts(candidates[k], hash_name), candidates[k].sha256, hash_name)
        members[k].append(Member(candidates[i].sha256, distance, reason))
    for distance, (k, j), via in edges:
        pair = (min(k, j), max(k, j))
        if via is None:
            how = labels.get(pair, "")
        else:
            how = (f"{hash_name} distance {distance}, near member "
                   f"{candidates[via].sha256[:12]}")
        members[k].append(Member(candidates[j].sha256, distance,
                                 _reason(candidates[j], candidates[k], how, verdicts.get(pair))))
    return [
        Group(
            candidates[k].sha256,
            tuple(sorted(members[k], key=lambda m: (m.distance, m.sha256))),
            pinned=candidates[k].sha256 in pinned_keepers,
        )
        for k in order
        if members.get(k)
    ]


def _stars(
    order: list[int], neighbours: dict[int, list[tuple[int, int]]], pins: list[tuple[int, int]],
    apart: dict[int, set[int]], verdicts: dict[tuple[int, int], str | None],
    progress: Progress | None, hashes: np.ndarray | None = None,
) -> list[tuple[int, tuple[int, int], int | None]]:
    """One star-clustering pass: ``(distance, (keeper, member), via)`` per member placed.

    Pinned members (``pins``: member, keeper) are placed first and not returned; a pair
    rejected in ``verdicts`` is skipped; a pair not yet tested counts as holding. With
    ``hashes`` (the chosen hash of every image; given when pictures are verified), a
    keeper's candidates also include the ungrouped hash neighbours of its members (and
    of the members these bring, in turn), :data:`TWO_HOP_LIMIT` at most, nearest to the
    keeper first; ``via`` is the member that proposed such a pair (None for a pair the
    hashes proposed). Each such pair is verified against the keeper like any other.
    """
    keeper_of = np.full(len(order), -1, dtype=np.int64)
    in_group: dict[int, set[int]] = defaultdict(set)
    for i, k in pins:
        keeper_of[i], keeper_of[k] = k, k
        in_group[k].add(i)
    placed: list[tuple[int, tuple[int, int], int | None]] = []

    def joins(k: int, j: int) -> bool:
        """Whether ungrouped ``j`` may join keeper ``k``'s group (and then it does)."""
        pair = (j, k) if j < k else (k, j)
        if pair in verdicts and verdicts[pair] is None:
            return False
        others = apart.get(j)
        if others and (k in others or others & in_group[k]):
            return False
        keeper_of[j] = k
        in_group[k].add(j)
        return True

    for step, k in enumerate(order):
        if progress and (step % 65536 == 0 or step == len(order) - 1):
            progress("group", step + 1, len(order))
        if keeper_of[k] == -1:
            keeper_of[k] = k
        elif keeper_of[k] != k:
            continue
        taken = []
        for distance, j in neighbours.get(k, ()):
            if keeper_of[j] == -1 and joins(k, j):
                taken.append(j)
                placed.append((distance, (k, j), None))
        budget = TWO_HOP_LIMIT if hashes is not None else 0
        while taken and budget:
            further: dict[int, int] = {}  # ungrouped neighbour of a member -> that member
            for j in taken:
                for _, m in neighbours.get(j, ()):
                    if keeper_of[m] == -1 and m not in further:
                        further[m] = j
            near = sorted((_bits_apart(hashes[k], hashes[m]), m) for m in further)[:budget]
            budget -= len(near)
            taken = []
            for distance, m in near:
                if joins(k, m):
                    taken.append(m)
                    placed.append((distance, (k, m), further[m]))
    return placed


def _bits_apart(a: np.int64, b: np.int64) -> int:
    """Hamming distance between two hashes stored as int64."""
    return hamming(int(a), int(b))


def _verify(pairs: list[tuple[int, int]], verifier: Verifier | None,
            verdicts: dict[tuple[int, int], str | None], report: DedupReport) -> None:
    """Compare the pictures of ``pairs`` and record each verdict (its evidence, or None)."""
    assert verifier is not None  # without one every candidate pair is decided up front
    started = time.monotonic()
    for pair, verdict in zip(pairs, verifier(pairs), strict=True):
        if verdict is None:
            report.unverifiable_pairs += 1
            verdicts[pair] = None
        elif verdict.duplicate:
            report.verified_pairs += 1
            verdicts[pair] = verdict.describe()
        else:
            report.rejected_pairs += 1
            verdicts[pair] = None
    report.verify_seconds += time.monotonic() - started


def _facts(candidate: DedupCandidate, hash_name: str) -> tuple[str | None, int | None]:
    """(pixel_sha256, chosen hash) of a candidate."""
    return candidate.pixel_sha256, getattr(candidate, hash_name)


def _distance(a: DedupCandidate, b: DedupCandidate, hash_name: str) -> int:
    """Hamming distance between two candidates by the chosen hash."""
    return hamming(getattr(a, hash_name), getattr(b, hash_name))


def _reason(member: DedupCandidate, keeper: DedupCandidate, how: str,
            verified: str | None) -> str:
    """``same pixels as <sha12>``, or ``<how it was found> to <sha12>[; verified: ...]``."""
    if member.pixel_sha256 is not None and member.pixel_sha256 == keeper.pixel_sha256:
        return f"same pixels as {keeper.sha256[:12]}"
    return f"{how} to {keeper.sha256[:12]}" + (f"; {verified}" if verified else "")
