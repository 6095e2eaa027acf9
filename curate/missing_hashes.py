"""Hashes missing from older catalogs: computed for ``curate dedup`` on all cores, and stored.

An image checked before a hash column existed (the centre pHashes came with catalog
schema 7) has it NULL, and one hashed by another method (``curate.hashing.HASH_VERSION``)
comes out of ``dedup_candidates`` without its perceptual hashes; dedup decodes such
files once, fills the hashes in (unless it is a dry run) and goes on with every
candidate complete and of one method.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from catalog.db import Catalog
from catalog.duplicates import DedupCandidate, StoredHashes, record_hashes
from catalog.errors import UnsafePath
from curate.decode import DecodedImage, decode_image
from curate.hashing import (
    CENTRE_MARGINS,
    HASH_VERSION,
    hash_pixels,
    hashing_worker,
    one_blas_thread,
)

logger = logging.getLogger(__name__)

HASH_CHUNK = 16  # images per task when hashing in worker processes

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class FilledHashes:
    """Candidates with every hash present, and how many needed hashing."""

    candidates: list[DedupCandidate]
    hashed: int  # images whose missing hashes were computed
    unhashable: int  # images left out: hashes missing and the file does not decode


def _hash_file(job: tuple[str, str]) -> StoredHashes | None:
    """The content hashes of one stored file, or None when it no longer decodes."""
    sha256, path = job
    try:
        decoded = decode_image(Path(path).read_bytes())
    except OSError:
        return None
    if not isinstance(decoded, DecodedImage):
        return None
    hashes = hash_pixels(decoded.pixels)
    return StoredHashes(sha256, hashes.pixel_sha256, hashes.phash, hashes.dhash, hashes.whash,
                        hashes.centre5_phash, hashes.centre10_phash)


def _hash_files(
    jobs: list[tuple[str, str]], workers: int, progress: Progress | None
) -> list[StoredHashes | None]:
    """:func:`_hash_file` of every job, on ``workers`` processes (this one when 1), in order."""
    results: list[StoredHashes | None] = []
    with ExitStack() as stack:
        stack.enter_context(one_blas_thread())  # this process, when it hashes itself
        hashed = map(_hash_file, jobs)
        if workers > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["curate.missing_hashes"])
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=context, initializer=hashing_worker)
            )
            hashed = pool.map(_hash_file, jobs, chunksize=HASH_CHUNK)
        for result in hashed:
            results.append(result)
            if progress:
                progress("hash", len(results), len(jobs))
    return results


def fill_missing_hashes(
    catalog: Catalog, candidates: list[DedupCandidate], workers: int, dry_run: bool,
    progress: Progress | None = None,
) -> FilledHashes:
    """Candidates with every hash present: missing ones computed on up to ``workers``
    processes (and stored unless ``dry_run``); images whose hashes cannot be computed
    are dropped and counted."""
    missing = [c for c in candidates if not c.has_hashes()]
    if not missing:
        return FilledHashes(candidates, 0, 0)
    jobs = []
    for candidate in missing:
        try:
            jobs.append((candidate.sha256, str(catalog.store.absolute(candidate.path))))
        except UnsafePath:
            logger.warning("dedup: refusing store path %s", candidate.path)
    workers = min(workers, max(1, len(jobs) // HASH_CHUNK))
    results = _hash_files(jobs, workers, progress)
    computed = {r.sha256: r for r in results if r is not None}
    if computed and not dry_run:
        record_hashes(catalog, computed.values(), HASH_VERSION)
    filled = []
    for candidate in candidates:
        if candidate.has_hashes():
            filled.append(candidate)
        elif candidate.sha256 in computed:
            h = computed[candidate.sha256]
            filled.append(replace(
                candidate,
                pixel_sha256=candidate.pixel_sha256 or h.pixel_sha256,
                phash=h.phash if candidate.phash is None else candidate.phash,
                dhash=h.dhash if candidate.dhash is None else candidate.dhash,
                whash=h.whash if candidate.whash is None else candidate.whash,
                **{name: getattr(h, name) if getattr(candidate, name) is None
                   else getattr(candidate, name) for name in CENTRE_MARGINS},
            ))
    return FilledHashes(filled, len(computed), len(missing) - len(computed))
