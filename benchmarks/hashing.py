"""Check + pHash throughput of `curate check` against a plain one-process imagehash loop.

Real photographs: scikit-image's bundled sample photos (no network; 14 photos, colour and
grey, 300 x 400 up to 1411 x 1411), each at 3 scales (0.75, 1, 1.5: up to 2116 x 2116)
and 3 crops, 3 copies each, written as JPEG (quality 92 / 86) and, every third file, PNG,
into a temporary folder and recorded in a real catalog: 378 distinct files.

Baselines: ``imagehash.phash(PIL.Image.open(f))`` for every file, one process; and
imagededup's ``PHash().encode_images(folder)`` at its defaults (every core) on the same
folder, in a separate virtual environment this script makes once (under the temporary
folder, reused by later runs): ``pip install --no-deps imagededup`` plus what its hashing
module imports (numpy, scipy, PyWavelets, Pillow, tqdm, scikit-learn, matplotlib). Its
package __init__ files also import torch for the CNN method; torch is not installed,
those two modules (``imagededup.methods.cnn``, ``imagededup.utils.models``) are stubbed
in the subprocess, and PHash never touches them. Its time is measured inside the
subprocess around ``encode_images`` (imports excluded).
Measured: ``curate.check.check_images`` on the same files in a real catalog, the whole
library path: read each stored file, full decode of every byte of every frame, EXIF
orientation, mode normalisation, pixel sha256, pHash + dHash + wHash, status and reason,
batched SQLite commits, the placeholder pass; worker processes started inside the timed
call. Configurations: the default (large JPEGs decoded by libjpeg at reduced DCT scale:
every byte of the entropy-coded stream is still decoded, so truncation is still caught;
only the inverse DCT and colour conversion run on fewer pixels) on 1 and N processes, and
``draft=False`` (everything at full size) on N processes. Then the default on the JPEG
files alone and on the PNG files alone, against both baselines on the same files
(imagededup on a folder of hard links to that subset). The mixed set stays the headline;
web and ImageNet-style photo collections are almost all JPEG, which the JPEG line shows.

The decode floor: the CPU time of a bare ``Image.open(f).load()`` of the same files in
one process, which both tools pay (imagededup decodes every file in full). PNG has no
reduced decode (zlib inflation and row unfiltering of every pixel), so on the mixed set
the PNG third bounds the ratio: the printed bound is imagededup's time over the time a
check would take that did nothing but this decode (PNG in full, JPEG at its reduced
scale) on the same processes.
Every figure is the best of --repeats interleaved rounds (the machine may be shared; a
busy core costs the N-process runs more than the one-process baseline). CPU ms/image
counts every process (this one and the workers), so it is the cost of the work whatever
the load. The pHash agreement is the Hamming distance between the stored pHash and the
baseline's, per file.

    python benchmarks/hashing.py [--copies 3] [--workers N] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import imagehash
import numpy as np
import skimage.data
from PIL import Image

from catalog import open_catalog
from catalog.checks import ok_image_hashes
from catalog.harvest import FetchResult, count_urls, record_fetches, stored_hashes
from curate.check import CheckOptions, check_images
from curate.decode import DRAFT_SIDE
from curate.hashing import hamming, hash_to_int64

# skimage.data.cat is chelsea again: left out, or 27 files would share another's bytes
# (one catalog image) and the check side would judge fewer images than the baseline hashes.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon",
          "hubble_deep_field", "immunohistochemistry", "clock", "retina", "brick",
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


IMAGEDEDUP_VENV = Path(tempfile.gettempdir()) / "synthset-bench-imagededup-venv"
IMAGEDEDUP = "imagededup==0.3.3.post2"
IMAGEDEDUP_IMPORTS = ("numpy", "scipy", "PyWavelets", "Pillow", "tqdm", "scikit-learn",
                      "matplotlib")
IMAGEDEDUP_RUN = """
import json, sys, time, types
for name, attr in (("imagededup.utils.models", "CustomModel"), ("imagededup.methods.cnn", "CNN")):
    stub = types.ModuleType(name)  # torch-only modules the hashing path never uses
    setattr(stub, attr, None)
    sys.modules[name] = stub
from imagededup.methods.hashing import PHash
started = time.perf_counter()
hashes = PHash(verbose=False).encode_images(image_dir=sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "hashes": hashes}))
"""


def imagededup_python() -> Path:
    """The interpreter of a virtual environment with imagededup's hashing (made once)."""
    python = IMAGEDEDUP_VENV / "bin" / "python"
    if not (IMAGEDEDUP_VENV / "ready").exists():
        print(f"making {IMAGEDEDUP_VENV} for {IMAGEDEDUP} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(IMAGEDEDUP_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--no-deps", IMAGEDEDUP], check=True)
        subprocess.run([*pip, *IMAGEDEDUP_IMPORTS], check=True)
        (IMAGEDEDUP_VENV / "ready").touch()
    return python


