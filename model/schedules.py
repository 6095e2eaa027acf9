"""The learning rate's warm-up: Adam's first steps at the full rate can kill an encoder.

On the demo's cakes (189 images, batch 8) one seed in three lost every unit of the encoder's
last stages to ReLUs that never fire again within the first epochs: z then carried nothing,
and every reconstruction was the same picture (docs/model-pictures.md). Adam's first updates
move every weight by about the full learning rate whatever its gradient's size; a linear rise
over the first steps is the usual cure and leaves a healthy run's course almost unchanged.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="synthset")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """``rate * min(1, (step + 1) / steps)``: a linear rise to ``rate`` over ``steps``
    optimizer steps, then constant."""

    def __init__(self, rate: float, steps: int):
        self.rate = float(rate)
        self.steps = int(steps)

    def __call__(self, step):
        """The learning rate at optimizer step ``step`` (counted from 0)."""
        done = ops.cast(step, "float32") + 1.0
        return self.rate * ops.minimum(1.0, done / float(max(1, self.steps)))

    def get_config(self):
        """The schedule's config."""
        return {"rate": self.rate, "steps": self.steps}


def learning_rate(rate: float, warmup_steps: int) -> float | LinearWarmup:
    """Adam's learning rate: ``rate``, warmed up over ``warmup_steps`` steps when positive."""
    return LinearWarmup(rate, warmup_steps) if warmup_steps > 0 else rate
