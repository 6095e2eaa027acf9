"""Small building blocks the architectures share."""

from __future__ import annotations

import math

import keras


def halvings(side: int, times: int) -> int:
    """The side length after ``times`` stride-2 'same' convolutions."""
    for _ in range(times):
        side = math.ceil(side / 2)
    return side


def crop_to(x, height: int, width: int, name: str):
    """Centre-crop a (N, H', W', C) tensor with H' >= height, W' >= width to (height, width)."""
    extra_h = x.shape[1] - height
    extra_w = x.shape[2] - width
    if extra_h == 0 and extra_w == 0:
        return x
    cropping = ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2))
    return keras.layers.Cropping2D(cropping, name=name)(x)
