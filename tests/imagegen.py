"""Real image bytes of every kind the curate tests need (stable API: other tests import it).

Every function is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

EXIF_ORIENTATION = 0x0112


def picture(width: int = 160, height: int = 120, seed: int = 0) -> Image.Image:
    """A photo-like RGB picture: a gradient backdrop, a few shapes and mild noise.

    Different seeds give pictures whose perceptual hashes are far apart.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x / max(width, 1) + np.sin(angle) * y / max(height, 1)) * 0.5 + 0.5
    base = rng.uniform(40, 215, size=3)
    spread = rng.uniform(-90, 90, size=3)
    pixels = base + spread * ramp[..., None]
    pixels += rng.normal(0, 6, size=pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 7))):
        x0, x1 = sorted(rng.uniform(-0.1, 1.1, size=2) * width)
        y0, y1 = sorted(rng.uniform(-0.1, 1.1, size=2) * height)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """``image`` saved in ``fmt`` (a Pillow format name) as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg(width: int = 160, height: int = 120, seed: int = 0, quality: int = 90) -> bytes:
    """A baseline RGB JPEG of :func:`picture`."""
    return encode(picture(width, height, seed), "JPEG", quality=quality)


def png(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """An RGB PNG of :func:`picture` (same pixels as the picture, losslessly)."""
    return encode(picture(width, height, seed), "PNG")


def bmp(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """An RGB BMP of :func:`picture`: same decoded pixels as :func:`png`, other encoding."""
    return encode(picture(width, height, seed), "BMP")


def truncated_jpeg(width: int = 160, height: int = 120, seed: int = 0, keep: float = 0.6) -> bytes:
    """A JPEG cut short after ``keep`` of its bytes (a download that stopped)."""
    data = jpeg(width, height, seed)
    return data[: int(len(data) * keep)]


def truncated_png(width: int = 160, height: int = 120, seed: int = 0, keep: float = 0.6) -> bytes:
    """A PNG cut short after ``keep`` of its bytes."""
    data = png(width, height, seed)
    return data[: int(len(data) * keep)]


def html() -> bytes:
    """An HTML error page, as hosts serve in place of an image."""
    return (
        b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1><p>The photo you requested is gone.</p></body></html>\n"
    )


def empty() -> bytes:
    """A zero-byte body."""
    return b""


def cmyk_jpeg(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A four-channel CMYK JPEG."""
    return encode(picture(width, height, seed).convert("CMYK"), "JPEG", quality=92)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_file(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def png16_gray(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A 16-bit greyscale PNG whose values span the full 0..65535 range."""
    gray = np.asarray(picture(width, height, seed).convert("L"), dtype=np.uint16) * 257
    rows = gray.astype(">u2")
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))
    return _png_file(width, height, 16, 0, raw)


def png16_rgb(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A 48-bit RGB PNG (16 bits per channel)."""
    rgb = np.asarray(picture(width, height, seed), dtype=np.uint16) * 257
    rows = rgb.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))
    return _png_file(width, height, 16, 2, raw)


def palette_png(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A mode-P PNG with a 64-colour adaptive palette."""
    return encode(picture(width, height, seed).quantize(colors=64), "PNG")


def rgba_png(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """An RGBA PNG: the picture inside an opaque ellipse, transparent (black) corners."""
    image = picture(width, height, seed)
    alpha = Image.new("L", image.size, 0)
    ImageDraw.Draw(alpha).ellipse((0, 0, width - 1, height - 1), fill=255)
    black = Image.new("RGB", image.size, (0, 0, 0))
    rgba = Image.composite(image, black, alpha)
    rgba.putalpha(alpha)
    return encode(rgba, "PNG")


def animated_gif(width: int = 160, height: int = 120, seed: int = 0, frames: int = 3) -> bytes:
    """An animated GIF of ``frames`` frames (the picture, then shifted copies)."""
    base = picture(width, height, seed)
    sequence = [
        base.transform(base.size, Image.Transform.AFFINE, (1, 0, -4 * i, 0, 1, 0)).quantize(255)
        for i in range(frames)
    ]
    return encode(
        sequence[0], "GIF", save_all=True, append_images=sequence[1:], duration=100, loop=0
    )


def truncated_gif(width: int = 160, height: int = 120, seed: int = 0, frames: int = 3) -> bytes:
    """An animated GIF cut inside its last frame."""
    data = animated_gif(width, height, seed, frames)
    return data[: int(len(data) * 0.85)]


def exif_rotated_jpeg(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A JPEG stored turned 90 degrees with EXIF orientation 6; displays ``width`` x ``height``."""
    stored = picture(width, height, seed).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def decompression_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` greyscale pixels."""
    raw = b"".join(b"\x00" + bytes(width) for _ in range(2))
    return _png_file(width, height, 8, 0, raw)


def flickr_placeholder(width: int = 500, height: int = 374) -> bytes:
    """A PNG of the Flickr-like "photo no longer available" tile that curate knows built in."""
    from curate.placeholders import draw_unavailable_tile

    return encode(draw_unavailable_tile(width, height), "PNG")


def placeholder(width: int = 500, height: int = 374) -> bytes:
    """A "photo unavailable" placeholder JPEG (the Flickr-like tile curate knows built in)."""
    from curate.placeholders import draw_unavailable_tile

    return encode(draw_unavailable_tile(width, height), "JPEG", quality=90)


def kinds() -> dict[str, tuple[bytes, str]]:
    """One sample of every kind: name -> (bytes, the status ``curate check`` must give)."""
    return {
        "jpeg": (jpeg(seed=1), "ok"),
        "png": (png(seed=2), "ok"),
        "cmyk": (cmyk_jpeg(seed=3), "ok"),
        "png16_gray": (png16_gray(seed=4), "ok"),
        "png16_rgb": (png16_rgb(seed=5), "ok"),
        "palette": (palette_png(seed=6), "ok"),
        "rgba": (rgba_png(seed=7), "ok"),
        "animated_gif": (animated_gif(seed=8), "ok"),
        "exif_rotated": (exif_rotated_jpeg(seed=9), "ok"),
        "truncated_jpeg": (truncated_jpeg(seed=10), "corrupt"),
        "truncated_png": (truncated_png(seed=11), "corrupt"),
        "truncated_gif": (truncated_gif(seed=12), "corrupt"),
        "html": (html(), "not_image"),
        "empty": (empty(), "empty"),
        "bomb": (decompression_bomb(), "corrupt"),
        "tiny": (png(20, 40, seed=13), "too_small"),
        "placeholder": (placeholder(), "placeholder"),
    }
