"""The review's widgets: facts panel, progress line, help and note screens."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from catalog.review_queue import ImageFacts, QueueCounts


def _size(facts: ImageFacts) -> str:
    """``W x H`` or a dash when the check did not record it."""
    if facts.width is None or facts.height is None:
        return "-"
    return f"{facts.width} x {facts.height}"


def facts_table(facts: ImageFacts, decision: str | None, note: str | None) -> Table:
    """The facts of one image as a two-column table."""
    table = Table.grid()
    table.add_column(style="bold", no_wrap=True, width=11)
    table.add_column(overflow="fold")
    url = facts.url or "-"
    if facts.other_urls:
        url += f"  (+{facts.other_urls} more)"
    synset = facts.wnid or "-"
    if facts.words:
        synset += f"  {facts.words}"
    rows = [
        ("url", url),
        ("source", facts.source or "-"),
        ("synset", synset),
        ("found on", facts.found_on or "-"),
        ("size", _size(facts)),
        ("format", facts.format or "-"),
        ("bytes", f"{facts.bytes:,}"),
        ("duplicates", str(facts.duplicates)),
        ("sha256", facts.sha256[:16]),
        ("decision", decision or "undecided"),
    ]
    if note:
        rows.append(("note", note))
    for name, value in rows:
        table.add_row(name, Text(value))
    return table


def progress_text(counts: QueueCounts | None) -> str:
    """``decided / total`` and the accept rate, or a placeholder while counting."""
    if counts is None:
        return "counting..."
    rate = counts.accept_rate
    shown = "-" if rate is None else f"{rate:.0%}"
    return (
        f"{counts.decided:,} / {counts.total:,} decided  ·  accepted {counts.accepted:,}  ·  "
        f"rejected {counts.rejected:,}  ·  skipped {counts.skipped:,}  ·  accept rate {shown}"
    )


class FactsPanel(Static):
    """What is known about the image on screen."""

    table: Table | None = None  # what the panel shows now

    def show(self, facts: ImageFacts | None, decision: str | None, note: str | None) -> None:
        """Replace the panel's content with ``facts``."""
        self.table = None if facts is None else facts_table(facts, decision, note)
        self.update(self.table or "", layout=False)  # the panel's size is fixed by the stylesheet


HELP = """\
[b]a[/b] / [b]Enter[/b]   accept          [b]r[/b] / [b]x[/b]       reject
[b]s[/b] / [b]Space[/b]   skip            [b]u[/b] / [b]Ctrl+Z[/b]  undo (repeatable)
[b]←[/b] / [b]→[/b]       previous / next [b]n[/b]           add a note
[b]?[/b]           this help       [b]q[/b]           quit

Every decision is saved to the catalog as you press the key;
the next `curate review` starts at the first undecided image.
"""


class HelpScreen(ModalScreen[None]):
    """The key list; any key closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", show=False)]

    def compose(self) -> ComposeResult:
        """The help box."""
        with Vertical(id="help-box"):
            yield Label("Keys", id="help-title")
            yield Static(HELP, id="help-text")

    def on_key(self, event) -> None:
        """Close on any key, without letting it reach the review."""
        event.stop()
        event.prevent_default()
        self.dismiss(None)


class NoteScreen(ModalScreen[str | None]):
    """One line of text to attach to the image's decision; Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, initial: str | None = None) -> None:
        super().__init__()
        self.initial = initial or ""

    def compose(self) -> ComposeResult:
        """A label and the input."""
        with Vertical(id="note-box"):
            yield Label("Note (Enter to save, Escape to cancel)", id="note-title")
            yield Input(self.initial, id="note-input")

    @on(Input.Submitted, "#note-input")
    def _submitted(self, event: Input.Submitted) -> None:
        """Hand the note back (None when blank)."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Close without a note."""
        self.dismiss(None)
