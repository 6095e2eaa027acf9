"""The architecture registry: ``build`` callables found in the ``synthset.models`` entry points.

An architecture is a callable ``build(image_shape, latent_dim) -> (encoder, decoder)``: the
encoder maps (H, W, C) images to ``[z_mean, z_log_var]``, the decoder maps z to per-pixel logits
of shape (H, W, C). Other packages add their own under ``[options.entry_points]
synthset.models = NAME = package.module:build``.
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
