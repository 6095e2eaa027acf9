"""Real photographs (scikit-image's bundled samples), the edits that make near duplicates of
them, and pairs of different photographs of one scene; shared by the dedup tests and
benchmarks/dedup_quality.py.

What counts as a duplicate here: one picture shows the whole of the other, or nearly (a
crop of up to 10% per side, a resize, a recompression, a colour change, a small rotation,
a caption written over the picture or a watermark). Different photographs of one scene
are not: two views of one large photograph that overlap by 40% of their width (a pan), or
not at all (two regions of one texture, one sky, one page). The two halves of a stereo
pair (viewpoints a few centimetres apart) are kept apart and scored on their own: the
verification cannot tell them from a re-encoding (see docs/dedup.md).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from skimage import data as samples

# Photographs with variants: every bundled photo that is a photograph (not a drawing,
# chart or synthetic picture). skimage's `cat` is `chelsea`, so it is not listed.
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "coins", "moon", "immunohistochemistry",
          "hubble_deep_field", "gravel", "text", "rocket", "brick", "grass", "clock", "cell",
          "retina", "page", "microaneurysms")


@cache
def load_photo(name: str) -> Image.Image:
    """A bundled sample photograph as an 8-bit L or RGB PIL image (loaded once; do not edit)."""
    if name in ("motorcycle_left", "motorcycle_right"):
        left, right, _ = samples.stereo_motorcycle()
        pixels = left if name == "motorcycle_left" else right
    else:
        pixels = getattr(samples, name)()
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255).round()
    return Image.fromarray(pixels.astype(np.uint8))


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    """The image encoded as ``fmt`` (PNG by default)."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def crop_sides(image: Image.Image, share: float) -> Image.Image:
    """The image with ``share`` of its width and height cut from every side."""
    w, h = image.size
    dx, dy = round(w * share), round(h * share)
    return image.crop((dx, dy, w - dx, h - dy))


def thumbnail(image: Image.Image, side: int) -> Image.Image:
    """The image shrunk so its longer side is ``side`` pixels."""
    copy = image.copy()
    copy.thumbnail((side, side), Image.LANCZOS)
    return copy


