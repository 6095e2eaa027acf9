"""The export format both writers share: layout, manifest, metadata, staging, content hash.

`curate export` (curate/export.py) and `model datasets` (model/datasets.py) write exports with
these names and rules, and `model` reads them (model/data.py); datasets/README.md documents
them. Nothing here knows the catalog.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from synthset.errors import SynthsetError

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: split folders, metadata.jsonl, licence columns; 1: flat images/
READABLE_VERSIONS = (1, 2)
MANIFEST_FIELDS = (
    "index", "file", "sha256", "url", "wnid", "source", "split",
    "license", "license_url", "creator", "landing_url", "attribution",
    # what the source says beyond licence and creator (docs/sources.md); new columns go last
    "credit", "attribution_required", "usage_terms", "restrictions",
    "upstream_source", "provider", "mature",
)
METADATA_FIELDS = tuple(c for c in MANIFEST_FIELDS if c not in ("file", "split"))
REQUIRED_COLUMNS = ("index", "file", "split")
SPLITS = ("train", "val")  # the manifest's split values
SPLIT_FOLDERS = {"train": "train", "val": "validation"}  # folder = Hugging Face split name
IMAGES = "images"
MANIFEST = "manifest.csv"
METADATA = "metadata.jsonl"  # Hugging Face imagefolder metadata, one per split folder
PIXEL_CACHE = "pixels.npy"
EXPORT_JSON = "export.json"
MAX_EXPORT_JSON_BYTES = 1024 * 1024  # a bigger export.json is not taken for an export's
STALE_TEMP_SECONDS = 3600  # a temporary export folder this old belongs to a killed process


class ExportExists(SynthsetError):
    """The target folder exists: an export without --overwrite, or something else entirely."""


class ExportNotReplaced(SynthsetError):
    """The finished export could not be renamed into place; the previous export is kept."""


# --- layout -----------------------------------------------------------------------------------


def image_digits(count: int) -> int:
    """Digits of the PNG numbers for ``count`` images: five, more only past 99,999."""
    return max(5, len(str(max(count, 1) - 1)))


def image_file(index: int, split: str, digits: int = 5) -> str:
    """The export-relative path of image ``index`` in ``split`` (``train`` or ``val``)."""
    return f"{IMAGES}/{SPLIT_FOLDERS[split]}/{index:0{digits}d}.png"


def manifest_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """manifest.csv: a header line, then one row per image, ``\\n`` line ends, UTF-8.

    Columns missing from a row are written empty (unknown).
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n",
                            restval="", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def metadata_bytes(rows: Iterable[Mapping[str, Any]]) -> dict[str, bytes]:
    """Per split present, its metadata.jsonl: the manifest rows with ``file_name`` relative to
    the split folder (what Hugging Face's imagefolder pairs with each image) instead of
    ``file``, and without ``split`` (the folder is the split).

    Every value but ``index`` is a string (empty when unknown), so every split's file has the
    same column types, which ``datasets`` requires.
    """
    lines: dict[str, list[str]] = {}
    for row in rows:
        record: dict[str, Any] = {"file_name": Path(str(row["file"])).name}
        for column in METADATA_FIELDS:
            value = row.get(column)
            record[column] = int(value) if column == "index" else str(value or "")
        lines.setdefault(str(row["split"]), []).append(json.dumps(record) + "\n")
    return {split: "".join(text).encode("utf-8") for split, text in lines.items()}


