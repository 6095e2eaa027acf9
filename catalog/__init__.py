"""The SQLite catalog and the content-addressed image store: the contract between stages."""

from catalog.db import CATALOG_FILE, Catalog, open_catalog, utc_now
from catalog.errors import CatalogNotFound, SchemaTooNew, UnsafePath

__all__ = [
    "CATALOG_FILE",
    "Catalog",
    "CatalogNotFound",
    "SchemaTooNew",
    "UnsafePath",
    "open_catalog",
    "utc_now",
]
