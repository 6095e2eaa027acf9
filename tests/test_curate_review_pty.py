"""curate review as a real process in a pseudo-terminal, SIGKILLed mid-session (issue 4)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

from catalog import open_catalog
from catalog.review_queue import QueueFilter, queue_page
from curate.check import CheckOptions, check_images
from curate.review.sample import fill_sample_catalog

CURATE = Path(sys.executable).parent / "curate"  # the installed console script
DEADLINE_S = 60


def drain(fd: int, wait: float) -> bytes:
    """Read what the child wrote within ``wait`` seconds (so it never blocks on a full pty)."""
    ready, _, _ = select.select([fd], [], [], wait)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:  # the child is gone
        return b""


def wait_for(fd: int, screen: bytearray, condition, what: str) -> None:
    """Drain the terminal into ``screen`` until ``condition()`` holds, failing after the deadline.

    Everything read is kept: a condition on the screen must see every byte the child wrote.
    """
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        screen.extend(drain(fd, 0.05))


def decided(data_dir: Path) -> dict[str, str]:
    """sha256 -> decision in force, read on a connection of our own."""
    with open_catalog(data_dir, create=False) as catalog:
        return dict(catalog.conn.execute("SELECT sha256, decision FROM decisions").fetchall())


def test_sigkill_loses_no_decision_and_the_next_session_resumes(data_dir):
    with open_catalog(data_dir) as catalog:
        fill_sample_catalog(catalog, 6)
        check_images(catalog, CheckOptions(workers=1))
        shas = [r[0] for r in catalog.conn.execute("SELECT sha256 FROM images ORDER BY sha256")]

    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command in a 100x30 terminal
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
        args = ["review", "--data", str(data_dir), "--protocol", "halfcell"]
        os.execve(str(CURATE), [str(CURATE), *args], env)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        screen = bytearray()

        def footer_shown() -> bool:
            return b"Accept" in screen and b"Reject" in screen

        wait_for(fd, screen, footer_shown, "the review screen")
        os.write(fd, b"a")
        wait_for(fd, screen, lambda: decided(data_dir) == {shas[0]: "accept"}, "the first accept")
        os.write(fd, b"r")
        os.write(fd, b"s")
        os.write(fd, b"x")
        expected = {shas[0]: "accept", shas[1]: "reject", shas[2]: "skip", shas[3]: "reject"}
        wait_for(fd, screen, lambda: decided(data_dir) == expected, "four decisions")
        os.write(fd, b"u")  # withdraws the last reject
        del expected[shas[3]]
        wait_for(fd, screen, lambda: decided(data_dir) == expected, "the undo")
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    assert decided(data_dir) == expected
    with open_catalog(data_dir, create=False) as catalog:
        assert queue_page(catalog, QueueFilter(), limit=1)[0].sha256 == shas[3]
