"""A review session's walk over the queue: pages read from SQLite as the cursor nears their end."""

from __future__ import annotations

from catalog.db import Catalog
from catalog.review_queue import QueueFilter, QueueItem, queue_page


class ReviewQueue:
    """The images of one session in sha256 order, loaded a page at a time, never whole.

    Images decided during the session stay in place, so left/right and undo can go
    back to them; the next page starts after the last sha256 loaded (keyset).
    """

    def __init__(self, catalog: Catalog, flt: QueueFilter, page_size: int = 64) -> None:
        self.catalog = catalog
        self.filter = flt
        self.page_size = page_size
        self.items: list[QueueItem] = []
        self.index = 0
        self._positions: dict[str, int] = {}
        self._exhausted = False

    def _load_until(self, index: int) -> None:
        """Read pages until item ``index`` is loaded or the queue has no more."""
        while index >= len(self.items) and not self._exhausted:
            after = self.items[-1].sha256 if self.items else None
            page = queue_page(self.catalog, self.filter, after=after, limit=self.page_size)
            if len(page) < self.page_size:
                self._exhausted = True
            for item in page:
                self._positions[item.sha256] = len(self.items)
                self.items.append(item)

    @property
    def current(self) -> QueueItem | None:
        """The image under the cursor; None past the end of the queue."""
        self._load_until(self.index)
        return self.items[self.index] if self.index < len(self.items) else None

    @property
    def at_end(self) -> bool:
        """Whether the cursor is past the last image."""
        return self.current is None

    def advance(self) -> bool:
        """Move to the next image (or past the last); False when already past the end."""
        if self.current is None:
            return False
        self.index += 1
        return True

    def back(self) -> bool:
        """Move to the previous image; False at the first one."""
        if self.index == 0:
            return False
        self.index -= 1
        return True

    def seek(self, sha256: str) -> bool:
        """Put the cursor on a loaded image; False if the session never reached it."""
        position = self._positions.get(sha256)
        if position is None:
            return False
        self.index = position
        return True

    def around(self, ahead: int, behind: int = 1) -> list[QueueItem]:
        """The next ``ahead`` images after the cursor, then ``behind`` before it."""
        self._load_until(self.index + ahead)
        after = self.items[self.index + 1 : self.index + 1 + ahead]
        before = self.items[max(self.index - behind, 0) : self.index]
        return after + before[::-1]
