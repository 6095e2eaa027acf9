"""Typed failures of the catalog and the image store."""

from synthset.errors import SynthsetError


class CatalogNotFound(SynthsetError):
    """The data directory holds no catalog.db and creating one was not asked for."""


class CatalogUnwritable(SynthsetError):
    """catalog.db (or its folder) may be read but not written, which every open needs."""


class CatalogUnreadable(SynthsetError):
    """catalog.db exists but is not an SQLite database (or is damaged)."""


class SchemaTooNew(SynthsetError):
    """The catalog was written by a newer synthset than this one."""


class UnsafePath(SynthsetError):
    """A store path would land outside the data directory."""
