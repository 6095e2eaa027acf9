"""Half-block drawing: one ▀ per two pixels, as a Rich renderable or as ready-made strips."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from rich.color import Color
from rich.color_triplet import ColorTriplet
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual_image._geometry import ImageSize
from textual_image._terminal import get_cell_size

from curate.review.prefetch import decode_scaled

UPPER_HALF = "▀"


# Small on purpose: a photograph has thousands of colour pairs that no other shares,
# and every cached style is five objects the garbage collector walks on each full
# collection (65,536 entries made those pauses several hundred milliseconds).
@lru_cache(maxsize=4096)
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


@dataclass(frozen=True)
class HalfcellSpec:
    """How to draw for one image area: its size in cells and the style of the margins."""

    cells: tuple[int, int]  # (width, height) of the area in terminal cells
    margin: Style  # the area's background, for the cells around the picture
    console: Console | None = field(default=None, compare=False)  # encode ahead for this one

    @property
    def box(self) -> tuple[int, int]:
        """The area in pixels: one wide, two high per cell."""
        return (self.cells[0], 2 * self.cells[1])


@dataclass(frozen=True)
class Drawing:
    """A picture drawn for one area: the decoded image and one strip per line of the area."""

    image: Image.Image
    spec: HalfcellSpec
    strips: list[Strip]


def _cell_runs(image: Image.Image) -> list[list[tuple[int, int]]]:
    """Per cell row, runs of equal cells as (length, (upper << 24) | lower) pairs."""
    rgb = np.asarray(image, dtype=np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    cells = (packed[0::2].astype(np.uint64) << 24) | packed[1::2]
    rows = []
    for line in cells:
        starts = np.flatnonzero(np.concatenate(([True], line[1:] != line[:-1])))
        lengths = np.diff(np.append(starts, len(line)))
        rows.append(list(zip(lengths.tolist(), line[starts].tolist(), strict=True)))
    return rows


def halfcell_strips(image: Image.Image, spec: HalfcellSpec) -> list[Strip]:
    """The lines of ``spec``'s area with ``image`` centred in it (scaled down to fit if needed).

    Runs of equal cells share one segment. With ``spec.console`` set, each strip is
    also encoded to terminal bytes now (Strip caches them), so a later frame only copies.
    """
    width, height = spec.cells
    if width <= 0 or height <= 0:
        return []
    image = image if image.mode == "RGB" else image.convert("RGB")
    if image.width > width or image.height > 2 * height:
        image = image.copy()
        image.thumbnail(spec.box, Image.Resampling.BILINEAR)
    rows = max(image.height // 2, 1)
    if image.height != 2 * rows:  # an odd last pixel row: drop it (or double a lone one)
        image = image.resize((image.width, 2 * rows), Image.Resampling.NEAREST)
    left = (width - image.width) // 2
    right = width - image.width - left
    top = (height - rows) // 2
    blank = Strip.blank(width, spec.margin)
    strips = [blank] * top
    for runs in _cell_runs(image):
        segments = [Segment(" " * left, spec.margin)] if left else []
        for length, pair in runs:
            segments.append(Segment(UPPER_HALF * length, _style(pair >> 24, pair & 0xFFFFFF)))
        if right:
            segments.append(Segment(" " * right, spec.margin))
        strips.append(Strip(segments, width))
    strips += [blank] * (height - top - rows)
    if spec.console is not None:
        for strip in strips:
            strip.render(spec.console)
    return strips


def draw_halfcell(path: Path, spec: HalfcellSpec) -> Drawing:
    """Decode ``path`` to fit ``spec``'s area and draw it (runs in the look-ahead thread)."""
    image = decode_scaled(path, spec.box)
    return Drawing(image, spec, halfcell_strips(image, spec))
