"""Turn drawn pictures into the exact bytes a host would serve, ordinary or odd."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

EXIF_ORIENTATION = 0x0112


def _quantized(image: Image.Image, colors: int) -> Image.Image:
    """Palette image with up to ``colors`` colours (fast octree, deterministic)."""
    return image.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE)


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """Baseline JPEG at a fixed quality (deterministic for a given libjpeg)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(image: Image.Image, compress_level: int = 6) -> bytes:
    """PNG at the given zlib level (0..9): same pixels, other bytes for each level."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()


def gif(image: Image.Image) -> bytes:
    """A single-frame GIF (palette of up to 256 colours)."""
    buffer = io.BytesIO()
    _quantized(image, 255).save(buffer, "GIF")
    return buffer.getvalue()


def bmp(image: Image.Image) -> bytes:
    """Uncompressed BMP: 3 bytes per pixel, so a 2048x2048 picture is 12 MiB."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "BMP")
    return buffer.getvalue()


def exif_rotated_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """JPEG whose stored pixels are turned 90 degrees, with EXIF orientation 6 to turn them back."""
    stored = image.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def cmyk_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """A four-channel CMYK JPEG (as print workflows produce)."""
    buffer = io.BytesIO()
    image.convert("CMYK").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_file(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png16(image: Image.Image) -> bytes:
    """A 48-bit RGB PNG (16 bits per channel), written by hand since Pillow cannot write one."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint16) * 257
    rows = rgb.astype(">u2").reshape(rgb.shape[0], -1).tobytes()
    stride = rgb.shape[1] * 6
    raw = b"".join(b"\x00" + rows[y * stride : (y + 1) * stride] for y in range(rgb.shape[0]))
    return _png_file(rgb.shape[1], rgb.shape[0], 16, 2, zlib.compress(raw, 6))


def palette_png(image: Image.Image) -> bytes:
    """An 8-bit palette (mode P) PNG with an adaptive 64-colour palette."""
    return png(_quantized(image, 64))


def rgba_png(image: Image.Image) -> bytes:
    """An RGBA PNG: the picture inside an opaque ellipse, transparent corners."""
    alpha = Image.new("L", image.size, 0)
    ImageDraw.Draw(alpha).ellipse((0, 0, image.width - 1, image.height - 1), fill=255)
    rgba = image.convert("RGB")
    rgba.putalpha(alpha)
    return png(rgba)


def animated_gif(image: Image.Image, frames: int = 4) -> bytes:
    """An animated GIF: the picture flickering in brightness over ``frames`` frames."""
    sequence = [
        _quantized(ImageEnhance.Brightness(image.convert("RGB")).enhance(0.85 + 0.1 * i), 255)
        for i in range(frames)
    ]
    buffer = io.BytesIO()
    sequence[0].save(buffer, "GIF", save_all=True, append_images=sequence[1:], duration=150, loop=0)
    return buffer.getvalue()


def decompression_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels (only a few rows of data)."""
    rows = b"".join(b"\x00" + bytes(width * 3) for _ in range(4))
    return _png_file(width, height, 8, 2, zlib.compress(rows, 9))


def truncated(data: bytes, keep: float = 0.55) -> bytes:
    """The first ``keep`` fraction of ``data``: a download cut short."""
    return data[: int(len(data) * keep)]


def html_page(title: str) -> bytes:
    """A small HTML error page (served where an image was expected)."""
    return (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>The image you requested is not available.</p></body></html>\n"
    ).encode()
