"""One crawl per data directory: a kernel lock that dies with its holder.

A crawl takes ``flock(LOCK_EX)`` on ``crawl.lock`` in SYNTHSET_DATA (and in
JOBDIR, if set) before it starts anything. The kernel releases the lock when the
last process holding the open file goes away, however it ends, so a kill never
leaves a stale lock. The launcher's crawl processes inherit the open file
(their descriptors are named in ``SYNTHSET_CRAWL_LOCK_FDS``), so the lock is
held until the last of them is gone. The holder's PID is written into the file
for the error message only; the lock is the kernel's. ``curate`` and ``model``
never take it: they work beside a running crawl.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from scrapy.settings import BaseSettings

from crawler.errors import CrawlRunning, DataDirUnusable

LOCK_FILE = "crawl.lock"
INHERITED_ENV = "SYNTHSET_CRAWL_LOCK_FDS"  # descriptors of locks a launcher holds for us


def lock_directory(directory: Path, what: str, unusable: str) -> int:
    """Lock ``directory`` for this crawl; the open descriptor holding the lock.

    ``what`` names the setting (``-s SYNTHSET_DATA=...``) in messages, ``unusable`` says
    what cannot be done where the lock file cannot be made.

    :raises CrawlRunning: another live crawl holds it (the message names its PID).
    :raises DataDirUnusable: the directory or its lock file cannot be created.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise DataDirUnusable(
            f"{what}: {unusable} there ({error}); point it at a writable directory"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise CrawlRunning(
            f"{what} is in use by another crawl (process {holder}); "
            f"wait for it to end or stop it with: kill -TERM {holder}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def inherited_locks() -> list[int]:
    """The lock descriptors a launcher passed down to this crawl process (empty: none)."""
    named = os.environ.get(INHERITED_ENV, "")
    fds = [int(part) for part in named.split(",") if part.isdigit()]
    try:
        for fd in fds:
            os.fstat(fd)
    except OSError:  # not ours after all (a stray variable): take the locks ourselves
        return []
    return fds


def hold_crawl_locks(settings: BaseSettings) -> list[int]:
    """Lock SYNTHSET_DATA and JOBDIR (if set) for this crawl, unless a launcher holds them.

    The descriptors stay open for the life of the process (closing one would
    release its lock). :raises CrawlRunning, DataDirUnusable: see :func:`lock_directory`.
    """
    inherited = inherited_locks()
    if inherited:
        return inherited
    held: list[int] = []
    locked: set[Path] = set()
    try:
        for name, unusable in (("SYNTHSET_DATA", "no catalog can be opened"),
                               ("JOBDIR", "no crawl state can be kept")):
            directory = Path(settings[name]).resolve() if settings.get(name) else None
            if directory is not None and directory not in locked:
                held.append(lock_directory(directory, f"-s {name}={settings[name]}", unusable))
                locked.add(directory)
    except Exception:
        for fd in held:
            os.close(fd)
        raise
    return held
