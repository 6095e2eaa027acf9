"""Read an export (datasets/NAME/: export.json, manifest.csv, images/) into float32 arrays."""

from __future__ import annotations

import csv
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from model.errors import EmptySplit, ExportMalformed, ExportNotFound
from synthset.export_format import READABLE_VERSIONS, REQUIRED_COLUMNS, SPLITS, content_sha256

log = logging.getLogger(__name__)

PIL_MODES = {1: "L", 3: "RGB"}


@dataclass(frozen=True)
class Export:
    """One loaded export: pixels in [0, 1] as (N, H, W, C) float32, per split."""

    path: Path
    name: str
    shape: tuple[int, int, int]
    train: np.ndarray
    val: np.ndarray
    files: tuple[str, ...]  # the manifest's image files, in its order
    meta: dict[str, Any]

    @cached_property
    def dataset_hash(self) -> str:
        """content_sha256 of the export's files (synthset.export_format), read when first asked.

        Only training records it, so loading for sampling or evaluation reads no file twice.
        """
        return content_sha256(self.path, self.files, _cache_name(self.meta))

    def require_val(self) -> np.ndarray:
        """The validation images; raises :class:`EmptySplit` if there are none."""
        if len(self.val) == 0:
            raise EmptySplit(
                f"{self.path} has no validation images (split=val); "
                "re-export with a validation fraction above 0"
            )
        return self.val

    def require_train(self) -> np.ndarray:
        """The training images; raises :class:`EmptySplit` if there are none."""
        if len(self.train) == 0:
            raise EmptySplit(f"{self.path} has no training images (split=train); re-export it")
        return self.train


