"""What an export's dataset card reads from the catalog: runs, sources, error tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from catalog.db import Catalog

# The commands whose runs gathered or judged the data (exports and reviews are not listed).
_HARVEST_RUNS = "command LIKE 'crawl %' OR command = 'import'"


@dataclass(frozen=True)
class RunRow:
    """One ``runs`` row, its JSON columns decoded."""

    id: int
    command: str
    args: dict[str, Any]
    started_at: str
    finished_at: str | None
    stats: dict[str, Any]


@dataclass(frozen=True)
class SourceSpan:
    """The URLs of one source: how many, and when the first and last were discovered."""

    source: str
    urls: int
    fetched: int
    first_discovered: str
    last_discovered: str


def _json_object(text: str | None) -> dict[str, Any]:
    """A JSON column as a dict ({} when empty or not an object)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _runs(catalog: Catalog, where: str, params: dict[str, Any] | None = None) -> list[RunRow]:
    rows = catalog.conn.execute(
        f"SELECT id, command, args, started_at, finished_at, stats FROM runs WHERE {where} "
        "ORDER BY started_at, id",
        params or {},
    )
    return [
        RunRow(row["id"], row["command"], _json_object(row["args"]), row["started_at"],
               row["finished_at"], _json_object(row["stats"]))
        for row in rows
    ]


def harvest_runs(catalog: Catalog) -> list[RunRow]:
    """Every crawl and import run, oldest first."""
    return _runs(catalog, _HARVEST_RUNS)


def last_run(catalog: Catalog, command: str) -> RunRow | None:
    """The latest finished run of ``command`` (``check``, ``dedup``), or None."""
    runs = _runs(catalog, "command = :command AND finished_at IS NOT NULL", {"command": command})
    return runs[-1] if runs else None


def source_spans(catalog: Catalog) -> list[SourceSpan]:
    """Per URL source: URLs, fetched URLs, first and last discovery time; by source name."""
    rows = catalog.conn.execute(
        """SELECT source, count(*), count(fetched_at), min(discovered_at), max(discovered_at)
           FROM urls GROUP BY source ORDER BY source"""
    )
    return [SourceSpan(*row) for row in rows]


def error_counts(catalog: Catalog) -> dict[str, int]:
    """Fetched URLs per network error token (``robots``, ``opted_out``, ``timeout``, ...)."""
    rows = catalog.conn.execute(
        "SELECT error, count(*) FROM urls WHERE error IS NOT NULL GROUP BY error ORDER BY error"
    )
    return {row[0]: row[1] for row in rows}


def http_error_count(catalog: Catalog) -> int:
    """Fetched URLs that answered with an HTTP status of 400 or more."""
    return catalog.conn.execute(
        "SELECT count(*) FROM urls WHERE error IS NULL AND http_status >= 400"
    ).fetchone()[0]
