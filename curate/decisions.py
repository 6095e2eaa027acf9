"""Screening decisions as CSV (``sha256,decision,note``): export those in force, import in bulk."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.db import Catalog
from catalog.reviews import (
    DECISIONS,
    Decision,
    decisions_in_force,
    known_images,
    record_changed_decisions,
)
from catalog.store import write_atomically
from synthset.errors import SynthsetError

log = logging.getLogger(__name__)

COLUMNS = ("sha256", "decision", "note")
MAX_LISTED = 10  # problems named in one error message
MAX_FILE_BYTES = 256 * 1024 * 1024  # a decisions file larger than this is refused unread
# A cell starting with one of these is a formula to a spreadsheet (CSV injection); exported
# notes that start so get a leading apostrophe, which imports take off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


class DecisionsFileInvalid(SynthsetError):
    """The CSV file is not shaped as ``sha256,decision,note``."""


class DecisionsRejected(SynthsetError):
    """Some rows name unknown images or bad decisions; nothing was imported."""


@dataclass(frozen=True)
class ExportReport:
    """What ``curate decisions export`` wrote."""

    path: Path
    rows: int


@dataclass(frozen=True)
class ImportReport:
    """What ``curate decisions import`` did."""

    path: Path
    rows: int  # decisions read from the file
    recorded: int  # rows appended to ``reviews`` (the others were already in force)

    @property
    def unchanged(self) -> int:
        """Rows whose decision and note were already in force."""
        return self.rows - self.recorded


def export_decisions(catalog: Catalog, path: Path) -> ExportReport:
    """Write every decision in force to ``path`` as CSV (replacing the file whole)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    decisions = decisions_in_force(catalog)
    for d in decisions:
        writer.writerow((d.sha256, d.decision, neutralise_formula(d.note or "")))
    write_atomically(Path(path), buffer.getvalue().encode("utf-8"))
    log.info("exported %(rows)d decisions to %(path)s", {"rows": len(decisions), "path": path})
    return ExportReport(Path(path), len(decisions))


def neutralise_formula(cell: str) -> str:
    """``cell`` with an apostrophe in front when a spreadsheet would run it as a formula."""
    return FORMULA_GUARD + cell if cell.startswith(FORMULA_STARTS) else cell


def restore_formula(cell: str) -> str:
    """The inverse of :func:`neutralise_formula`: the note as it was recorded."""
    guarded = cell.startswith(FORMULA_GUARD) and cell[1:].startswith(FORMULA_STARTS)
    return cell[1:] if guarded else cell


def read_decisions(path: Path) -> list[tuple[int, Decision]]:
    """Parse ``path`` into (line number, decision) pairs, checking shape only.

    :raises DecisionsFileInvalid: no header, other columns, a row of another width, or a
        file too large to be a decisions file.
    """
    name = Path(path).name
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise DecisionsFileInvalid(
                f"{name} is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit of a "
                "decisions file; split it"
            )
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DecisionsFileInvalid(f"cannot read {name}: {error}") from error
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    columns = tuple(c.strip().lower() for c in header or ())
    if columns not in (COLUMNS, COLUMNS[:2]):
        raise DecisionsFileInvalid(
            f"{name} line 1: header is {','.join(header or ()) or 'missing'}; "
            f"the first line must be {','.join(COLUMNS)}"
        )
    try:
        return _decision_rows(reader, columns, name)
    except csv.Error as error:  # e.g. a cell over csv.field_size_limit()
        raise DecisionsFileInvalid(f"{name} line {reader.line_num}: {error}") from error


def _decision_rows(
    reader: Any, columns: tuple[str, ...], name: str
) -> list[tuple[int, Decision]]:
    """The rows after the header of a decisions CSV ``reader``, checking their width."""
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(columns):
            raise DecisionsFileInvalid(
                f"{name} line {reader.line_num}: {len(cells)} columns where the header has "
                f"{len(columns)} ({','.join(columns)}); quote notes that contain commas"
            )
        note = restore_formula(cells[2]).strip() if len(cells) > 2 else ""
        sha256, decision = cells[0].strip().lower(), cells[1].strip().lower()
        rows.append((reader.line_num, Decision(sha256, decision, note or None)))
    return rows


def import_decisions(catalog: Catalog, path: Path) -> ImportReport:
    """Record the decisions of a CSV file, all or nothing; rows already in force add nothing.

    :raises DecisionsFileInvalid: when the file is not shaped as ``sha256,decision,note``.
    :raises DecisionsRejected: when rows name unknown images, bad decisions or repeat an
        image; the message gives their line numbers and nothing is recorded.
    """
    rows = read_decisions(path)
    known = known_images(catalog, (d.sha256 for _, d in rows))
    problems, first_line = [], {}
    for line, d in rows:
        if d.sha256 not in known:
            problems.append(f"line {line}: unknown sha256 {d.sha256[:16] or '(empty)'}")
        if d.decision not in DECISIONS:
            problems.append(
                f"line {line}: bad decision {d.decision!r} (use {', '.join(DECISIONS)})"
            )
        if d.sha256 in first_line:
            problems.append(f"line {line}: {d.sha256[:16]} repeats line {first_line[d.sha256]}")
        first_line.setdefault(d.sha256, line)
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise DecisionsRejected(
            f"{Path(path).name}: nothing imported, fix these rows: {listed}{more}"
        )
    recorded = record_changed_decisions(catalog, (d for _, d in rows))
    log.info("imported %(path)s: %(rows)d rows, %(new)d recorded",
             {"path": path, "rows": len(rows), "new": recorded})
    return ImportReport(Path(path), len(rows), recorded)
