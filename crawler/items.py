"""What the spiders yield: the catalog's own fact records, with a log-friendly fetch item."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.harvest import DiscoveredUrl, FetchResult
from catalog.synsets import Synset

__all__ = ["DiscoveredBatch", "DiscoveredUrl", "FetchedImage", "Synset"]


@dataclass(frozen=True)
class DiscoveredBatch:
    """Image URLs discovered together: one item for many (Scrapy spends CPU on every item)."""

    urls: tuple[DiscoveredUrl, ...]

    def __repr__(self) -> str:
        return f"DiscoveredBatch({len(self.urls)} URLs)"


@dataclass(frozen=True, repr=False)
class FetchedImage(FetchResult):
    """The facts of one image fetch; a :class:`FetchResult` whose repr leaves the body out."""

    def __repr__(self) -> str:
        size = "no body" if self.body is None else f"{len(self.body)} bytes"
        outcome = self.error or self.http_status
        return f"FetchedImage({self.url!r}, {outcome}, {size})"

    @classmethod
    def failed(cls, found: DiscoveredUrl, error: str) -> FetchedImage:
        """The record of a fetch of ``found`` that got no response, with its error token."""
        return cls(
            url=found.url, source=found.source, wnid=found.wnid, image_id=found.image_id,
            found_on=found.found_on, error=error, provenance=found.provenance,
        )