def write_index(folder: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write manifest.csv and each split folder's metadata.jsonl into ``folder``."""
    (folder / MANIFEST).write_bytes(manifest_bytes(rows))
    for split, content in metadata_bytes(rows).items():
        (folder / IMAGES / SPLIT_FOLDERS[split] / METADATA).write_bytes(content)


def make_image_folders(folder: Path) -> None:
    """Create images/train/ and images/validation/ in ``folder``."""
    for name in SPLIT_FOLDERS.values():
        (folder / IMAGES / name).mkdir(parents=True)


def remove_empty_split_folders(folder: Path) -> None:
    """Drop a split folder no image went to, so loaders see only the splits that exist."""
    for name in SPLIT_FOLDERS.values():
        split_folder = folder / IMAGES / name
        if split_folder.is_dir() and not any(split_folder.iterdir()):
            split_folder.rmdir()


def write_json(path: Path, content: Mapping[str, Any]) -> None:
    """Pretty, key-sorted JSON with a final newline."""
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --- the content hash -------------------------------------------------------------------------


def content_sha256(folder: Path, files: Iterable[str], pixel_cache: str | None = None) -> str:
    """The sha256 of the ``sha256sum``-style listing (``<hex>  <path>\\n``) of manifest.csv,
    then every image in ``files`` (manifest order), then the pixel cache when present.

    Any changed pixel, size, colour mode or manifest value changes it; it does not depend on
    when or where the export was written.
    """
    names = [MANIFEST, *files]
    if pixel_cache and (folder / pixel_cache).is_file():
        names.append(pixel_cache)
    listing = hashlib.sha256()
    for name in names:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        listing.update(f"{digest}  {name}\n".encode())
    return listing.hexdigest()


# --- recognising an export, staging, replacing ------------------------------------------------


def is_export(folder: Path) -> bool:
    """Whether ``folder`` is a real folder holding an export.json with a format_version."""
    meta = folder / EXPORT_JSON
    if folder.is_symlink() or not folder.is_dir() or not meta.is_file():
        return False
    if meta.stat().st_size > MAX_EXPORT_JSON_BYTES:
        return False
    try:
        content = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(content, dict) and "format_version" in content


def refuse_replacing(target: Path, overwrite: bool) -> None:
    """Allow writing ``target`` only if missing, an empty folder, or (with overwrite) an export.

    :raises ExportExists: otherwise, naming what is there and what to do.
    """
    if not target.exists() and not target.is_symlink():
        return
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        return
    if not is_export(target):
        raise ExportExists(
            f"{target} exists and is not an export (no export.json with a format_version); "
            "--overwrite replaces only exports: move it away or write elsewhere"
        )
    if not overwrite:
        raise ExportExists(f"{target} exists; pass --overwrite to replace it")


def make_staging_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` to write the export into (parents made if
    missing); leftovers of killed writers of the same name are swept first.

    Made with the umask's permissions (not mkdtemp's 0700). Raises OSError when ``target``'s
    parent cannot hold it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    staging.mkdir()
    return staging


def sweep_leftovers(target: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete hidden folders of ``target`` left by killed writers; return how many."""
    cutoff = time.time() - older_than
    removed = 0
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
                removed += 1
    return removed


def move_into_place(staging: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished ``staging`` folder to ``target`` (replacing an old export if allowed).

    The old export is moved aside first and put back if the final rename fails, so the
    user never ends up without it.

    :raises ExportExists: when ``target`` appeared meanwhile and ``overwrite`` is false
        (an empty folder is replaced either way).
    :raises ExportNotReplaced: when the final rename fails (the old export stays, or is
        kept beside it under a name the message gives).
    """
    if not target.exists():
        try:
            os.rename(staging, target)
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            raise ExportExists(f"{target} exists (another export made it); pass --overwrite") \
                from None
        return
    if not overwrite and any(target.iterdir()):  # another export finished meanwhile
        raise ExportExists(f"{target} exists; pass --overwrite to replace it")
    aside = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    aside.mkdir()
    old = aside / target.name
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError as error:
        kept = _put_back(old, target)
        aside.rmdir()
        where = "is unchanged" if kept == target else f"was moved to {kept}"
        raise ExportNotReplaced(
            f"{target}: the new export could not be moved into place "
            f"({error.strerror or error}); the previous export {where}"
        ) from None
    shutil.rmtree(aside, ignore_errors=True)


def _put_back(old: Path, target: Path) -> Path:
    """Move the old export ``old`` back to ``target``; if something took its place, beside it.

    Returns where the old export is now (never a name the leftover sweep deletes).
    """
    try:
        os.rename(old, target)
        return target
    except OSError:
        kept = target.with_name(f"{target.name}.previous-{time.strftime('%Y%m%dT%H%M%S')}")
        os.rename(old, kept)
        log.error("%(target)s was taken meanwhile; the previous export is at %(kept)s",
                  {"target": target, "kept": kept})
        return kept
