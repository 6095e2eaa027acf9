"""Fault campaign: kill each stage at random moments (fixed seed), rerun it, check it converged.

Crawl scenarios run ``scrapy crawl imagenet_synset`` on the offline mirror (slow images,
so kills land mid-crawl) with and without JOBDIR, as 1 and 2 processes, killed with
SIGKILL or stopped with SIGTERM at a random moment, ``--kills`` times, then run to the end.
After the final run they check: every planted URL once in the catalog and fetched, no
other URL, every store file matching its hash; after every kill, no process of the killed
run alive 5 s later; no traceback in any log; no hang (a SIGTERM that does not end the
crawl within CRAWL_STOP_TIMEOUT + 5 s, a final run past ``--final-limit`` s). ``curate
check``, ``dedup``, ``export``, ``merge`` and ``decisions import`` are killed (SIGKILL) on a
copy of the crawled catalog and rerun: URL facts, judgments and decisions equal to a run
never killed, never a partial export. ``model train`` is killed and continued with
``--resume`` each time, then compared with runs never killed (seeds 0 and 1 give the
run-to-run noise). One row per scenario, and the SIGTERM-to-exit median and worst.
A Redis worker scenario is not here yet (tests/test_crawler_redis.py kills one).

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
from contextlib import closing
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
    note: str = ""  # what else the scenario measured


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
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
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
    with closing(sqlite3.connect(data_dir / "catalog.db")) as db:
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
            interrupt(command, rng, sig, row, (1.0, 6.0))
        if finish(command, row, args.final_limit):
            check_crawl(data_dir, planted, row)
            row.converged = not (row.lost or row.extra or row.bad_files)
        return row

    return run


CURATE = [sys.executable, "-c", "from curate.cli import cli; cli()"]
TIME_COLUMNS = {"first_seen", "checked_at", "decided_at", "review_id"}  # when, not what


def state(data_dir: Path, out: Path) -> tuple[object, ...]:
    """What a curate command decides: URL facts, image judgments, decisions in force, and
    the export's manifest (never its timestamps or row ids)."""
    tables = []
    with closing(sqlite3.connect(data_dir / "catalog.db")) as db:
        for query in ("SELECT url, fetched_at, http_status, error, sha256 FROM urls",
                      "SELECT * FROM images", "SELECT * FROM decisions"):
            cursor = db.execute(query)
            keep = [i for i, d in enumerate(cursor.description) if d[0] not in TIME_COLUMNS]
            tables.append(sorted(tuple(row[i] for i in keep) for row in cursor))
    manifests = sorted(p.read_text() for p in out.glob("*/manifest.csv"))
    return (*tables, manifests)


def partial_exports(out: Path) -> int:
    """Export folders in place without their export.json (written last)."""
    return sum(1 for folder in out.glob("*") if folder.is_dir()
               and not folder.name.startswith(".") and not (folder / "export.json").exists())


def curate_scenario(name: str, before: list[list[str]], step: Callable[[Path, Path], list[str]],
                    fresh: bool = False,
                    ) -> Callable[[argparse.Namespace, random.Random, str, set[str], Path], Row]:
    """A ``curate`` command killed on a copy of a crawled catalog (``fresh``: on an empty
    data directory), then rerun: the same state as a run never killed, and never a partial
    export. ``before``: commands run first (unkilled); ``step(data_dir, out)``: the
    arguments of the command killed."""

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
            out = work / name / ("out-killed" if killed else "out-clean")
            if not fresh:
                shutil.copytree(source, data_dir, ignore=shutil.ignore_patterns("crawl.lock"))
            for arguments in before:
                if not finish([*CURATE, *arguments, "--data", str(data_dir)], row,
                              args.final_limit):
                    return row
            command = [*CURATE, *step(data_dir, out), "--data", str(data_dir)]
            for _ in range(args.kills if killed else 0):
                interrupt(command, rng, signal.SIGKILL, row, (0.2, 3.0))
                row.bad_files += partial_exports(out)
            rerun = command + (["--overwrite"] if "export" in command else [])
            if not finish(rerun, row, args.final_limit):
                return row
            results.append(state(data_dir, out))
        row.converged = results[0] == results[1] and not row.bad_files
        return row

    return run


def decisions_csv(data_dir: Path, out: Path) -> list[str]:
    """``decisions import`` of a CSV deciding every image (written once, beside OUT)."""
    csv_path = out.parent / f"{out.name}-decisions.csv"
    if not csv_path.exists():
        with closing(sqlite3.connect(data_dir / "catalog.db")) as db:
            hashes = sorted(sha for (sha,) in db.execute("SELECT sha256 FROM images"))
        lines = ["sha256,decision,note"] + [
            f"{sha},{('accept', 'reject')[i % 2]},faults" for i, sha in enumerate(hashes)]
        csv_path.write_text("\n".join(lines) + "\n")
    return ["decisions", "import", str(csv_path)]


MODEL = [sys.executable, "-c", "from model.cli import cli; cli()"]
MODEL_EPOCHS = 30
TINY_TRAINING = ["--latent-dim", "4", "--lr", "3e-3", "--batch-size", "16", "--epochs",
                 str(MODEL_EPOCHS), "--kl-warmup", "2", "--patience", "50", "--arch", "conv-vae"]


