"""synthset: harvest, curate and model image datasets of one subject."""

__version__ = "0.1.0"
