"""`curate export NAME`: accepted images to datasets/NAME/ (PNGs, manifest, card, credits)."""

from __future__ import annotations

import logging
import os
import re
import shutil
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
from curate.attribution import ATTRIBUTION_FILE, Exported, attribution_markdown
from curate.card import CARD_FILE, ExportFacts, dataset_card
from curate.licenses import FilterCounts, LicenseFilter, parse_license_filter
from curate.preprocess import PreprocessOptions, Preprocessor, Processed, preprocess_all
from synthset import __version__
from synthset.errors import SynthsetError
from synthset.export_format import (
    EXPORT_JSON,
    FORMAT_VERSION,
    PIXEL_CACHE,
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

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

Progress = Callable[[int, int], None]  # (images done, images in total)


class InvalidExportName(SynthsetError):
    """An export name that is not one plain folder name."""


class InvalidExportOption(SynthsetError, ValueError):
    """An export option (val fraction, workers) out of its range."""


class OutFolderUnusable(SynthsetError):
    """The --out folder cannot hold exports: a file, unwritable, or not creatable."""


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
    license: str | None = None  # --license: families to keep (curate.licenses); None keeps all

    @property
    def preprocess(self) -> PreprocessOptions:
        """The per-image part of the options."""
        return PreprocessOptions(self.size, self.color, self.interpolation, self.reduced_decode)

    @property
    def license_filter(self) -> LicenseFilter:
        """The parsed ``--license`` (raises InvalidLicenseFilter for a bad value)."""
        return parse_license_filter(self.license)

    @property
    def changes(self) -> str:
        """What preprocessing did to every image, in words (for the credits)."""
        colour = "converted to grayscale, " if self.color == "gray" else ""
        return (f"{colour}centre-cropped to a square and resized to "
                f"{self.size}x{self.size} pixels")


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    name: str
    path: Path
    total: int
    train: int
    val: int
    skipped: dict[str, str] = field(default_factory=dict)  # sha256 -> why it was left out
    left_out: dict[str, int] = field(default_factory=dict)  # licence rule -> images it left out
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
        table.add_column("left out by --license", justify="right")
        table.add_column("images/s", justify="right")
        table.add_row(
            str(self.total), str(self.train), str(self.val), str(len(self.skipped)),
            str(sum(self.left_out.values())), f"{self.images_per_second:.0f}",
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
    give byte-identical files (export.json aside, whose ``created_at`` and ``run_id`` differ).

    :raises InvalidExportName: when ``name`` is not a plain folder name.
    :raises InvalidExportOption: for a val fraction outside [0, 1] or workers < 1.
    :raises InvalidLicenseFilter: for a ``license`` value that names no licence family.
    :raises InvalidPreprocessOption: for an unknown colour mode, interpolation or bad size.
    :raises ExportExists: when the target exists and ``options.overwrite`` is false, or
        when it exists and is not an export (never replaced, whatever the options).
    :raises EmptyExport: when no image qualifies or none could be decoded.
    :raises OutFolderUnusable: when ``options.out`` is a file or no folder can be made in it.
    """
    started = time.perf_counter()
    target = _target(options.out, name)
    Preprocessor(options.preprocess)  # validates before any work
    license_filter = options.license_filter
    if not 0.0 <= options.val_fraction <= 1.0:
        raise InvalidExportOption(f"val fraction {options.val_fraction} is not within 0..1")
    if options.workers is not None and options.workers < 1:
        raise InvalidExportOption(f"workers must be at least 1, not {options.workers}")
    refuse_replacing(target, options.overwrite)
    candidates = exportable_images(catalog, options.include_unreviewed)
    if not candidates:
        raise EmptyExport(_empty_message(catalog, options))
    rows, left_out = _apply_license_filter(candidates, license_filter)
    if not rows:
        raise EmptyExport(
            f"none of the {len(candidates)} images to export in {catalog.path} has a licence "
            f"that --license {options.license} keeps; widen the filter"
        )
    temp = _make_temp_folder(options.out, target)
    run_id = None
    try:
        run_id = start_run(catalog, "export", {"name": name, **asdict(options)})
        written = _write_files(catalog, rows, options, temp, progress)
        if not written.images:
            raise EmptyExport(
                f"none of the {len(rows)} images to export in {catalog.path} could be decoded; "
                "run curate check"
            )
        facts = ExportFacts(name, options, written.images, len(candidates), license_filter,
                            left_out, len(written.skipped))
        (temp / ATTRIBUTION_FILE).write_text(
            attribution_markdown(written.images, options.changes), encoding="utf-8")
        (temp / CARD_FILE).write_text(dataset_card(catalog, facts), encoding="utf-8")
        counts = written.counts()
        write_json(temp / EXPORT_JSON, _metadata(catalog, facts, written, run_id))
        move_into_place(temp, target, options.overwrite)
    except BaseException as error:
        shutil.rmtree(temp, ignore_errors=True)
        if run_id is not None:
            finish_run(catalog, run_id, {"error": f"{type(error).__name__}: {error}"})
        raise
    finish_run(catalog, run_id, {**counts, "left_out": left_out.as_dict()["by_rule"],
                                 "path": str(target)})
    log.info("exported %(total)d images to %(path)s", {"total": counts["total"], "path": target})
    return ExportReport(
        name=name, path=target, total=counts["total"], train=counts["train"], val=counts["val"],
        skipped=written.skipped, left_out=left_out.as_dict()["by_rule"],
        seconds=time.perf_counter() - started, run_id=run_id,
    )


def _apply_license_filter(
    rows: list[ExportRow], license_filter: LicenseFilter
) -> tuple[list[ExportRow], FilterCounts]:
    """The rows ``license_filter`` keeps, and what each of its rules left out."""
    kept, left_out = [], FilterCounts()
    for row in rows:
        rule = license_filter.rule_against(row.license)
        if rule is None:
            kept.append(row)
        else:
            left_out.add(rule, row.license)
    return kept, left_out


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


def _make_temp_folder(out: Path, target: Path) -> Path:
    """A new temporary folder for ``target`` in ``out`` (made if missing); stale ones swept.

    :raises OutFolderUnusable: when ``out`` is a file, or cannot be created or written.
    """
    if out.exists() and not out.is_dir():
        raise OutFolderUnusable(f"--out {out} is a file, not a folder; pass a folder as --out")
    try:
        return make_staging_folder(target)
    except OSError as error:
        raise OutFolderUnusable(
            f"--out {out}: cannot write an export there ({error.strerror or error}); "
            "pass a writable folder as --out"
        ) from None


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
    images: list[Exported] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    pixels: list[np.ndarray] = field(default_factory=list)

    def add(self, row: ExportRow, result: Processed, split: str) -> None:
        """Write one preprocessed image as the next PNG, or note why it was skipped."""
        if isinstance(result, str):
            self.skipped[row.sha256] = result
            log.warning("skipped %(sha256)s: %(reason)s", {"sha256": row.sha256, "reason": result})
            return
        pixels, png = result
        file = image_file(len(self.images), split, self.digits)
        (self.folder / file).write_bytes(png)
        self.pixels.append(pixels)
        self.images.append(Exported(file, split, row))

    def manifest(self) -> list[dict[str, Any]]:
        """One manifest row per written image (datasets/README.md), unknown values empty."""
        return [
            {"index": index, "file": image.file, "sha256": image.row.sha256,
             "url": image.row.url, "wnid": image.row.wnid, "source": image.row.source,
             "split": image.split, "license": image.row.license,
             "license_url": image.row.license_url, "creator": image.row.creator,
             "landing_url": image.row.landing_url, "attribution": image.row.attribution,
             "credit": image.row.credit,
             "attribution_required": _flag(image.row.attribution_required),
             "usage_terms": image.row.usage_terms, "restrictions": image.row.restrictions,
             "upstream_source": image.row.upstream_source, "provider": image.row.provider,
             "mature": _flag(image.row.mature)}
            for index, image in enumerate(self.images)
        ]

    def counts(self) -> dict[str, int]:
        """Totals per split, and how many images were skipped."""
        val = sum(1 for image in self.images if image.split == "val")
        total = len(self.images)
        return {"total": total, "train": total - val, "val": val, "skipped": len(self.skipped)}


def _flag(value: bool | None) -> str | None:
    """A yes/no fact for the manifest: ``true``, ``false``, or None (empty: not said)."""
    return None if value is None else str(value).lower()


def _write_files(
    catalog: Catalog, rows: list[ExportRow], options: ExportOptions, folder: Path,
    progress: Progress | None,
) -> _Written:
    """Preprocess every row in parallel; write the PNGs, manifest, metadata and pixel cache."""
    make_image_folders(folder)
    written = _Written(folder, digits=image_digits(len(rows)))
    paths = [str(catalog.store.absolute(row.path)) for row in rows]
    workers = options.workers or available_cores()
    with preprocess_all(paths, options.preprocess, workers) as results:
        for done, (row, result) in enumerate(zip(rows, results, strict=True), start=1):
            written.add(row, result, split_of(row.sha256, options.val_fraction))
            if progress:
                progress(done, len(rows))
    remove_empty_split_folders(folder)
    write_index(folder, written.manifest())
    if options.pixel_cache and written.pixels:
        np.save(folder / PIXEL_CACHE, np.stack(written.pixels), allow_pickle=False)
    return written


def _metadata(
    catalog: Catalog, facts: ExportFacts, written: _Written, run_id: int
) -> dict[str, Any]:
    """The content of export.json (see datasets/README.md)."""
    options = facts.options
    pixel_cache = PIXEL_CACHE if options.pixel_cache else None
    return {
        "format_version": FORMAT_VERSION,
        "name": facts.name,
        "size": [options.size, options.size],
        "color": options.color,
        "channels": 3 if options.color == "rgb" else 1,
        "interpolation": options.interpolation,
        "reduced_decode": options.reduced_decode,
        "include_unreviewed": options.include_unreviewed,
        "val_fraction": options.val_fraction,
        "license_filter": facts.license_filter.describe(),
        "left_out": facts.left_out.as_dict(),
        "counts": written.counts(),
        "skipped": [{"sha256": k, "reason": v} for k, v in sorted(written.skipped.items())],
        "pixel_cache": pixel_cache,
        "content_sha256": content_sha256(
            written.folder, [image.file for image in written.images], pixel_cache),
        "catalog": str(catalog.path.resolve()),
        "run_id": run_id,
        "created_at": utc_now(),
        "synthset_version": __version__,
        "opencv_version": cv2.__version__,
    }
