"""A crawl killed or stopped at the moments that once broke it: refused twice, never left
running, stopped within its limit, resumed from a broken JOBDIR to the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO, Mirror, fetched_so_far, start_mirror, stop_mirror
from test_crawler_harvest import ICE_CREAM_CAKE, TEST_SETTINGS, assert_catalog_matches, crawl

from crawler.jobdir import MARKER

STOP_TIMEOUT_S = 4.0  # CRAWL_STOP_TIMEOUT in these tests
EXIT_SLACK_S = 2.0  # process start-up and exit on a busy machine, on top of the limit


@pytest.fixture(scope="module")
def slow_mirror() -> Iterator[Mirror]:
    """A mirror whose images each take 250 ms, so a crawl is still running when stopped."""
    running = start_mirror("--images", "40", "--latency-ms", "250")
    yield running
    stop_mirror(running)


@contextmanager
def dead_host() -> Iterator[tuple[str, list[socket.socket]]]:
    """A server on 127.0.0.1 that accepts connections and never answers: its base URL and
    the connections accepted so far."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/", accepted
    finally:
        done.set()
        thread.join(timeout=10)
        for connection in accepted:
            connection.close()
        listener.close()


def crawl_command(data_dir: Path, api_url: str, **settings: str) -> list[str]:
    """``scrapy crawl imagenet_synset`` of the ice-cream cakes at ``api_url`` into ``data_dir``."""
    command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset",
               "-a", f"wnid={ICE_CREAM_CAKE}"]
    merged = {**TEST_SETTINGS, "SYNTHSET_DATA": str(data_dir), "IMAGENET_API_URL": api_url,
              "CONCURRENT_REQUESTS_PER_DOMAIN": "4", "CRAWL_STOP_TIMEOUT": str(STOP_TIMEOUT_S),
              **settings}
    for name, value in merged.items():
        command += ["-s", f"{name}={value}"]
    return command


