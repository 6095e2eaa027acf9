"""The expected failures of the ``model`` package, one class per failure mode."""

from __future__ import annotations

from synthset.errors import SynthsetError


class ExportNotFound(SynthsetError):
    """The dataset folder, or its manifest.csv / export.json, does not exist."""


class ExportMalformed(SynthsetError):
    """The export exists but breaks the format in datasets/README.md."""


class EmptySplit(SynthsetError):
    """The export has no images in a split the command needs."""


class RunNotFound(SynthsetError):
    """The run folder holds no model.keras to load."""


class RunDamaged(SynthsetError):
    """The run's model.keras exists but cannot be loaded."""


class ShapeMismatch(SynthsetError):
    """The export's images are not the size or colour mode the run was trained on."""


class RunExists(SynthsetError):
    """The run folder already holds a finished run (train.json)."""


class DatasetExists(SynthsetError):
    """The output folder of a dataset conversion already holds an export."""


class SourceNotFound(SynthsetError):
    """The raw files a dataset conversion reads are missing."""


class UnknownArchitecture(SynthsetError):
    """No architecture of that name is registered in the ``synthset.models`` group."""


class UnknownLikelihood(SynthsetError):
    """No likelihood of that name is known."""


class SourceMalformed(SynthsetError):
    """A raw file a dataset conversion reads is not in the expected format."""


class NothingToResume(SynthsetError):
    """``model train --resume`` names a run that finished or never finished an epoch."""


class TrainingDiverged(SynthsetError):
    """The training loss became NaN or infinite; the run stops at its last finite epoch."""
