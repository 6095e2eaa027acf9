"""Review latency: first image on screen with 100,000 queued, and keypress to next image.

Builds a 100,000-image catalog in seconds: a few real JPEGs (1600x1200) go to the
store, then 100,000 ``images`` rows are inserted directly as checked ok
(catalog.review_queue.seed_checked_images), each with its own sha256 but with
paths that cycle over those few files. Every row is still decoded on its own
(the decode cache is keyed by sha256), so the figures are those of distinct
images that the OS happens to keep in its page cache.

Both measurements run the real app headless (App.run_test) and wait until the
image widget has painted the expected image. The named baseline, ``naive``, is
the same app with the queue loaded whole at start-up and each image decoded on
demand in the UI thread (no paging, no prefetch), measured in the same run.

    .venv/bin/python benchmarks/review.py [--images 100000] [--keys 60]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path

from catalog import open_catalog
from catalog.db import Catalog
from catalog.review_queue import QueueFilter, SeedImage, queue_page, seed_checked_images
from curate.review.app import ReviewApp, ReviewOptions
from curate.review.prefetch import decode_scaled
from curate.review.protocols import image_widget
from curate.review.queue import ReviewQueue
from curate.review.sample import draw_cake

SIZE = (160, 48)  # terminal cells
FILES = 6  # distinct JPEG files behind the 100,000 rows
TARGET_FIRST_S = 1.0
TARGET_KEY_S = 0.100


def build_catalog(data_dir: Path, count: int) -> Catalog:
    """A catalog of ``count`` ok images whose paths share :data:`FILES` real JPEGs."""
    catalog = open_catalog(data_dir)
    stored = [catalog.store.put(draw_cake(seed, (1600, 1200))) for seed in range(FILES)]
    seeds = (
        SeedImage(
            sha256=hashlib.sha256(f"bench-{n}".encode()).hexdigest(),
            path=stored[n % FILES].path,
            bytes=stored[n % FILES].bytes,
            width=1600,
            height=1200,
            url=f"http://bench.test/{n}.jpg",
            source="web",
            wnid="n07628870",
        )
        for n in range(count)
    )
    seed_checked_images(catalog, seeds)
    return catalog


class WholeQueue(ReviewQueue):
    """Baseline queue: every queued row read at start-up."""

    def __init__(self, catalog: Catalog, flt: QueueFilter, page_size: int = 64) -> None:
        super().__init__(catalog, flt, page_size)
        self.items = queue_page(catalog, flt, limit=-1)
        self._positions = {item.sha256: n for n, item in enumerate(self.items)}
        self._exhausted = True


class DecodeOnDemand:
    """Baseline decoder: decodes in the calling (UI) thread when asked; no look-ahead."""

    def get(self, key: str, path: Path, box: tuple[int, int]) -> Future:
        """Decode now and hand back a finished future."""
        future: Future = Future()
        future.set_result(decode_scaled(path, box))
        return future

    def prefetch(self, wanted, box) -> None:
        """No look-ahead."""

    def clear(self) -> None:
        """Nothing cached."""

    def close(self) -> None:
        """No thread."""


class NaiveReviewApp(ReviewApp):
    """The baseline: whole queue in memory, decode on demand."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.queue = WholeQueue(self.catalog, self.options.filter)
        self.prefetcher = DecodeOnDemand()


async def painted(app: ReviewApp, sha256: str | None = None) -> None:
    """Wait until image ``sha256`` (default: the current one) has been painted."""
    widget = app.query_one("#image")
    while True:
        wanted = sha256 or (app.current.sha256 if app.current else None)
        if wanted is None or widget.painted_key == wanted:
            return
        await asyncio.sleep(0.0005)


async def measure(
    app_class: type[ReviewApp], catalog: Catalog, keys: int
) -> tuple[float, list[float], float]:
    """Seconds to the first image, and seconds from each keypress to the next image."""
    protocol = image_widget("halfcell")
    started = time.perf_counter()
    app = app_class(catalog, ReviewOptions(protocol="halfcell"), protocol)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app)
        first = time.perf_counter() - started
        await app.workers.wait_for_complete()  # the background count
        idle = []  # Pilot's own cost of a key: an unbound one
        for _ in range(5):
            pressed = time.perf_counter()
            await pilot.press("z")
            idle.append(time.perf_counter() - pressed)
        latencies = []
        for _ in range(keys):
            following = app.queue.around(1, behind=0)[0].sha256
            pressed = time.perf_counter()
            await pilot.press("s")
            await painted(app, following)
            latencies.append(time.perf_counter() - pressed)
            await pilot.pause(0.15)  # a person's pace: the prefetch thread gets its turn
    return first, latencies, statistics.median(idle)


def report(name: str, first: float, latencies: list[float], idle: float) -> None:
    """One line of figures."""
    ordered = sorted(latencies)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    print(
        f"{name:9s} first image {first * 1000:8.1f} ms   keypress->next image: "
        f"median {statistics.median(latencies) * 1000:7.1f} ms  p90 {p90 * 1000:7.1f} ms  "
        f"max {max(latencies) * 1000:7.1f} ms  (n={len(latencies)}; an unbound key costs "
        f"Pilot {idle * 1000:.1f} ms)"
    )


def main() -> None:
    """Build the catalog, measure the app and the baseline, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        catalog = build_catalog(Path(tmp), args.images)
        print(f"catalog: {args.images:,} queued images ({FILES} JPEG files of 1600x1200) "
              f"built in {time.perf_counter() - started:.1f} s; terminal {SIZE[0]}x{SIZE[1]}, "
              f"halfcell")
        # Each run decides `keys` images, so the two runs see different images: the
        # baseline goes first, and the app then starts at the first image it left.
        naive = asyncio.run(measure(NaiveReviewApp, catalog, args.keys))
        naive_first, naive_keys, naive_idle = naive
        first, keys, idle = asyncio.run(measure(ReviewApp, catalog, args.keys))
        catalog.close()
    report("naive", naive_first, naive_keys, naive_idle)
    report("review", first, keys, idle)
    key_median, naive_median = statistics.median(keys), statistics.median(naive_keys)
    print(f"ratio (naive / review): first image {naive_first / first:.1f}x, "
          f"keypress median {naive_median / key_median:.1f}x")
    print(f"targets: first image < {TARGET_FIRST_S * 1000:.0f} ms: "
          f"{'met' if first < TARGET_FIRST_S else 'MISSED'}; keypress median < "
          f"{TARGET_KEY_S * 1000:.0f} ms: {'met' if key_median < TARGET_KEY_S else 'MISSED'}")


if __name__ == "__main__":
    main()
