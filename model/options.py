"""The options of ``model train`` as a frozen dataclass, and named recipes (no keras import)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    # The seed's model: the keras-blog VAE's layers, latent 150, binary cross-entropy only,
    # Adam at 1e-4, batch 32.
    "seed": {
        "arch": "keras-example",
        "prior_components": 0,
        "latent_dim": 150,
        "kl_weight": 0.0,
        "kl_warmup": 0,
        "lr_warmup": 0,
        "likelihood": "bernoulli",
        "lr": 1e-4,
        "batch_size": 32,
    },
}


@dataclass(frozen=True)
class TrainOptions:
    """Everything ``model train`` can be told. Defaults: the seed's latent size, patience and
    epochs; conv-vae-ar with a discretized logistic decoder (a distribution over the 8-bit
    values), its z-only likelihood weighted 3 (pictures keep to z), a learned 16-component
    mixture prior, the KL warmed up over half the epochs (at most 20), Adam at 1e-3 reached over
    100 steps and batch 64 (fewer for small exports): the measures of benchmarks/vae.py chose
    them (model/README.md)."""

    latent_dim: int = 150
    lr: float = 1e-3
    lr_warmup: int = 100  # optimizer steps; model.schedules
    batch_size: int | None = None  # None: auto_batch_size(training images)
    patience: int = 25
    epochs: int = 200
    validate: bool = True
    kl_weight: float = 1.0
    kl_warmup: int | None = None  # None: auto_kl_warmup(epochs)
    aux_weight: float = 3.0
    augment: bool = False
    prior_components: int = 16
    likelihood: str = "discretized-logistic"
    seed: int = 0
    arch: str = "conv-vae-ar"
    sample_count: int = 64
    reconstruct_every: int = 10
    reconstruct_count: int = 16
    overwrite: bool = False


MIN_AUTO_BATCH, MAX_AUTO_BATCH = 8, 64
STEPS_PER_EPOCH = 24  # the automatic batch size gives at least this many steps per epoch


def auto_batch_size(train_images: int) -> int:
    """The batch size when none is given: 64, or smaller for a small export so that an epoch
    still takes STEPS_PER_EPOCH optimizer steps (189 cakes: 8; 10,000 images: 64)."""
    return max(MIN_AUTO_BATCH, min(MAX_AUTO_BATCH, train_images // STEPS_PER_EPOCH))


MAX_AUTO_WARMUP = 20  # epochs


def auto_kl_warmup(epochs: int) -> int:
    """The KL warm-up when none is given: the first half of the epochs, at most 20 (40 epochs:
    20; 10 epochs: 5), so z is in use before the KL term weighs fully."""
    return min(MAX_AUTO_WARMUP, epochs // 2)


def apply_recipe(options: TrainOptions, recipe: str | None, explicit: set[str]) -> TrainOptions:
    """``options`` with ``recipe``'s values, except for the fields named in ``explicit``."""
    if recipe is None:
        return options
    values = {k: v for k, v in RECIPES[recipe].items() if k not in explicit}
    return dataclasses.replace(options, **values)
