"""Image protocols for the review: a table from the ``--protocol`` choice to a textual-image widget.

textual-image asks the terminal what it supports when it is first imported, and
that only works before Textual takes over the terminal: resolve the protocol
(:func:`image_widget`) before the app runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.strip import Strip


@dataclass(frozen=True)
class Protocol:
    """One way to draw pixels in a terminal: the textual-image widget and its pixels per cell."""

    widget: str  # attribute of textual_image.widget
    cell_pixels: str  # "halfcell": 1x2 pixels per cell; "native": the terminal's cell size


PROTOCOLS: dict[str, Protocol] = {
    "auto": Protocol("Image", "auto"),
    "halfcell": Protocol("HalfcellImage", "halfcell"),
    "sixel": Protocol("SixelImage", "native"),
    "kitty": Protocol("TGPImage", "native"),
}


@dataclass(frozen=True)
class ResolvedProtocol:
    """A protocol ready for the app: the widget class and how many pixels fill one cell."""

    name: str
    widget_class: type
    cell_pixels: tuple[int, int]  # (width, height) in pixels of one terminal cell
    halfcell: bool = False  # drawn with half blocks (the review then draws ahead: imageview)


class _PaintStamp:
    """Mixin: remembers which image key was last painted (benchmarks wait on it)."""

    image_key: str | None = None
    painted_key: str | None = None

    def show(self, key: str | None, picture: Any) -> None:
        """Show ``picture`` (a decoded image) as image ``key``; None clears."""
        self.image_key = key
        self.image = picture  # type: ignore[attr-defined]

    def render_lines(self, crop: Any) -> list[Strip]:
        """Paint, then note that the current image reached the screen."""
        lines = super().render_lines(crop)  # type: ignore[misc]
        if self.image is not None:  # type: ignore[attr-defined]
            self.painted_key = self.image_key
        return lines


def image_widget(name: str) -> ResolvedProtocol:
    """Import textual-image and resolve ``name`` (a key of :data:`PROTOCOLS`).

    :raises ValueError: for an unknown name, listing the valid ones.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    import textual_image.renderable as renderables
    import textual_image.widget as widgets
    from textual_image._terminal import get_cell_size

    protocol = PROTOCOLS[name]
    from curate.review.halfcell import FastHalfcellImage

    base = getattr(widgets, protocol.widget)
    kind = protocol.cell_pixels
    if kind == "auto":
        native = renderables.Image in (renderables.SixelImage, renderables.TGPImage)
        kind = "native" if native else "halfcell"
    renderable = base._Renderable
    if kind == "halfcell":  # the same drawing, rendered quicker
        base, renderable = widgets.HalfcellImage, FastHalfcellImage
    cell = get_cell_size()
    cell_pixels = (cell.width, cell.height) if kind == "native" else (1, 2)
    widget_class = type(
        f"Review{base.__name__}", (_PaintStamp, base), {}, Renderable=renderable
    )
    return ResolvedProtocol(name, widget_class, cell_pixels, halfcell=kind == "halfcell")
