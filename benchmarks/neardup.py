"""Benchmark: all pairs within Hamming radius 6 among 1,000,000 64-bit hashes.

Random hashes with planted near duplicates at distances 0..8. Times
``curate.neardup.near_pairs`` on the whole set, checks it against the brute-force
baseline (``brute_force_pairs``: every pair, vectorised popcount) on a subset
(the pair sets must be identical), times the baseline on that subset and
extrapolates it quadratically to the full set, and prints the ratios. The
classic multi-index layout (radius + 1 chunks, exact match) is timed on the
subset too, to show why the planner picks fewer, wider chunks.

    .venv/bin/python benchmarks/neardup.py            # the issue's sizes
    .venv/bin/python benchmarks/neardup.py --n 200000 --subset 10000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from curate.neardup import (
    Chunk,
    SearchPlan,
    brute_force_pairs,
    near_pairs,
    plan_search,
)

TARGET_SECONDS = 30.0


def planted_hashes(
    n: int, pairs: int, max_distance: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random uint64 hashes with ``pairs`` planted pairs at distances 0..max_distance.

    Returns (hashes, left, right, planted distance) with ``left < right`` indices.
    """
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    chosen = rng.choice(n, size=2 * pairs, replace=False)
    left, right = np.minimum(chosen[0::2], chosen[1::2]), np.maximum(chosen[0::2], chosen[1::2])
    distances = np.arange(pairs) % (max_distance + 1)
    masks = np.zeros(pairs, dtype=np.uint64)
    for k, d in enumerate(distances):
        for bit in rng.choice(64, size=int(d), replace=False):
            masks[k] |= np.uint64(1) << np.uint64(bit)
    hashes[right] = hashes[left] ^ masks
    return hashes, left, right, distances


def classic_plan(radius: int) -> SearchPlan:
    """The textbook layout: radius + 1 chunks, each matched exactly (pigeonhole)."""
    parts = radius + 1
    base, extra = divmod(64, parts)
    chunks, shift = [], 0
    for i in range(parts):
        bits = base + (1 if i < extra else 0)
        chunks.append(Chunk(shift, bits, 0))
        shift += bits
    return SearchPlan(radius=radius, chunks=tuple(chunks), cost=float("nan"))


def timed(function, *args, **kwargs):
    """(result, seconds) of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--max-distance", type=int, default=8)
    parser.add_argument("--radius", type=int, default=6)
    parser.add_argument("--subset", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    hashes, left, right, planted = planted_hashes(args.n, args.pairs, args.max_distance, args.seed)
    plan = plan_search(args.n, args.radius)
    print(f"hashes: {args.n:,}, planted pairs: {args.pairs:,} at distances 0..{args.max_distance}, "
          f"radius {args.radius}")
    print(f"plan: {plan.describe()}")

    found, seconds = timed(near_pairs, hashes, args.radius, plan=plan)
    found_set = found.as_set()
    wanted = {(int(a), int(b)) for a, b, d in zip(left, right, planted, strict=True)
              if d <= args.radius}
    beyond = {(int(a), int(b)) for a, b, d in zip(left, right, planted, strict=True)
              if d > args.radius}
    print(f"near_pairs on {args.n:,}: {seconds:.2f} s, {len(found):,} pairs "
          f"(planted within radius found: {len(wanted & found_set):,}/{len(wanted):,}; "
          f"planted beyond radius reported: {len(beyond & found_set)}; "
          f"chance pairs: {len(found_set - wanted):,})")
    verdict = "met" if seconds < TARGET_SECONDS else "MISSED"
    print(f"target < {TARGET_SECONDS:.0f} s: {verdict}")

    # Subset: half of it planted pairs (so there is something to find), the rest random.
    rng = np.random.default_rng(args.seed + 1)
    keep_pairs = min(args.pairs, args.subset // 4)
    pair_rows = rng.choice(args.pairs, size=keep_pairs, replace=False)
    members = np.unique(np.concatenate([left[pair_rows], right[pair_rows]]))
    others = np.setdiff1d(np.arange(args.n), np.concatenate([left, right]))
    filler = rng.choice(others, size=args.subset - members.size, replace=False)
    subset = hashes[np.sort(np.concatenate([members, filler]))]

    fast, fast_seconds = timed(near_pairs, subset, args.radius)
    brute, brute_seconds = timed(brute_force_pairs, subset, args.radius)
    classic, classic_seconds = timed(near_pairs, subset, args.radius,
                                     plan=classic_plan(args.radius))
    same = fast.as_set() == brute.as_set() and fast.distance.tolist() == brute.distance.tolist()
    print(f"subset of {args.subset:,}: near_pairs {fast_seconds:.3f} s, brute force "
          f"{brute_seconds:.3f} s, classic {args.radius + 1}-chunk MIH {classic_seconds:.3f} s; "
          f"{len(brute):,} pairs; identical to brute force: {same}; "
          f"classic identical: {classic.as_set() == brute.as_set()}")
    scale = (args.n / args.subset) ** 2
    brute_full = brute_seconds * scale
    classic_full = classic_seconds * scale
    print(f"brute force extrapolated to {args.n:,} (x{scale:,.0f}): {brute_full:,.0f} s "
          f"= {brute_full / 3600:.1f} h")
    print(f"classic MIH extrapolated (quadratic: 2^-9 of all pairs per chunk): "
          f"{classic_full:,.0f} s")
    print(f"ratio brute force / near_pairs on {args.n:,}: {brute_full / seconds:,.0f}x")
    print(f"ratio on the subset: {brute_seconds / fast_seconds:,.1f}x")
    if not same:
        raise SystemExit("near_pairs disagrees with brute force")


if __name__ == "__main__":
    main()
