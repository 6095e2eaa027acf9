"""All pairs of 64-bit hashes within a Hamming radius, found sub-quadratically in numpy.

The search is multi-index hashing with the *generalised* pigeonhole principle:
cut the 64 bits into ``m`` chunks and give chunk ``i`` a threshold ``t_i`` with
``sum(t_i) = radius - m + 1``. If two hashes differ in at most ``radius`` bits,
then some chunk ``i`` differs in at most ``t_i`` bits (otherwise the chunks
alone would differ in ``sum(t_i + 1) = radius + 1`` bits). So probing, for each
chunk, every key within ``t_i`` flips of a hash's own key finds every true pair;
each candidate is then verified with a vectorised popcount of the full 64 bits,
so the result is exactly the brute-force pair set.

The classic form (``m = radius + 1`` chunks, exact chunk match) is one point of
this family; it is right for small sets but not for a million hashes, where a
9-bit chunk puts ~2,000 hashes in every bucket (n^2/512 candidates per chunk).
:func:`plan_search` picks ``m`` and the thresholds from a cost model instead
(probes times expected bucket size), e.g. for 1,000,000 hashes and radius 6 it
picks three chunks of 22/21/21 bits with thresholds 2/1/1: about 280 probes per
hash and ~130 candidates per hash, all in numpy.

Buckets are looked up through a direct-address table (a ``bincount`` and its
cumulative sum) when a chunk has at most :data:`DIRECT_BITS` bits, and through
``searchsorted`` on the sorted keys otherwise.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numpy as np

logger = logging.getLogger(__name__)

HASH_BITS = 64
DIRECT_BITS = 22  # chunks up to this many bits use a 2**bits lookup table (16 MiB at 22)
MAX_CHUNKS = 16
PROBE_COST = 1.0  # cost of one table probe per hash, in units of one candidate check
SORTED_PROBE_COST = 6.0  # the same through searchsorted (a binary search per hash)
TABLE_ENTRY_COST = 0.5  # building a direct table, per entry
MAX_BATCH_CANDIDATES = 1 << 22  # candidate pairs expanded at once (bounds memory)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Chunk:
    """A run of ``bits`` bits starting at bit ``shift``, probed up to ``threshold`` flips."""

    shift: int
    bits: int
    threshold: int

    @property
    def probes(self) -> int:
        """How many keys are probed per hash: all keys within ``threshold`` flips."""
        return sum(comb(self.bits, k) for k in range(self.threshold + 1))


@dataclass(frozen=True)
class SearchPlan:
    """How :func:`near_pairs` cuts the hashes: chunks and their flip thresholds."""

    radius: int
    chunks: tuple[Chunk, ...]
    cost: float  # the model's estimate, in candidate checks per hash

    @property
    def probes(self) -> int:
        """Probes per hash over all chunks."""
        return sum(chunk.probes for chunk in self.chunks)

    def describe(self) -> str:
        """One line, e.g. ``3 chunks of 22/21/21 bits, thresholds 2/1/1, 276 probes``."""
        bits = "/".join(str(c.bits) for c in self.chunks)
        thresholds = "/".join(str(c.threshold) for c in self.chunks)
        return (
            f"{len(self.chunks)} chunks of {bits} bits, thresholds {thresholds}, "
            f"{self.probes} probes per hash"
        )


@dataclass(frozen=True)
class NearPairs:
    """Pairs ``left[k] < right[k]`` (indices into the input) at Hamming ``distance[k]``.

    Sorted by ``(left, right)``; each pair appears once.
    """

    left: np.ndarray
    right: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return int(self.left.size)

    def as_set(self) -> set[tuple[int, int]]:
        """The pairs as a set of ``(left, right)`` tuples (for comparisons in tests)."""
        return set(zip(self.left.tolist(), self.right.tolist(), strict=True))


def to_unsigned(hashes: np.ndarray | list[int]) -> np.ndarray:
    """The hashes as ``uint64`` (signed int64 values are reinterpreted, not converted)."""
    array = np.asarray(hashes)
    if array.dtype == np.uint64:
        return array
    if array.dtype == object:
        return np.array([int(h) & 0xFFFF_FFFF_FFFF_FFFF for h in array], dtype=np.uint64)
    return array.astype(np.int64, copy=False).view(np.uint64)


def hamming(a: int, b: int) -> int:
    """The Hamming distance between two 64-bit hashes (signed or unsigned ints)."""
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


def _split_bits(parts: int) -> list[tuple[int, int]]:
    """``(shift, bits)`` of ``parts`` near-equal chunks covering 64 bits, widest first."""
    base, extra = divmod(HASH_BITS, parts)
    spans, shift = [], 0
    for index in range(parts):
        bits = base + (1 if index < extra else 0)
        spans.append((shift, bits))
        shift += bits
    return spans


def _probe_cost(bits: int, n: int) -> float:
    """Modelled cost of one probe for all hashes: lookup plus expected bucket size."""
    lookup = PROBE_COST if bits <= DIRECT_BITS else SORTED_PROBE_COST
    return lookup + n / float(2**bits)


def _table_cost(bits: int, n: int) -> float:
    """Modelled cost per hash of building one chunk's direct-address table."""
    return TABLE_ENTRY_COST * float(2**bits) / n if bits <= DIRECT_BITS else 0.0


