"""Benchmark: all pairs within Hamming radius 6 among 1,000,000 64-bit hashes.

Random hashes with planted near duplicates at distances 0..8. Times
``curate.neardup.near_pairs`` on the whole set, checks it against the brute-force
baseline (``brute_force_pairs``: every pair, vectorised popcount) on a subset
(the pair sets must be identical), times the baseline on that subset and
extrapolates it quadratically to the full set, and prints the ratios. The
classic multi-index layout (radius + 1 chunks, exact match) is timed on the
subset too, to show why the planner picks fewer, wider chunks.

Then two parts for ``curate dedup``'s candidate search (``curate.pairs``: pHash and the
two centre pHashes compared in every combination, radius 8 by default):

- *Realistic hashes*: the full and centre pHashes of real photographs (scikit-image's
  bundled ones cut into windows of random size, place and scale, plus edits of some of
  them: JPEG quality 20, +20% brightness, 10% crop), against uniform random hashes of the
  same count: candidate pairs per image, search time, and the search checked against
  brute force on the real hashes.
- *The million*: 1,000,000 images with random hashes and planted near duplicates (a
  photograph and one of its edits, with the hashes the edit really has), run through
  ``curate.dedup.plan_groups`` with a verifier that compares real image files
  (the planted pairs map to the photograph and its edit, other images to other
  photographs), so the time printed is the candidate search, the verification of every
  pair the star plan uses, and the grouping; with the verification cost per pair.

    .venv/bin/python benchmarks/neardup.py            # the issue's sizes
    .venv/bin/python benchmarks/neardup.py --n 200000 --subset 10000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from photo_variants import PHOTOS, TRANSFORMS, brightness, encode, load_photo  # noqa: E402

from catalog.duplicates import DedupCandidate  # noqa: E402
from curate.decode import decode_image  # noqa: E402
from curate.dedup import DedupOptions, DedupReport, plan_groups  # noqa: E402
from curate.hashing import perceptual_hashes  # noqa: E402
from curate.neardup import (  # noqa: E402
    Chunk,
    SearchPlan,
    brute_force_pairs,
    near_pairs,
    plan_search,
)
from curate.pairs import CROP_HASHES, find_candidates, verify_pairs  # noqa: E402

DEDUP_RADIUS = DedupOptions().threshold
EDITS = ("crop10", "jpeg_q20", "brighter20", "rotate3", "thumbnail", "caption")

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
    parser.add_argument("--real", type=int, default=4000, help="real pictures to hash")
    parser.add_argument("--dedup-pairs", type=int, default=2000,
                        help="planted photograph/edit pairs in the million")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
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
    realistic_hashes(args.real, args.seed)
    million_dedup(args.n, args.dedup_pairs, args.seed, args.workers)


def _window_hashes(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    """Full and centre pHashes of ``count`` real pictures: random windows of the photographs,
    a quarter of them followed by an edit of the window (so near duplicates exist)."""
    photos = [load_photo(name) for name in PHOTOS]
    rows = []
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        share = rng.uniform(0.3, 1.0)
        w, h = max(32, int(photo.width * share)), max(32, int(photo.height * share))
        x, y = rng.integers(0, photo.width - w + 1), rng.integers(0, photo.height - h + 1)
        window = photo.crop((x, y, x + w, y + h))
        rows.append(perceptual_hashes(window))
        if rng.random() < 0.25:
            edit = ("jpeg_q20", "brighter20", "crop10")[rng.integers(3)]
            if edit == "brighter20":
                edited = brightness(window, 1.2)
            else:
                edited = decode_image(TRANSFORMS[edit](window), draft_side=None).image
            rows.append(perceptual_hashes(edited))
    return {name: np.array([r[name] for r in rows], dtype=np.int64) for name in CROP_HASHES}


def realistic_hashes(count: int, seed: int) -> None:
    """Candidate pairs and search time on real photographs' hashes vs random ones."""
    rng = np.random.default_rng(seed + 2)
    started = time.perf_counter()
    real = _window_hashes(rng, count)
    n = len(real["phash"])
    print(f"\nrealistic hashes: {n:,} pictures (windows of {len(PHOTOS)} photographs and "
          f"edits of a quarter of them), hashed in {time.perf_counter() - started:.1f} s")
    random = {name: rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64)
              for name in CROP_HASHES}
    ones = np.bitwise_count(real["phash"].view(np.uint64))
    apart = np.bitwise_count((real["phash"][:-1] ^ real["phash"][1:]).view(np.uint64))
    print(f"  bits set per real pHash: mean {ones.mean():.1f}, 5..95% {np.percentile(ones, 5):.0f}"
          f"..{np.percentile(ones, 95):.0f}; mean distance between neighbouring real pHashes "
          f"{apart.mean():.1f} (random: 32)")
    for label, hashes in (("real", real), ("uniform random", random)):
        found, seconds = timed(find_candidates, hashes, "phash", DEDUP_RADIUS, crops=True)
        print(f"  {label:15s}: {len(found):,} candidate pairs at radius {DEDUP_RADIUS} "
              f"({1000 * len(found) / n:.1f} per 1000 images), search {seconds:.2f} s")
    stacked = np.concatenate([real[name] for name in CROP_HASHES])
    fast, fast_seconds = timed(near_pairs, stacked, DEDUP_RADIUS)
    brute, brute_seconds = timed(brute_force_pairs, stacked, DEDUP_RADIUS)
    print(f"  real full+centre hashes ({stacked.size:,} values): near_pairs {fast_seconds:.2f} s, "
          f"brute force {brute_seconds:.2f} s ({brute_seconds / fast_seconds:.1f}x), identical: "
          f"{fast.as_set() == brute.as_set()}")


