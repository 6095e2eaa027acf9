"""The review's half-block image widget: strips drawn ahead of time, swapped in at a keypress."""

from __future__ import annotations

from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from curate.review.halfcell import Drawing, HalfcellSpec, halfcell_strips


class HalfcellView(Widget):
    """Fills its area with a :class:`Drawing`; redrawn here only when the area or style changed.

    The strips go to the screen as they are: no per-frame restyling, filtering or
    re-encoding (Textual's usual render path costs tens of milliseconds per image).
    """

    image_key: str | None = None  # the image shown (set with show)
    painted_key: str | None = None  # the image last put on screen (benchmarks and tests wait on it)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._drawing: Drawing | None = None
        self._strips: list[Strip] = []

    @property
    def drawing(self) -> Drawing | None:
        """The drawing on show (redrawn here if the widget changed size), or None."""
        return self._drawing

    @property
    def image(self) -> object | None:
        """The decoded image on show, or None."""
        return None if self._drawing is None else self._drawing.image

    def spec(self) -> HalfcellSpec:
        """How a drawing must look to fill this widget as it is now."""
        width, height = self.size  # no border or padding: the whole widget is drawn on
        return HalfcellSpec((width, height), self.rich_style, self.app.console)

    def show(self, key: str | None, drawing: Drawing | None) -> None:
        """Put ``drawing`` (of image ``key``) on screen at the next frame; None clears."""
        self.image_key, self._drawing = key, drawing
        self._strips = [] if drawing is None else drawing.strips
        self.refresh()

    def _current_strips(self) -> list[Strip]:
        """The drawing's strips, drawn again here if they were made for another size or style."""
        drawing = self._drawing
        if drawing is None:
            return []
        spec = self.spec()
        if drawing.spec != spec:  # resized or restyled since the look-ahead drew it
            drawing = Drawing(drawing.image, spec, halfcell_strips(drawing.image, spec))
            self._drawing, self._strips = drawing, drawing.strips
        return self._strips

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines of ``crop`` (widget coordinates), blank where nothing is drawn."""
        strips = self._current_strips()
        width = self.size.width
        if not strips:
            blank = Strip.blank(crop.width, self.rich_style)
            return [blank] * crop.height
        self.painted_key = self.image_key
        lines = strips[crop.y : crop.bottom]
        if crop.x != 0 or crop.width != width:
            lines = [line.crop(crop.x, crop.right) for line in lines]
        return lines
