"""The catalog pipeline's batch writer, in a process of its own: batches in, counts out.

Writing a batch (each body hashed, written and fsynced into the store, then the rows in one
SQLite transaction) in threads of the crawling process stalled its one crawling thread:
every syscall of those threads gave the interpreter lock up and took it back from it, and
on a busy machine each hand-over waited for a thread to be scheduled (benchmarks/crawl.py's
scenario 1: thousands of voluntary context switches of the crawling thread per run, and a
crawl as fast as Scrapy alone once the pipeline was off). Here the same work runs in another
interpreter; the crawl's writer thread only writes a batch down a pipe and reads its counts.

The order of a batch's writes is unchanged (:func:`write_batch`): every stored file is
synced and renamed into place before the transaction holding its row commits, so a crash
leaves at most a file no row points at. The process dies with the crawl process that
started it (SIGKILL included), so a killed crawl leaves no writer behind; a batch it held
is rolled back, and its URLs are still pending for the rerun.

``python -m crawler.catalogwriter DATA_DIR STORE_THREADS PARENT_PID`` is the writer
(started by :class:`CatalogWriterProcess`, never by hand). Frames on stdin and stdout are
an 8-byte little-endian length and a pickle: a batch in, ``("ok", counts)`` or
``("error", exception)`` out. The pipe joins two processes of the same crawl, both
running this code, so pickle carries nothing from outside. It ends at the end of stdin.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from catalog import Catalog, open_catalog
from catalog.harvest import (
    DiscoveredUrl,
    FetchResult,
    record_discovered,
    record_fetches,
)
from catalog.store import StoredFile
from catalog.synsets import Synset, record_synsets
from synthset.lifetime import die_with_parent

_LENGTH = struct.Struct("<Q")


class CatalogWriterFailed(OSError):
    """The catalog's writer process ended, or answered with something unreadable."""


@dataclass
class Batch:
    """Items taken off the pipeline's queues together, written in one go."""

    synsets: list[Synset] = field(default_factory=list)
    discovered: list[DiscoveredUrl] = field(default_factory=list)
    fetched: list[FetchResult] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many items the batch holds."""
        return len(self.synsets) + len(self.discovered) + len(self.fetched)


def write_batch(catalog: Catalog, batch: Batch, store_pool: ThreadPoolExecutor | None,
                store_threads: int = 1) -> Counter[str]:
    """Write one batch: synsets, then discoveries, then the fetches' bodies (see
    :func:`store_bodies`) and, once all are in place, the fetches' rows."""
    counts: Counter[str] = Counter()
    if batch.synsets:
        record_synsets(catalog, batch.synsets)
        counts["synsets"] += len(batch.synsets)
    if batch.discovered:
        counts["discovered"] += record_discovered(catalog, batch.discovered)
    if batch.fetched:
        # Store files first (each synced before put_many returns); the rows then find the
        # files in place, so a crash leaves no row without its file. Each body is hashed
        # and written once, here; the rows reuse what put_many found.
        stored = store_bodies(catalog, batch.fetched, store_pool, store_threads)
        counts["new_images"] += record_fetches(catalog, batch.fetched, stored)
    counts["flushes"] += 1
    return counts


def store_bodies(catalog: Catalog, fetched: list[FetchResult],
                 store_pool: ThreadPoolExecutor | None = None,
                 store_threads: int = 1) -> list[StoredFile | None]:
    """Put each fetch's body in the store, synced and renamed into place (``store_threads``
    shares of them in ``store_pool`` when there is one); where each landed, None for a fetch
    without a body."""
    bodies = [r.body for r in fetched if r.body is not None]
    if store_pool is None or store_threads <= 1 or len(bodies) < 2:
        places = iter(catalog.store.put_many(bodies))
    else:
        share = -(-len(bodies) // store_threads)  # bodies per thread, rounded up
        parts = [bodies[i:i + share] for i in range(0, len(bodies), share)]
        places = (s for part in store_pool.map(catalog.store.put_many, parts) for s in part)
    return [next(places) if r.body is not None else None for r in fetched]


def _send(stream: BinaryIO, payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any | None:
    """The next frame's object; None at the end of ``stream`` (or a frame cut short by it)."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)  # noqa: S301 - written by this crawl's own process (see above)


class CatalogWriterProcess:
    """A writer process for the catalog of ``data_dir``, storing bodies with ``store_threads``
    threads. Used by one thread at a time; :meth:`close` ends it."""

    def __init__(self, data_dir: Path, store_threads: int = 1) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crawler.catalogwriter", str(data_dir), str(store_threads),
             str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            # a terminal's Ctrl-C is for the crawl, which then commits what it holds through
            # this process; it goes when the crawl closes its pipe, or dies with the crawl
            start_new_session=True,
        )

    def write(self, batch: Batch) -> Counter[str]:
        """Write ``batch`` (see :func:`write_batch`); its counts once it is committed.

        :raises CatalogWriterFailed: the writer has ended; or what writing the batch raised.
        """
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _send(self.process.stdin, batch)
        except (BrokenPipeError, ValueError):  # ended, or its pipe closed
            raise CatalogWriterFailed(self._ended()) from None
        answer = _receive(self.process.stdout)
        if answer is None:
            raise CatalogWriterFailed(self._ended())
        outcome, value = answer
        if outcome == "error":
            raise value
        return value

    def _ended(self) -> str:
        return f"the catalog's writer process ended (exit status {self.process.wait()})"

    def close(self) -> None:
        """End the writer (after the batch it holds, if any) and wait for it."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # a writer that has already ended
                self.process.stdin.close()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def serve(catalog: Catalog, store_threads: int, source: BinaryIO, answers: BinaryIO,
          write: Callable[..., Counter[str]] = write_batch) -> None:
    """Write each batch read from ``source`` into ``catalog``, answering each on ``answers``,
    until ``source`` ends. With one store thread (the default) no thread is started."""
    pool = (ThreadPoolExecutor(store_threads, thread_name_prefix="store")
            if store_threads > 1 else None)
    try:
        while (batch := _receive(source)) is not None:
            try:
                answer: tuple[str, Any] = ("ok", write(catalog, batch, pool, store_threads))
            except Exception as error:  # noqa: BLE001 - handed to the crawl, which raises it
                answer = ("error", _picklable(error))
            _send(answers, answer)
    finally:
        if pool is not None:
            pool.shutdown()


def _picklable(error: Exception) -> Exception:
    """``error`` itself if it survives pickling, else an OSError saying what it was."""
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - any exception that will not travel
        return CatalogWriterFailed(f"{type(error).__name__}: {error}")
    return error


def main() -> None:
    """Run as the writer of :class:`CatalogWriterProcess`: ``DATA_DIR STORE_THREADS PARENT``."""
    data_dir, store_threads, parent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    die_with_parent(parent)
    # the answers get the pipe to themselves: anything printed goes to stderr, not into a frame
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with open_catalog(data_dir) as catalog, answers:
        serve(catalog, store_threads, sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
