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


def inherited_locks(directories: list[Path]) -> list[int]:
    """The descriptors a launcher passed down holding the locks of ``directories`` (empty:
    none, or not all of them: a stray variable is no lock)."""
    named = os.environ.get(INHERITED_ENV, "")
    fds = [int(part) for part in named.split(",") if part.isdigit()]
    try:
        held = {(os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in fds}
        wanted = {(stat.st_dev, stat.st_ino)
                  for stat in (os.stat(d / LOCK_FILE) for d in directories)}
    except OSError:
        return []
    return fds if fds and wanted <= held else []


def hold_crawl_locks(settings: BaseSettings) -> list[int]:
    """Lock SYNTHSET_DATA and JOBDIR (if set) for this crawl, unless a launcher holds them.

    The descriptors stay open for the life of the process (closing one would
    release its lock). :raises CrawlRunning, DataDirUnusable: see :func:`lock_directory`.
    """
    wanted: dict[Path, tuple[str, str]] = {}  # directory -> (setting, what it is for)
    for name, unusable in (("SYNTHSET_DATA", "no catalog can be opened"),
                           ("JOBDIR", "no crawl state can be kept")):
        if settings.get(name):
            wanted.setdefault(Path(settings[name]).resolve(), (name, unusable))
    # a launched process's JOBDIR is its own folder inside the launcher's: the data
    # directory's lock is the one to recognise
    inherited = inherited_locks([d for d, (name, _) in wanted.items() if name == "SYNTHSET_DATA"])
    if inherited:
        return inherited
    held: list[int] = []
    try:
        for directory, (name, unusable) in wanted.items():
            held.append(lock_directory(directory, f"-s {name}={settings[name]}", unusable))
    except Exception:
        for fd in held:
            os.close(fd)
        raise
    return held
