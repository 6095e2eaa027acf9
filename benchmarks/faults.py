"""Fault campaign: kill each stage at random moments (fixed seed), rerun it, check it converged.

Crawl scenarios run ``scrapy crawl imagenet_synset`` on the offline mirror (slow images,
so kills land mid-crawl) with and without JOBDIR, as 1 and 2 processes, killed with
SIGKILL or stopped with SIGTERM at a random moment, ``--kills`` times, then run to the end.
After the final run they check: every planted URL once in the catalog and fetched, no
other URL, every store file matching its hash; after every kill, no process of the killed
run alive 5 s later; no traceback in any log; no hang (a SIGTERM that does not end the
crawl within CRAWL_STOP_TIMEOUT + 5 s, a final run past ``--final-limit`` s). ``curate
check`` and ``curate export`` are killed the same way on the crawled catalog and rerun:
judgments equal to a clean run's, never a partial export. One row per scenario, and the
SIGTERM-to-exit median and worst over the campaign.

    python benchmarks/faults.py [--kills 20] [--seed 7] [--scenarios crawl-kill-1p,...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WNID = "n07631926"
STOP_TIMEOUT_S = 10.0  # CRAWL_STOP_TIMEOUT, the default
GONE_WITHIN_S = 5.0  # a killed run's processes must be gone by then
SETTINGS = {"DOWNLOAD_TIMEOUT": "2", "AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0",
            "RETRY_BACKOFF_BASE": "0.05", "CONCURRENT_REQUESTS_PER_DOMAIN": "4",
            "DOWNLOAD_MAXSIZE": str(8 * 1024 * 1024), "CATALOG_FLUSH_SECONDS": "0.5"}


@dataclass
class Row:
    """One scenario's outcome."""

    name: str
    kills: int = 0
    converged: bool = False
    lost: int = 0  # planted URLs not fetched in the end
    extra: int = 0  # catalog URLs never planted (a URL twice cannot exist: it is the key)
    bad_files: int = 0  # store files not matching their hash, rows without their file
    left: int = 0  # processes of a killed run alive GONE_WITHIN_S after the kill
    hangs: int = 0
    tracebacks: int = 0
    stop_seconds: list[float] = field(default_factory=list)  # SIGTERM to exit


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pids: list[int], within: float) -> int:
    """How many of ``pids`` still run after ``within`` seconds (polled)."""
    deadline = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return sum(alive(p) for p in pids)


