"""Where synthset keeps its data by default."""

import os
from pathlib import Path

DEFAULT_DATA_DIR = "data"
DATA_ENV_VAR = "SYNTHSET_DATA"


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """The data directory: ``$SYNTHSET_DATA`` if set, else ``./data``."""
    env = os.environ if environ is None else environ
    return Path(env.get(DATA_ENV_VAR) or DEFAULT_DATA_DIR)
