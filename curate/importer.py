"""`curate import DIR`: hand-gathered local image files into the catalog (source ``local``).

Each file is recorded as a fetch of its ``file://`` URI (the absolute, resolved path), so
importing the same file again updates one row, and files with the same name in different
folders stay apart. Files are chosen by extension only; ``curate check`` judges the bytes.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import stat
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
    batch_size: int = 200  # files stored and recorded per transaction (at most)
    batch_bytes: int = 256 * 1024 * 1024  # a batch is recorded once its bodies hold this much
    max_bytes: int = 64 * 1024 * 1024  # a larger file is skipped, with this reason


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


class _Skipped(Exception):
    """A file that is not imported; the message is the reason reported for it."""


def _read_body(path: Path, root: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, a regular file inside ``root`` of at most ``max_bytes``.

    :raises _Skipped: for a link leading outside ``root``, a FIFO, device or other
        non-regular file (opened without blocking, never read), or a file too large.
    :raises OSError: when the file cannot be read.
    """
    if not path.resolve().is_relative_to(root):
        raise _Skipped(f"a link to {path.resolve()}, outside the imported folder")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Skipped("not a regular file")
        body = handle.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise _Skipped(f"larger than the {max_bytes:,}-byte limit (--max-mb)")
    return body


def _read(path: Path, root: Path, options: ImportOptions) -> FetchResult:
    """The fetch facts of one local file (raises _Skipped or OSError when not imported)."""
    body = _read_body(path, root, options.max_bytes)
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
    """Store every image file under ``root`` and record it.

    Skipped with a reason: unreadable files, links to files outside ``root``, FIFOs and
    other non-regular files, and files over ``options.max_bytes``.

    :raises ImportDirNotFound: when ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise ImportDirNotFound(f"no folder {root}; give a folder of image files")
    files = list(find_image_files(root))
    report = ImportReport(run_id=start_run(catalog, "import", {"dir": str(root.resolve()),
                                                               "wnid": options.wnid}))  # fmt: skip
    report.found = len(files)
    real_root = root.resolve()
    batch: list[FetchResult] = []
    batch_bytes = 0
    for done, path in enumerate(files, start=1):
        try:
            batch.append(_read(path, real_root, options))
            batch_bytes += len(batch[-1].body or b"")
        except (_Skipped, OSError) as error:
            reason = str(error) if isinstance(error, _Skipped) else error.strerror or str(error)
            log.warning("skipping %(path)s: %(reason)s", {"path": path, "reason": reason})
            report.skipped.append((str(path), reason))
        full = len(batch) >= options.batch_size or batch_bytes >= options.batch_bytes
        if full or done == len(files):
            report.new_images += record_fetches(catalog, batch)
            report.imported += len(batch)
            batch, batch_bytes = [], 0
        if progress:
            progress("import", done, len(files))
    finish_run(catalog, report.run_id, {"found": report.found, "imported": report.imported,
                                        "new_images": report.new_images,
                                        "skipped": len(report.skipped)})  # fmt: skip
    return report