def read_export_meta(path: Path) -> dict[str, Any]:
    """Read and check export.json; returns it as a dict."""
    if not path.is_dir():
        raise ExportNotFound(f"no export at {path}; create one with `curate export NAME`")
    meta_path = path / "export.json"
    if not meta_path.is_file():
        raise ExportNotFound(f"{meta_path} is missing; is {path} an export from `curate export`?")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ExportMalformed(f"{meta_path} is not valid JSON ({error}); re-export it") from error
    if not isinstance(meta, dict):
        raise ExportMalformed(f"{meta_path} must hold a JSON object; re-export it")
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ExportMalformed(
            f"{meta_path} has format_version {version!r}; this model reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}, re-export it"
        )
    size = meta.get("size")
    channels = meta.get("channels")
    if (
        not isinstance(size, list)
        or len(size) != 2
        or not all(isinstance(v, int) and v > 0 for v in size)
    ):
        raise ExportMalformed(f"{meta_path}: size must be [height, width], got {size!r}")
    if channels not in PIL_MODES:
        raise ExportMalformed(f"{meta_path}: channels must be 1 or 3, got {channels!r}")
    return meta


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Read and check manifest.csv; returns its rows."""
    manifest = path / "manifest.csv"
    if not manifest.is_file():
        raise ExportNotFound(f"{manifest} is missing; is {path} an export from `curate export`?")
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ExportMalformed(f"{manifest} lacks column(s) {', '.join(missing)}; re-export it")
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        if row["split"] not in SPLITS:
            raise ExportMalformed(
                f"{manifest} line {number}: split {row['split']!r} is not train or val"
            )
        file_in_export(path, row["file"] or "", f"{manifest} line {number}")
    if not rows:
        raise ExportMalformed(f"{manifest} lists no images; export at least one")
    return rows


def file_in_export(path: Path, name: str, where: str) -> Path:
    """``path / name`` for a relative ``name`` that stays inside the export folder ``path``.

    :raises ExportMalformed: for an absolute name, or one that leads out of ``path``
        (``..``, or a link to elsewhere); ``where`` says which file named it.
    """
    candidate = path / name
    if Path(name).is_absolute() or not candidate.resolve().is_relative_to(path.resolve()):
        raise ExportMalformed(f"{where}: {name!r} points outside the export {path}; re-export it")
    return candidate


def _read_image(file: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """Decode one PNG into a (H, W, C) uint8 array, checking its size and mode."""
    try:
        with Image.open(file) as image:
            if image.size != (shape[1], shape[0]):  # from the header, before any decoding
                raise ExportMalformed(
                    f"{file} is {image.size[0]}x{image.size[1]}, export.json says "
                    f"{shape[1]}x{shape[0]}; re-export it"
                )
            image.load()
            pixels = np.asarray(image.convert(PIL_MODES[shape[2]]), dtype=np.uint8)
    except FileNotFoundError as error:
        raise ExportMalformed(f"{file} is listed in manifest.csv but missing") from error
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
        raise ExportMalformed(f"{file} is not a readable image ({error}); re-export it") from error
    return pixels.reshape(shape)


def _read_images(path: Path, files: list[str], shape: tuple[int, int, int]) -> np.ndarray:
    """Decode ``files`` (relative to ``path``) into one (N, H, W, C) float32 array in [0, 1]."""
    out = np.empty((len(files), *shape), dtype=np.float32)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for i, pixels in enumerate(pool.map(lambda f: _read_image(path / f, shape), files)):
            out[i] = pixels
    out /= 255.0
    return out


def _cache_name(meta: dict[str, Any]) -> str | None:
    """The pixel cache export.json names, if it names one."""
    name = meta.get("pixel_cache")
    return name if isinstance(name, str) else None


def _read_pixel_cache(
    path: Path, meta: dict[str, Any], count: int, shape: tuple[int, int, int]
) -> np.ndarray | None:
    """The (N, H, W, C) uint8 array export.json's ``pixel_cache`` names, in manifest order, or
    None (then the PNGs are read) if there is none or it does not match the manifest."""
    name = _cache_name(meta)
    if name is None:
        return None
    cache = file_in_export(path, name, f"{path / 'export.json'} pixel_cache")
    if not cache.is_file():
        return None
    try:
        pixels = np.load(cache, allow_pickle=False)  # never unpickle what a download brought
    except (OSError, ValueError) as error:
        log.warning("ignoring %(file)s: %(error)s", {"file": cache, "error": error})
        return None
    if pixels.dtype != np.uint8 or pixels.shape != (count, *shape):
        log.warning(
            "ignoring %(file)s: %(dtype)s %(got)s, expected uint8 %(want)s",
            {
                "file": cache,
                "dtype": pixels.dtype,
                "got": pixels.shape,
                "want": (count, *shape),
            },
        )
        return None
    return pixels


def load_export(path: Path | str) -> Export:
    """Load the export at ``path``; raises ExportNotFound or ExportMalformed.

    Pixels come from the cache export.json names in ``pixel_cache`` (pixels.npy, N x H x W x C
    uint8 in manifest order) when it matches the manifest, else from the PNGs.
    """
    path = Path(path)
    meta = read_export_meta(path)
    rows = read_manifest(path)
    height, width = meta["size"]
    shape = (height, width, meta["channels"])
    for row in rows:
        if not (path / row["file"]).is_file():
            raise ExportMalformed(f"{path / row['file']} is listed in manifest.csv but missing")
    cached = _read_pixel_cache(path, meta, len(rows), shape)
    if cached is not None:
        splits = np.array([row["split"] for row in rows])
        arrays = {split: cached[splits == split].astype(np.float32) / 255.0 for split in SPLITS}
    else:
        by_split = {s: [row["file"] for row in rows if row["split"] == s] for s in SPLITS}
        arrays = {split: _read_images(path, files, shape) for split, files in by_split.items()}
    log.info(
        "loaded export %(path)s: %(train)d train, %(val)d val, shape %(shape)s",
        {"path": path, "train": len(arrays["train"]), "val": len(arrays["val"]), "shape": shape},
    )
    return Export(
        path=path,
        name=str(meta.get("name") or path.name),
        shape=shape,
        train=arrays["train"],
        val=arrays["val"],
        files=tuple(row["file"] for row in rows),
        meta=meta,
    )
