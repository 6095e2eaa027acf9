"""`curate export NAME`: accepted images to datasets/NAME/ (PNGs, manifest.csv, export.json)."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.table import Table

from catalog.db import Catalog, utc_now
from catalog.exports import ExportRow, exportable_images
from catalog.runs import finish_run, start_run
from curate.preprocess import PreprocessOptions, Preprocessor, Processed, preprocess_all
from synthset import __version__
from synthset.errors import SynthsetError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_FIELDS = ("index", "file", "sha256", "url", "wnid", "source", "split")
PIXEL_CACHE = "pixels.npy"
STALE_TEMP_SECONDS = 3600  # a temporary export folder this old belongs to a killed export
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

Progress = Callable[[int, int], None]  # (images done, images in total)


class InvalidExportName(SynthsetError):
    """An export name that is not one plain folder name."""


class InvalidExportOption(SynthsetError, ValueError):
    """An export option (val fraction, workers) out of its range."""


class ExportExists(SynthsetError):
    """The export folder already exists and --overwrite was not given."""


class OutFolderUnusable(SynthsetError):
    """The --out folder cannot hold exports: a file, unwritable, or not creatable."""


class ExportNotReplaced(SynthsetError):
    """The finished export could not be renamed into place; the previous export is kept."""


class EmptyExport(SynthsetError):
    """No image qualifies for the export (nothing accepted, or nothing decodable)."""


@dataclass(frozen=True)
class ExportOptions:
    """Every option of an export; the defaults reproduce the seed paper's dataset."""

    out: Path = Path("datasets")  # exports land in out/NAME/
    size: int = 100
    color: str = "gray"
    interpolation: str = "linear"
    reduced_decode: bool = False
    include_unreviewed: bool = False
    val_fraction: float = 0.1
    workers: int | None = None  # None: every core this process may use
    pixel_cache: bool = True  # also write pixels.npy (N x H x W x C uint8)
    overwrite: bool = False

    @property
    def preprocess(self) -> PreprocessOptions:
        """The per-image part of the options."""
        return PreprocessOptions(self.size, self.color, self.interpolation, self.reduced_decode)


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    name: str
    path: Path
    total: int
    train: int
    val: int
    skipped: dict[str, str] = field(default_factory=dict)  # sha256 -> why it was left out
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def images_per_second(self) -> float:
        """Throughput over the whole export (query, decode, write)."""
        return (self.total + len(self.skipped)) / self.seconds if self.seconds else 0.0

    def as_table(self) -> Table:
        """A rich table of the counts."""
        table = Table(title=f"export {self.name} -> {self.path}")
        table.add_column("images", justify="right")
        table.add_column("train", justify="right")
        table.add_column("val", justify="right")
        table.add_column("skipped", justify="right")
        table.add_column("images/s", justify="right")
        table.add_row(
            str(self.total), str(self.train), str(self.val), str(len(self.skipped)),
            f"{self.images_per_second:.0f}",
        )
        return table


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def split_of(sha256: str, val_fraction: float) -> str:
    """``val`` or ``train`` from the content hash alone: the same image always lands on one side."""
    return "val" if int(sha256[:8], 16) / 2**32 < val_fraction else "train"


