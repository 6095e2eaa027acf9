"""Loading the Keras backend without its start-up chatter (TensorFlow, absl, CUDA) on stderr.

TensorFlow's C++ side writes its start-up lines to file descriptor 2 before any
setting can reach it (absl prints "All log messages before absl::InitializeLog()
..." whatever ``TF_CPP_MIN_LOG_LEVEL`` says), and a machine without a GPU gets
``failed call to cuInit: UNKNOWN ERROR (303)`` when the devices are first listed.
So the import and the device listing run with descriptor 2 pointed at a temporary
file; afterwards every line that is not known start-up chatter is passed on, so a
real error (a broken install, a missing library) still reaches the user.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress

# Lines TensorFlow, XLA and absl print on every start; none of them asks anything of the user.
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog"
    r"|cudart_stub\.cc|cuda_platform\.cc|cuda_executor\.cc|cuda_diagnostics\.cc|cuInit"
    r"|Could not find cuda drivers|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation_placer\.cc|oneDNN custom operations are on"
    r"|This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler"
    r"|TF-TRT Warning|cpu_feature_guard\.cc|To enable the following instructions"
)
QUIET_CPP_LEVEL = "2"  # TF_CPP_MIN_LOG_LEVEL: C++ info and warnings off, errors on


@contextmanager
def filtered_stderr(noise: re.Pattern[str] = STARTUP_NOISE) -> Iterator[None]:
    """Hold back what this process writes to file descriptor 2 inside the block; then pass on
    every line that ``noise`` does not match (also when the block raises)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            held = sink.read().decode("utf-8", errors="replace")
            kept = [line for line in held.splitlines(keepends=True) if not noise.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def load_backend(verbose: bool = False, saves_models: bool = False) -> None:
    """Import Keras and start its backend's devices; with ``verbose`` False, quietly.

    Quietly means: TensorFlow's C++ log limited to errors (unless ``TF_CPP_MIN_LOG_LEVEL``
    is already set), its start-up lines filtered out, and the ``absl`` and ``tensorflow``
    Python loggers limited to errors. With ``verbose`` everything is shown as TensorFlow
    prints it.

    Under another backend (``KERAS_BACKEND=jax`` or ``torch``) TensorFlow is not imported,
    except with ``saves_models`` when it is installed: Keras imports it to save a model
    whatever the backend, so it is imported here, quietly, rather than mid-training.
    """
    if verbose:
        import keras  # noqa: F401 - the import starts the backend

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_CPP_LEVEL)
    with filtered_stderr():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA's start-up lines come here, not at import
        elif saves_models and importlib.util.find_spec("tensorflow") is not None:
            with suppress(ImportError):  # a broken TensorFlow: Keras does without it too
                import tensorflow  # noqa: F401 - its start-up lines, held back here
    for name in ("absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
