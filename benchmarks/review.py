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
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.console import Console
from textual import events
from textual._compositor import CompositorUpdate
from textual.app import App

from catalog import open_catalog
from catalog.db import Catalog
from catalog.review_queue import QueueFilter, SeedImage, queue_page, seed_checked_images
from curate.review.app import ReviewApp, ReviewOptions
from curate.review.protocols import image_widget
from curate.review.queue import ReviewQueue
from curate.review.sample import draw_cake

SIZE = (160, 48)  # terminal cells
FILES = 6  # distinct JPEG files behind the 100,000 rows
TARGET_FIRST_S = 1.0
TARGET_KEY_S = 0.100
PACE_S = 0.15  # between keys
CPUS = len(os.sched_getaffinity(0))


def photo_like(seed: int) -> bytes:
    """A 1600x1200 JPEG drawing with grain, so neighbouring cells differ as in a photograph.

    Flat drawings would flatter the half-block drawing, which merges equal neighbours.
    """
    with Image.open(io.BytesIO(draw_cake(seed, (1600, 1200)))) as drawing:
        pixels = np.asarray(drawing, dtype=np.float32)
    grain = np.random.default_rng(seed).normal(0, 40, pixels.shape[:2] + (1,))
    noisy = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=90)
    return out.getvalue()


def build_catalog(data_dir: Path, count: int) -> Catalog:
    """A catalog of ``count`` ok images whose paths share :data:`FILES` real JPEGs."""
    catalog = open_catalog(data_dir)
    stored = [catalog.store.put(photo_like(seed)) for seed in range(FILES)]
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
    """Baseline: decodes and draws in the calling (UI) thread when asked; no look-ahead."""

    def __init__(self, prepare: Callable[[Path, Any], Any]) -> None:
        self.prepare = prepare

    def get(self, key: str, path: Path, spec: Hashable) -> Future:
        """Decode and draw now and hand back a finished future."""
        future: Future = Future()
        future.set_result(self.prepare(path, spec))
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
        self.prefetcher.close()
        self.prefetcher = DecodeOnDemand(self.prefetcher.prepare)


async def painted(app: ReviewApp, sha256: str | None = None) -> None:
    """Wait until image ``sha256`` (default: the current one) has been painted."""
    widget = app.query_one("#image")
    while True:
        wanted = sha256 or (app.current.sha256 if app.current else None)
        if wanted is None or widget.painted_key == wanted:
            return
        await asyncio.sleep(0.0005)


class FrameProbe:
    """Times a key from its arrival in the app's queue to the committed frame showing ``target``.

    The headless driver skips turning frames into terminal bytes; the probe does that
    work too (truecolor, what a real terminal is sent), so it is inside the timing.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        self.console = Console(
            file=io.StringIO(), force_terminal=True, color_system="truecolor",
            width=size[0], height=size[1], legacy_windows=False, safe_box=False,
        )
        self.target: str | None = None
        self.posted = 0.0
        self.latency: float | None = None
        self.done = asyncio.Event()
        self.frame_bytes = 0

    def arm(self, target: str) -> None:
        """Expect the frame that shows image ``target``; the clock starts now."""
        self.target, self.latency = target, None
        self.done.clear()
        self.posted = time.perf_counter()

    def frame(self, app: App, update: object) -> None:
        """Encode one frame as the terminal driver would, and stop the clock if it is the one."""
        if isinstance(update, CompositorUpdate):
            self.frame_bytes = len(update.render_segments(self.console))
        if self.target is not None and app.query_one("#image").painted_key == self.target:
            self.latency = time.perf_counter() - self.posted
            self.target = None
            self.done.set()


def probed(app_class: type[ReviewApp], probe: FrameProbe) -> type[ReviewApp]:
    """``app_class`` whose every frame goes through ``probe``."""

    def _display(self, screen, renderable) -> None:
        app_class._display(self, screen, renderable)
        if renderable is not None:
            probe.frame(self, renderable)

    return type(f"Probed{app_class.__name__}", (app_class,), {"_display": _display})


@dataclass
class Figures:
    """One app's measurements, in seconds."""

    first: float  # app constructed -> frame with the first image
    keys: list[float]  # key posted -> frame with the next image (app-side probe)
    pilot: list[float]  # Pilot press + wait for the paint (includes Pilot's own wait)
    pilot_idle: float  # median Pilot press of an unbound key


