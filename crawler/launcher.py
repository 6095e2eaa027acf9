"""One crawl on every core: the same ``scrapy crawl`` run as N processes, each owning some hosts.

The processes share the data directory (SQLite in WAL mode takes their batched
writes one at a time; the store's renames are atomic) and each fetches only the
URLs whose host hashes to it (:mod:`crawler.partition`), so a URL is fetched
once and per-host limits hold machine-wide. Every process reads the URL listing
itself: listing is cheap next to fetching, and no process waits on another.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.crawllock import INHERITED_ENV
from crawler.errors import SpiderArgumentError
from crawler.progress import TICK_S, ProgressDisplay, live_allowed, read_report
from crawler.progressview import ProgressView
from synthset.lifetime import die_with_parent

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STRAGGLER_GRACE_S = 5.0  # seconds past CRAWL_STOP_TIMEOUT before a stopping process is killed


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def crawl_processes(settings: BaseSettings, spidercls: type) -> int:
    """How many processes a crawl of ``spidercls`` runs as (1: in this process).

    ``CRAWL_PROCESSES`` (0 = one per core) for spiders that split their URLs by
    host (``partitioned = True``); 1 for the others and inside a launched process.

    :raises SpiderArgumentError: for a negative ``CRAWL_PROCESSES``.
    """
    wanted = settings.getint("CRAWL_PROCESSES", 0)
    if wanted < 0:
        raise SpiderArgumentError(
            f"-s CRAWL_PROCESSES={wanted}: give 0 (one per core) or a count of processes"
        )
    if settings.get("CRAWL_PARTITION") or not getattr(spidercls, "partitioned", False):
        return 1
    if "FEEDS" in command_line_settings(settings):
        raise SpiderArgumentError(
            "-o/-O would be written by every crawl process at once; "
            "add -s CRAWL_PROCESSES=1 to write a feed"
        )
    return wanted or available_cores()


def command_line_settings(settings: BaseSettings) -> dict[str, str]:
    """The settings given on the command line (``-s``, ``-L``, ...), as ``-s`` values."""
    given = {}
    for name in settings:
        if settings.getpriority(name) == SETTINGS_PRIORITIES["cmdline"]:
            value = settings[name]
            if isinstance(value, BaseSettings):
                value = value.copy_to_dict()
            given[name] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    return given


def child_command(
    spider: str, spider_args: Mapping[str, Any], settings: Mapping[str, str], partition: str
) -> list[str]:
    """The ``scrapy crawl`` command line of one process of the crawl."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    for name, value in spider_args.items():
        command += ["-a", f"{name}={value}"]
    own = {"CRAWL_PARTITION": partition, "CRAWL_PROGRESS": "report"}  # the launcher shows it
    if settings.get("JOBDIR"):  # a paused crawl's queue is per process
        slot = partition.replace("/", "-of-")
        own["JOBDIR"] = os.path.join(settings["JOBDIR"], f"process-{slot}")
    for name, value in {**settings, **own}.items():
        command += ["-s", f"{name}={value}"]
    return command


def launch_crawl(
    spider: str, spider_args: Mapping[str, Any], settings: BaseSettings, count: int,
    locks: Sequence[int] = (),
) -> int:
    """Run the crawl as ``count`` processes and wait for all; the worst exit code (0: all ok).

    The processes' logs pass through as they come; an ``Error:`` line that several
    of them print (they share the arguments and the data directory) is printed once,
    last. Their progress reports make one display (crawler/progress.py). The processes
    run in their own session; SIGINT, SIGTERM and SIGHUP sent to this process are
    passed on to each, so Ctrl-C stops them all (each within CRAWL_STOP_TIMEOUT, see
    :mod:`crawler.stopping`; a second signal at once); any still alive 5 s past that
    are killed. They are killed too if this process is killed outright. They inherit
    the crawl's ``locks`` (:mod:`crawler.crawllock`), so the data directory stays
    locked until the last of them is gone.
    """
    given = command_line_settings(settings)
    environment = {**os.environ, INHERITED_ENV: ",".join(str(fd) for fd in locks)}
    children = [
        subprocess.Popen(child_command(spider, spider_args, given, f"{i}/{count}"),
                         stderr=subprocess.PIPE, text=True, errors="replace",
                         start_new_session=True,
                         # SIGKILLed if this launcher dies, whatever it is doing (a SIGTERM
                         # was taken by Scrapy as a graceful stop that waits on slow hosts)
                         preexec_fn=functools.partial(die_with_parent, os.getpid()),
                         pass_fds=tuple(locks), env=environment)
        for i in range(count)
    ]
    stop_timeout = settings.getfloat("CRAWL_STOP_TIMEOUT", 10.0)
    errors: dict[str, None] = {}  # Error: lines in order of arrival, each once
    lock = threading.Lock()
    display = ProgressDisplay(ProgressView(f"crawl {spider}"), live_allowed(settings),
                              lambda line: print(line, file=sys.stderr),
                              settings.getfloat("CRAWL_PROGRESS_LOG_SECONDS", 60.0))

    def relay(child: subprocess.Popen) -> None:
        assert child.stderr is not None
        for line in child.stderr:
            report = read_report(line)
            with lock:
                if report is not None:
                    display.view.update(str(child.pid), report)
                elif line.startswith("Error: "):
                    errors.setdefault(line.rstrip("\n"))
                else:
                    sys.stderr.write(line)
        child.stderr.close()

    def forward(signum: int, frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)
        if stop_timeout > 0 and killer.ident is None:  # the first signal starts the clock
            killer.start()

    def kill_stragglers() -> None:
        deadline = time.monotonic() + stop_timeout + STRAGGLER_GRACE_S
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()

    killer = threading.Thread(target=kill_stragglers, name="kill-stragglers", daemon=True)

    relays = [threading.Thread(target=relay, args=(c,), daemon=True) for c in children]
    for thread in relays:
        thread.start()
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    display.start()
    try:
        codes = [wait_showing(child, display, lock) for child in children]
        for thread in relays:
            thread.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        display.stop()
    for line in errors:
        print(line, file=sys.stderr)
    return max((code if code >= 0 else 1) for code in codes)


def wait_showing(child: subprocess.Popen, display: ProgressDisplay, lock: threading.Lock) -> int:
    """Wait for ``child`` to exit, ticking ``display`` (under ``lock``) every second meanwhile."""
    while True:
        try:
            return child.wait(timeout=TICK_S)
        except subprocess.TimeoutExpired:
            with lock:
                display.tick()
