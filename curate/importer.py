"""`curate import DIR`: hand-gathered local image files into the catalog (source ``local``).

Each file is recorded as a fetch of its ``file://`` URI (the absolute, resolved path), so
importing the same file again updates one row, and files with the same name in different
folders stay apart. Files are chosen by extension only; ``curate check`` judges the bytes.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from catalog.db import Catalog
from catalog.harvest import FetchResult, record_fetches
from catalog.runs import finish_run, start_run
from synthset.errors import SynthsetError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
)
SOURCE = "local"


class ImportDirNotFound(SynthsetError):
    """The folder given to ``curate import`` does not exist or is not a folder."""


@dataclass(frozen=True)
class ImportOptions:
    """What ``curate import`` records."""

    wnid: str | None = None  # the synset the images show, when known
    batch_size: int = 200  # files stored and recorded per transaction


@dataclass
class ImportReport:
    """What one import did."""

    run_id: int
    found: int = 0  # files with an image extension
    imported: int = 0  # recorded (new or again)
    new_images: int = 0  # distinct contents the store had not seen
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def find_image_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` (recursively, sorted) whose extension names an image format."""
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_EXTENSIONS and not path.is_dir():
            yield path


def file_uri(path: Path) -> str:
    """The ``file://`` URI a local file is recorded under."""
    return path.resolve().as_uri()


def _read(path: Path, options: ImportOptions) -> FetchResult:
    """The fetch facts of one local file (raises OSError when it cannot be read)."""
    body = path.read_bytes()
    content_type = mimetypes.guess_type(path.name)[0]
    return FetchResult(
        url=file_uri(path), source=SOURCE, wnid=options.wnid,
        content_type=content_type, body=body,
    )  # fmt: skip


def import_images(
    catalog: Catalog,
    root: Path,
    options: ImportOptions,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportReport:
    """Store every image file under ``root`` and record it; unreadable files are skipped.

    :raises ImportDirNotFound: when ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImportDirNotFound(f"no folder {root}; give a folder of image files")
    files = list(find_image_files(root))
    report = ImportReport(run_id=start_run(catalog, "import", {"dir": str(root.resolve()),
                                                               "wnid": options.wnid}))  # fmt: skip
    report.found = len(files)
    batch: list[FetchResult] = []
    for done, path in enumerate(files, start=1):
        try:
            batch.append(_read(path, options))
        except OSError as error:
            reason = error.strerror or str(error)
            log.warning("skipping %(path)s: %(reason)s", {"path": path, "reason": reason})
            report.skipped.append((str(path), reason))
        if len(batch) >= options.batch_size or done == len(files):
            report.new_images += record_fetches(catalog, batch)
            report.imported += len(batch)
            batch = []
        if progress:
            progress("import", done, len(files))
    finish_run(catalog, report.run_id, {"found": report.found, "imported": report.imported,
                                        "new_images": report.new_images,
                                        "skipped": len(report.skipped)})  # fmt: skip
    return report
