"""Safe full decoding of one image body into a normalised 8-bit RGB or L pixel array."""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from curate.hashing import REDUCE_TO

log = logging.getLogger(__name__)

# Pillow's own bomb threshold (about 89.5 megapixels, e.g. 10000 x 8950); larger is refused.
DEFAULT_MAX_PIXELS = 89_478_485
MAX_FRAMES = 1000  # an animation with more frames than this is refused (decode time bomb)
EXIF_ORIENTATION = 0x0112
WHITE = 255.0  # transparent pixels are composited onto white
# JPEGs are decoded at libjpeg's reduced DCT scale while the shorter side stays above this
# (the size the hashes reduce to anyway); None for full size (see decode_image).
DRAFT_SIDE: int = REDUCE_TO


@dataclass(frozen=True)
class DecodedImage:
    """A fully decoded image after EXIF orientation, normalised to an 8-bit L or RGB PIL image."""

    image: Image.Image  # mode L or RGB
    format: str
    mode: str  # the mode as stored (CMYK, P, I;16, RGBA, ...), before normalising
    frames: int
    width: int  # full-resolution size as displayed, even when ``scaled``
    height: int
    # A JPEG that libjpeg decoded at reduced DCT scale (``draft_side``): the pixels are
    # 1/reduction of the full size (1: full resolution).
    reduction: int = 1

    @property
    def scaled(self) -> bool:
        """Whether the pixels are smaller than the picture (a JPEG decoded at reduced scale)."""
        return self.reduction > 1

    @property
    def pixels(self) -> np.ndarray:
        """The pixels as a uint8 array, (h, w) for L or (h, w, 3) for RGB."""
        return np.asarray(self.image)


@dataclass(frozen=True)
class DecodeFailure:
    """Why a body is not a usable image: a status token (empty, not_image, corrupt) and a reason."""

    status: str
    reason: str


