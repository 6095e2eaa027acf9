"""Write exports in the standard format from arrays, e.g. Debian's Fashion-MNIST IDX files."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

import synthset
from model.data import FORMAT_VERSION
from model.errors import DatasetExists, SourceMalformed, SourceNotFound

log = logging.getLogger(__name__)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {"train": "train-images-idx3-ubyte", "val": "t10k-images-idx3-ubyte"}
MANIFEST_COLUMNS = ("index", "file", "sha256", "url", "wnid", "source", "split")
IDX_UBYTE = 0x08
PIXEL_CACHE = "pixels.npy"  # N x H x W x C uint8 in manifest order, as `curate export` writes
MAX_EXPORT_JSON_BYTES = 1024 * 1024  # a bigger export.json is not taken for an export's


@dataclass(frozen=True)
class DatasetReport:
    """What a conversion wrote."""

    path: Path
    train: int
    val: int
    shape: tuple[int, int, int]


def read_idx_images(path: Path, limit: int | None = None) -> np.ndarray:
    """Read an IDX3 unsigned-byte image file (gzip or plain) into (N, H, W) uint8."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        zero, dtype, dims = struct.unpack(">HBB", handle.read(4))
        if zero != 0 or dtype != IDX_UBYTE or dims != 3:
            raise SourceMalformed(f"{path} is not an IDX3 unsigned-byte image file")
        count, rows, cols = struct.unpack(">III", handle.read(12))
        count = count if limit is None else min(count, limit)
        data = handle.read(count * rows * cols)
    return np.frombuffer(data, dtype=np.uint8).reshape(count, rows, cols)


def find_idx(directory: Path, stem: str) -> Path:
    """The IDX file ``stem`` in ``directory``, gzipped or not; SourceNotFound if neither."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise SourceNotFound(
        f"{directory / stem}[.gz] not found; install Debian's dataset-fashion-mnist package "
        "or pass --source DIR"
    )


def _png_bytes(pixels: np.ndarray) -> bytes:
    """Encode one (H, W, C) uint8 image as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_export(
    out: Path | str,
    splits: dict[str, np.ndarray],
    name: str | None = None,
    source: str = "arrays",
    url: Callable[[str, int], str] | None = None,
    interpolation: str = "none",
    overwrite: bool = False,
    extra: dict | None = None,
    pixel_cache: bool = True,
) -> DatasetReport:
    """Write (N, H, W, C) uint8 arrays per split (``train``, ``val``) as an export at ``out``,
    with pixels.npy beside the PNGs unless ``pixel_cache`` is false.

    Written into a temporary folder beside ``out`` and renamed into place at the end, so
    an interrupted write leaves no half-written export. ``overwrite`` replaces only an
    earlier export (export.json with a format_version) or an empty folder.

    :raises DatasetExists: ``out`` already holds an export and ``overwrite`` is false, or
        ``out`` is anything else but an empty folder (never replaced).
    """
    given = out
    final = Path(os.path.abspath(out))  # "datasets/fm/." names fm; no symlink is resolved
    _refuse_replacing(final, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    out = final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    out.mkdir()  # not mkdtemp: the export gets the umask's permissions, not 0700
    try:
        report = _write_files(
            out, splits, name=name or final.name, source=source, url=url,
            interpolation=interpolation, extra=extra, pixel_cache=pixel_cache,
        )
        _replace(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    log.info("wrote export %(out)s: %(train)d train, %(val)d val",
              {"out": final, "train": report.train, "val": report.val})
    return replace(report, path=Path(given))


def is_export(folder: Path) -> bool:
    """Whether ``folder`` is a real folder holding an export.json with a format_version."""
    meta = folder / "export.json"
    if folder.is_symlink() or not folder.is_dir() or not meta.is_file():
        return False
    if meta.stat().st_size > MAX_EXPORT_JSON_BYTES:
        return False
    try:
        content = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(content, dict) and "format_version" in content


def _refuse_replacing(out: Path, overwrite: bool) -> None:
    """Allow writing ``out`` only if missing, an empty folder, or (with overwrite) an export.

    :raises DatasetExists: otherwise, naming what is there and what to do.
    """
    if not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        return
    if not is_export(out):
        raise DatasetExists(
            f"{out} exists and is not an export (no export.json with a format_version); "
            "--overwrite replaces only exports: move it away or pick another --out"
        )
    if not overwrite:
        raise DatasetExists(
            f"{out} already holds an export; pass --overwrite or pick another --out"
        )


def _replace(temp: Path, out: Path) -> None:
    """Rename the finished ``temp`` to ``out``; an old export or empty folder there goes."""
    if not out.exists():
        os.rename(temp, out)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, aside / out.name)
    try:
        os.rename(temp, out)
    except OSError:
        os.rename(aside / out.name, out)  # never leave the user without the old export
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _write_files(
    out: Path,
    splits: dict[str, np.ndarray],
    *,
    name: str,
    source: str,
    url: Callable[[str, int], str] | None,
    interpolation: str,
    extra: dict | None,
    pixel_cache: bool,
) -> DatasetReport:
    """Write images/, manifest.csv, pixels.npy and export.json into the new folder ``out``."""
    (out / "images").mkdir()
    arrays = {
        split: np.asarray(splits.get(split, np.zeros((0, 1, 1, 1))), np.uint8)
        for split in ("train", "val")
    }
    shape = next(a.shape[1:] for a in arrays.values() if len(a))
    rows = []
    for split, images in arrays.items():
        for number, pixels in enumerate(images):
            index = len(rows)
            file = f"images/{index:05d}.png"
            data = _png_bytes(pixels)
            (out / file).write_bytes(data)
            rows.append(
                {
                    "index": index,
                    "file": file,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "url": url(split, number) if url else "",
                    "wnid": "",
                    "source": source,
                    "split": split,
                }
            )
    _write_manifest(rows, out / "manifest.csv")
    if pixel_cache and rows:
        np.save(out / PIXEL_CACHE, np.concatenate([a for a in arrays.values() if len(a)]))
    counts = {"total": len(rows), "train": len(arrays["train"]), "val": len(arrays["val"])}
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "size": [int(shape[0]), int(shape[1])],
        "color": "gray" if shape[2] == 1 else "rgb",
        "channels": int(shape[2]),
        "interpolation": interpolation,
        "val_fraction": round(counts["val"] / max(1, counts["total"]), 6),
        "counts": counts,
        "catalog": None,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthset_version": synthset.__version__,
        "source": source,
        "pixel_cache": PIXEL_CACHE if pixel_cache and rows else None,
        **(extra or {}),
    }
    temporary = out / ".export.json.tmp"
    temporary.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out / "export.json")
    return DatasetReport(out, counts["train"], counts["val"], tuple(int(v) for v in shape))