def export_dataset(
    catalog: Catalog, name: str, options: ExportOptions, progress: Progress | None = None
) -> ExportReport:
    """Export the catalog's accepted images to ``options.out / name``.

    Written into a temporary folder beside the target and renamed into place at the end,
    so an interrupted export leaves no half-written dataset. The same catalog and options
    give byte-identical images/, manifest.csv and pixels.npy.

    :raises InvalidExportName: when ``name`` is not a plain folder name.
    :raises InvalidExportOption: for a val fraction outside [0, 1] or workers < 1.
    :raises InvalidPreprocessOption: for an unknown colour mode, interpolation or bad size.
    :raises ExportExists: when the target exists and ``options.overwrite`` is false, or
        when it exists and is not an export (never replaced, whatever the options).
    :raises EmptyExport: when no image qualifies or none could be decoded.
    :raises OutFolderUnusable: when ``options.out`` is a file or no folder can be made in it.
    """
    started = time.perf_counter()
    target = _target(options.out, name)
    Preprocessor(options.preprocess)  # validates before any work
    if not 0.0 <= options.val_fraction <= 1.0:
        raise InvalidExportOption(f"val fraction {options.val_fraction} is not within 0..1")
    if options.workers is not None and options.workers < 1:
        raise InvalidExportOption(f"workers must be at least 1, not {options.workers}")
    if target.exists() and not options.overwrite:
        raise ExportExists(f"{target} exists; pass --overwrite")
    _refuse_replacing_other_data(target)
    rows = exportable_images(catalog, options.include_unreviewed)
    if not rows:
        raise EmptyExport(_empty_message(catalog, options))
    temp = _make_temp_folder(options.out, name)
    run_id = None
    try:
        run_id = start_run(catalog, "export", {"name": name, **asdict(options)})
        written = _write_files(catalog, rows, options, temp, progress)
        if not written.manifest:
            raise EmptyExport(
                f"none of the {len(rows)} images to export in {catalog.path} could be decoded; "
                "run curate check"
            )
        counts = written.counts()
        _write_json(temp / "export.json", _metadata(catalog, name, options, written, run_id))
        _move_into_place(temp, target, options.overwrite)
    except BaseException as error:
        shutil.rmtree(temp, ignore_errors=True)
        if run_id is not None:
            finish_run(catalog, run_id, {"error": f"{type(error).__name__}: {error}"})
        raise
    finish_run(catalog, run_id, {**counts, "path": str(target)})
    log.info("exported %(total)d images to %(path)s", {"total": counts["total"], "path": target})
    return ExportReport(
        name=name, path=target, total=counts["total"], train=counts["train"], val=counts["val"],
        skipped=written.skipped, seconds=time.perf_counter() - started, run_id=run_id,
    )


def _target(out: Path, name: str) -> Path:
    """``out / name``, refusing a name that is not one plain folder name inside ``out``."""
    if not _NAME.match(name) or ".." in name:
        raise InvalidExportName(
            f"export name {name!r} is not allowed; use letters, digits, '.', '_' and '-' "
            "(no path separators, no '..', at most 100 characters)"
        )
    target = out / name
    if target.resolve().parent != out.resolve():  # e.g. NAME is a symlink to elsewhere
        raise InvalidExportName(
            f"export name {name!r} would write outside {out}; no path separators, no '..', "
            "no symlinks"
        )
    return target


def _refuse_replacing_other_data(target: Path) -> None:
    """Refuse to let ``--overwrite`` replace anything but an earlier export (or an empty folder).

    :raises ExportExists: when ``target`` is a file, or a non-empty folder without export.json
        (a data directory, an image store, a user's own folder).
    """
    if not target.exists() and not target.is_symlink():
        return
    if target.is_dir() and ((target / "export.json").is_file() or not any(target.iterdir())):
        return
    raise ExportExists(
        f"{target} exists and is not an export (no export.json); --overwrite replaces only "
        "exports: move it away or choose another NAME"
    )


def _make_temp_folder(out: Path, name: str) -> Path:
    """A new temporary folder for export ``name`` in ``out`` (made if missing); stale ones swept.

    :raises OutFolderUnusable: when ``out`` is a file, or cannot be created or written.
    """
    if out.exists() and not out.is_dir():
        raise OutFolderUnusable(f"--out {out} is a file, not a folder; pass a folder as --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        _sweep_leftovers(out, name)
        return Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out))
    except OSError as error:
        raise OutFolderUnusable(
            f"--out {out}: cannot write an export there ({error.strerror or error}); "
            "pass a writable folder as --out"
        ) from None


