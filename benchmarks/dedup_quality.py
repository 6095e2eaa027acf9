"""Benchmark: pairwise precision and recall of `curate dedup` on real photographs.

The set (tests/photo_variants.py): scikit-image's bundled photographs at full size, each
with every edit of TRANSFORMS (10% crop per side, 128 px thumbnail, JPEG quality 20 and
25, brightness and contrast +-20%, rotation by +-3 degrees, a caption written over the
picture, a watermark, a grayscale copy, half size, a 4% crop, +15%, a lossless PNG, a
160 px thumbnail), and the hard negatives: two 70%-wide views of one photograph 40% of a
width apart (a pan) and two regions of one texture, sky or page. Everything is fetched
into a real catalog, checked and deduplicated by the library, as `curate dedup` does.

Scoring is over every pair of files: a pair is predicted a duplicate when both files end
in one group. Truth: a photograph and its edits are duplicates; everything else is not,
except that a view cut from a photograph is not scored against that photograph's family
(it is a large crop of it, which counts either way), and the two halves of the stereo
pair (with their edits) are scored on their own, not in the figures. Edits whose canvas
grows (a caption band under the picture) are also scored on their own.

Configurations, one run: the default (candidates within 8 bits by pHash or centre
pHashes, verified on the pictures) and the hash-only rule that was the default before
(pHash within 6 bits, ``--no-verify --threshold 6``).

    .venv/bin/python benchmarks/dedup_quality.py [--workers N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from photo_variants import (  # noqa: E402
    EXTRA_TRANSFORMS,
    PHOTOS,
    TRANSFORMS,
    encode,
    hard_negatives,
    load_photo,
    stereo_pair,
)

from catalog import open_catalog  # noqa: E402
from catalog.duplicates import current_duplicates  # noqa: E402
from catalog.harvest import FetchResult, record_fetches  # noqa: E402
from curate.check import CheckOptions, check_images  # noqa: E402
from curate.decode import decode_image  # noqa: E402
from curate.dedup import DedupOptions, dedup_images  # noqa: E402

TARGET_PRECISION, TARGET_RECALL = 0.99, 0.95
STEREO_FAMILIES = {"motorcycle_left": "stereo_left"}  # a view cut from a stereo half


def build_set() -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(url -> body, url -> family, url -> the photograph a view was cut from)."""
    bodies: dict[str, bytes] = {}
    family: dict[str, str] = {}
    cut_from: dict[str, str] = {}
    for name in PHOTOS:
        photo = load_photo(name)
        bodies[f"photo/{name}/original"] = encode(photo)
        for edit, make in {**TRANSFORMS, **EXTRA_TRANSFORMS}.items():
            bodies[f"photo/{name}/{edit}"] = make(photo)
    left, right = stereo_pair()
    for side, body in (("stereo_left", left), ("stereo_right", right)):
        image = decode_image(body, draft_side=None).image
        bodies[f"{side}/{side}/original"] = body
        for edit, make in TRANSFORMS.items():
            bodies[f"{side}/{side}/{edit}"] = make(image)
    for name, pair in hard_negatives().items():
        source = name.split("_", 1)[1]
        for part, body in zip("ab", pair, strict=True):
            url = f"negative/{name}-{part}/original"
            bodies[url] = body
            cut_from[url] = source
    for url in bodies:
        family[url] = url.split("/")[1]
    return bodies, family, cut_from


def scored(url_a: str, url_b: str, cut_from: dict[str, str]) -> bool:
    """Whether a pair counts in the main figures (see the module docstring)."""
    edits = (url_a.rsplit("/", 1)[1], url_b.rsplit("/", 1)[1])
    if any(edit in EXTRA_TRANSFORMS for edit in edits):
        return False
    kinds = {url_a.split("/")[0], url_b.split("/")[0]}
    if kinds == {"stereo_left", "stereo_right"}:
        return False
    for view, other in ((url_a, url_b), (url_b, url_a)):
        source = cut_from.get(view)
        if source and other.split("/")[1] == STEREO_FAMILIES.get(source, source):
            return False
    return True