def _write_manifest(rows: Iterable[dict], path: Path) -> None:
    """Write manifest.csv with the standard columns."""
    temporary = path.with_name(".manifest.csv.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


def load_fashion_mnist(
    source: Path = FASHION_MNIST_DIR, train_limit: int | None = None, val_limit: int | None = None
) -> dict[str, np.ndarray]:
    """Fashion-MNIST as (N, 28, 28, 1) uint8 arrays: train from train-*, val from t10k-*."""
    limits = {"train": train_limit, "val": val_limit}
    return {
        split: read_idx_images(find_idx(Path(source), stem), limits[split])[..., None]
        for split, stem in FASHION_MNIST_FILES.items()
    }


def convert_fashion_mnist(
    out: Path | str,
    source: Path | str = FASHION_MNIST_DIR,
    limit: int | None = None,
    overwrite: bool = False,
) -> DatasetReport:
    """Convert Debian's Fashion-MNIST into an export (at most ``limit`` images per split)."""
    source = Path(source)
    splits = load_fashion_mnist(source, limit, limit)
    files = {split: find_idx(source, stem) for split, stem in FASHION_MNIST_FILES.items()}
    return write_export(
        out,
        splits,
        name=Path(out).name,
        source="fashion-mnist",
        url=lambda split, number: f"{files[split].resolve().as_uri()}#{number}",
        overwrite=overwrite,
        extra={"limit": limit},
    )


def draw_shapes(count: int, size: int = 16, channels: int = 1, seed: int = 0) -> np.ndarray:
    """``count`` (size, size, channels) uint8 images of one bright disc or box on a dark ground."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size]
    images = np.zeros((count, size, size, channels), dtype=np.uint8)
    for image in images:
        cy, cx = rng.uniform(size * 0.25, size * 0.75, 2)
        radius = rng.uniform(size * 0.12, size * 0.3)
        if rng.random() < 0.5:
            mask = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        else:
            mask = (abs(rows - cy) <= radius) & (abs(cols - cx) <= radius)
        image[mask] = rng.integers(150, 256, channels)
    return images


def make_shapes(
    out: Path | str,
    limit: int | None = None,
    overwrite: bool = False,
    size: int = 16,
    channels: int = 1,
    seed: int = 0,
) -> DatasetReport:
    """Write a synthetic export of drawn shapes: ``limit`` (default 64) train, a quarter as val."""
    count = limit or 64
    splits = {
        "train": draw_shapes(count, size, channels, seed),
        "val": draw_shapes(max(1, count // 4), size, channels, seed + 1),
    }
    return write_export(out, splits, source="shapes", overwrite=overwrite, extra={"seed": seed})


DATASETS: dict[str, Callable[..., DatasetReport]] = {
    "fashion-mnist": convert_fashion_mnist,
    "shapes": make_shapes,
}