def imagededup_run(python: Path, folder: Path) -> tuple[float, float, dict[str, int]]:
    """Seconds of ``encode_images`` (CPU: the whole subprocess), its pHash per file name."""
    cpu = _cpu_seconds()
    done = subprocess.run([str(python), "-c", IMAGEDEDUP_RUN, str(folder)], check=True,
                          capture_output=True, text=True)
    cpu = _cpu_seconds() - cpu
    result = json.loads(done.stdout.strip().splitlines()[-1])
    hashes = {name: int.from_bytes(bytes.fromhex(value), "big", signed=True)
              for name, value in result["hashes"].items()}
    return result["seconds"], cpu, hashes, len(hashes)


def decode_floor(paths: list[Path], draft: bool) -> float:
    """CPU seconds of a bare Pillow decode of every file in this process (JPEGs reduced as
    the default check decodes them when ``draft``), the cost no hashing tool avoids."""
    cpu = time.process_time()
    for path in paths:
        with Image.open(path) as image:
            if draft and image.format == "JPEG" and min(image.size) > 2 * DRAFT_SIDE:
                scale = DRAFT_SIDE / min(image.size)
                image.draft(image.mode, (int(image.width * scale) + 1,
                                         int(image.height * scale) + 1))
            image.load()
    return time.process_time() - cpu


def linked_folder(folder: Path, paths: list[Path]) -> Path:
    """A folder of hard links to ``paths`` (imagededup encodes a whole folder)."""
    folder.mkdir()
    for path in paths:
        os.link(path, folder / path.name)
    return folder


def catalog_of(data_dir: Path, paths: list[Path]) -> None:
    """A catalog holding every file as a fetched body."""
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [
            FetchResult(f"http://bench.test/{p.name}", "web", body=p.read_bytes()) for p in paths
        ])  # fmt: skip


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the check's workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def measured(data_dir: Path, options: CheckOptions) -> tuple[float, float, dict[str, int], int]:
    """Wall and CPU seconds (all processes) of check_images, stored pHash per file, images ok."""
    with open_catalog(data_dir) as catalog:
        started, cpu = time.perf_counter(), _cpu_seconds()
        report = check_images(catalog, options)
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        total = count_urls(catalog)
        if report.checked != total:  # both sides must do the same files
            raise SystemExit(f"check judged {report.checked} images of {total} files")
        phashes = dict(ok_image_hashes(catalog))
        bodies = stored_hashes(catalog)
    hashes = {url.rsplit("/", 1)[1]: phashes.get(sha256) for url, sha256 in bodies.items()}
    return seconds, cpu, hashes, report.statuses["ok"]


def warm_up(root: Path, workers: int) -> None:
    """Run each side once on one photo (imports, scipy for the baseline, page cache)."""
    sample = Image.fromarray(skimage.data.chelsea())
    buffer = io.BytesIO()
    sample.save(buffer, "JPEG")
    data_dir = root / "warm"
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [FetchResult(f"http://w.test/{i}.jpg", "web", body=buffer.getvalue()
                                             + bytes([i])) for i in range(64)])  # fmt: skip
        check_images(catalog, CheckOptions(workers=workers))
    imagehash.phash(sample)


def best_of(rounds: int, runs: dict[str, Callable[[], tuple]]) -> dict[str, tuple]:
    """The fastest of ``rounds`` interleaved runs of each (the machine may be shared)."""
    best: dict[str, tuple] = {}
    for _ in range(rounds):
        for label, run in runs.items():
            result = run()
            best[label] = min(best.get(label, result), result, key=lambda r: r[0])
    return best