def wait_until(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail after ``deadline_s`` seconds."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)  # polling a condition, not synchronising on time


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
    return children


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Running:
    """A crawl subprocess whose stderr lines are collected as they come."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def saw(self, text: str) -> bool:
        """Whether a stderr line so far contains ``text``."""
        return any(text in line for line in self.lines)

    def end(self) -> None:
        """Kill it (and any child still alive) and collect it."""
        for pid in child_pids(self.process.pid):
            os.kill(pid, signal.SIGKILL)
        self.process.kill()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)


@contextmanager
def running(command: list[str]) -> Iterator[Running]:
    """Run ``command``; it is killed on exit, whatever happened."""
    crawl_run = Running(command)
    try:
        yield crawl_run
    finally:
        crawl_run.end()


def test_second_crawl_refused_while_first_runs_allowed_after_kill(
        slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    command = crawl_command(data_dir, slow_mirror.base_url, CRAWL_PROCESSES="2")
    with running(command) as first:
        wait_until(lambda: fetched_so_far(data_dir) >= 2, 60, "the first fetches")
        children = child_pids(first.process.pid)
        assert len(children) == 2
        refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1
        errors = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and f"process {first.process.pid}" in errors[0], refused.stderr
        assert "Traceback" not in refused.stderr

        os.kill(first.process.pid, signal.SIGKILL)  # the launcher, killed outright
        first.process.wait(timeout=30)
        wait_until(lambda: not any(alive(pid) for pid in children), STOP_TIMEOUT_S + EXIT_SLACK_S,
                   "the killed launcher's crawl processes to be gone")

    crawl("imagenet_synset", data_dir, f"wnid={ICE_CREAM_CAKE}", CRAWL_PROCESSES="2",
          IMAGENET_API_URL=slow_mirror.base_url, CONCURRENT_REQUESTS_PER_DOMAIN="16")
    truth = slow_mirror.truth()
    assert_catalog_matches(data_dir, [r for r in truth["urls"] if r["wnid"] == ICE_CREAM_CAKE])


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigterm_with_every_host_dead_ends_within_the_limit(tmp_path: Path,
                                                            processes: str) -> None:
    with dead_host() as (url, accepted):
        command = crawl_command(tmp_path / "data", url, CRAWL_PROCESSES=processes,
                                DOWNLOAD_TIMEOUT="60")
        with running(command) as stuck:
            wait_until(lambda: len(accepted) >= int(processes), 60, "requests in flight")
            children = child_pids(stuck.process.pid)
            stuck.process.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            code = stuck.process.wait(timeout=60)
            took = time.monotonic() - sent
            stuck.reader.join(timeout=30)
            assert took < STOP_TIMEOUT_S + EXIT_SLACK_S, took
            assert code == 0, "".join(stuck.lines)[-3000:]
            assert not any(alive(pid) for pid in children)
            assert not stuck.saw("Traceback"), "".join(stuck.lines)[-3000:]
            assert stuck.saw("dropping")
            assert not stuck.saw("signal handler"), "".join(stuck.lines)[-3000:]  # no ERROR


def test_second_sigterm_exits_at_once(tmp_path: Path) -> None:
    with dead_host() as (url, accepted):
        command = crawl_command(tmp_path / "data", url, CRAWL_PROCESSES="1",
                                DOWNLOAD_TIMEOUT="60", CRAWL_STOP_TIMEOUT="30")
        with running(command) as stuck:
            wait_until(lambda: len(accepted) >= 1, 60, "a request in flight")
            stuck.process.send_signal(signal.SIGTERM)
            wait_until(lambda: stuck.saw("received SIGTERM: stopping"), 10, "the first stop")
            stuck.process.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            stuck.process.wait(timeout=60)
            assert time.monotonic() - sent < EXIT_SLACK_S


def rerun_and_check(mirror: Mirror, data_dir: Path, job_dir: Path) -> str:
    """Run the crawl to its end with ``job_dir``; check the catalog; return its log."""
    log = crawl("imagenet_synset", data_dir, f"wnid={ICE_CREAM_CAKE}", JOBDIR=str(job_dir),
                IMAGENET_API_URL=mirror.base_url, CONCURRENT_REQUESTS_PER_DOMAIN="16")
    truth = mirror.truth()
    assert_catalog_matches(data_dir, [r for r in truth["urls"] if r["wnid"] == ICE_CREAM_CAKE])
    return log


def test_kill_during_the_disk_queues_first_write(slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir, job_dir = tmp_path / "data", tmp_path / "job"
    queue = job_dir / "requests.queue"
    with running(crawl_command(data_dir, slow_mirror.base_url, JOBDIR=str(job_dir))) as first:
        wait_until(lambda: queue.is_dir() and any(queue.iterdir()), 60, "the first queue file")
        os.kill(first.process.pid, signal.SIGKILL)
    log = rerun_and_check(slow_mirror, data_dir, job_dir)
    assert log.count("set aside") == 1


def test_kill_during_the_catalog_flush(slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir, job_dir = tmp_path / "data", tmp_path / "job"
    incoming = data_dir / "images" / ".incoming"
    command = crawl_command(data_dir, slow_mirror.base_url, JOBDIR=str(job_dir),
                            CATALOG_FLUSH_ITEMS="1")
    with running(command) as first:  # a store file being written: a flush is under way
        wait_until(lambda: incoming.is_dir() and any(incoming.iterdir()), 60, "a flush")
        os.kill(first.process.pid, signal.SIGKILL)
    rerun_and_check(slow_mirror, data_dir, job_dir)


def test_kill_during_shutdown(slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir, job_dir = tmp_path / "data", tmp_path / "job"
    with running(crawl_command(data_dir, slow_mirror.base_url, JOBDIR=str(job_dir))) as first:
        wait_until(lambda: fetched_so_far(data_dir) >= 4, 60, "the first fetches")
        first.process.send_signal(signal.SIGTERM)
        wait_until(lambda: first.saw("Closing spider (shutdown)"), 10, "the shutdown")
        os.kill(first.process.pid, signal.SIGKILL)
    rerun_and_check(slow_mirror, data_dir, job_dir)


def test_empty_queue_file_in_a_cleanly_stopped_jobdir_is_set_aside(
        slow_mirror: Mirror, tmp_path: Path) -> None:
    data_dir, job_dir = tmp_path / "data", tmp_path / "job"
    with running(crawl_command(data_dir, slow_mirror.base_url, JOBDIR=str(job_dir))) as first:
        wait_until(lambda: fetched_so_far(data_dir) >= 4, 60, "the first fetches")
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=30) == 0
    assert not (job_dir / MARKER).exists(), "the stop did not close the JOBDIR whole"
    queues = [p for p in (job_dir / "requests.queue").rglob("*")
              if p.is_file() and p.name != "active.json" and p.stat().st_size > 4]
    assert queues, "nothing was left queued; the test proves nothing"
    queues[0].write_bytes(b"")  # what a kill during a queue's first write leaves
    log = rerun_and_check(slow_mirror, data_dir, job_dir)
    assert [line for line in log.splitlines() if "set aside" in line][0].startswith("Warning:")
