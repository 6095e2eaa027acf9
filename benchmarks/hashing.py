"""Check + pHash throughput of `curate check` against a plain one-process imagehash loop.

Real photographs: scikit-image's bundled sample photos (no network), written as JPEG and
PNG at several sizes and crops into a temporary folder, recorded in a real catalog.

Baseline: ``imagehash.phash(PIL.Image.open(f))`` for every file, one process.
Measured: ``curate.check.check_images`` on the same files (full decode of every frame, EXIF
orientation, pixel sha256, pHash + dHash + wHash, status, batched SQLite commits) with all
cores, once with full-resolution decoding (the default) and once with ``draft=True``
(JPEGs decoded by libjpeg at reduced DCT scale: every byte of the entropy-coded stream is
still read, so truncation is still caught, but no full-size pixels, hence no pixel_sha256).

    python benchmarks/hashing.py [--copies 3] [--workers N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
import skimage.data
from PIL import Image

from catalog import open_catalog
from catalog.harvest import FetchResult, record_fetches
from curate.check import CheckOptions, check_images
from curate.hashing import hamming, hash_to_int64

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon",
          "hubble_deep_field", "immunohistochemistry", "clock", "cat", "retina", "brick",
          "grass", "gravel")  # fmt: skip
SCALES = (1.0, 0.75, 1.5)
CROPS = ((0.0, 0.0, 1.0, 1.0), (0.1, 0.05, 0.9, 0.95), (0.0, 0.2, 0.8, 1.0))


def photographs() -> dict[str, Image.Image]:
    """scikit-image's bundled sample photographs as RGB/L PIL images."""
    return {name: Image.fromarray(getattr(skimage.data, name)()) for name in PHOTOS}


def write_variants(folder: Path, copies: int) -> list[Path]:
    """Every photo at each scale and crop, as JPEG (q 90 and 75) and one PNG per 3 files."""
    paths = []
    for name, photo in photographs().items():
        for s_index, scale in enumerate(SCALES):
            size = (round(photo.width * scale), round(photo.height * scale))
            scaled = photo.resize(size, Image.LANCZOS)
            for c_index, (x0, y0, x1, y1) in enumerate(CROPS):
                w, h = scaled.size
                variant = scaled.crop((round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h)))
                for copy in range(copies):
                    stem = f"{name}-s{s_index}-c{c_index}-{copy}"
                    if (s_index + c_index + copy) % 3 == 2:
                        path = folder / f"{stem}.png"
                        marked = variant.copy()  # one pixel differs: every file is distinct
                        marked.putpixel((0, 0), (copy * 40,) * len(marked.getbands()))
                        marked.save(path, "PNG")
                    else:
                        path = folder / f"{stem}.jpg"
                        variant.save(path, "JPEG", quality=92 - 6 * copy)
                    paths.append(path)
    return paths


def baseline(paths: list[Path]) -> tuple[float, float, dict[str, int]]:
    """Wall and CPU seconds of the plain loop, and its pHash per file name."""
    started, cpu = time.perf_counter(), time.process_time()
    hashes = {path.name: imagehash.phash(Image.open(path)) for path in paths}
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, {name: hash_to_int64(value) for name, value in hashes.items()}


def catalog_of(data_dir: Path, paths: list[Path]) -> None:
    """A catalog holding every file as a fetched body."""
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [
            FetchResult(f"http://bench.test/{p.name}", "web", body=p.read_bytes()) for p in paths
        ])  # fmt: skip


def measured(data_dir: Path, options: CheckOptions) -> tuple[float, float, dict[str, int], int]:
    """Wall and own-process CPU seconds of check_images, stored pHash per file, images ok."""
    with open_catalog(data_dir) as catalog:
        started, cpu = time.perf_counter(), time.process_time()
        report = check_images(catalog, options)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = catalog.conn.execute(
            "SELECT u.url, i.phash FROM urls u JOIN images i ON i.sha256 = u.sha256"
        ).fetchall()
    hashes = {url.rsplit("/", 1)[1]: phash for url, phash in rows}
    return seconds, cpu, hashes, report.statuses["ok"]


def warm_up(root: Path, workers: int) -> None:
    """Start the worker machinery once (forkserver + imports), as a long-running check would."""
    sample = Image.fromarray(skimage.data.chelsea())
    buffer = io.BytesIO()
    sample.save(buffer, "JPEG")
    data_dir = root / "warm"
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [FetchResult(f"http://w.test/{i}.jpg", "web", body=buffer.getvalue()
                                             + bytes([i])) for i in range(64)])  # fmt: skip
        check_images(catalog, CheckOptions(workers=workers))
    imagehash.phash(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of each photo variant")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synthset-bench-") as temp:
        root = Path(temp)
        (root / "files").mkdir()
        paths = write_variants(root / "files", args.copies)
        megapixels = sum(np.prod(Image.open(p).size) for p in paths) / 1e6
        jpegs = sum(p.suffix == ".jpg" for p in paths)
        print(f"{len(paths)} files ({jpegs} JPEG, {len(paths) - jpegs} PNG), {megapixels:.1f} "
              f"megapixels, {os.cpu_count()} cores, --workers {args.workers}")  # fmt: skip
        warm_up(root, args.workers)
        configs = {
            "check, 1 process": CheckOptions(workers=1, everything=True),
            f"check, {args.workers} processes": CheckOptions(workers=args.workers, everything=True),
            f"check --draft, {args.workers} processes": CheckOptions(
                workers=args.workers, everything=True, draft=True
            ),
        }
        best: dict[str, tuple] = {}
        for _ in range(args.repeats):  # interleaved, best of N: the machine may be shared
            run = baseline(paths)
            best["baseline"] = min(best.get("baseline", run), run, key=lambda r: r[0])
            for label, options in configs.items():
                data_dir = root / label.replace(" ", "_").replace(",", "")
                if not data_dir.exists():
                    catalog_of(data_dir, paths)
                run = measured(data_dir, options)
                best[label] = min(best.get(label, run), run, key=lambda r: r[0])
        base_s, base_cpu, base_hashes = best.pop("baseline")
        base_rate = len(paths) / base_s
        print(f"load average before timing: {os.getloadavg()[0]:.1f}; best of {args.repeats}")
        print(f"{'baseline: imagehash.phash(Image.open(f)) loop':42s} {base_rate:7.1f} images/s"
              f"  CPU {1000 * base_cpu / len(paths):5.2f} ms/image")  # fmt: skip
        for label, (seconds, cpu, hashes, ok) in best.items():
            rate = len(paths) / seconds
            distances = [hamming(hashes[name], base_hashes[name]) for name in base_hashes]
            own_cpu = f"  CPU {1000 * cpu / len(paths):5.2f} ms/image" if "1 proc" in label else ""
            print(f"{label:42s} {rate:7.1f} images/s  ratio {rate / base_rate:4.2f}x{own_cpu}  "
                  f"ok images {ok}  pHash - baseline: mean {statistics.mean(distances):.2f}"
                  f" max {max(distances)} bits")  # fmt: skip

if __name__ == "__main__":
    main()
