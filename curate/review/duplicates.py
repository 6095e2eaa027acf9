"""`curate review --duplicates`: walk near-duplicate groups side by side; pick a keeper or break."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Footer, Static

from catalog.db import Catalog
from catalog.duplicates import (
    DuplicateGroup,
    GroupImage,
    break_group,
    choose_keeper,
    duplicate_groups,
)
from curate.review.prefetch import Prefetcher
from curate.review.protocols import ResolvedProtocol, image_widget

MAX_TILES = 9  # keys 1-9
DONE_MESSAGE = "No duplicate groups left to walk.  q: quit"


def tile_label(number: int, image: GroupImage, keeper: bool) -> str:
    """The caption under one image: its key, keeper mark, size, bytes, distance."""
    size = f"{image.width}x{image.height}" if image.width and image.height else "?"
    mark = "★ keeper" if keeper else "duplicate"
    distance = "" if image.distance is None else f"  d={image.distance}"
    return f"{number}  {mark}\n{size}  {image.bytes / 1024:.0f} KB{distance}\n{image.sha256[:12]}"


def evidence_lines(group: DuplicateGroup, limit: int = MAX_TILES) -> list[str]:
    """Why each member on screen is in the group: ``"2  <its duplicate_reason>"`` per tile."""
    return [f"{number}  {image.reason or 'grouped'}"
            for number, image in enumerate(group.members[:limit - 1], start=2)]


class DuplicatesApp(App[None]):
    """One duplicate group at a time: 1-9 choose the keeper, b break it, Enter confirms."""

    CSS_PATH = Path(__file__).with_name("review.tcss")  # also for subclasses elsewhere
    TITLE = "curate review --duplicates"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        *(Binding(str(n), f"choose({n - 1})", "Keeper", show=n == 1, key_display="1-9")
          for n in range(1, MAX_TILES + 1)),
        Binding("b", "break_group", "Break apart"),
        Binding("enter", "confirm", "Confirm"),
        Binding("right", "skip", "Next group", key_display="→"),
        Binding("left", "back", "Previous", key_display="←"),
        Binding("q", "quit", "Quit"),
    ]

    index: var[int] = var(0, always_update=True)  # the group on screen
    choice: var[int] = var(0)  # tile chosen as keeper (0: the current keeper)
    breaking: var[bool] = var(False)

    def __init__(self, catalog: Catalog, protocol: ResolvedProtocol | None = None) -> None:
        super().__init__()
        self.catalog = catalog
        self.protocol = protocol or image_widget("auto")
        self.groups: list[DuplicateGroup] = duplicate_groups(catalog)
        self.prefetcher = Prefetcher(keep=4 * MAX_TILES)
        self.confirmed: list[tuple[str, str]] = []  # (keeper sha256, "keeper:<sha>" or "break")

    @property
    def group(self) -> DuplicateGroup | None:
        """The group on screen; None past the last."""
        return self.groups[self.index] if self.index < len(self.groups) else None

    @property
    def tiles(self) -> list[GroupImage]:
        """The images shown: keeper first, then the closest members."""
        group = self.group
        return [] if group is None else [group.keeper, *group.members][:MAX_TILES]

    def compose(self) -> ComposeResult:
        """Status line, a row of tiles, footer."""
        yield Static("", id="dup-status", markup=False)
        yield Horizontal(id="dup-tiles")
        yield Static("", id="dup-evidence", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """Show the first group once the layout is known."""
        self.call_after_refresh(self._go, 0)

    def on_unmount(self) -> None:
        """Stop the decoding thread."""
        self.prefetcher.close()

    def _go(self, index: int) -> None:
        """Show group ``index`` with its keeper chosen and nothing broken."""
        self.choice = 0
        self.breaking = False
        self.index = index

    async def watch_index(self, index: int) -> None:
        """Rebuild the tiles for the new group."""
        row = self.query_one("#dup-tiles", Horizontal)
        await row.remove_children()
        tiles = self.tiles
        if not tiles:
            self._status()
            return
        widgets = []
        for number in range(1, len(tiles) + 1):
            picture = self.protocol.widget_class(classes="dup-image")
            caption = Static("", classes="dup-caption", markup=False)
            widgets.append(Vertical(picture, caption, classes="dup-tile", id=f"tile-{number}"))
        await row.mount_all(widgets)
        self._mark()
        width = max(row.content_size.width // len(tiles) - 2, 4)
        height = max(row.content_size.height - 4, 2)
        cell_w, cell_h = self.protocol.cell_pixels
        for number, image in enumerate(tiles, start=1):
            path = self.catalog.store.absolute(image.path)
            future = self.prefetcher.get(image.sha256, path, (width * cell_w, height * cell_h))
            self._await_tile(index, number, future)

    @work(group="tiles")
    async def _await_tile(self, index: int, number: int, future: Future) -> None:
        """Put a decoded image in its tile if the group is still on screen."""
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(future)
        if index != self.index or future.cancelled() or future.exception() is not None:
            return
        for picture in self.query(f"#tile-{number} .dup-image"):
            picture.image = future.result()

    def watch_choice(self) -> None:
        """Move the keeper mark."""
        self._mark()

    def watch_breaking(self) -> None:
        """Show that the group will be broken apart."""
        self._mark()

    def _mark(self) -> None:
        """Captions, keeper highlight and the status line for the current choice."""
        for number, image in enumerate(self.tiles, start=1):
            keeper = not self.breaking and number - 1 == self.choice
            for tile in self.query(f"#tile-{number}"):
                tile.set_class(keeper, "keeper")
                tile.query_one(".dup-caption", Static).update(tile_label(number, image, keeper))
        self._status()

    def _status(self) -> None:
        """The line above the tiles."""
        group = self.group
        status = self.query_one("#dup-status", Static)
        evidence = self.query_one("#dup-evidence", Static)
        if group is None:
            status.update(DONE_MESSAGE)
            evidence.update("")
            return
        evidence.update("\n".join(evidence_lines(group)))
        more = len(group.members) + 1 - len(self.tiles)
        plan = (
            "b: break apart (not duplicates)" if self.breaking
            else f"keeper: {self.tiles[self.choice].sha256[:12]}"
        )
        extra = f"  ·  +{more} more not shown" if more > 0 else ""
        status.update(
            f"Group {self.index + 1} of {len(self.groups)}  ·  {len(group.members) + 1} images"
            f"  ·  {plan}  ·  Enter confirms{extra}"
        )

    def action_choose(self, tile: int) -> None:
        """Choose tile ``tile`` (0-based) as the keeper."""
        if tile >= len(self.tiles):
            self.bell()
            return
        self.breaking = False
        self.choice = tile

    def action_break_group(self) -> None:
        """Plan to break the group apart (toggle)."""
        if self.group is not None:
            self.breaking = not self.breaking

    def action_confirm(self) -> None:
        """Apply the plan to the catalog (logged there), then show the next group."""
        group = self.group
        if group is None:
            self.bell()
            return
        if self.breaking:
            break_group(self.catalog, group.keeper.sha256)
            self.confirmed.append((group.keeper.sha256, "break"))
        else:
            keeper = self.tiles[self.choice].sha256
            choose_keeper(self.catalog, group.keeper.sha256, keeper)
            self.confirmed.append((group.keeper.sha256, f"keeper:{keeper}"))
        self._go(self.index + 1)

    def action_skip(self) -> None:
        """Next group, leaving this one as it is."""
        if self.group is not None:
            self._go(self.index + 1)

    def action_back(self) -> None:
        """Previous group."""
        if self.index > 0:
            self._go(self.index - 1)