def plan_search(n: int, radius: int) -> SearchPlan:
    """The cheapest chunking for ``n`` hashes and ``radius`` under the cost model.

    For each chunk count ``m`` (1 .. radius + 1), the ``radius - m + 1`` threshold
    units are handed out greedily to the chunk whose probes grow cheapest
    (the cost is convex in each threshold, so greedy is optimal).

    :raises ValueError: for a radius outside 0 .. 63.
    """
    if not 0 <= radius < HASH_BITS:
        raise ValueError(f"radius {radius} is outside 0..{HASH_BITS - 1}")
    n = max(n, 1)
    best: SearchPlan | None = None
    for parts in range(1, min(radius + 1, MAX_CHUNKS) + 1):
        spans = _split_bits(parts)
        thresholds = [0] * parts
        for _ in range(radius - parts + 1):
            growth = [
                comb(bits, t + 1) * _probe_cost(bits, n)
                for (_, bits), t in zip(spans, thresholds, strict=True)
            ]
            thresholds[growth.index(min(growth))] += 1
        chunks = tuple(
            Chunk(shift, bits, t) for (shift, bits), t in zip(spans, thresholds, strict=True)
        )
        cost = sum(c.probes * _probe_cost(c.bits, n) + _table_cost(c.bits, n) for c in chunks)
        if best is None or cost < best.cost:
            best = SearchPlan(radius=radius, chunks=chunks, cost=cost)
    assert best is not None
    return best


def _flip_masks(bits: int, threshold: int) -> list[int]:
    """Every ``bits``-bit mask with at most ``threshold`` bits set (0 first)."""
    masks = []
    for weight in range(threshold + 1):
        for positions in itertools.combinations(range(bits), weight):
            masks.append(sum(1 << p for p in positions))
    return masks


