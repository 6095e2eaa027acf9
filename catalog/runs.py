"""Provenance: one ``runs`` row per crawl, check, dedup or export."""

from __future__ import annotations

import json
from typing import Any

from catalog.db import Catalog, utc_now


def start_run(catalog: Catalog, command: str, args: dict[str, Any]) -> int:
    """Record that ``command`` started with ``args``; return the run id."""
    with catalog.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO runs (command, args, started_at) VALUES (?, ?, ?)",
            (command, json.dumps(args, sort_keys=True, default=str), utc_now()),
        )
    return int(cursor.lastrowid)


def finish_run(catalog: Catalog, run_id: int, stats: dict[str, Any]) -> None:
    """Record that run ``run_id`` finished, with its counts."""
    with catalog.transaction() as conn:
        conn.execute(
            "UPDATE runs SET finished_at = ?, stats = ? WHERE id = ?",
            (utc_now(), json.dumps(stats, sort_keys=True, default=str), run_id),
        )


def get_setting(catalog: Catalog, key: str, default: str | None = None) -> str | None:
    """A value remembered in the catalog (e.g. the screening criterion)."""
    row = catalog.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return default if row is None else row["value"]


def set_setting(catalog: Catalog, key: str, value: str) -> None:
    """Remember ``value`` under ``key`` in the catalog."""
    with catalog.transaction() as conn:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
