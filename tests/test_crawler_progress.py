"""What a crawl shows while it runs and when it ends (issue 21): real crawls of the image farm."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from farm import REPO, WNID, Farm, start_farm

from catalog import open_catalog
from catalog.stats import image_status_counts, outcome_counts, url_counts

HOSTS = 4
IMAGES = 40
FAST = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "RETRY_TIMES": "0",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8", "DOWNLOAD_TIMEOUT": "5"}
DEADLINE_S = 60
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but tab and newline


@pytest.fixture(scope="module")
def farm() -> Iterator[Farm]:
    """Four image hosts on 127.0.0.1-4, no latency, 25% of the images dead."""
    running = start_farm(HOSTS, latency_ms=0, dead_fraction=0.25)
    yield running
    running.stop()


def crawl_command(farm: Farm, tmp_path: Path, **settings: str) -> list[str]:
    """``scrapy crawl imagenet_synset`` of IMAGES farm URLs into ``tmp_path/data``."""
    urls_file = list_urls(farm, tmp_path)
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a", f"wnid={WNID}",
               "-a", f"urls_file={urls_file}"]
    for name, value in {**FAST, "SYNTHSET_DATA": str(tmp_path / "data"), **settings}.items():
        command += ["-s", f"{name}={value}"]
    return command


def test_the_settings_dump_holds_no_deprecated_setting(farm: Farm, tmp_path: Path) -> None:
    done = subprocess.run(crawl_command(farm, tmp_path, CRAWL_PROCESSES="1"), cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    dump = done.stderr[done.stderr.index("Overridden settings:"):]
    dump = dump[:dump.index("}") + 1]
    assert "'DOWNLOAD_DELAY_JITTER': 0.0" in dump  # a fixed delay, as before
    assert "RANDOMIZE_DOWNLOAD_DELAY" not in dump
    assert "deprecat" not in done.stderr.lower(), done.stderr[-4000:]
    # nothing of ours disables itself aloud (JobDirMarker without JOBDIR once did, every crawl)
    assert "Disabled crawler." not in done.stderr, done.stderr[-4000:]


def refused_url() -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone.jpg"


def list_urls(farm: Farm, tmp_path: Path) -> Path:
    """IMAGES farm URLs (a quarter dead) and one refused URL, as a fall11-style list."""
    urls_file = tmp_path / "urls.txt"
    farm.write_list(urls_file, IMAGES)
    with urls_file.open("a") as listing:
        listing.write(f"{WNID}_{IMAGES}\t{refused_url()}\n")
    return urls_file


def run_in_terminal(command: list[str], interrupt_when=None) -> tuple[int, str]:
    """Run ``command`` in a 120x30 pseudo-terminal until it exits: (exit status, screen).

    With ``interrupt_when``, Ctrl-C is typed once ``interrupt_when(screen)`` holds.
    """
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command in a terminal
        os.chdir(REPO)
        os.execve(command[0], command, {**os.environ, "TERM": "xterm-256color",
                                        "COLUMNS": "120", "LINES": "30"})
    screen = bytearray()
    interrupted = interrupt_when is None
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert time.monotonic() < deadline, screen.decode(errors="replace")[-3000:]
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the terminal closed: the command has exited
                    break
                if not chunk:
                    break
                screen.extend(chunk)
            if not interrupted and interrupt_when(screen.decode(errors="replace")):
                os.write(fd, b"\x03")
                interrupted = True
    finally:
        status = reap(pid)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def reap(pid: int, wait_s: float = 10.0) -> int:
    """Wait up to ``wait_s`` for process ``pid`` to exit (then SIGKILL it); its wait status."""
    deadline = time.monotonic() + wait_s
    while (reaped := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.05)  # polling the child's exit, with a deadline
    return reaped[1]


def plain(screen: str) -> str:
    """``screen`` without its ANSI control sequences and carriage returns."""
    return ANSI.sub("", screen).replace("\r", "")


def summary_rows(text: str) -> dict[str, int]:
    """The summary table's rows (outcome -> URLs) from the last table in ``text``."""
    table = text[text.rindex("outcome"):]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[1].replace(".", "").isdigit():
            rows[cells[0]] = int(float(cells[1]))
    return rows


def catalog_rows(data_dir: Path) -> dict[str, int]:
    """The summary's rows as the catalog counts them."""
    with open_catalog(data_dir, create=False) as catalog:
        outcomes = outcome_counts(catalog)
        rows = {
            "fetched": url_counts(catalog)["fetched"],
            "stored (2xx)": sum(n for k, n in outcomes.items() if k.startswith("status/2")),
            "new images in the store": sum(image_status_counts(catalog).values()),
        }
    for key, count in outcomes.items():
        kind, _, name = key.partition("/")
        if kind == "error":
            rows[f"failed: {name}"] = count
        elif int(name) >= 400:
            rows[f"dead: HTTP {name}"] = count
    return rows


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_terminal_shows_one_live_display_whose_numbers_are_the_catalogs(
    farm: Farm, tmp_path: Path, processes: str
) -> None:
    command = crawl_command(farm, tmp_path, CRAWL_PROCESSES=processes)
    status, screen = run_in_terminal(command)
    assert status == 0, screen[-3000:]
    text = plain(screen)
    assert "\x1b[?25l" in screen and "(listed so far)" in text  # the live display ran
    assert text.count("new images in the store") == 1  # one summary, however many processes
    assert "synthset-progress" not in text  # the processes' reports stay with the launcher
    assert "Overridden settings" not in text  # the display says it; the log keeps to warnings
    shown = {k: v for k, v in summary_rows(text).items() if k != "images/s"}
    assert shown == catalog_rows(tmp_path / "data")
    assert shown["failed: refused"] == 1 and shown["dead: HTTP 404"] > 0


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_pipe_gets_log_lines_and_no_control_characters(
    farm: Farm, tmp_path: Path, processes: str
) -> None:
    command = crawl_command(farm, tmp_path, CRAWL_PROCESSES=processes,
                            CRAWL_PROGRESS_LOG_SECONDS="0")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    assert not CONTROL.search(done.stderr), repr(CONTROL.search(done.stderr))
    assert "progress: URLs" in done.stderr
    assert "synthset-progress" not in done.stderr
    assert done.stderr.count("new images in the store") == 1


def test_ctrl_c_stops_a_multi_process_crawl_with_its_summary(farm: Farm, tmp_path: Path) -> None:
    command = crawl_command(farm, tmp_path, CRAWL_PROCESSES="2", DOWNLOAD_DELAY="1",
                            CONCURRENT_REQUESTS_PER_DOMAIN="1", CONCURRENT_REQUESTS="4")
    status, screen = run_in_terminal(
        command, interrupt_when=lambda shown: re.search(r"URLs [1-9]\d*/", plain(shown)))
    text = plain(screen)
    assert status == 0, text[-3000:]
    fetched = summary_rows(text)["fetched"]
    assert 0 < fetched < IMAGES + 1  # stopped early, everything fetched recorded
    assert fetched == catalog_rows(tmp_path / "data")["fetched"]


def test_an_unknown_progress_mode_is_one_error_line(farm: Farm, tmp_path: Path) -> None:
    done = subprocess.run(crawl_command(farm, tmp_path, CRAWL_PROCESSES="1",
                                        CRAWL_PROGRESS="fancy"),
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "Error: -s CRAWL_PROGRESS=fancy: give one of auto, log, report")