def describe_non_image(data: bytes) -> str:
    """A human-readable guess of what a body that is not an image holds."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head:
        return "HTML document, not an image"
    if head.startswith((b"<?xml", b"<svg")):
        return "XML/SVG document, not a raster image"
    if head.startswith((b"{", b"[")):
        return "JSON-like text, not an image"
    if data[:5] == b"%PDF-":
        return "PDF document, not an image"
    try:
        data[:256].decode("utf-8")
        return "text, not an image"
    except UnicodeDecodeError:
        return f"unrecognised binary data (starts {data[:8].hex()})"


def _alpha_onto_white(rgba: np.ndarray) -> np.ndarray:
    """Composite an (h, w, C+1) array with its alpha onto white; return uint8 without alpha."""
    colour = rgba[..., :-1].astype(np.float32)
    alpha = rgba[..., -1:].astype(np.float32) / 255.0
    out = colour * alpha + WHITE * (1.0 - alpha)
    out = np.rint(out).astype(np.uint8)
    return out[..., 0] if out.shape[-1] == 1 else out


def _wide_to_uint8(image: Image.Image) -> np.ndarray:
    """16-bit (or 32-bit int) greyscale scaled to 0..255, not clipped as ``convert('L')`` would."""
    wide = np.asarray(image).astype(np.float64)
    top = 65535.0 if wide.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
    return np.rint(np.clip(wide, 0, top) * (255.0 / top)).astype(np.uint8)


def _float_to_uint8(image: Image.Image) -> np.ndarray:
    """32-bit float greyscale: values taken as 0..255 (Pillow's convention), clipped."""
    return np.rint(np.clip(np.asarray(image), 0, 255)).astype(np.uint8)


def _palette(image: Image.Image) -> np.ndarray:
    """Palette images: through RGBA when the palette carries transparency."""
    if "transparency" in image.info or image.palette.mode == "RGBA":
        return _alpha_onto_white(np.asarray(image.convert("RGBA")))
    return np.asarray(image.convert("RGB"))


# Stored mode -> how to turn it into uint8 L or RGB (house rule: a table, not if/elif).
_NORMALISERS: dict[str, Callable[[Image.Image], np.ndarray]] = {
    "L": np.asarray,
    "RGB": np.asarray,
    "1": lambda im: np.asarray(im.convert("L")),
    "P": _palette,
    "PA": lambda im: _alpha_onto_white(np.asarray(im.convert("RGBA"))),
    "LA": lambda im: _alpha_onto_white(np.asarray(im)),
    "La": lambda im: _alpha_onto_white(np.asarray(im.convert("LA"))),
    "RGBA": lambda im: _alpha_onto_white(np.asarray(im)),
    "RGBa": lambda im: _alpha_onto_white(np.asarray(im.convert("RGBA"))),
    "I": _wide_to_uint8,
    "I;16": _wide_to_uint8,
    "I;16L": _wide_to_uint8,
    "I;16B": _wide_to_uint8,
    "I;16N": _wide_to_uint8,
    "F": _float_to_uint8,
}


def normalise(image: Image.Image) -> Image.Image:
    """A loaded image as 8-bit L or RGB (L and RGB pass through untouched)."""
    if image.mode in ("L", "RGB"):
        return image
    convert = _NORMALISERS.get(image.mode, lambda im: np.asarray(im.convert("RGB")))
    return Image.fromarray(np.ascontiguousarray(convert(image)))


def _check_frames(image: Image.Image) -> int:
    """Decode every frame after the first (truncated animations fail here); return the count."""
    frames = int(getattr(image, "n_frames", 1) or 1)
    if frames > MAX_FRAMES:
        raise _Refused(f"refused: {frames} frames exceeds the {MAX_FRAMES}-frame cap")
    for index in range(1, frames):
        image.seek(index)
        image.load()
    if frames > 1:
        image.seek(0)
        image.load()
    return frames


class _Refused(Exception):
    """Internal: a body refused on purpose (bomb), reported as corrupt with this reason."""


def decode_image(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, draft_side: int | None = DRAFT_SIDE
) -> DecodedImage | DecodeFailure:
    """Fully decode ``data``: every byte of every frame, refusing bombs over ``max_pixels``.

    :param draft_side: for JPEG only, let libjpeg scale the output down (by 1/2 .. 1/8)
        while the shorter side stays > this; ``None`` decodes at full size. Every byte of
        the entropy-coded stream is still Huffman-decoded (every coefficient, to find the
        next block), so truncation and a broken stream are caught exactly as at full size;
        only the inverse DCT, chroma upsampling and colour conversion run on fewer pixels.
        The result's ``reduction`` says by how much.
    Never raises for bad input: problems come back as a :class:`DecodeFailure`.
    """
    if not data:
        return DecodeFailure("empty", "0 bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or "unknown"
            width, height = image.size
            if width * height > max_pixels:
                raise _Refused(
                    f"refused: {width}x{height} = {width * height} pixels exceeds the "
                    f"{max_pixels}-pixel cap (decompression bomb guard)"
                )
            mode = image.mode
            reduction = 1
            if draft_side is not None and fmt == "JPEG" and min(width, height) > 2 * draft_side:
                scale = draft_side / min(width, height)
                drafted = image.draft(mode, (int(width * scale) + 1, int(height * scale) + 1))
                if drafted is not None:  # (mode, (0, 0, width / reduction, height / reduction))
                    reduction = round(width / drafted[1][2])
            image.load()
            frames = _check_frames(image)
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            if orientation != 1:
                image = ImageOps.exif_transpose(image)
            image = normalise(image)
    except UnidentifiedImageError:
        return DecodeFailure("not_image", describe_non_image(data))
    except Image.DecompressionBombError as error:
        return DecodeFailure("corrupt", f"refused as a decompression bomb: {error}")
    except _Refused as refused:
        return DecodeFailure("corrupt", str(refused))
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        # OSError "image file is truncated", "broken data stream", zlib errors; SyntaxError
        # from malformed headers; the others from decoders tripping over garbage.
        message = str(error) or type(error).__name__
        if "truncated" in message or isinstance(error, EOFError):
            return DecodeFailure("corrupt", f"truncated: {message}")
        return DecodeFailure("corrupt", f"does not decode: {message}")
    return DecodedImage(
        image=image, format=fmt, mode=mode, frames=frames, width=width, height=height,
        reduction=reduction,
    )  # fmt: skip
