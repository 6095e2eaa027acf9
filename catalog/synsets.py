"""The synsets a harvest was asked for: WordNet ids and their words."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.db import Catalog


@dataclass(frozen=True)
class Synset:
    """One WordNet noun synset."""

    wnid: str
    words: str | None = None
    gloss: str | None = None
    parent: str | None = None


def record_synsets(catalog: Catalog, synsets: Iterable[Synset]) -> None:
    """Insert or refresh synsets, keeping known fields that the new rows leave empty."""
    rows = [(s.wnid, s.words, s.gloss, s.parent) for s in synsets]
    with catalog.transaction() as conn:
        conn.executemany(
            """INSERT INTO synsets (wnid, words, gloss, parent) VALUES (?, ?, ?, ?)
               ON CONFLICT (wnid) DO UPDATE SET
                   words = coalesce(excluded.words, synsets.words),
                   gloss = coalesce(excluded.gloss, synsets.gloss),
                   parent = coalesce(excluded.parent, synsets.parent)""",
            rows,
        )