def _sweep_leftovers(out: Path, name: str, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete temporary folders of ``name`` left by killed exports; return how many."""
    cutoff = time.time() - older_than
    removed = 0
    for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
        for leftover in out.glob(pattern):
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
                removed += 1
    return removed


def _empty_message(catalog: Catalog, options: ExportOptions) -> str:
    """Why nothing qualifies, and what to do about it."""
    if options.include_unreviewed:
        return (
            f"no ok, non-duplicate, non-rejected images in {catalog.path}; "
            "run curate check (and curate dedup) first"
        )
    return (
        f"no accepted images in {catalog.path}; review some (curate review) "
        "or pass --include-unreviewed"
    )


@dataclass
class _Written:
    """What the file-writing pass produced (in the temporary folder)."""

    folder: Path
    digits: int  # of the PNG numbers
    manifest: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    pixels: list[np.ndarray] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # sha256sum lines of the written files

    def add(self, row: ExportRow, result: Processed, split: str) -> None:
        """Write one preprocessed image as the next PNG, or note why it was skipped."""
        if isinstance(result, str):
            self.skipped[row.sha256] = result
            log.warning("skipped %(sha256)s: %(reason)s", {"sha256": row.sha256, "reason": result})
            return
        pixels, png = result
        index = len(self.manifest)
        file = f"images/{index:0{self.digits}d}.png"
        (self.folder / file).write_bytes(png)
        self.digests.append(f"{hashlib.sha256(png).hexdigest()}  {file}\n")
        self.pixels.append(pixels)
        self.manifest.append(
            {"index": index, "file": file, "sha256": row.sha256, "url": row.url or "",
             "wnid": row.wnid or "", "source": row.source or "", "split": split}
        )

    def counts(self) -> dict[str, int]:
        """Totals per split, and how many images were skipped."""
        val = sum(1 for row in self.manifest if row["split"] == "val")
        total = len(self.manifest)
        return {"total": total, "train": total - val, "val": val, "skipped": len(self.skipped)}


def _write_files(
    catalog: Catalog, rows: list[ExportRow], options: ExportOptions, folder: Path,
    progress: Progress | None,
) -> _Written:
    """Preprocess every row in parallel and write images/, manifest.csv and pixels.npy."""
    (folder / "images").mkdir()
    written = _Written(folder, digits=max(5, len(str(len(rows) - 1))))
    paths = [str(catalog.store.absolute(row.path)) for row in rows]
    workers = options.workers or available_cores()
    with preprocess_all(paths, options.preprocess, workers) as results:
        for done, (row, result) in enumerate(zip(rows, results, strict=True), start=1):
            written.add(row, result, split_of(row.sha256, options.val_fraction))
            if progress:
                progress(done, len(rows))
    manifest_bytes = _manifest_bytes(written.manifest)
    (folder / "manifest.csv").write_bytes(manifest_bytes)
    written.digests.insert(0, f"{hashlib.sha256(manifest_bytes).hexdigest()}  manifest.csv\n")
    if options.pixel_cache and written.pixels:
        np.save(folder / PIXEL_CACHE, np.stack(written.pixels), allow_pickle=False)
        cache_digest = hashlib.sha256((folder / PIXEL_CACHE).read_bytes()).hexdigest()
        written.digests.append(f"{cache_digest}  {PIXEL_CACHE}\n")
    return written


def _manifest_bytes(rows: list[dict[str, Any]]) -> bytes:
    """manifest.csv as bytes: a header line, then one row per image, '\\n' line ends."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


# --- metadata and the final rename ---


def _metadata(
    catalog: Catalog, name: str, options: ExportOptions, written: _Written, run_id: int
) -> dict[str, Any]:
    """The content of export.json (see datasets/README.md)."""
    channels = 3 if options.color == "rgb" else 1
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "size": [options.size, options.size],
        "color": options.color,
        "channels": channels,
        "interpolation": options.interpolation,
        "reduced_decode": options.reduced_decode,
        "include_unreviewed": options.include_unreviewed,
        "val_fraction": options.val_fraction,
        "counts": written.counts(),
        "skipped": [{"sha256": k, "reason": v} for k, v in sorted(written.skipped.items())],
        "pixel_cache": PIXEL_CACHE if options.pixel_cache else None,
        "content_sha256": hashlib.sha256("".join(written.digests).encode()).hexdigest(),
        "catalog": str(catalog.path.resolve()),
        "run_id": run_id,
        "created_at": utc_now(),
        "synthset_version": __version__,
        "opencv_version": cv2.__version__,
    }


def _write_json(path: Path, content: dict[str, Any]) -> None:
    """Pretty, key-sorted JSON with a final newline."""
    path.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _move_into_place(temp: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished temporary folder to ``target`` (replacing an old export if allowed).

    The old export is moved aside first and put back if the final rename fails, so the
    user never ends up without it.

    :raises ExportExists: when ``target`` appeared meanwhile and ``overwrite`` is false.
    :raises ExportNotReplaced: when the final rename fails (the old export stays, or is
        kept beside it under a name the message gives).
    """
    if not target.exists():
        try:
            os.rename(temp, target)
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            raise ExportExists(f"{target} exists (another export made it); pass --overwrite") \
                from None
        return
    if not overwrite:  # another export of the same name finished meanwhile
        raise ExportExists(f"{target} exists; pass --overwrite")
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old = aside / target.name
    os.rename(target, old)
    try:
        os.rename(temp, target)
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