async def measure(app_class: type[ReviewApp], catalog: Catalog, keys: int) -> Figures:
    """First image, then ``keys`` probed keypresses, then ``keys`` Pilot keypresses."""
    protocol = image_widget("halfcell")
    probe = FrameProbe(SIZE)
    started = time.perf_counter()
    app = probed(app_class, probe)(catalog, ReviewOptions(protocol="halfcell"), protocol)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app)
        first = time.perf_counter() - started
        await app.workers.wait_for_complete()  # the background count
        await pilot.pause(PACE_S)
        probed_keys = []
        for _ in range(keys):
            probe.arm(app.queue.around(1, behind=0)[0].sha256)
            app.post_message(events.Key("s", "s"))  # what the terminal driver does with a key
            await asyncio.wait_for(probe.done.wait(), 10)
            probed_keys.append(probe.latency)
            await asyncio.sleep(PACE_S)  # a person's pace: the look-ahead gets its turn
        idle = []
        for _ in range(5):
            pressed = time.perf_counter()
            await pilot.press("z")  # unbound: Pilot's own cost
            idle.append(time.perf_counter() - pressed)
        pilot_keys = []
        for _ in range(keys):
            following = app.queue.around(1, behind=0)[0].sha256
            pressed = time.perf_counter()
            await pilot.press("s")
            await painted(app, following)
            pilot_keys.append(time.perf_counter() - pressed)
            await pilot.pause(PACE_S)
    return Figures(first, probed_keys, pilot_keys, statistics.median(idle))


def spread(values: list[float]) -> str:
    """Median, p90 and max in milliseconds."""
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (f"median {statistics.median(values) * 1000:6.1f}  p90 {p90 * 1000:6.1f}  "
            f"max {ordered[-1] * 1000:6.1f} ms")


def report(name: str, figures: Figures) -> None:
    """The figures of one app."""
    adjusted = [t - figures.pilot_idle for t in figures.pilot]
    print(f"{name}:")
    print(f"  first image on screen          {figures.first * 1000:7.1f} ms")
    print(f"  key -> frame with next image   {spread(figures.keys)}  (n={len(figures.keys)})")
    print(f"  Pilot press raw                {spread(figures.pilot)}")
    print(f"  Pilot press - unbound key      {spread(adjusted)}  "
          f"(unbound key {figures.pilot_idle * 1000:.1f} ms)")


def main() -> None:
    """Build the catalog, measure the app and the baseline, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        catalog = build_catalog(Path(tmp), args.images)
        print(f"catalog: {args.images:,} queued images ({FILES} JPEG files of 1600x1200) "
              f"built in {time.perf_counter() - started:.1f} s; terminal {SIZE[0]}x{SIZE[1]}, "
              f"halfcell; {CPUS} CPUs; keys {PACE_S * 1000:.0f} ms apart")
        # Each run decides 2 x `keys` images, so the two runs see different images: the
        # baseline goes first, and the app then starts at the first image it left.
        naive = asyncio.run(measure(NaiveReviewApp, catalog, args.keys))
        review = asyncio.run(measure(ReviewApp, catalog, args.keys))
        catalog.close()
    print(TIMED)
    report("naive (baseline: whole queue loaded, decode and draw on demand)", naive)
    report("review (paged queue, decoded and drawn ahead)", review)
    key_median, naive_median = statistics.median(review.keys), statistics.median(naive.keys)
    print(f"ratio (naive / review): first image {naive.first / review.first:.1f}x, "
          f"key -> frame median {naive_median / key_median:.1f}x")
    print(f"targets: first image < {TARGET_FIRST_S * 1000:.0f} ms: "
          f"{'met' if review.first < TARGET_FIRST_S else 'MISSED'}; key -> frame median < "
          f"{TARGET_KEY_S * 1000:.0f} ms: {'met' if key_median < TARGET_KEY_S else 'MISSED'}")


TIMED = """what is timed:
  key -> frame: from posting the key event to the app's message queue (as the terminal
    driver does) until the app has composed the frame in which the image widget painted
    the next image and encoded it to terminal bytes (truecolor); the decision's commit
    to SQLite is inside it. Keys come 150 ms apart (a quick person's pace).
  Pilot press raw: Textual's Pilot.press('s') until the next image is painted; Pilot
    returns only when the whole process (look-ahead thread included) is idle, so it
    over-counts; '- unbound key' subtracts the median Pilot.press of an unbound key."""


if __name__ == "__main__":
    main()
