"""What an export takes from the catalog: the images to export, each with one source URL and
that URL's provenance (licence, creator, landing page, credit line)."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.db import Catalog


@dataclass(frozen=True)
class ExportRow:
    """One image to export, with the facts the manifest names."""

    sha256: str
    path: str  # store path, relative to the data directory
    url: str | None
    wnid: str | None
    source: str | None
    license: str | None = None  # lower-case short id; None = unknown
    license_url: str | None = None
    creator: str | None = None
    creator_url: str | None = None
    landing_url: str | None = None
    title: str | None = None
    attribution: str | None = None
    credit: str | None = None
    attribution_required: bool | None = None
    usage_terms: str | None = None
    restrictions: str | None = None
    upstream_source: str | None = None
    provider: str | None = None
    mature: bool | None = None


_FLAGS = ("attribution_required", "mature")  # INTEGER 0/1 columns; NULL = not said

# One representative URL per image: one with a known licence first (its terms are the ones the
# export can state), then one with a synset, then the earliest found, then by text, so the
# choice never depends on row order. Only ok, kept (non-duplicate) images; accepted
# ones, plus (when asked) those with no decision in force or a 'skip'.
_EXPORTABLE = """
WITH representative AS (
    SELECT sha256, url, wnid, source, license, license_url, creator, creator_url, landing_url,
           title, attribution, credit, attribution_required, usage_terms, restrictions,
           upstream_source, provider, mature,
           row_number() OVER (
               PARTITION BY sha256
               ORDER BY (license IS NULL), (wnid IS NULL), discovered_at, url
           ) AS rank
    FROM urls
    WHERE sha256 IS NOT NULL
)
SELECT i.sha256, i.path, r.url, r.wnid, r.source, r.license, r.license_url, r.creator,
       r.creator_url, r.landing_url, r.title, r.attribution, r.credit, r.attribution_required,
       r.usage_terms, r.restrictions, r.upstream_source, r.provider, r.mature
FROM images i
LEFT JOIN decisions d ON d.sha256 = i.sha256
LEFT JOIN representative r ON r.sha256 = i.sha256 AND r.rank = 1
WHERE i.status = 'ok'
  AND i.duplicate_of IS NULL
  AND (d.decision = 'accept'
       OR (:include_unreviewed AND (d.decision IS NULL OR d.decision = 'skip')))
ORDER BY i.sha256
"""


def exportable_images(catalog: Catalog, include_unreviewed: bool = False) -> list[ExportRow]:
    """The images an export writes, in sha256 order.

    Accepted images (decision in force 'accept') that are ``ok`` and not duplicates;
    with ``include_unreviewed`` also the ok, non-duplicate ones nobody decided on (or skipped).
    Rejected, duplicate and not-ok images are never returned.
    """
    rows = catalog.conn.execute(_EXPORTABLE, {"include_unreviewed": int(include_unreviewed)})
    return [_export_row(dict(row)) for row in rows]


def _export_row(values: dict) -> ExportRow:
    """An ExportRow from a query row, the flags SQLite holds as 0/1 read back as booleans."""
    for flag in _FLAGS:
        if values[flag] is not None:
            values[flag] = bool(values[flag])
    return ExportRow(**values)
