"""`curate stats`: one stable document of counts about a catalog (statuses, sources, ...)."""

from __future__ import annotations

from typing import Any

from catalog.db import Catalog
from catalog.stats import (
    GroupCounts,
    duplicate_counts,
    image_status_counts,
    license_counts,
    review_counts,
    source_counts,
    synset_counts,
    url_counts,
)
from curate.check import STATUSES

FORMAT_VERSION = 1
NO_SYNSET = "none"  # the key for URLs of no synset
NO_LICENSE = "unknown"  # the key for URLs whose source names no licence


def _group(counts: GroupCounts) -> dict[str, Any]:
    return {
        "urls": counts.urls,
        "fetched": counts.fetched,
        "dead": counts.dead,
        "images": counts.images,
        "ok": counts.ok,
    }


def collect_stats(catalog: Catalog) -> dict[str, Any]:
    """Every count ``curate stats`` shows, as a JSON-ready document with a fixed shape.

    Keys: ``format_version``, ``catalog``, ``statuses`` (every status of the fixed
    vocabulary plus ``unchecked``: images per status, and URLs judged ``dead``), ``urls``,
    ``images``, ``sources``, ``licenses`` (by licence id, ``unknown`` when none was said) and
    ``synsets`` (per key: urls, fetched, dead, images, ok; synsets also ``words``),
    ``duplicates`` (``removed``, ``kept_for``) and ``review`` (``reviewable``, ``accepted``,
    ``rejected``, ``skipped``, ``undecided``).
    """
    images = image_status_counts(catalog)
    urls = url_counts(catalog)
    statuses = {status: images.get(status, 0) for status in STATUSES}
    statuses["dead"] = urls["dead"]
    statuses["unchecked"] = images.get(None, 0)
    synsets = {}
    for row in synset_counts(catalog):
        synsets[row.key or NO_SYNSET] = {"words": row.words, **_group(row)}
    return {
        "format_version": FORMAT_VERSION,
        "catalog": str(catalog.path),
        "statuses": statuses,
        "urls": urls,
        "images": {
            "total": sum(images.values()),
            "checked": sum(images.values()) - images.get(None, 0),
        },
        "sources": {row.key: _group(row) for row in source_counts(catalog)},
        "licenses": {row.key or NO_LICENSE: _group(row) for row in license_counts(catalog)},
        "synsets": synsets,
        "duplicates": duplicate_counts(catalog),
        "review": review_counts(catalog),
    }
