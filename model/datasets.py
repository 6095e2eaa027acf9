"""Write exports in the standard format from arrays, e.g. Debian's Fashion-MNIST IDX files."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

import synthset
from model.errors import DatasetExists, SourceMalformed, SourceNotFound
from synthset.export_format import (
    EXPORT_JSON,
    FORMAT_VERSION,
    PIXEL_CACHE,
    ExportExists,
    content_sha256,
    image_digits,
    image_file,
    make_image_folders,
    make_staging_folder,
    move_into_place,
    refuse_replacing,
    remove_empty_split_folders,
    write_index,
    write_json,
)

log = logging.getLogger(__name__)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {"train": "train-images-idx3-ubyte", "val": "t10k-images-idx3-ubyte"}
FASHION_MNIST_LABELS = {"train": "train-labels-idx1-ubyte", "val": "t10k-labels-idx1-ubyte"}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
IDX_UBYTE = 0x08


@dataclass(frozen=True)
class DatasetReport:
    """What a conversion wrote."""

    path: Path
    train: int
    val: int
    shape: tuple[int, int, int]


def read_idx(path: Path, dims: int, limit: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes with ``dims`` dimensions (gzip or plain), at most
    ``limit`` items of the first dimension."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        zero, dtype, found = struct.unpack(">HBB", handle.read(4))
        if zero != 0 or dtype != IDX_UBYTE or found != dims:
            raise SourceMalformed(f"{path} is not an IDX{dims} unsigned-byte file")
        shape = list(struct.unpack(f">{dims}I", handle.read(4 * dims)))
        shape[0] = shape[0] if limit is None else min(shape[0], limit)
        data = handle.read(int(np.prod(shape)))
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def read_idx_images(path: Path, limit: int | None = None) -> np.ndarray:
    """Read an IDX3 unsigned-byte image file (gzip or plain) into (N, H, W) uint8."""
    return read_idx(path, 3, limit)


def read_idx_labels(path: Path, limit: int | None = None) -> np.ndarray:
    """Read an IDX1 unsigned-byte label file (gzip or plain) into (N,) uint8."""
    return read_idx(path, 1, limit)


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
    try:
        refuse_replacing(final, overwrite)
        staging = make_staging_folder(final)
        try:
            report = _write_files(
                staging, splits, name=name or final.name, source=source, url=url,
                interpolation=interpolation, extra=extra, pixel_cache=pixel_cache,
            )
            move_into_place(staging, final, overwrite)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except ExportExists as error:
        raise DatasetExists(str(error)) from None
    log.info("wrote export %(out)s: %(train)d train, %(val)d val",
              {"out": final, "train": report.train, "val": report.val})
    return replace(report, path=Path(given))


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
    """Write images/, manifest.csv, metadata, pixels.npy and export.json into ``out``."""
    make_image_folders(out)
    arrays = {
        split: np.asarray(splits.get(split, np.zeros((0, 1, 1, 1))), np.uint8)
        for split in ("train", "val")
    }
    shape = next(a.shape[1:] for a in arrays.values() if len(a))
    digits = image_digits(sum(len(a) for a in arrays.values()))
    rows = []
    for split, images in arrays.items():
        for number, pixels in enumerate(images):
            index = len(rows)
            file = image_file(index, split, digits)
            data = _png_bytes(pixels)
            (out / file).write_bytes(data)
            rows.append(
                {
                    "index": index,
                    "file": file,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "url": url(split, number) if url else "",
                    "source": source,
                    "split": split,
                }
            )
    remove_empty_split_folders(out)
    write_index(out, rows)
    cache = PIXEL_CACHE if pixel_cache and rows else None
    if cache:
        np.save(out / cache, np.concatenate([a for a in arrays.values() if len(a)]))
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
        "pixel_cache": cache,
        "content_sha256": content_sha256(out, [row["file"] for row in rows], cache),
        **(extra or {}),
    }
    write_json(out / EXPORT_JSON, meta)
    return DatasetReport(out, counts["train"], counts["val"], tuple(int(v) for v in shape))


def load_fashion_mnist(
    source: Path = FASHION_MNIST_DIR, train_limit: int | None = None, val_limit: int | None = None
) -> dict[str, np.ndarray]:
    """Fashion-MNIST as (N, 28, 28, 1) uint8 arrays: train from train-*, val from t10k-*."""
    limits = {"train": train_limit, "val": val_limit}
    return {
        split: read_idx_images(find_idx(Path(source), stem), limits[split])[..., None]
        for split, stem in FASHION_MNIST_FILES.items()
    }


def load_fashion_mnist_labels(
    source: Path = FASHION_MNIST_DIR, train_limit: int | None = None, val_limit: int | None = None
) -> dict[str, np.ndarray]:
    """Fashion-MNIST's class labels (0-9, FASHION_MNIST_CLASSES) per split, as (N,) uint8."""
    limits = {"train": train_limit, "val": val_limit}
    return {
        split: read_idx_labels(find_idx(Path(source), stem), limits[split])
        for split, stem in FASHION_MNIST_LABELS.items()
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