def report(best: dict[str, tuple], base_label: str, count: int) -> None:
    """Print images/s, the ratio to the baseline and the pHash agreement of each run."""
    base_s, base_cpu, base_hashes = best[base_label]
    base_rate = count / base_s
    print(f"  {base_label:51s} {base_rate:7.1f} images/s  CPU {1000 * base_cpu / count:5.2f}"
          " ms/image")  # fmt: skip
    for label, result in best.items():
        if label == base_label:
            continue
        seconds, cpu, hashes, ok = result
        rate = count / seconds
        distances = [hamming(hashes[name], base_hashes[name]) for name in base_hashes]
        print(f"  {label:51s} {rate:7.1f} images/s  ratio {rate / base_rate:4.2f}x  "
              f"CPU {1000 * cpu / count:5.2f} ms/image  "
              f"ok {ok}  pHash vs baseline: mean {statistics.mean(distances):.2f}"
              f" max {max(distances)} bits")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies of each photo variant")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds; the best counts")
    args = parser.parse_args()
    workers = args.workers
    dedup_python = imagededup_python()
    with tempfile.TemporaryDirectory(prefix="synthset-bench-") as temp:
        root = Path(temp)
        (root / "files").mkdir()
        paths = write_variants(root / "files", args.copies)
        groups = {
            "all files": paths,
            "JPEG files only": [p for p in paths if p.suffix == ".jpg"],
            "PNG files only": [p for p in paths if p.suffix == ".png"],
        }
        folders = {"all files": root / "files",
                   "JPEG files only": linked_folder(root / "jpeg", groups["JPEG files only"]),
                   "PNG files only": linked_folder(root / "png", groups["PNG files only"])}
        for name, group in groups.items():
            megapixels = sum(np.prod(Image.open(p).size) for p in group) / 1e6
            print(f"{name}: {len(group)} files, {megapixels:.1f} megapixels "
                  f"({megapixels / len(group):.2f} per file)")  # fmt: skip
        print(f"{os.cpu_count()} cores, --workers {workers}; uptime load average "
              f"{os.getloadavg()[0]:.2f} before timing; best of {args.repeats} rounds")  # fmt: skip
        warm_up(root, workers)
        for name, group in groups.items():
            configs = {f"check (default: reduced JPEG decode), {workers} processes":
                       CheckOptions(workers=workers, everything=True)}  # fmt: skip
            if name == "all files":
                configs = {
                    "check (default: reduced JPEG decode), 1 process":
                        CheckOptions(workers=1, everything=True),
                    **configs,
                    f"check draft=False (all full size), {workers} processes":
                        CheckOptions(workers=workers, everything=True, draft=False),
                }  # fmt: skip
            runs: dict[str, Callable[[], tuple]] = {
                "baseline: imagehash.phash(Image.open(f)) loop": partial(baseline, group),
                IMAGEDEDUP_LABEL: partial(imagededup_run, dedup_python, folders[name]),
            }
            for index, (label, options) in enumerate(configs.items()):
                data_dir = root / f"{name.split()[0]}-{index}"
                catalog_of(data_dir, group)
                runs[label] = partial(measured, data_dir, options)
            best = best_of(args.repeats, runs)
            floors = {draft: min(decode_floor(group, draft) for _ in range(args.repeats))
                      for draft in (False, True)}  # fmt: skip
            print(f"{name} ({len(group)}), load average now {os.getloadavg()[0]:.2f}:")
            report(best, "baseline: imagehash.phash(Image.open(f)) loop", len(group))
            against_imagededup(best, workers, len(group), floors)


IMAGEDEDUP_LABEL = "imagededup PHash().encode_images (its defaults)"
TARGET_VS_IMAGEDEDUP = 3.0


def against_imagededup(
    best: dict[str, tuple], workers: int, count: int, floors: dict[bool, float]
) -> None:
    """Print the default check's throughput over imagededup's against the 3x target, and
    the decode floor (``floors``: CPU seconds of a bare decode, full / reduced JPEG)."""
    label = f"check (default: reduced JPEG decode), {workers} processes"
    check_seconds, check_cpu = best[label][:2]
    theirs, their_cpu = best[IMAGEDEDUP_LABEL][:2]
    ratio = theirs / check_seconds
    print(f"  check + hashes ({workers} processes) vs imagededup encode_images: "
          f"{count / check_seconds:.1f} vs {count / theirs:.1f} images/s = {ratio:.2f}x "
          f"(target >= {TARGET_VS_IMAGEDEDUP:.0f}x: "
          f"{'met' if ratio >= TARGET_VS_IMAGEDEDUP else 'NOT met'}); CPU per image "
          f"{1000 * check_cpu / count:.2f} vs {1000 * their_cpu / count:.2f} ms (theirs: the "
          "whole subprocess, start-up included)")
    full, reduced = floors[False], floors[True]
    bound = theirs / (reduced / workers)
    print(f"  decode floor (bare Image.open(f).load(), 1 process): {1000 * full / count:.2f} ms"
          f"/image CPU in full, {1000 * reduced / count:.2f} with JPEGs at the check's reduced "
          f"scale; the check spends {1000 * (check_cpu - reduced) / count:.2f} ms/image on top. "
          f"A check that only decoded would reach at most {bound:.2f}x imagededup here")


if __name__ == "__main__":
    main()
