"""`curate dedup`: group exact and near duplicates of ok images and keep one image per group.

Only images that ``curate check`` judged ``ok`` take part. Two images are
duplicates when they decode to the same pixels (``pixel_sha256``; the same body
under several URLs is already one ``images`` row), or when their perceptual
hash (``--hash``) differs in at most ``--threshold`` bits.

Groups are *stars*, never chains: images are visited in keeper order (pixel
area, then bytes, largest first; then earliest discovered; then sha256) and the
first image not yet grouped becomes a keeper whose group is every ungrouped
image within the radius of *that keeper*. So if A~B and B~C but A and C are far
apart, A keeps B and C stays apart (or keeps its own group).

Near-uniform images stay out of the near-duplicate graph: a hash with at most
:data:`FLAT_BITS` bits set, or at most that many clear, carries no picture (a
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
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from catalog.db import Catalog
from catalog.duplicates import (
    DedupCandidate,
    DuplicateJudgment,
    StoredHashes,
    count_shared_bodies,
    dedup_candidates,
    not_duplicate_pairs,
    pinned_groups,
    record_hashes,
    replace_duplicates,
    review_reason,
)
from catalog.errors import UnsafePath
from catalog.runs import finish_run, start_run
from curate.decode import DecodedImage, decode_image
from curate.hashing import HASH_FUNCTIONS, hamming, hash_pixels
from curate.neardup import near_pairs
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

DEFAULT_HASH = "phash"
DEFAULT_THRESHOLD = 6
MAX_THRESHOLD = 32  # beyond half the bits two random hashes are "near"
FLAT_BITS = 8  # a hash within this many bits of all-0 or all-1 is near-uniform
HASH_CHUNK = 16  # images per task when hashing in worker processes

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class UnknownHash(SynthsetError):
    """The perceptual hash asked for is not one of curate.hashing.HASH_FUNCTIONS."""


class InvalidThreshold(SynthsetError):
    """The Hamming radius is outside 0 .. MAX_THRESHOLD."""


@dataclass(frozen=True)
class DedupOptions:
    """What ``curate dedup`` was asked to do."""

    hash_name: str = DEFAULT_HASH
    threshold: int = DEFAULT_THRESHOLD
    dry_run: bool = False
    workers: int | None = None  # processes for hashing images checked without hashes

    def __post_init__(self) -> None:
        if self.hash_name not in HASH_FUNCTIONS:
            raise UnknownHash(
                f"unknown hash {self.hash_name!r}; use one of {', '.join(sorted(HASH_FUNCTIONS))}"
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
    near_pairs: int = 0  # pairs within the radius found by the search
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
            "flat": self.flat, "near_pairs": self.near_pairs, "groups": len(self.groups),
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
                                              "threshold": options.threshold})
    candidates = dedup_candidates(catalog)
    candidates = _fill_missing_hashes(catalog, candidates, options, report, progress)
    report.candidates = len(candidates)
    report.shared_urls = count_shared_bodies(catalog)
    blocked = not_duplicate_pairs(catalog)
    report.blocked_pairs = len(blocked)
    report.groups = plan_groups(
        candidates, options.hash_name, options.threshold, pinned_groups(catalog), blocked,
        report, progress,
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


def is_flat(hashes: np.ndarray) -> np.ndarray:
    """Which signed int64 hashes are near-uniform: within FLAT_BITS of all-0 or all-1."""
    ones = np.bitwise_count(np.asarray(hashes, dtype=np.int64).view(np.uint64))
    return (ones <= FLAT_BITS) | (ones >= 64 - FLAT_BITS)


def _edges(
    candidates: list[DedupCandidate], hash_name: str, threshold: int, rank: np.ndarray,
    report: DedupReport, progress: Progress | None,
) -> dict[int, list[tuple[int, int]]]:
    """Neighbours of each image, ``(distance, other)`` sorted: near pairs and same pixels."""
    hashes = np.array([getattr(c, hash_name) for c in candidates], dtype=np.int64)
    flat = is_flat(hashes)
    report.flat = int(flat.sum())
    graph = np.flatnonzero(~flat)

    def searched(done: int, total: int) -> None:
        if progress:
            progress("search", done, total)

    found = near_pairs(hashes[graph], threshold, progress=searched)
    report.near_pairs = len(found)
    neighbours: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for a, b, d in zip(graph[found.left].tolist(), graph[found.right].tolist(),
                       found.distance.tolist(), strict=True):
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
    for index, pairs in neighbours.items():
        neighbours[index] = sorted(set(pairs), key=lambda p: (p[0], rank[p[1]]))
    return neighbours


def plan_groups(
    candidates: list[DedupCandidate],
    hash_name: str,
    threshold: int,
    pinned: dict[str, str] | None = None,
    blocked: set[tuple[str, str]] | None = None,
    report: DedupReport | None = None,
    progress: Progress | None = None,
) -> list[Group]:
    """Star-cluster ``candidates`` (all with hashes) into duplicate groups; pure, writes nothing.

    :param pinned: reviewer-pinned membership (image -> keeper), reproduced as is.
    :param blocked: pairs ``(a, b)``, ``a < b``, never to share a group.
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
    neighbours = _edges(candidates, hash_name, threshold, rank, report, progress)
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in blocked:
        if a in index_of and b in index_of:
            apart[index_of[a]].add(index_of[b])
            apart[index_of[b]].add(index_of[a])

    keeper_of = np.full(len(candidates), -1, dtype=np.int64)
    members: dict[int, list[Member]] = defaultdict(list)
    in_group: dict[int, set[int]] = defaultdict(set)
    for sha256, keeper in sorted(pinned.items()):
        if sha256 != keeper and sha256 in index_of and keeper in pinned_keepers:
            i, k = index_of[sha256], index_of[keeper]
            keeper_of[i], keeper_of[k] = k, k
            distance = _distance(candidates[i], candidates[k], hash_name)
            reason = review_reason(_facts(candidates[i], hash_name),
                                   _facts(candidates[k], hash_name), keeper, hash_name)
            members[k].append(Member(sha256, distance, reason))
            in_group[k].add(i)
    for step, k in enumerate(order):
        if progress and (step % 65536 == 0 or step == len(order) - 1):
            progress("group", step + 1, len(order))
        if keeper_of[k] == -1:
            keeper_of[k] = k
        elif keeper_of[k] != k:
            continue
        for distance, j in neighbours.get(k, ()):
            if keeper_of[j] != -1:
                continue
            others = apart.get(j)
            if others and (k in others or others & in_group[k]):
                continue
            keeper_of[j] = k
            in_group[k].add(j)
            members[k].append(Member(candidates[j].sha256, distance,
                                     _reason(candidates[j], candidates[k], distance, hash_name)))
    return [
        Group(
            candidates[k].sha256,
            tuple(sorted(members[k], key=lambda m: (m.distance, m.sha256))),
            pinned=candidates[k].sha256 in pinned_keepers,
        )
        for k in order
        if members.get(k)
    ]