def evaluate(group_of: dict[str, str], family: dict[str, str], cut_from: dict[str, str]
             ) -> dict[str, float]:
    """Pairwise counts and precision/recall over the scored pairs."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(group_of), 2):
        if not scored(a, b, cut_from):
            continue
        truth = family[a] == family[b]
        predicted = group_of[a] == group_of[b]
        tp += truth and predicted
        fp += predicted and not truth
        fn += truth and not predicted
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall}


def groups(data_dir: Path, urls: dict[str, str], options: DedupOptions
           ) -> tuple[dict[str, str], float, dict]:
    """url -> group keeper after a dedup run with ``options``; seconds; the run's stats."""
    with open_catalog(data_dir, create=False) as catalog:
        started = time.perf_counter()
        report = dedup_images(catalog, options)
        seconds = time.perf_counter() - started
        duplicates = current_duplicates(catalog)
    keeper = {sha: duplicates[sha][0] if sha in duplicates else sha for sha in set(urls.values())}
    return {url: keeper[sha] for url, sha in urls.items()}, seconds, report.stats()


def per_edit(group_of: dict[str, str]) -> dict[str, float]:
    """Share of photographs whose edit ended in the original's group, per edit."""
    shares = {}
    for edit in {**TRANSFORMS, **EXTRA_TRANSFORMS}:
        hits = [group_of[f"photo/{n}/{edit}"] == group_of[f"photo/{n}/original"] for n in PHOTOS]
        shares[edit] = sum(hits) / len(hits)
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    bodies, family, cut_from = build_set()
    print(f"{len(bodies)} files: {len(PHOTOS)} photographs x {len(TRANSFORMS)} edits (+ "
          f"{len(EXTRA_TRANSFORMS)} scored apart), the stereo pair x {len(TRANSFORMS) + 1}, "
          f"{len(hard_negatives())} hard negative pairs; load average "
          f"{os.getloadavg()[0]:.2f}, {os.cpu_count()} cores (shared machine)")
    configs = {
        "default (verified, radius 8)": DedupOptions(workers=args.workers),
        "hash only: pHash within 6 (--no-verify --threshold 6)":
            DedupOptions(workers=args.workers, verify=False, threshold=6),
    }
    with tempfile.TemporaryDirectory(prefix="synthset-quality-") as temp:
        data_dir = Path(temp) / "data"
        with open_catalog(data_dir) as catalog:
            record_fetches(catalog, [FetchResult(f"http://quality.test/{url}", "web",
                                                 http_status=200, body=body)
                                     for url, body in bodies.items()])
            check_images(catalog, CheckOptions(workers=args.workers))
            urls = {url: catalog.store.put(body).sha256 for url, body in bodies.items()}
        for label, options in configs.items():
            group_of, seconds, stats = groups(data_dir, urls, options)
            figures = evaluate(group_of, family, cut_from)
            met = figures["precision"] >= TARGET_PRECISION and figures["recall"] >= TARGET_RECALL
            print(f"\n{label}: precision {figures['precision']:.3f}  recall "
                  f"{figures['recall']:.3f}  (tp {figures['tp']}, fp {figures['fp']}, "
                  f"fn {figures['fn']})  targets >= {TARGET_PRECISION} / >= {TARGET_RECALL}: "
                  f"{'met' if met else 'NOT met'}")
            print(f"  dedup {seconds:.1f} s; candidate pairs {stats['near_pairs']}, verified "
                  f"{stats['verified_pairs']}, rejected {stats['rejected_pairs']} "
                  f"({stats['verify_seconds']:.1f} s verifying)")
            print("  edit found with its original, share of photographs: " + ", ".join(
                f"{edit} {share:.2f}" for edit, share in per_edit(group_of).items()))
            negatives = [name for name in hard_negatives()
                         if group_of[f"negative/{name}-a/original"]
                         == group_of[f"negative/{name}-b/original"]]
            print(f"  hard negatives merged: {len(negatives)} of {len(hard_negatives())} "
                  f"{negatives or ''}")
            stereo = [(a, b) for a in group_of for b in group_of
                      if a.startswith("stereo_left/") and b.startswith("stereo_right/")]
            merged = sum(group_of[a] == group_of[b] for a, b in stereo)
            print(f"  stereo halves (not scored): {merged} of {len(stereo)} left/right pairs "
                  "in one group")
            by_group = defaultdict(set)
            for url, keeper in group_of.items():
                by_group[keeper].add(family[url])
            mixed = sum(len(f) > 1 for f in by_group.values())
            print(f"  groups mixing families: {mixed}")


if __name__ == "__main__":
    main()
