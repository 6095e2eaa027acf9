"""The SQLite catalog and the content-addressed image store: the contract between stages."""

from catalog.db import CATALOG_FILE, Catalog, open_catalog, utc_now
from catalog.errors import (
    CatalogNotFound,
    CatalogUnreadable,
    CatalogUnwritable,
    SchemaTooNew,
    UnsafePath,
)

__all__ = [
    "CATALOG_FILE",
    "Catalog",
    "CatalogNotFound",
    "CatalogUnreadable",
    "CatalogUnwritable",
    "SchemaTooNew",
    "UnsafePath",
    "open_catalog",
    "utc_now",
]
