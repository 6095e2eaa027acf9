"""Kill a `model train` process at a known moment: once it has checkpointed some epochs."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from model.checkpoint import finished_epochs


def kill_after_epochs(command: list[str], run: Path, epochs: int, **popen: object) -> None:
    """Start ``command`` (a `model train` into ``run``); SIGKILL it once ``epochs`` epochs are
    checkpointed. ``popen`` goes to subprocess.Popen (cwd, env)."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen
    )
    try:
        deadline = time.monotonic() + 300
        while (finished_epochs(run) or 0) < epochs:
            assert process.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.05)  # polling the checkpoint, not synchronising on time
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