class _ChunkIndex:
    """The hashes sorted by one chunk's key, with per-key bucket starts and counts.

    Probing works in *sorted position* space: the probed keys are the sorted keys
    with bits flipped, so table reads and value reads are close to sequential.
    """

    def __init__(self, values: np.ndarray, chunk: Chunk) -> None:
        mask = np.uint64((1 << chunk.bits) - 1)
        keys = (values >> np.uint64(chunk.shift)) & mask
        keys = keys.astype(np.int32 if chunk.bits < 32 else np.int64)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.values = values[self.order]
        self.direct = chunk.bits <= DIRECT_BITS
        if self.direct:
            counts = np.bincount(self.keys, minlength=1 << chunk.bits)
            self.counts = counts.astype(np.int32)
            self.starts = (np.cumsum(counts) - counts).astype(np.int64)

    def _lookup(self, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bucket ``(starts, counts)`` (positions in sorted order) for each probed key."""
        if self.direct:
            return self.starts[probe], self.counts[probe]
        lo = np.searchsorted(self.keys, probe, side="left")
        hi = np.searchsorted(self.keys, probe, side="right")
        return lo, hi - lo

    def probe(self, flip: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Verified pairs (original indices) whose chunk keys differ by exactly ``flip``.

        Each unordered pair comes out once per flip: for ``flip == 0`` each position
        pairs with the later positions of its own bucket; otherwise a position probes
        only when its key is the smaller of the two.
        """
        positions = np.arange(self.keys.size)
        if flip == 0:
            starts, counts = self._lookup(self.keys)
            later = starts + counts - positions - 1
            hit = np.flatnonzero(later)
            return self._verify(hit, hit + 1, later[hit], radius)
        probe = self.keys ^ flip
        starts, counts = self._lookup(probe)
        counts = counts * (probe > self.keys)
        hit = np.flatnonzero(counts)
        return self._verify(hit, starts[hit], counts[hit], radius)

    def _verify(
        self, queries: np.ndarray, starts: np.ndarray, counts: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expand query/bucket pairs in memory-bounded batches; keep those within radius."""
        kept_left: list[np.ndarray] = []
        kept_right: list[np.ndarray] = []
        cumulative = np.cumsum(counts)
        begin = 0
        while begin < queries.size:
            base = int(cumulative[begin - 1]) if begin else 0
            end = int(np.searchsorted(cumulative, base + MAX_BATCH_CANDIDATES, side="right"))
            end = max(end, begin + 1)
            batch_counts = counts[begin:end]
            total = int(batch_counts.sum())
            left = np.repeat(queries[begin:end], batch_counts)
            first = np.repeat(starts[begin:end] - (cumulative[begin:end] - base - batch_counts),
                              batch_counts)
            right = first + np.arange(total)
            close = np.flatnonzero(
                np.bitwise_count(self.values[left] ^ self.values[right]) <= radius
            )
            kept_left.append(self.order[left[close]])
            kept_right.append(self.order[right[close]])
            begin = end
        if not kept_left:
            return _EMPTY, _EMPTY
        left, right = np.concatenate(kept_left), np.concatenate(kept_right)
        return np.minimum(left, right), np.maximum(left, right)


_EMPTY = np.zeros(0, dtype=np.int64)


def near_pairs(
    hashes: np.ndarray | list[int],
    radius: int,
    plan: SearchPlan | None = None,
    progress: Progress | None = None,
) -> NearPairs:
    """Every pair of ``hashes`` within Hamming ``radius`` (exactly the brute-force set).

    :param hashes: 64-bit hashes, signed int64 (as stored) or uint64.
    :param plan: the chunking to use (default: :func:`plan_search` for this size).
    :param progress: called as ``progress(done, total)`` over the probes.
    :raises ValueError: for a radius outside 0 .. 63, or a plan for another radius.
    """
    values = to_unsigned(hashes)
    n = int(values.size)
    plan = plan or plan_search(n, radius)
    if plan.radius != radius:
        raise ValueError(f"plan is for radius {plan.radius}, not {radius}")
    found_left: list[np.ndarray] = []
    found_right: list[np.ndarray] = []
    done = 0
    for chunk in plan.chunks if n >= 2 else ():
        index = _ChunkIndex(values, chunk)
        for flip in _flip_masks(chunk.bits, chunk.threshold):
            left, right = index.probe(flip, radius)
            found_left.append(left)
            found_right.append(right)
            done += 1
            if progress is not None:
                progress(done, plan.probes)
    logger.debug("near_pairs: n=%d radius=%d plan=%s", n, radius, plan.describe())
    return _collect(found_left, found_right, values, n)


def _collect(
    found_left: list[np.ndarray], found_right: list[np.ndarray], values: np.ndarray, n: int
) -> NearPairs:
    """Deduplicate pairs found through several chunks or probes; sort; add distances."""
    left = np.concatenate([_EMPTY, *found_left]).astype(np.int64)
    right = np.concatenate([_EMPTY, *found_right]).astype(np.int64)
    codes = np.unique(left * max(n, 1) + right)
    left, right = np.divmod(codes, max(n, 1))
    distance = np.bitwise_count(values[left] ^ values[right]).astype(np.uint8)
    return NearPairs(left, right, distance)


def brute_force_pairs(hashes: np.ndarray | list[int], radius: int, block: int = 256) -> NearPairs:
    """Every pair within ``radius`` by comparing all pairs (the quadratic baseline)."""
    values = to_unsigned(hashes)
    n = int(values.size)
    found_left: list[np.ndarray] = []
    found_right: list[np.ndarray] = []
    for begin in range(0, n, block):
        rows = values[begin : begin + block]
        distances = np.bitwise_count(rows[:, None] ^ values[None, begin:])
        row, col = np.nonzero(distances <= radius)
        left, right = row + begin, col + begin
        keep = left < right
        found_left.append(left[keep])
        found_right.append(right[keep])
    return _collect(found_left, found_right, values, n)
