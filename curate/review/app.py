"""The screening app: one image at a time, a decision per keypress, committed at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.reactive import var
from textual.widgets import Footer, ProgressBar, Static

from catalog import open_catalog
from catalog.db import Catalog
from catalog.review_queue import QueueCounts, QueueFilter, QueueItem, image_facts, queue_counts
from catalog.reviews import current_decision, record_decision, record_note, undo_review
from catalog.runs import get_setting
from curate.review.halfcell import draw_halfcell
from curate.review.imageview import HalfcellView
from curate.review.prefetch import Prefetcher, decode_scaled
from curate.review.protocols import ResolvedProtocol, image_widget
from curate.review.queue import ReviewQueue
from curate.review.widgets import FactsPanel, HelpScreen, NoteScreen, progress_text

CRITERION_SETTING = "review.criterion"
DONE_MESSAGE = "Nothing left to screen here.  u: undo the last decision · q: quit"


@dataclass(frozen=True)
class ReviewOptions:
    """What one ``curate review`` session walks and how it draws."""

    filter: QueueFilter = field(default_factory=QueueFilter)
    protocol: str = "auto"  # a key of curate.review.protocols.PROTOCOLS
    page_size: int = 64  # queue rows read per query
    ahead: int = 3  # images decoded ahead of the cursor


@dataclass(frozen=True)
class SessionAction:
    """A reviews row this session appended (undo withdraws these, latest first)."""

    review_id: int
    sha256: str


class ReviewApp(App[None]):
    """Screen the queue: accept, reject, skip, undo, note; every key is saved at once."""

    CSS_PATH = Path(__file__).with_name("review.tcss")  # also for subclasses elsewhere
    TITLE = "curate review"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("a,enter", "decide('accept')", "Accept", key_display="a"),
        Binding("r,x", "decide('reject')", "Reject", key_display="r"),
        Binding("s,space", "decide('skip')", "Skip", key_display="s"),
        Binding("u,ctrl+z", "undo", "Undo", key_display="u"),
        Binding("left", "previous", "Prev", key_display="←"),
        Binding("right", "next", "Next", key_display="→"),
        Binding("n", "note", "Note"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    current: var[QueueItem | None] = var(None, always_update=True, init=False)  # set by _go
    counts: var[QueueCounts | None] = var(None)

    def __init__(
        self,
        catalog: Catalog,
        options: ReviewOptions | None = None,
        protocol: ResolvedProtocol | None = None,
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.options = options or ReviewOptions()
        self.protocol = protocol or image_widget(self.options.protocol)
        self.queue = ReviewQueue(catalog, self.options.filter, self.options.page_size)
        prepare = draw_halfcell if self.protocol.halfcell else decode_scaled
        # Room for the look-ahead, the image behind and the current one, and little more:
        # each half-block drawing is thousands of objects for the garbage collector.
        self.prefetcher = Prefetcher(keep=2 * self.options.ahead + 2, prepare=prepare)
        self.actions: list[SessionAction] = []  # undo stack of this session
        self.pending_notes: dict[str, str] = {}  # notes waiting for the image's first decision
        self._serial = 0  # bumps on every change; a count started before a change is redone

    # Layout and start-up

    def compose(self) -> ComposeResult:
        """Criterion on top, image and facts side by side, progress, footer."""
        criterion = get_setting(self.catalog, CRITERION_SETTING)
        yield Static(
            f"Criterion: {criterion}" if criterion else "No criterion set (--criterion TEXT)",
            id="criterion",
            markup=False,
        )
        with Horizontal(id="main"):
            with Container(id="image-pane"):
                if self.protocol.halfcell:  # drawn ahead, swapped in at the keypress
                    yield HalfcellView(id="image")
                else:
                    yield self.protocol.widget_class(id="image", classes="native")
                yield Static("", id="image-message", markup=False)
            yield FactsPanel(id="facts")
        with Horizontal(id="progress"):
            yield ProgressBar(id="progress-bar", show_eta=False)
            yield Static(progress_text(None), id="progress-text")
        yield Footer()

    def on_mount(self) -> None:
        """Show the first undecided image once the layout is known, and count in the back."""
        self.call_after_refresh(self._go, self.queue.current)
        self._count()

    def on_resize(self) -> None:
        """Decode again for the new image area."""
        self.call_after_refresh(self._go, self.queue.current)

    def on_unmount(self) -> None:
        """Stop the decoding thread."""
        self.prefetcher.close()

    # State -> screen

    def watch_current(self, item: QueueItem | None) -> None:
        """Facts and image of the new current image (or the end-of-queue message)."""
        self._show_facts()
        if item is None:
            self.query_one("#image").show(None, None)
            self._put_message(DONE_MESSAGE)
            return
        spec = self._spec()
        try:
            future = self.prefetcher.get(item.sha256, self._path(item), spec)
        except Exception as error:  # an unsafe store path: show it, keep going
            self._put_message(f"cannot show {item.sha256[:12]}: {error}")
            return
        if future.done():
            self._put_image(item.sha256, future)
        else:
            self._put_message("loading...")
            self._await_image(item.sha256, future)
        # Decode ahead once this image is painted, so the decoding thread never competes
        # with the paint the user is waiting for.
        self.call_after_refresh(self._prefetch_around, spec)

    def _prefetch_around(self, spec: Hashable) -> None:
        """Start preparing the images next to the cursor."""
        ahead = [(i.sha256, self._path(i)) for i in self.queue.around(self.options.ahead)]
        self.prefetcher.prefetch(ahead, spec)

    def watch_counts(self, counts: QueueCounts | None) -> None:
        """Progress bar and its text."""
        self.query_one("#progress-text", Static).update(progress_text(counts), layout=False)
        if counts is not None:
            bar = self.query_one("#progress-bar", ProgressBar)
            bar.update(total=max(counts.total, 1), progress=counts.decided)

    def _show_facts(self) -> None:
        """Refresh the facts panel for the current image."""
        item = self.current
        panel = self.query_one("#facts", FactsPanel)
        if item is None:
            panel.show(None, None, None)
            return
        decision = current_decision(self.catalog, item.sha256)
        note = decision.note if decision else None
        if item.sha256 in self.pending_notes:
            note = f"{self.pending_notes[item.sha256]} (saved with the decision)"
        panel.show(
            image_facts(self.catalog, item.sha256), decision.decision if decision else None, note
        )

    def _path(self, item: QueueItem) -> Path:
        """Where the image's bytes are."""
        return self.catalog.store.absolute(item.path)

    def _spec(self) -> Hashable:
        """What the look-ahead prepares for: the half-block drawing spec, or a box in pixels."""
        pane = self.query_one("#image-pane")
        width, height = pane.content_size
        if width <= 0 or height <= 0:  # before the first layout: most of the screen
            width, height = max(self.size.width - 40, 10), max(self.size.height - 4, 5)
        if self.protocol.halfcell:
            return replace(self.query_one("#image", HalfcellView).spec(), cells=(width, height))
        cell_w, cell_h = self.protocol.cell_pixels
        return (width * cell_w, height * cell_h)

    def _put_message(self, text: str) -> None:
        """Show ``text`` in place of the image (empty shows the image again)."""
        message = self.query_one("#image-message", Static)
        if str(message.content) != text:
            message.update(text)
        if message.display != bool(text):
            message.display = bool(text)
            self.query_one("#image").display = not text

    def _put_image(self, sha256: str, future: Future) -> None:
        """Show a prepared image, or why it could not be prepared."""
        widget = self.query_one("#image")
        try:
            picture = future.result()
        except Exception as error:
            widget.show(None, None)
            self._put_message(f"cannot decode {sha256[:12]}: {error}")
            return
        widget.show(sha256, picture)
        self._put_message("")

    @work(exclusive=True, group="image")
    async def _await_image(self, sha256: str, future: Future) -> None:
        """Wait for the decoding thread, then show the image if it is still the current one."""
        if not future.cancelled():
            with contextlib.suppress(Exception):  # _put_image shows the error
                await asyncio.wrap_future(future)
        if self.current is not None and self.current.sha256 == sha256 and not future.cancelled():
            self._put_image(sha256, future)

    @work(thread=True, exclusive=True, group="count")
    def _count(self) -> None:
        """Count the scope on a connection of its own (the UI never waits for it)."""
        serial = self._serial
        with open_catalog(self.catalog.data_dir, create=False) as reader:
            counts = queue_counts(reader, self.options.filter)
        self.call_from_thread(self._counted, counts, serial)

    def _counted(self, counts: QueueCounts, serial: int) -> None:
        """Take a finished count, or count again if decisions changed meanwhile."""
        if serial == self._serial:
            self.counts = counts
        else:
            self._count()

    def _shift(self, old: str | None, new: str | None) -> None:
        """Move one image's decision from ``old`` to ``new`` in the counts."""
        self._serial += 1
        counts = self.counts
        if counts is None or old == new:
            return
        tally = {"accept": counts.accepted, "reject": counts.rejected, "skip": counts.skipped}
        if old:
            tally[old] -= 1
        if new:
            tally[new] += 1
        decided = counts.decided + (new is not None) - (old is not None)
        self.counts = QueueCounts(
            counts.total, decided, tally["accept"], tally["reject"], tally["skip"]
        )

    def _go(self, item: QueueItem | None) -> None:
        """Make ``item`` current (re-showing it when it already is)."""
        self.current = item

    # Actions (one per key)

    def action_decide(self, decision: str) -> None:
        """Record ``decision`` for the current image, then move to the next one."""
        item = self.current
        if item is None:
            self.bell()
            return
        before = current_decision(self.catalog, item.sha256)
        note = self.pending_notes.pop(item.sha256, None)
        review_id = record_decision(self.catalog, item.sha256, decision, note)
        self.actions.append(SessionAction(review_id, item.sha256))
        self._shift(before.decision if before else None, decision)
        self.queue.advance()
        self._go(self.queue.current)

    def action_undo(self) -> None:
        """Withdraw this session's latest action and go back to its image."""
        if not self.actions:
            self.bell()
            self.notify("Nothing to undo in this session.")
            return
        action = self.actions.pop()
        before = current_decision(self.catalog, action.sha256)
        undo_review(self.catalog, action.review_id)
        after = current_decision(self.catalog, action.sha256)
        self._shift(before.decision if before else None, after.decision if after else None)
        self.queue.seek(action.sha256)
        self._go(self.queue.current)

    def action_previous(self) -> None:
        """Go back one image without deciding."""
        if self.queue.back():
            self._go(self.queue.current)
        else:
            self.bell()

    def action_next(self) -> None:
        """Go forward one image without deciding."""
        if self.queue.advance():
            self._go(self.queue.current)
        else:
            self.bell()

    def action_note(self) -> None:
        """Ask for a note about the current image."""
        item = self.current
        if item is None:
            self.bell()
            return
        decision = current_decision(self.catalog, item.sha256)
        initial = self.pending_notes.get(item.sha256) or (decision.note if decision else None)
        self.push_screen(NoteScreen(initial), lambda note: self._save_note(item.sha256, note))

    def _save_note(self, sha256: str, note: str | None) -> None:
        """Attach ``note`` to the decision in force, or keep it for the next decision."""
        if note is None:
            return
        review_id = record_note(self.catalog, sha256, note)
        if review_id is None:
            self.pending_notes[sha256] = note
        else:
            self.actions.append(SessionAction(review_id, sha256))
            self._serial += 1
        self._show_facts()

    def action_help(self) -> None:
        """Show the keys."""
        self.push_screen(HelpScreen())
