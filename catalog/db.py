"""Opening the catalog: one SQLite file in WAL mode beside the image store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from catalog.errors import CatalogNotFound, CatalogUnreadable, CatalogUnwritable
from catalog.schema import migrate
from catalog.store import ImageStore

CATALOG_FILE = "catalog.db"
IN_CHUNK = 500  # values bound per IN (...) query, well below SQLite's parameter limit
BUSY_TIMEOUT_MS = 30_000  # wait this long for another writer before giving up


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Catalog:
    """The SQLite catalog and image store of one data directory.

    Library code reaches tables only through the functions of the ``catalog``
    modules (``harvest``, ``checks``, ``duplicates``, ``reviews``, ...), which take a
    ``Catalog`` as their first argument.
    """

    def __init__(self, data_dir: Path, conn: sqlite3.Connection) -> None:
        self.data_dir = Path(data_dir)
        self.conn = conn
        self.store = ImageStore(self.data_dir)

    @property
    def path(self) -> Path:
        """The catalog file."""
        return self.data_dir / CATALOG_FILE

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def select_in(self, sql: str, values: Iterable[str]) -> Iterator[sqlite3.Row]:
        """Rows of ``sql`` for every value, ``sql`` ending in ``IN`` (the list is added).

        Values are bound in chunks below SQLite's parameter limit, never interpolated.
        """
        wanted = list(values)
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            yield from self.conn.execute(f"{sql} ({','.join('?' * len(chunk))})", chunk)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_catalog(data_dir: Path | str, create: bool = True) -> Catalog:
    """Open (and migrate) the catalog of ``data_dir``.

    :param create: make the directory and an empty catalog if there is none.
    :raises CatalogNotFound: when ``create`` is false and there is no catalog.
    :raises SchemaTooNew: when the file was written by a newer synthset.
    :raises CatalogUnreadable: when catalog.db is not an SQLite database.
    :raises CatalogUnwritable: when catalog.db or its folder is read-only.
    """
    data_dir = Path(data_dir)
    path = data_dir / CATALOG_FILE
    if not path.exists():
        if not create:
            raise CatalogNotFound(
                f"no catalog at {path}; harvest first (scrapy crawl ...) or pass --data"
            )
        data_dir.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are explicit (Catalog.transaction), never implicit.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
    except sqlite3.DatabaseError as error:
        conn.close()
        if "readonly" in str(error) or "read-only" in str(error):
            raise CatalogUnwritable(
                f"{path} cannot be written ({error}); every command writes to the catalog (its "
                "WAL files beside it, runs): make the data directory writable, or copy it"
            ) from None
        if type(error) is not sqlite3.DatabaseError:  # locked, ...: not the file's fault
            raise
        raise CatalogUnreadable(
            f"{path} is not a synthset catalog ({error}); point --data at a data directory "
            "or move the file away"
        ) from None
    catalog = Catalog(data_dir, conn)
    catalog.store.sweep_incoming()
    return catalog


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the catalog file in WAL mode (a lasting property of the file).

    Switching needs a moment's exclusive lock, and SQLite answers "database is locked"
    at once, without waiting on the busy timeout, while another process's first open
    switches or migrates a new file; so wait for that here, up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # another process holds the lock for a moment
