"""Near-duplicate candidate pairs for ``curate dedup``: found by hashes, verified on pixels.

Candidates come from sub-quadratic Hamming searches (``curate.neardup``): pairs
within the radius by the chosen hash, and, for crops and small rotations, pairs
whose full or centre pHashes (``curate.hashing.CENTRE_MARGINS``) are within the
radius of each other in any combination (one search over all three hashes of
every image). Near-uniform hashes stay out (``is_flat``). Each candidate pair is
then verified by ``curate.verify`` on worker processes, which decode each image
once per task at a small size.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curate.decode import DecodedImage, decode_image
from curate.hashing import CENTRE_MARGINS
from curate.neardup import near_pairs
from curate.verify import WORK_SIDE, Evidence, Features, prepare, verify
from synthset.lifetime import die_with_parent

logger = logging.getLogger(__name__)

FLAT_BITS = 8  # a hash within this many bits of all-0 or all-1 is near-uniform
VERIFY_CHUNK = 32  # candidate pairs per worker task (sorted, so images repeat within a task)
POOL_PAIRS = 512  # fewer candidate pairs are verified in this process (a pool costs seconds)
CROP_HASHES = ("phash", *CENTRE_MARGINS)  # hashes compared in every combination

Progress = Callable[[int, int], None]  # (done, total)


def is_flat(hashes: np.ndarray) -> np.ndarray:
    """Which signed int64 hashes are near-uniform: within FLAT_BITS of all-0 or all-1."""
    ones = np.bitwise_count(np.asarray(hashes, dtype=np.int64).view(np.uint64))
    return (ones <= FLAT_BITS) | (ones >= 64 - FLAT_BITS)


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs ``left[k] < right[k]`` (image indices) and what proposed each."""

    left: np.ndarray
    right: np.ndarray
    distance: np.ndarray  # the smallest Hamming distance that proposed the pair
    via: np.ndarray  # index into ``names``: which hash (pair) had that distance
    names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.left.size)

    def label(self, k: int) -> str:
        """E.g. ``phash distance 3`` or ``phash/centre10_phash distance 4`` for pair ``k``."""
        return f"{self.names[int(self.via[k])]} distance {int(self.distance[k])}"


def _pairs_of(values: np.ndarray, owners: np.ndarray, radius: int,
              progress: Progress | None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray, np.ndarray]:
    """Near pairs among ``values`` mapped to their owning images: (a, b, d, ka, kb).

    ``ka``/``kb`` are the value indices that matched; pairs of one image are dropped.
    """
    keep = np.flatnonzero(~is_flat(values))
    found = near_pairs(values[keep], radius, progress=progress)
    ka, kb = keep[found.left], keep[found.right]
    a, b = owners[ka], owners[kb]
    other = a != b
    a, b, ka, kb = a[other], b[other], ka[other], kb[other]
    swap = a > b
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    ka, kb = np.where(swap, kb, ka), np.where(swap, ka, kb)
    return a, b, found.distance[other].astype(np.int64), ka, kb


def find_candidates(hashes: dict[str, np.ndarray], hash_name: str, radius: int,
                    crops: bool, progress: Progress | None = None) -> Candidates:
    """Pairs of images whose hashes are within ``radius``: by ``hash_name``, and with
    ``crops``, by any two of :data:`CROP_HASHES` (full pHash and centre pHashes).

    :param hashes: hash name -> signed int64 array, one value per image (same order).
    """
    n = len(hashes[hash_name])
    names = [hash_name]
    a, b, d, _, _ = _pairs_of(hashes[hash_name], np.arange(n), radius, progress)
    found = [(a, b, d, np.zeros(a.size, np.int64))]
    if crops:
        # one search over every image's full and centre pHashes: value k is hash k // n of
        # image k % n; ``via`` numbers the combination (which hash of the lower image met
        # which hash of the other)
        kinds = len(CROP_HASHES)
        names += [x if x == y else f"{x}/{y}" for x in CROP_HASHES for y in CROP_HASHES]
        stacked = np.concatenate([hashes[name] for name in CROP_HASHES])
        a, b, d, ka, kb = _pairs_of(stacked, np.tile(np.arange(n), kinds), radius, progress)
        found.append((a, b, d, 1 + (ka // n) * kinds + kb // n))
    left, right, distance, via = (np.concatenate(parts) for parts in zip(*found, strict=True))
    # one row per pair: the smallest distance (the chosen hash first on ties)
    order = np.lexsort((via, distance, right, left))
    left, right, distance, via = left[order], right[order], distance[order], via[order]
    first_of_pair = np.ones(left.size, dtype=bool)
    first_of_pair[1:] = (left[1:] != left[:-1]) | (right[1:] != right[:-1])
    return Candidates(left[first_of_pair], right[first_of_pair], distance[first_of_pair],
                      via[first_of_pair], tuple(names))


# --- verification on worker processes --------------------------------------------------


def _features(path: str) -> Features | None:
    """The verification features of one stored file, or None when it no longer decodes."""
    try:
        decoded = decode_image(Path(path).read_bytes(), draft_side=WORK_SIDE)
    except OSError:
        return None
    return prepare(decoded.image) if isinstance(decoded, DecodedImage) else None


def _verify_task(task: list[tuple[str, str]]) -> list[Evidence | None]:
    """Verify each ``(path a, path b)`` of a task, decoding each file once."""
    cache: dict[str, Features | None] = {}
    results: list[Evidence | None] = []
    for path_a, path_b in task:
        for path in (path_a, path_b):
            if path not in cache:
                cache[path] = _features(path)
        a, b = cache[path_a], cache[path_b]
        results.append(None if a is None or b is None else verify(a, b))
    return results


def _tasks(pairs: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """``pairs`` cut into tasks of VERIFY_CHUNK, in order."""
    for begin in range(0, len(pairs), VERIFY_CHUNK):
        yield pairs[begin:begin + VERIFY_CHUNK]


def verification_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes for :func:`verify_pairs` (close it when done)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["curate.pairs"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=die_with_parent)


def verify_pairs(pairs: list[tuple[str, str]], workers: int,
                 progress: Progress | None = None,
                 pool: ProcessPoolExecutor | None = None) -> list[Evidence | None]:
    """:func:`curate.verify.verify` of every ``(path a, path b)``, on ``workers`` processes.

    Returns one result per pair, in order; None where a file does not decode. Pairs
    that share an image should be adjacent (sorted), so a task decodes it once. With
    ``pool`` that pool is used (and left open); otherwise one is started when there are
    at least :data:`POOL_PAIRS` pairs, or everything runs in this process.
    """
    results: list[Evidence | None] = []
    with ExitStack() as stack:
        done = map(_verify_task, _tasks(pairs))
        if workers > 1 and len(pairs) >= POOL_PAIRS:
            if pool is None:
                pool = stack.enter_context(verification_pool(workers))
            done = pool.map(_verify_task, _tasks(pairs))
        for batch in done:
            results.extend(batch)
            if progress:
                progress(len(results), len(pairs))
    return results
