"""Tile images in [0, 1] into one PNG grid."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

PAD = 2  # pixels of white between tiles


def tile(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Tile (N, H, W, C) images in [0, 1] into one (rows*H, columns*W, C) uint8 array."""
    images = np.asarray(images, dtype=np.float32)
    count, height, width, channels = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    out = np.full(
        (rows * (height + PAD) + PAD, columns * (width + PAD) + PAD, channels), 255, np.uint8
    )
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    for i in range(count):
        top = PAD + (i // columns) * (height + PAD)
        left = PAD + (i % columns) * (width + PAD)
        out[top : top + height, left : left + width] = pixels[i]
    return out


def interleave_rows(originals: np.ndarray, reconstructions: np.ndarray, columns: int) -> np.ndarray:
    """Order images so each row of originals is followed by a row of their reconstructions.

    A last, partial row is padded with blank (white) tiles so every reconstruction stays
    directly under its original.
    """
    blank = np.ones_like(originals[:1])
    tiles = []
    for start in range(0, len(originals), columns):
        padding = [blank[0]] * (columns - len(originals[start : start + columns]))
        tiles.extend([*originals[start : start + columns], *padding])
        tiles.extend([*reconstructions[start : start + columns], *padding])
    return np.stack(tiles)


def save_grid(images: np.ndarray, path: Path | str, columns: int | None = None) -> Path:
    """Write ``images`` as one PNG grid at ``path`` (atomically) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = tile(images, columns)
    temporary = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(temporary, format="PNG")
    os.replace(temporary, path)
    return path
