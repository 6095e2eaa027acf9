"""Known "photo unavailable" placeholders: the built-in pHash set and matching against it.

The built-in set lives in ``curate/data/placeholders.json``; each entry names where its
picture came from. Regenerate it with ``python -m curate.placeholders`` (it draws the
pictures below and hashes them with :mod:`curate.hashing`, exactly as ``curate check`` does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from catalog.checks import add_placeholder, list_placeholders
from catalog.db import Catalog
from curate.decode import DecodedImage, decode_image
from curate.hashing import hamming, hash_image
from synthset.errors import SynthsetError

log = logging.getLogger(__name__)

BUILTIN_FILE = "placeholders.json"
DEFAULT_RADIUS = 6  # pHash bits a picture may differ from a known placeholder and still match
# Sizes the built-in pictures are hashed at: common placeholder sizes and aspect ratios.
DRAWN_SIZES = ((500, 374), (500, 375), (640, 480), (400, 300), (240, 180), (300, 300), (375, 500))


@dataclass(frozen=True)
class Placeholder:
    """One known placeholder picture, by its pHash."""

    name: str
    phash: int
    origin: str  # "built-in" or "catalog"


class PlaceholderNotImage(SynthsetError):
    """A file given to ``curate placeholder add`` does not decode as an image."""


@dataclass(frozen=True)
class AddedPlaceholder:
    """The outcome of adding one placeholder picture to a catalog."""

    name: str
    phash: int
    new: bool  # False when this pHash was already in the catalog


def add_placeholder_file(catalog: Catalog, path: Path, name: str | None = None) -> AddedPlaceholder:
    """Decode ``path``, hash it as ``curate check`` does, and remember it as a placeholder.

    :raises PlaceholderNotImage: when the file does not fully decode.
    """
    decoded = decode_image(Path(path).read_bytes())
    if not isinstance(decoded, DecodedImage):
        raise PlaceholderNotImage(
            f"{path} is not a usable image ({decoded.status}: {decoded.reason}); "
            "give a picture file that decodes"
        )
    phash = hash_image(decoded.image, with_pixels=False).phash
    label = name or Path(path).name
    return AddedPlaceholder(name=label, phash=phash, new=add_placeholder(catalog, phash, label))


def known_placeholders(catalog: Catalog) -> list[Placeholder]:
    """The built-in placeholders followed by the ones added to this catalog."""
    added = [Placeholder(name, phash, "catalog") for phash, name, _ in list_placeholders(catalog)]
    return load_builtin() + added


def draw_unavailable_tile(width: int = 500, height: int = 374) -> Image.Image:
    """A Flickr-style "This photo is no longer available" tile: light grey, pictogram, caption.

    Drawn from memory of Flickr's ``photo_unavailable.png`` (500 x 374, grey on grey);
    it is an approximation, so add the real file with ``curate placeholder add`` when you have it.
    """
    image = Image.new("RGB", (width, height), (238, 238, 238))
    draw = ImageDraw.Draw(image)
    unit = min(width, height) / 10
    cx, cy = width / 2, height * 0.4
    box = (cx - 1.6 * unit, cy - 1.2 * unit, cx + 1.6 * unit, cy + 1.2 * unit)
    draw.rounded_rectangle(box, radius=unit * 0.3, fill=(200, 200, 200))
    draw.polygon(
        [
            (box[0], box[3]),
            (cx - 0.4 * unit, cy - 0.2 * unit),
            (cx + 0.3 * unit, cy + 0.5 * unit),
            (cx + 0.8 * unit, cy + 0.1 * unit),
            (box[2], box[3]),
        ],
        fill=(170, 170, 170),
    )
    draw.ellipse(
        (cx + 0.6 * unit, cy - 0.9 * unit, cx + 1.1 * unit, cy - 0.4 * unit), fill=(225, 225, 225)
    )
    font = ImageFont.load_default(size=max(6, round(unit * 0.6)))
    caption = "This photo is no longer available"
    left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
    draw.text(
        ((width - (right - left)) / 2, height * 0.75), caption, fill=(150, 150, 150), font=font
    )
    return image


def phash_of(image: Image.Image) -> int:
    """The pHash ``curate check`` stores for a picture (RGB, same pipeline)."""
    return hash_image(image.convert("RGB"), with_pixels=False).phash


def load_builtin() -> list[Placeholder]:
    """The built-in placeholder hashes shipped in ``curate/data/placeholders.json``."""
    text = resources.files("curate").joinpath("data", BUILTIN_FILE).read_text("utf-8")
    return [
        Placeholder(name=entry["name"], phash=int(entry["phash"]), origin="built-in")
        for entry in json.loads(text)["placeholders"]
    ]


def match_placeholder(
    phash: int, known: Iterable[Placeholder], radius: int = DEFAULT_RADIUS
) -> tuple[Placeholder, int] | None:
    """The closest known placeholder within ``radius`` bits of ``phash`` and its distance."""
    best: tuple[Placeholder, int] | None = None
    for candidate in known:
        distance = hamming(phash, candidate.phash)
        if distance <= radius and (best is None or distance < best[1]):
            best = (candidate, distance)
    return best


def _drawn_sources() -> list[tuple[str, str, object]]:
    """(name prefix, where it came from, draw(width, height)) for every built-in picture."""
    sources: list[tuple[str, str, object]] = [
        (
            "flickr-like unavailable tile",
            "curate.placeholders.draw_unavailable_tile",
            draw_unavailable_tile,
        ),
    ]
    try:
        from crawler.mirror.drawing import draw_placeholder
    except ImportError:  # the mirror is optional for regenerating
        log.warning("crawler.mirror.drawing not importable; skipping the mirror's placeholder")
    else:
        sources.append(
            (
                "mirror photo-unavailable",
                "crawler.mirror.drawing.draw_placeholder",
                draw_placeholder,
            )
        )
    return sources


def build_builtin() -> dict[str, object]:
    """The JSON document of built-in placeholders: every drawn picture at :data:`DRAWN_SIZES`."""
    entries, seen = [], set()
    for prefix, origin, draw in _drawn_sources():
        for width, height in DRAWN_SIZES:
            phash = phash_of(draw(width, height))  # type: ignore[operator]
            if phash in seen:
                continue
            seen.add(phash)
            entries.append(
                {
                    "name": f"{prefix} {width}x{height}",
                    "phash": phash,
                    "source": f"{origin}({width}, {height})",
                }
            )
    return {
        "about": "pHash (signed int64, curate.hashing) of known placeholder pictures; "
        "regenerate with `python -m curate.placeholders`",
        "placeholders": entries,
    }


if __name__ == "__main__":
    target = Path(__file__).parent / "data" / BUILTIN_FILE
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(build_builtin(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {target}")
