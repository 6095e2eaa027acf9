"""A quicker half-block image renderable: one ▀ per two pixels, colours and styles cached."""

from __future__ import annotations

from functools import lru_cache

from PIL import Image
from rich.color import Color
from rich.color_triplet import ColorTriplet
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual_image._geometry import ImageSize
from textual_image._terminal import get_cell_size

UPPER_HALF = "▀"


@lru_cache(maxsize=65536)
def _style(top: int, bottom: int) -> Style:
    """The style of a cell whose upper pixel is ``top`` and lower ``bottom`` (0xRRGGBB)."""
    upper = Color.from_triplet(ColorTriplet(top >> 16, (top >> 8) & 255, top & 255))
    lower = Color.from_triplet(ColorTriplet(bottom >> 16, (bottom >> 8) & 255, bottom & 255))
    return Style.from_color(upper, lower)


class FastHalfcellImage:
    """Drop-in for textual-image's half-cell renderable, several times quicker to render.

    It takes the same arguments, skips the per-render copy of the image, and builds
    each cell's style from a cache instead of parsing a new one.
    """

    def __init__(self, image: Image.Image, width: int | str | None = None,
                 height: int | str | None = None) -> None:
        self._image = image if image.mode == "RGB" else image.convert("RGB")
        self._render_size = ImageSize(self._image.width, self._image.height, width, height)

    def cleanup(self) -> None:
        """Nothing to free."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Rows of ▀ cells: foreground the upper pixel, background the lower."""
        width, height = self._render_size.get_cell_size(
            options.max_width, options.max_height, get_cell_size()
        )
        if width <= 0 or height <= 0:
            return
        image = self._image
        if image.size != (width, height * 2):
            image = image.resize((width, height * 2), Image.Resampling.BILINEAR)
        raw = image.tobytes()
        pixels = [
            (raw[i] << 16) | (raw[i + 1] << 8) | raw[i + 2] for i in range(0, len(raw), 3)
        ]
        newline = Segment.line()
        for row in range(height):
            upper = pixels[2 * row * width : (2 * row + 1) * width]
            lower = pixels[(2 * row + 1) * width : (2 * row + 2) * width]
            for top, bottom in zip(upper, lower, strict=True):
                yield Segment(UPPER_HALF, _style(top, bottom))
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """The width in cells the image takes."""
        width, _ = self._render_size.get_cell_size(
            options.max_width, options.max_height, get_cell_size()
        )
        return Measurement(width, width)