def _edit_files(folder: Path) -> tuple[list[tuple[str, str, dict, dict]], list[str]]:
    """(original path, edited path, their hashes) per photograph x edit; originals' paths."""
    pairs, originals = [], []
    for name in PHOTOS:
        photo = load_photo(name)
        original = folder / f"{name}.png"
        original.write_bytes(encode(photo))
        originals.append(str(original))
        base = perceptual_hashes(photo)
        for edit in EDITS:
            body = TRANSFORMS[edit](photo)
            path = folder / f"{name}-{edit}.img"
            path.write_bytes(body)
            hashes = perceptual_hashes(decode_image(body, draft_side=None).image)
            pairs.append((str(original), str(path), base, hashes))
    return pairs, originals


def million_dedup(n: int, planted: int, seed: int, workers: int) -> None:
    """plan_groups on ``n`` images, ``planted`` of them real edits, verifying real files."""
    rng = np.random.default_rng(seed + 3)
    with tempfile.TemporaryDirectory(prefix="synthset-neardup-") as temp:
        edits, originals = _edit_files(Path(temp))
        hashes = {name: rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64)
                  for name in ("phash", "dhash", "whash", *CROP_HASHES[1:])}
        paths = [originals[i % len(originals)] for i in range(n)]
        chosen = rng.choice(n, size=2 * planted, replace=False)
        for k, (a, b) in enumerate(zip(chosen[0::2], chosen[1::2], strict=True)):
            original, edited, base, hashed = edits[k % len(edits)]
            # the pair keeps the distances the edit really has, moved to a random place
            offset = {name: int(rng.integers(-2**63, 2**63 - 1)) for name in CROP_HASHES}
            for name in CROP_HASHES:
                hashes[name][a] = base[name] ^ offset[name]
                hashes[name][b] = hashed[name] ^ offset[name]
            paths[a], paths[b] = original, edited
        candidates = [
            DedupCandidate(
                sha256=f"{i:064x}", path=paths[i], bytes=1000 + i % 997, width=500, height=400,
                first_seen="2026-01-01", discovered_at="2026-01-01", pixel_sha256=f"p{i}",
                phash=int(hashes["phash"][i]), dhash=int(hashes["dhash"][i]),
                whash=int(hashes["whash"][i]), centre5_phash=int(hashes["centre5_phash"][i]),
                centre10_phash=int(hashes["centre10_phash"][i]))
            for i in range(n)
        ]

        def verifier(pairs: list[tuple[int, int]]) -> list:
            return verify_pairs([(paths[a], paths[b]) for a, b in pairs], workers)

        report = DedupReport(options=DedupOptions())
        started = time.perf_counter()
        groups = plan_groups(candidates, "phash", DEDUP_RADIUS, report=report, verifier=verifier)
        seconds = time.perf_counter() - started
    checked = report.verified_pairs + report.rejected_pairs + report.unverifiable_pairs
    found = sum(1 for g in groups for m in g.members if len(g.members) == 1)
    print(f"\n{n:,} images' hashes (phash + two centre pHashes random, {planted:,} planted "
          f"photograph/edit pairs with their real hashes; edits {', '.join(EDITS)}), "
          f"radius {DEDUP_RADIUS}, {workers} worker processes for verification:")
    print(f"  plan_groups: {seconds:.1f} s in all; {report.near_pairs:,} candidate pairs, "
          f"{checked:,} compared (the pairs the star plan used), {report.verified_pairs:,} "
          f"verified, {report.rejected_pairs:,} rejected; verification "
          f"{report.verify_seconds:.1f} s = {1000 * report.verify_seconds / max(checked, 1):.1f} "
          f"ms per compared pair (wall, {workers} processes), search + grouping "
          f"{seconds - report.verify_seconds:.1f} s")
    print(f"  groups {len(groups):,} ({found:,} of two images); planted pairs: {planted:,}")


if __name__ == "__main__":
    main()