def start_mirror() -> tuple[subprocess.Popen, str]:
    """The offline mirror with 60 slow images: (process, base URL)."""
    process = subprocess.Popen([sys.executable, "-m", "crawler.mirror", "--port", "0",
                                "--images", "60", "--latency-ms", "150"],
                               cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def interrupt(command: list[str], rng: random.Random, sig: int, row: Row,
              window: tuple[float, float]) -> None:
    """Run ``command``, send ``sig`` at a random moment in ``window`` (s), check the aftermath."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
        try:
            process.wait(timeout=rng.uniform(*window))
        except subprocess.TimeoutExpired:
            below = descendants(process.pid)
            os.kill(process.pid, sig)
            sent = time.monotonic()
            if sig == signal.SIGTERM:
                try:
                    process.wait(timeout=STOP_TIMEOUT_S + GONE_WITHIN_S)
                    row.stop_seconds.append(time.monotonic() - sent)
                except subprocess.TimeoutExpired:
                    row.hangs += 1
            process.kill()
            process.wait()
            row.left += wait_gone(below, max(0.0, GONE_WITHIN_S - (time.monotonic() - sent)))
            for pid in below:  # the campaign leaves nothing behind, even when a check failed
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        row.kills += 1
        log.seek(0)
        row.tracebacks += "Traceback" in log.read()


def finish(command: list[str], row: Row, limit: float) -> bool:
    """Run ``command`` to its end within ``limit`` s; False (and a hang) if it did not."""
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        row.hangs += 1
        return False
    row.tracebacks += "Traceback" in done.stderr
    return done.returncode == 0


def check_crawl(data_dir: Path, planted: set[str], row: Row) -> None:
    """Count lost and extra URLs and bad store files of the crawl in ``data_dir``."""
    with sqlite3.connect(data_dir / "catalog.db") as db:
        fetched = {url for url, at in db.execute("SELECT url, fetched_at FROM urls") if at}
        every = {url for (url,) in db.execute("SELECT url FROM urls")}
        images = list(db.execute("SELECT sha256, path FROM images"))
    row.lost = len(planted - fetched)
    row.extra = len(every - planted)
    for sha256, path in images:
        file = data_dir / path
        if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != sha256:
            row.bad_files += 1


def crawl_scenario(name: str, processes: int, jobdir: bool, sig: int,
                   ) -> Callable[[argparse.Namespace, random.Random, str, set[str], Path], Row]:
    """A crawl scenario: killed ``--kills`` times, then run to the end and checked."""

    def run(args: argparse.Namespace, rng: random.Random, mirror: str, planted: set[str],
            work: Path) -> Row:
        row = Row(name)
        data_dir = work / name / "data"
        command = [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a",
                   f"wnid={WNID}"]
        settings = {**SETTINGS, "SYNTHSET_DATA": str(data_dir), "IMAGENET_API_URL": mirror,
                    "CRAWL_PROCESSES": str(processes), "LOG_LEVEL": "WARNING"}
        if jobdir:
            settings["JOBDIR"] = str(work / name / "job")
        for key, value in settings.items():
            command += ["-s", f"{key}={value}"]
        for _ in range(args.kills):
            interrupt(command, rng, sig, row, (1.0, 4.0))
        if finish(command, row, args.final_limit):
            check_crawl(data_dir, planted, row)
            row.converged = not (row.lost or row.extra or row.bad_files)
        return row

    return run


def curate_scenario(name: str, subcommand: list[str], export: bool,
                    ) -> Callable[[argparse.Namespace, random.Random, str, set[str], Path], Row]:
    """``curate`` killed on a copy of a crawled catalog, rerun; same result as a clean run."""

    def run(args: argparse.Namespace, rng: random.Random, mirror: str, planted: set[str],
            work: Path) -> Row:
        row = Row(name)
        source = work / "crawl-kill-1p" / "data"
        if not (source / "catalog.db").exists():
            crawl_scenario("crawl-kill-1p", 1, False, signal.SIGKILL)(
                argparse.Namespace(kills=0, final_limit=args.final_limit), rng, mirror, planted,
                work)
        results = []
        for killed in (False, True):
            data_dir = work / name / ("killed" if killed else "clean")
            shutil.copytree(source, data_dir, ignore=shutil.ignore_patterns("crawl.lock"))
            command = [sys.executable, "-c", "from curate.cli import cli; cli()",
                       *subcommand, "--data", str(data_dir)]
            out = work / name / f"export-{killed}"
            if export:
                command += ["--out", str(out)]
            for _ in range(args.kills if killed else 0):
                interrupt(command, rng, signal.SIGKILL, row, (0.3, 2.0))
                if export and out.exists() and not (out / "export.json").exists():
                    row.bad_files += 1  # a partial export in place
            if not finish(command + (["--overwrite"] if export else []), row, args.final_limit):
                return row
            with sqlite3.connect(data_dir / "catalog.db") as db:
                judged = sorted(db.execute("SELECT sha256, status, reason FROM images"))
            manifest = (out / "manifest.csv").read_text() if export else ""
            results.append((judged, manifest))
        row.converged = results[0] == results[1] and not row.bad_files
        return row

    return run


SCENARIOS = {
    "crawl-kill-1p": crawl_scenario("crawl-kill-1p", 1, False, signal.SIGKILL),
    "crawl-kill-2p": crawl_scenario("crawl-kill-2p", 2, False, signal.SIGKILL),
    "crawl-kill-jobdir-1p": crawl_scenario("crawl-kill-jobdir-1p", 1, True, signal.SIGKILL),
    "crawl-kill-jobdir-2p": crawl_scenario("crawl-kill-jobdir-2p", 2, True, signal.SIGKILL),
    "crawl-term-2p": crawl_scenario("crawl-term-2p", 2, False, signal.SIGTERM),
    "crawl-term-jobdir-1p": crawl_scenario("crawl-term-jobdir-1p", 1, True, signal.SIGTERM),
    "curate-check": curate_scenario("curate-check", ["check"], False),
}


def campaign(kills: int, seed: int, names: list[str], final_limit: float = 180.0) -> list[Row]:
    """Run the scenarios ``names`` with ``kills`` kills each; their rows."""
    args = argparse.Namespace(kills=kills, final_limit=final_limit)
    mirror, base_url = start_mirror()
    try:
        import urllib.request

        with urllib.request.urlopen(base_url + "truth.json", timeout=30) as response:
            truth = json.load(response)
        planted = {r["url"] for r in truth["urls"] if r["wnid"] == WNID}
        with tempfile.TemporaryDirectory(prefix="faults-") as work:
            return [SCENARIOS[name](args, random.Random(f"{seed}:{name}"), base_url, planted,
                                    Path(work)) for name in names]
    finally:
        mirror.kill()
        mirror.wait()


def main() -> None:
    """Run the campaign and print one row per scenario."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--final-limit", type=float, default=180.0,
                        help="seconds a final run may take before it counts as a hang")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    started = time.monotonic()
    rows = campaign(args.kills, args.seed, args.scenarios.split(","), args.final_limit)
    print(f"{'scenario':22} kills converged lost extra bad_files left hangs tracebacks")
    for r in rows:
        print(f"{r.name:22} {r.kills:5} {'yes' if r.converged else 'NO':>9} {r.lost:4} "
              f"{r.extra:5} {r.bad_files:9} {r.left:4} {r.hangs:5} {r.tracebacks:10}")
    stops = [s for r in rows for s in r.stop_seconds]
    if stops:
        print(f"SIGTERM to exit over {len(stops)} stops: median {statistics.median(stops):.2f} s, "
              f"worst {max(stops):.2f} s (CRAWL_STOP_TIMEOUT {STOP_TIMEOUT_S:g} s)")
    print(f"campaign took {time.monotonic() - started:.0f} s (seed {args.seed})")


if __name__ == "__main__":
    main()