def final_val_loss(run: Path) -> tuple[int, float, bool]:
    """A finished run's epochs, last val_loss, and whether history.csv counts 0, 1, 2, ..."""
    report = json.loads((run / "train.json").read_text())
    lines = (run / "history.csv").read_text().splitlines()[1:]
    continuous = [int(line.split(",")[0]) for line in lines] == list(range(len(lines)))
    return report["epochs_run"], float(report["final"]["val_loss"]), continuous


def model_scenario(args: argparse.Namespace, rng: random.Random, mirror: str,
                   planted: set[str], work: Path) -> Row:
    """``model train`` killed at random moments, each time continued with --resume; against
    two runs never killed (seeds 0 and 1: the run-to-run noise)."""
    from model.datasets import draw_shapes, write_export

    row = Row("model-train")
    export = work / "model" / "shapes"
    write_export(export, {"train": draw_shapes(64, 16, 1, 0), "val": draw_shapes(16, 16, 1, 1)})
    clean = []
    for seed in (0, 1):
        run = work / "model" / f"clean-{seed}"
        if not finish([*MODEL, "train", str(export), "--out", str(run), *TINY_TRAINING,
                       "--seed", str(seed)], row, args.final_limit):
            return row
        clean.append(final_val_loss(run))
    run = work / "model" / "killed"
    first = [*MODEL, "train", str(export), "--out", str(run), *TINY_TRAINING, "--seed", "0"]
    resumed_from = []  # epochs done when each --resume started
    for _ in range(args.kills):
        resumable = (run / "checkpoint" / "latest.json").exists()
        if resumable:
            resumed_from.append(json.loads((run / "checkpoint" / "latest.json").read_text())[
                "epoch"])
        interrupt([*MODEL, "train", "--resume", str(run)] if resumable else [
            *first, "--overwrite"], rng, signal.SIGKILL, row, (4.0, 10.0))
        if (run / "train.json").exists():
            break  # it finished before the kill: nothing left to interrupt
    resumable = (run / "checkpoint" / "latest.json").exists()
    if resumable:
        resumed_from.append(json.loads((run / "checkpoint" / "latest.json").read_text())["epoch"])
    if not (run / "train.json").exists() and not finish(
            [*MODEL, "train", "--resume", str(run)] if resumable else [*first, "--overwrite"],
            row, args.final_limit):
        return row
    epochs, loss, continuous = final_val_loss(run)
    noise = abs(clean[0][1] - clean[1][1])
    row.converged = (epochs == clean[0][0] and continuous
                     and abs(loss - clean[0][1]) <= max(noise, 0.02 * abs(clean[0][1])))
    row.note = (f"resumed after epochs {resumed_from}; "
                f"epochs {epochs} vs {clean[0][0]}, history continuous {continuous}; final "
                f"val_loss {loss:.2f} vs unkilled {clean[0][1]:.2f} (seed 1: {clean[1][1]:.2f}, "
                f"noise {noise:.2f})")
    return row


SCENARIOS = {
    "crawl-kill-1p": crawl_scenario("crawl-kill-1p", 1, False, signal.SIGKILL),
    "crawl-kill-2p": crawl_scenario("crawl-kill-2p", 2, False, signal.SIGKILL),
    "crawl-kill-jobdir-1p": crawl_scenario("crawl-kill-jobdir-1p", 1, True, signal.SIGKILL),
    "crawl-kill-jobdir-2p": crawl_scenario("crawl-kill-jobdir-2p", 2, True, signal.SIGKILL),
    "crawl-term-2p": crawl_scenario("crawl-term-2p", 2, False, signal.SIGTERM),
    "crawl-term-jobdir-1p": crawl_scenario("crawl-term-jobdir-1p", 1, True, signal.SIGTERM),
    "curate-check": curate_scenario("curate-check", [], lambda d, o: ["check"]),
    "curate-dedup": curate_scenario("curate-dedup", [["check"]], lambda d, o: ["dedup"]),
    "curate-export": curate_scenario("curate-export", [["check"]], lambda d, o: [
        "export", "faults", "--out", str(o), "--include-unreviewed"]),
    "curate-merge": curate_scenario("curate-merge", [], lambda d, o: [
        "merge", str(d.parent.parent / "crawl-kill-1p" / "data")], fresh=True),
    "curate-decisions-import": curate_scenario("curate-decisions-import", [["check"]],
                                               decisions_csv),
    "model-train": model_scenario,
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
    print(f"{'scenario':24} kills converged lost extra bad_files left hangs tracebacks")
    for r in rows:
        print(f"{r.name:24} {r.kills:5} {'yes' if r.converged else 'NO':>9} {r.lost:4} "
              f"{r.extra:5} {r.bad_files:9} {r.left:4} {r.hangs:5} {r.tracebacks:10}  {r.note}")
    stops = [s for r in rows for s in r.stop_seconds]
    if stops:
        print(f"SIGTERM to exit over {len(stops)} stops: median {statistics.median(stops):.2f} s, "
              f"worst {max(stops):.2f} s (CRAWL_STOP_TIMEOUT {STOP_TIMEOUT_S:g} s)")
    print(f"campaign took {time.monotonic() - started:.0f} s (seed {args.seed})")


if __name__ == "__main__":
    main()