def caption(image: Image.Image) -> Image.Image:
    """A dark translucent strip with a line of white text over the bottom 12% of the picture."""
    base = image.convert("RGBA")
    w, h = base.size
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((0, h * 88 // 100, w, h), fill=(0, 0, 0, 150))
    draw.text((w // 20, h * 90 // 100), "Photo: a caption, (c) 2024 someone",
              fill=(255, 255, 255, 255), font_size=max(8, h // 20))
    return Image.alpha_composite(base, layer).convert(image.mode)


def caption_band(image: Image.Image) -> Image.Image:
    """A white band with a line of text added under the picture (12% of its height)."""
    w, h = image.size
    band = max(12, h * 12 // 100)
    canvas = Image.new(image.mode, (w, h + band), "white")
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.text((w // 20, h + band // 4), "Photo: a caption, (c) 2024 someone", fill="black",
              font_size=max(8, band // 2))
    return canvas


def watermark(image: Image.Image) -> Image.Image:
    """Semi-transparent white text written across the middle of the picture."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    w, h = base.size
    draw = ImageDraw.Draw(layer)
    draw.text((w // 10, h * 2 // 5), "SAMPLE WATERMARK", fill=(255, 255, 255, 110),
              font_size=max(10, w // 12))
    return Image.alpha_composite(base, layer).convert(image.mode if image.mode != "L" else "L")


def rotate(image: Image.Image, degrees: float) -> Image.Image:
    """The image turned by ``degrees``, same size, corners filled with black."""
    return image.rotate(degrees, resample=Image.BICUBIC)


def contrast(image: Image.Image, factor: float) -> Image.Image:
    """Contrast scaled by ``factor`` around the mean."""
    return ImageEnhance.Contrast(image).enhance(factor)


def brightness(image: Image.Image, factor: float) -> Image.Image:
    """Brightness scaled by ``factor``."""
    return ImageEnhance.Brightness(image).enhance(factor)


# Edit name -> encoded near duplicate of a photo. The list first, then the
# measurements its first report used (half size, quality 25, 4% crop, +15%, PNG, 160 px).
TRANSFORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "crop10": lambda im: encode(crop_sides(im, 0.10)),
    "thumbnail": lambda im: encode(thumbnail(im, 128), "JPEG", quality=85),
    "jpeg_q20": lambda im: encode(im, "JPEG", quality=20),
    "brighter20": lambda im: encode(brightness(im, 1.2)),
    "darker20": lambda im: encode(brightness(im, 0.8)),
    "contrast_up20": lambda im: encode(contrast(im, 1.2)),
    "contrast_down20": lambda im: encode(contrast(im, 0.8)),
    "rotate3": lambda im: encode(rotate(im, 3.0)),
    "rotate_minus3": lambda im: encode(rotate(im, -3.0)),
    "caption": lambda im: encode(caption(im), "JPEG", quality=90),
    "watermark": lambda im: encode(watermark(im)),
    "grayscale": lambda im: encode(ImageOps.grayscale(im), "JPEG", quality=90),
    "half_size": lambda im: encode(im.resize((im.width // 2, im.height // 2), Image.LANCZOS),
                                   "JPEG", quality=90),
    "jpeg_q25": lambda im: encode(im, "JPEG", quality=25),
    "crop4": lambda im: encode(crop_sides(im, 0.04)),
    "brighter15": lambda im: encode(brightness(im, 1.15)),
    "png": lambda im: encode(im, "PNG", compress_level=1),
    "thumb160": lambda im: encode(thumbnail(im, 160), "JPEG", quality=90),
}
# Edits scored apart from the figures above: the canvas grows, so no hash of the original
# framing stays close; dedup finds such a copy only when it is within the radius of some
# edit (2 of the 18 photographs; see docs/dedup.md).
EXTRA_TRANSFORMS: dict[str, Callable[[Image.Image], bytes]] = {
    "caption_band": lambda im: encode(caption_band(im), "JPEG", quality=90),
}


def _region(image: Image.Image, left: float, right: float) -> Image.Image:
    """The columns from ``left`` to ``right`` (shares of the width), full height."""
    return image.crop((round(image.width * left), 0, round(image.width * right), image.height))


def _quadrant(image: Image.Image, column: int, row: int) -> Image.Image:
    """One quarter of the image (column, row in 0..1)."""
    w, h = image.width // 2, image.height // 2
    return image.crop((column * w, row * h, column * w + w, row * h + h))


PANNED = ("astronaut", "coffee", "chelsea", "hubble_deep_field", "retina", "motorcycle_left")
REGIONS = ("gravel", "grass", "brick", "hubble_deep_field", "moon", "text", "coins")
HARD_NEGATIVES = (*(f"pan40_{name}" for name in PANNED), *(f"regions_{name}" for name in REGIONS))


@cache
def hard_negatives() -> dict[str, tuple[bytes, bytes]]:
    """Hard negative name -> two different photographs of one scene (PNG; built once)."""
    pairs: dict[str, tuple[bytes, bytes]] = {}
    for name in PANNED:
        photo = load_photo(name)
        pairs[f"pan40_{name}"] = (encode(_region(photo, 0.0, 0.7)),
                                  encode(_region(photo, 0.3, 1.0)))
    for name in REGIONS:
        photo = load_photo(name)
        pairs[f"regions_{name}"] = (encode(_quadrant(photo, 0, 0)), encode(_quadrant(photo, 1, 1)))
    return pairs


def stereo_pair() -> tuple[bytes, bytes]:
    """The two halves of scikit-image's stereo pair (Middlebury's motorcycle), as PNG."""
    return encode(load_photo("motorcycle_left")), encode(load_photo("motorcycle_right"))
