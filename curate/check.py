"""`curate check`: judge every fetched URL and stored image, in parallel, in batches.

Each image is decoded in full (every byte of every frame); JPEGs larger than the hashes
need are decoded by libjpeg at reduced DCT scale unless ``CheckOptions(draft=False)``
(curate.decode says what is still checked, curate.hashing.pixel_sha256 what that means
for "same pixels"). Workers are forked processes that judge small chunks of files,
largest first; this process only writes the judgments in batched transactions.
benchmarks/hashing.py measures it against a plain imagehash loop.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from itertools import chain
from posixpath import basename
from urllib.parse import urlsplit

from catalog.checks import (
    IMAGE_STATUSES,
    ImageCheck,
    ImageToCheck,
    UrlJudgment,
    clear_stale_dead,
    failed_urls,
    images_to_check,
    mark_placeholders,
    ok_image_hashes,
    record_image_checks,
    record_url_judgments,
    shared_contents,
)
from catalog.db import Catalog
from catalog.errors import UnsafePath
from catalog.runs import finish_run, start_run
from curate.decode import DEFAULT_MAX_PIXELS
from curate.hashing import HASH_VERSION, hashing_worker, one_blas_thread
from curate.judge import DEFAULT_MIN_SIDE, JudgeOptions, judge_files
from curate.placeholders import DEFAULT_RADIUS, known_placeholders, match_placeholder
from curate.recheck import RecheckOptions, recheck_candidates, recheck_failed

log = logging.getLogger(__name__)

STATUSES = ("ok", "dead", "empty", "corrupt", "not_image", "placeholder", "too_small")
DEFAULT_SHARED_URLS = 5
CHUNK = 8  # most images per task sent to a worker process (fewer when there are few)
MIN_PARALLEL = 8  # fewer images than this are judged in this process

# Crawl error tokens (docs/mirror.md) -> the words of a dead URL's reason.
ERROR_WORDS = {
    "refused": "connection refused",
    "timeout": "timed out",
    "dns": "host name did not resolve",
    "too_large": "body larger than the download limit",
    "bad_scheme": "not an http(s) URL",
    "connection_lost": "connection lost mid-transfer",
    "tls": "TLS handshake failed",
    "robots": "forbidden by robots.txt",
    "other": "network error",
}

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True)
class CheckOptions:
    """What ``curate check`` judges and how."""

    everything: bool = False  # re-judge images already checked (--all)
    min_side: int = DEFAULT_MIN_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    draft: bool = True  # large JPEGs decoded at reduced DCT scale (see JudgeOptions)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    batch_size: int = 256  # judgments per committed transaction
    placeholder_radius: int = DEFAULT_RADIUS  # pHash bits from a known placeholder
    shared_urls: int = (
        DEFAULT_SHARED_URLS  # one picture under this many differently named URLs; 0: off
    )
    recheck: bool = False
    recheck_options: RecheckOptions = field(default_factory=RecheckOptions)
    limit: int | None = None  # judge at most this many images this run (for testing and sampling)


@dataclass
class CheckReport:
    """What one ``curate check`` run did."""

    run_id: int
    checked: int = 0  # images judged this run
    statuses: Counter = field(default_factory=Counter)  # of images judged this run
    dead_urls: int = 0  # URLs judged dead (all of the catalog's)
    rechecked: int = 0
    revived: int = 0  # dead URLs that answered on recheck
    placeholders_matched: int = 0  # ok images re-judged placeholder by the hash set
    placeholders_shared: int = 0  # ok images re-judged placeholder as one content under many URLs
    seconds: float = 0.0

    def as_stats(self) -> dict[str, object]:
        """The counts stored in ``runs.stats``."""
        stats = asdict(self)
        stats["statuses"] = {s: self.statuses.get(s, 0) for s in STATUSES if s != "dead"}
        del stats["run_id"]
        return stats


def dead_reason(http_status: int | None, error: str | None) -> str:
    """Why a URL whose fetch failed is dead, in words."""
    if error is not None:
        return f"{ERROR_WORDS.get(error, error)} ({error})"
    try:
        phrase = HTTPStatus(http_status).phrase
    except ValueError:
        phrase = "error"
    return f"HTTP {http_status} {phrase}"


def _recheck(
    catalog: Catalog, options: CheckOptions, report: CheckReport, progress: Progress | None
) -> set[str]:
    """Fetch the failed URLs again through a crawl (curate.recheck); return the URLs requested."""
    total = len(recheck_candidates(catalog))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("recheck", done, total)

    if progress:
        progress("recheck", 0, total)
    rechecked = set(recheck_failed(catalog, options.recheck_options, tick))
    still_failing = {row.url for row in failed_urls(catalog)}
    report.rechecked = len(rechecked)
    report.revived = len(rechecked - still_failing)
    return rechecked


def judge_dead_urls(catalog: Catalog, rechecked: set[str] | None, batch_size: int) -> int:
    """Mark every URL whose latest fetch failed ``dead`` with its reason; unmark revived ones.

    ``rechecked``: the URLs a recheck fetched again (None: no recheck this run); the
    reason then says whether the URL still failed then or was never requested again.
    """
    judgments = []
    for row in failed_urls(catalog):
        reason = dead_reason(row.http_status, row.error)
        if rechecked is not None:
            reason += (
                "; still failing when rechecked"
                if row.url in rechecked
                else "; not rechecked: the crawl refuses this URL"
            )
        judgments.append(UrlJudgment(row.url, "dead", reason))
    for start in range(0, len(judgments), batch_size):
        record_url_judgments(catalog, judgments[start : start + batch_size])
    clear_stale_dead(catalog)
    return len(judgments)


def _jobs(
    catalog: Catalog, todo: list[ImageToCheck]
) -> tuple[list[tuple[str, str]], list[ImageCheck]]:
    """(sha256, absolute path) per image, largest first, and judgments for unsafe store paths.

    Largest first: a big file decodes longest, and a worker that meets one at the very end
    keeps the other cores waiting.
    """
    jobs, refused = [], []
    for image in sorted(todo, key=lambda image: -(image.bytes or 0)):
        try:
            jobs.append((image.sha256, str(catalog.store.absolute(image.path))))
        except UnsafePath as error:
            refused.append(ImageCheck(image.sha256, "corrupt", f"refused store path: {error}"))
    return jobs, refused


def _judge_parallel(
    jobs: list[tuple[str, str]], judge: JudgeOptions, workers: int
) -> Iterator[list[ImageCheck]]:
    """Judge chunks of jobs across ``workers`` processes, yielding each chunk's results as done.

    Chunks are small (at most CHUNK, fewer when there is little work) so no worker idles
    long at the end while another finishes a big one.
    """
    size = max(1, min(CHUNK, len(jobs) // (max(workers, 1) * 16)))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    if workers <= 1 or len(jobs) < MIN_PARALLEL:  # too little work to pay for two processes
        with one_blas_thread():
            for chunk in chunks:
                yield judge_files(chunk, judge)
        return
    # fork: workers start in milliseconds with every module already imported (spawn or
    # forkserver re-import numpy, Pillow, imagehash and the __main__ script in each
    # worker: about a second each). They only run judge_files on paths, never touch the
    # parent's SQLite connection or terminal. The executor forks them all at the first
    # submit, before it starts its own thread. gc.freeze() around the fork keeps the
    # children's garbage collector off the parent's objects, whose pages it would otherwise
    # copy into every worker. A worker that dies raises BrokenProcessPool, no hang.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=hashing_worker
    ) as pool:
        pending: set[Future] = set()
        queue = iter(chunks)
        gc.freeze()
        try:
            for chunk in queue:  # keep a few chunks in flight per worker, no more
                pending.add(pool.submit(judge_files, chunk, judge))  # forks at the first
                if len(pending) >= workers * 4:
                    break
        finally:
            gc.unfreeze()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                following = next(queue, None)
                if following is not None:
                    pending.add(pool.submit(judge_files, following, judge))


def _batched(results: Iterable[list[ImageCheck]], size: int) -> Iterator[list[ImageCheck]]:
    """Regroup chunk results into batches of about ``size`` judgments."""
    batch: list[ImageCheck] = []
    for chunk in results:
        batch.extend(chunk)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def judge_images(
    catalog: Catalog, options: CheckOptions, report: CheckReport, progress: Progress | None
) -> set[str]:
    """Judge the images waiting for it, committing every ``batch_size`` judgments.

    Returns the sha256 of the images judged ok in this run.
    """
    judged_ok: set[str] = set()
    todo = images_to_check(catalog, options.everything, HASH_VERSION)[: options.limit]
    jobs, refused = _jobs(catalog, todo)
    judge = JudgeOptions(
        min_side=options.min_side, max_pixels=options.max_pixels, draft=options.draft
    )
    total = len(todo)
    if progress:
        progress("check", 0, total)
    results = _judge_parallel(jobs, judge, options.workers)
    for batch in _batched(chain([refused], results), options.batch_size):
        record_image_checks(catalog, batch)
        report.statuses.update(c.status for c in batch)
        report.checked += len(batch)
        judged_ok.update(c.sha256 for c in batch if c.status == "ok")
        if progress:
            progress("check", report.checked, total)
    return judged_ok


def shared_name_count(urls: Iterable[str]) -> int:
    """How many different file names (last path segment, else the host) serve one picture."""
    names = set()
    for url in urls:
        parts = urlsplit(url)
        names.add(basename(parts.path.rstrip("/")) or parts.netloc or url)
    return len(names)


def find_placeholders(catalog: Catalog, options: CheckOptions) -> tuple[list[tuple[str, str]], int]:
    """(sha256, reason) for ok images that are placeholders, and how many of them matched a hash.

    Two rules, over the whole catalog so that a new ``curate placeholder add`` takes effect:
    a pHash within ``placeholder_radius`` bits of a known placeholder; or one picture (same
    decoded pixels) served under at least ``shared_urls`` URLs with as many *different* file
    names. A crawl that meets the same photo twice, or a CDN copy under the same name, is
    not flagged; a host that answers every missing photo with one picture is.
    """
    known = known_placeholders(catalog)
    marks: dict[str, str] = {}
    for sha256, phash in ok_image_hashes(catalog):
        found = match_placeholder(phash, known, options.placeholder_radius)
        if found:
            placeholder, distance = found
            marks[sha256] = (
                f"matches known placeholder {placeholder.name!r} ({placeholder.origin}), "
                f"pHash distance {distance}"
            )
    matched = len(marks)
    if options.shared_urls > 0:
        for group in shared_contents(catalog, options.shared_urls):
            names = shared_name_count(group.urls)
            if names < options.shared_urls:
                continue
            for sha256 in group.sha256s:
                marks.setdefault(
                    sha256,
                    f"same picture served under {len(group.urls)} URLs with {names} different "
                    f"names (>= {options.shared_urls}): a host's stand-in image",
                )
    return sorted(marks.items()), matched


def smallest_too_small_side(catalog: Catalog) -> int | None:
    """The shorter side, in pixels, of the smallest image judged too_small (None: none is):
    the largest ``--min-side`` that admits every one of them."""
    row = catalog.conn.execute(
        "SELECT min(min(width, height)) FROM images WHERE status = 'too_small'"
    ).fetchone()
    return row[0]


def check_images(
    catalog: Catalog, options: CheckOptions, progress: Progress | None = None
) -> CheckReport:
    """Judge URLs and images: dead links, then every unchecked image, then placeholders.

    Idempotent and resumable: judgments are committed in batches and only images never
    checked, or hashed by an older method (curate.hashing.HASH_VERSION), are judged
    again (all with ``options.everything``), so a rerun after a crash converges to the
    same rows. Counts go to ``runs.stats``.
    """
    started = time.perf_counter()
    args = {k: v for k, v in asdict(options).items() if k != "recheck_options"}
    report = CheckReport(run_id=start_run(catalog, "check", args))
    rechecked = _recheck(catalog, options, report, progress) if options.recheck else None
    report.dead_urls = judge_dead_urls(catalog, rechecked, options.batch_size)
    judged_ok = judge_images(catalog, options, report, progress)
    marks, matched = find_placeholders(catalog, options)
    turned = sum(1 for sha256, _ in marks if sha256 in judged_ok)
    report.statuses["ok"] -= turned
    report.statuses["placeholder"] += turned
    for start in range(0, len(marks), options.batch_size):
        mark_placeholders(catalog, marks[start : start + options.batch_size])
    report.placeholders_matched = matched
    report.placeholders_shared = len(marks) - matched
    report.seconds = round(time.perf_counter() - started, 3)
    finish_run(catalog, report.run_id, report.as_stats())
    log.info("check run %(run)d: %(stats)s", {"run": report.run_id, "stats": report.as_stats()})
    return report


__all__ = [
    "IMAGE_STATUSES",
    "STATUSES",
    "CheckOptions",
    "CheckReport",
    "check_images",
    "dead_reason",
]
