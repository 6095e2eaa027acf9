"""The architecture registry: ``build`` callables found in the ``synthset.models`` entry points.

An architecture is a callable ``build(image_shape, latent_dim, params=1) -> (encoder, decoder)``:
the encoder maps (H, W, C) images to ``[z_mean, z_log_var]``, the decoder maps z to the
likelihood's parameters, shape (H, W, params * C) (``params`` = 1: per-pixel logits), or maps
``[z, image]`` to them through a last :class:`model.autoregressive.AutoregressiveHead` (each
pixel's parameters given the pixels before it, as conv-vae's decoder does). Other
packages add their own under ``[options.entry_points] synthset.models = NAME =
package.module:build``; one without ``params`` serves the one-parameter likelihoods.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from model.errors import UnknownArchitecture

GROUP = "synthset.models"


def available_architectures() -> list[str]:
    """The names registered in the ``synthset.models`` entry-point group, sorted."""
    return sorted({entry.name for entry in entry_points(group=GROUP)})


def load_architecture(name: str) -> Callable:
    """The ``build`` callable registered as ``name``; UnknownArchitecture lists the known ones."""
    for entry in entry_points(group=GROUP):
        if entry.name == name:
            return entry.load()
    known = ", ".join(available_architectures()) or "(none: is synthset installed?)"
    raise UnknownArchitecture(f"unknown architecture {name!r}; choose one of: {known}")


def build_architecture(name: str, image_shape: tuple[int, int, int], latent_dim: int, params: int):
    """(encoder, decoder) of the architecture ``name``, the decoder emitting ``params`` numbers
    per pixel channel."""
    build = load_architecture(name)
    if params == 1:
        return build(tuple(image_shape), int(latent_dim))
    return build(tuple(image_shape), int(latent_dim), params=params)