def _facts(candidate: DedupCandidate, hash_name: str) -> tuple[str | None, int | None]:
    """(pixel_sha256, chosen hash) of a candidate."""
    return candidate.pixel_sha256, getattr(candidate, hash_name)


def _distance(a: DedupCandidate, b: DedupCandidate, hash_name: str) -> int:
    """Hamming distance between two candidates by the chosen hash."""
    return hamming(getattr(a, hash_name), getattr(b, hash_name))


def _reason(member: DedupCandidate, keeper: DedupCandidate, distance: int, hash_name: str) -> str:
    """``same pixels as <sha12>`` or ``phash distance 3 to <sha12>``."""
    if member.pixel_sha256 is not None and member.pixel_sha256 == keeper.pixel_sha256:
        return f"same pixels as {keeper.sha256[:12]}"
    return f"{hash_name} distance {distance} to {keeper.sha256[:12]}"


# --- hashes missing from older catalogs ----------------------------------------------------


def _hash_file(job: tuple[str, str]) -> StoredHashes | None:
    """The content hashes of one stored file, or None when it no longer decodes."""
    sha256, path = job
    try:
        decoded = decode_image(Path(path).read_bytes())
    except OSError:
        return None
    if not isinstance(decoded, DecodedImage):
        return None
    hashes = hash_pixels(decoded.pixels)
    return StoredHashes(sha256, hashes.pixel_sha256, hashes.phash, hashes.dhash, hashes.whash)


def _hash_files(
    jobs: list[tuple[str, str]], workers: int, progress: Progress | None
) -> list[StoredHashes | None]:
    """:func:`_hash_file` of every job, on ``workers`` processes (this one when 1), in order."""
    results: list[StoredHashes | None] = []
    with ExitStack() as stack:
        hashed = map(_hash_file, jobs)
        if workers > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["curate.dedup"])
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context))
            hashed = pool.map(_hash_file, jobs, chunksize=HASH_CHUNK)
        for result in hashed:
            results.append(result)
            if progress:
                progress("hash", len(results), len(jobs))
    return results


def _fill_missing_hashes(
    catalog: Catalog, candidates: list[DedupCandidate], options: DedupOptions,
    report: DedupReport, progress: Progress | None,
) -> list[DedupCandidate]:
    """Candidates with every hash present: missing ones computed on all cores (and stored
    unless dry run); images whose hashes cannot be computed are dropped and counted."""
    missing = [c for c in candidates if not c.has_hashes()]
    if not missing:
        return candidates
    jobs = []
    for candidate in missing:
        try:
            jobs.append((candidate.sha256, str(catalog.store.absolute(candidate.path))))
        except UnsafePath:
            logger.warning("dedup: refusing store path %s", candidate.path)
    workers = min(options.workers or os.cpu_count() or 1, max(1, len(jobs) // HASH_CHUNK))
    results = _hash_files(jobs, workers, progress)
    computed = {r.sha256: r for r in results if r is not None}
    report.hashed = len(computed)
    report.unhashable = len(missing) - len(computed)
    if computed and not options.dry_run:
        record_hashes(catalog, computed.values())
    filled = []
    for candidate in candidates:
        if candidate.has_hashes():
            filled.append(candidate)
        elif candidate.sha256 in computed:
            h = computed[candidate.sha256]
            filled.append(replace(
                candidate,
                pixel_sha256=candidate.pixel_sha256 or h.pixel_sha256,
                phash=h.phash if candidate.phash is None else candidate.phash,
                dhash=h.dhash if candidate.dhash is None else candidate.dhash,
                whash=h.whash if candidate.whash is None else candidate.whash,
            ))
    return filled
