"""Review latency: first image on screen with 100,000 queued, and keypress to next image.

Builds a 100,000-image catalog in seconds: a few hundred distinct grainy 1600x1200
JPEGs (photograph-like: neighbouring cells differ, no two pictures share colours) go
to the store, then 100,000 ``images`` rows are inserted directly as checked ok
(catalog.review_queue.seed_checked_images), each with its own sha256, with paths
that go round those files in queue order, so every image the runs show is a
different picture (decoded from the OS page cache).

Both apps run for real, headless (App.run_test), 160x48 cells, half blocks. A probe
times each key inside the app: from posting the key event to the app's queue until
the frame whose image widget painted the next image has been composed and encoded
to terminal bytes. Pilot's own figures (raw, and less the cost of an unbound key)
are printed beside them. The named baseline, ``naive``, is the same app with the
queue loaded whole at start-up and each image decoded and drawn on demand in the UI
thread (no paging, no look-ahead), measured in the same run.

    .venv/bin/python benchmarks/review.py [--images 100000] [--keys 40]
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
from collections.abc import Callable, Hashable, Iterator
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
TARGET_FIRST_S = 1.0
TARGET_KEY_S = 0.100
PACE_S = 0.15  # between keys: a quick person
RAPID_S = 0.05  # between keys: faster than anyone screens
CPUS = len(os.sched_getaffinity(0))


def photo_likes(count: int) -> Iterator[bytes]:
    """``count`` distinct 1600x1200 JPEGs: drawings with grain and a tint, like photographs.

    Neighbouring cells differ and no two images share their colours, as with real
    photographs; flat or repeated drawings would flatter the half-block drawing, which
    merges equal neighbours and caches each colour pair's style.
    """
    bases = []
    for seed in range(6):
        with Image.open(io.BytesIO(draw_cake(seed, (1600, 1200)))) as drawing:
            bases.append(np.asarray(drawing, dtype=np.int16))
    rng = np.random.default_rng(0)
    for n in range(count):
        base = bases[n % len(bases)]
        grain = rng.integers(-48, 49, base.shape[:2] + (1,), dtype=np.int16)
        tint = rng.integers(-40, 41, 3, dtype=np.int16)
        out = io.BytesIO()
        Image.fromarray(np.clip(base + grain + tint, 0, 255).astype(np.uint8)).save(
            out, "JPEG", quality=90
        )
        yield out.getvalue()


def build_catalog(data_dir: Path, count: int, files: int) -> Catalog:
    """A catalog of ``count`` ok images whose paths share ``files`` real JPEGs.

    Files go round in queue (sha256) order, so the first ``files`` images of the queue
    are all different pictures.
    """
    catalog = open_catalog(data_dir)
    stored = [catalog.store.put(jpeg) for jpeg in photo_likes(files)]
    shas = sorted(hashlib.sha256(f"bench-{n}".encode()).hexdigest() for n in range(count))
    seeds = (
        SeedImage(
            sha256=sha256,
            path=stored[rank % files].path,
            bytes=stored[rank % files].bytes,
            width=1600,
            height=1200,
            url=f"http://bench.test/{rank}.jpg",
            source="web",
            wnid="n07628870",
        )
        for rank, sha256 in enumerate(shas)
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
    keys: list[float]  # key posted -> frame with the next image, at a person's pace
    rapid: list[float]  # the same, keys RAPID_S apart
    pilot: list[float]  # Pilot press + wait for the paint (includes Pilot's own wait)
    pilot_idle: float  # median Pilot press of an unbound key


async def probe_keys(app: ReviewApp, probe: FrameProbe, keys: int, pace: float) -> list[float]:
    """Press skip ``keys`` times, ``pace`` seconds apart; each key's time to its frame."""
    latencies = []
    for _ in range(keys):
        probe.arm(app.queue.around(1, behind=0)[0].sha256)
        app.post_message(events.Key("s", "s"))  # what the terminal driver does with a key
        await asyncio.wait_for(probe.done.wait(), 10)
        latencies.append(probe.latency)
        await asyncio.sleep(max(pace - probe.latency, 0))  # the next key, `pace` after this
    return latencies


async def measure(app_class: type[ReviewApp], catalog: Catalog, keys: int) -> Figures:
    """First image, then probed keys at two paces, then ``keys`` Pilot keypresses."""
    protocol = image_widget("halfcell")
    probe = FrameProbe(SIZE)
    started = time.perf_counter()
    app = probed(app_class, probe)(catalog, ReviewOptions(protocol="halfcell"), protocol)
    async with app.run_test(size=SIZE) as pilot:
        await painted(app)
        first = time.perf_counter() - started
        await app.workers.wait_for_complete()  # the background count
        await pilot.pause(PACE_S)
        paced = await probe_keys(app, probe, keys, PACE_S)
        await pilot.pause(PACE_S)
        rapid = await probe_keys(app, probe, keys, RAPID_S)
        await pilot.pause(PACE_S)
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
    return Figures(first, paced, rapid, pilot_keys, statistics.median(idle))


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
    print(f"    keys {RAPID_S * 1000:.0f} ms apart             {spread(figures.rapid)}")
    print(f"  Pilot press raw                {spread(figures.pilot)}")
    print(f"  Pilot press - unbound key      {spread(adjusted)}  "
          f"(unbound key {figures.pilot_idle * 1000:.1f} ms)")


def main() -> None:
    """Build the catalog, measure the app and the baseline, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=40)
    args = parser.parse_args()
    # The app's console picks its colours from the environment; draw as for a truecolor
    # terminal (the longest escape codes), whatever terminal runs the benchmark.
    os.environ["COLORTERM"] = "truecolor"
    files = 2 * (3 * args.keys + 8)  # every image either run shows is a different picture
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        catalog = build_catalog(Path(tmp), args.images, files)
        print(f"catalog: {args.images:,} queued images ({files} distinct JPEG files of "
              f"1600x1200) built in {time.perf_counter() - started:.1f} s; terminal "
              f"{SIZE[0]}x{SIZE[1]}, halfcell, truecolor; {CPUS} CPUs")
        # Each run decides 3 x `keys` images, so the two runs see different images: the
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


PACE_MS, RAPID_MS = round(PACE_S * 1000), round(RAPID_S * 1000)
TIMED = f"""what is timed (wall clock, skip key 's', one image per key):
  key -> frame: from posting the key event to the app's message queue (as the terminal
    driver does) until the app has composed the frame in which the image widget painted
    the next image and encoded that frame to terminal bytes (truecolor; the headless
    driver then drops them); the decision's SQLite commit is inside it. Each key is
    sent {PACE_MS} ms after the previous one (a quick person), then {RAPID_MS} ms after it
    (or at its frame if that came later): quicker than the look-ahead draws, so the
    thread is busy when keys arrive. The target is the first line's median.
  Pilot press raw: Textual's Pilot.press('s') until the next image is painted, keys
    {PACE_MS} ms apart; Pilot returns only when the whole process (look-ahead thread
    included) is idle, so it over-counts; '- unbound key' subtracts the median
    Pilot.press of an unbound key."""


if __name__ == "__main__":
    main()
