"""Processes that end with the process that started them, however it ends (Linux).

``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill a process when its parent
dies, SIGKILL included: no crawl process or pool worker of a killed command runs on
holding the catalog open. Elsewhere these are no-ops.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a Linux process gets when its parent dies


def die_with_parent(parent: int | None = None) -> None:
    """Have this process SIGKILLed when its parent dies; die now if it already has.

    ``parent``: the PID the parent had (None: any parent but init will do). Call it
    first thing in a child: as a ``preexec_fn`` or a process pool's initializer.
    """
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    current = os.getppid()
    if current == 1 or (parent is not None and current != parent):  # orphaned before prctl
        os.kill(os.getpid(), signal.SIGKILL)
