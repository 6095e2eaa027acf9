"""The main job end to end, offline: mirror -> crawl -> check -> dedup -> screen -> export -> train.

``python -m synthset.demo --out demo`` (``make demo``) runs every stage as the
real command a user would type, against the offline mirror on 127.0.0.1, and
prints one summary table. It harvests from each source: the ImageNet text API and
an ImageNet-21k synset tar, web pages, Wikimedia Commons and Openverse. Every stage
is idempotent, so a rerun resumes.
"""

from __future__ import annotations

import csv
import json
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from catalog import open_catalog
from catalog.harvest import stored_hashes
from synthset.readme_grids import grid_commands

console = Console()
BIN = Path(sys.executable).parent
PREFERRED_PORT = 8800


@dataclass(frozen=True)
class DemoSize:
    """How big each stage of the demo is."""

    images: int  # good cakes the mirror plants for n07631926
    epochs: int  # upper bound for model train
    patience: int
    latent_dim: int
    samples: int


# At most 100 epochs (the user's default is 200 with early stopping): about 3.5 minutes of
# training on 2 cores. At 40 (the cap while training was 4x slower) the model was still far from
# trained: samples blurred, reconstructions short of the picture targets (docs/model-pictures.md).
FULL = DemoSize(images=400, epochs=100, patience=20, latent_dim=150, samples=64)
QUICK = DemoSize(images=24, epochs=2, patience=2, latent_dim=16, samples=16)
OPEN_LICENSES = "cc0,pdm,cc-by,cc-by-sa"  # licence families anyone may share and adapt, credited

# The mirror is one local host: crawl it fast (the polite defaults are for real hosts),
# and give up on its planted 60-second timeout after a few seconds.
LOCAL_CRAWL_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
    "DOWNLOAD_DELAY": "0",
    "DOWNLOAD_TIMEOUT": "3",
    "RETRY_TIMES": "1",
    "LOG_LEVEL": "WARNING",
}


class Mirror:
    """The offline mirror as a child process; always stopped on exit."""

    def __init__(self, port: int, images: int) -> None:
        self.process = spawn(
            [sys.executable, "-m", "crawler.mirror", "--port", str(port), "--images", str(images)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        try:
            self.base_url = self.process.stdout.readline().strip().rstrip("/") + "/"
        except BaseException:  # interrupted while the mirror starts: stop it all the same
            self.stop()
            raise
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.stop()
            raise click.ClickException("the offline mirror did not start")

    def truth(self) -> dict:
        """The mirror's ground truth."""
        import urllib.request

        with urllib.request.urlopen(self.base_url + "truth.json", timeout=30) as response:
            return json.load(response)

    def stop(self) -> None:
        """Stop the mirror process."""
        self.process.kill()
        self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()


class _Signals:
    """A termination signal that arrived while a child was being started (else None)."""

    spawning = False
    pending: int | None = None


def exit_on_signal(signum: int, _frame: object) -> None:
    """Turn SIGTERM/SIGHUP into SystemExit, so ``finally`` blocks stop the mirror and the
    running step; held back while :func:`spawn` starts a child, whose pid would be lost."""
    if _Signals.spawning:
        _Signals.pending = signum
        return
    raise SystemExit(128 + signum)


def spawn(command: list[str], **kwargs: object) -> subprocess.Popen:
    """Start ``command``; a termination signal arriving meanwhile kills it, then exits."""
    _Signals.spawning = True
    try:
        process = subprocess.Popen(command, **kwargs)  # type: ignore[call-overload]
    finally:
        _Signals.spawning = False
    if _Signals.pending is not None:
        process.kill()
        process.wait()
        raise SystemExit(128 + _Signals.pending)
    return process


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound now (as the mirror binds it: SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(state_file: Path) -> int:
    """The mirror port: the one the last run used (so URLs stay the same and reruns resume)."""
    if state_file.exists():
        port = json.loads(state_file.read_text())["port"]
        if port_is_free(port):
            return port
        raise click.ClickException(
            f"port {port}, used by the previous demo run, is busy; stop what holds it "
            f"or remove {state_file.parent} to start over"
        )
    if port_is_free(PREFERRED_PORT):
        return PREFERRED_PORT
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args: str | Path | int, capture: bool = False) -> str:
    """Run one step as its real command line, echoing it; fail the demo if it fails.

    Interrupted (SIGTERM, Ctrl+C), the step's process is killed before the demo exits.
    """
    command = [str(a) for a in args]
    shown = [Path(command[0]).name, *command[1:]]
    console.print(f"[bold cyan]$[/] {shlex.join(shown)}", highlight=False)
    pipe = subprocess.PIPE if capture else None
    process = spawn(command, text=True, stdout=pipe, stderr=pipe)
    try:
        stdout, stderr = process.communicate()
    except BaseException:  # SIGTERM, Ctrl+C: the step must not outlive the demo
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        if capture:
            sys.stderr.write(stdout + stderr)
        raise click.ClickException(
            f"step failed (exit {process.returncode}): {shlex.join(command)}"
        )
    return stdout if capture else ""


def crawl(spider: str, data: Path, base_url: str, *spider_args: str, **extra: str) -> None:
    """``synthset crawl SPIDER`` (``scrapy crawl`` with our settings) into ``data``.

    Against the mirror; ``extra`` holds more settings.
    """
    settings = {**LOCAL_CRAWL_SETTINGS, "SYNTHSET_DATA": str(data), "IMAGENET_API_URL": base_url,
                **extra}
    flags = [f for key, value in settings.items() for f in ("-s", f"{key}={value}")]
    args = [f for arg in spider_args for f in ("-a", arg)]
    run(sys.executable, "-m", "synthset.scrapy_cli", "crawl", spider, *args, *flags)  # any cwd


def download(url: str, path: Path) -> Path:
    """Save ``url`` (the mirror's) at ``path`` once; a rerun keeps the file it has."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"[bold cyan]$[/] curl -o {path} {url}", highlight=False)
        partial = path.with_name(path.name + ".part")
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as handle:
            handle.write(response.read())
        partial.replace(path)
    return path


def harvest_sources_of_today(data: Path, base_url: str, downloads: Path) -> None:
    """The sources a researcher can use today: an ImageNet-21k tar, Commons, Openverse."""
    archive = download(base_url + "archives/n07631926.tar", downloads / "n07631926.tar")
    crawl("imagenet_synset", data, base_url, "wnid=n07631926", f"archive={archive}")
    crawl("commons", data, base_url, "category=Ice cream cakes", "depth=2", "limit=20",
          "wnid=n07631926", CONTACT="demo@example.org", COMMONS_API_URL=base_url + "w/api.php")
    crawl("openverse", data, base_url, "q=ice cream cake", "limit=40", "wnid=n07631926",
          OPENVERSE_API_URL=base_url + "v1/",  # searches one at a time, without the second apart
          DOWNLOAD_SLOTS=json.dumps({"openverse-api": {"concurrency": 1}}))


def write_ground_truth_decisions(truth: dict, data: Path, csv_path: Path) -> int:
    """Turn the mirror's screening ground truth into a decisions CSV; return its rows."""
    with open_catalog(data, create=False) as catalog:
        hashes = stored_hashes(catalog)
    decisions: dict[str, str] = {}
    for entry in truth["urls"]:
        sha256 = hashes.get(entry["url"])
        if entry.get("decision") and sha256:
            decisions.setdefault(sha256, entry["decision"])
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sha256", "decision", "note"])
        for sha256, decision in sorted(decisions.items()):
            writer.writerow([sha256, decision, "mirror ground truth"])
    return len(decisions)


def summary_table(rows: list[tuple[str, object]], paths: dict[str, Path]) -> Table:
    """The one table the demo ends with."""
    table = Table(title="synthset demo", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("value", justify="right")
    for label, value in rows:
        table.add_row(label, str(value))
    for label, path in paths.items():
        table.add_row(label, str(path))
    return table


def summary_rows(
    stats: dict, export: dict, train: dict, evaluation: dict
) -> list[tuple[str, object]]:
    """Label/value pairs of the summary, from the reports the commands wrote."""
    statuses = stats["statuses"]
    return [
        ("URLs found", stats["urls"]["total"]),
        *((f"URLs from {source}", counts["urls"]) for source, counts in stats["sources"].items()),
        *((f"images under licence {licence}", counts["images"])
          for licence, counts in stats["licenses"].items()),
        ("dead", statuses["dead"]),
        ("empty", statuses["empty"]),
        ("corrupt", statuses["corrupt"]),
        ("not an image", statuses["not_image"]),
        ("placeholders", statuses["placeholder"]),
        ("too small", statuses["too_small"]),
        ("duplicates", stats["duplicates"]["removed"]),
        ("accepted", stats["review"]["accepted"]),
        ("exported", export["counts"]["total"]),
        ("epochs", train["stop_epoch"]),
        ("validation bits/dim (8-bit)", round(evaluation["bits_per_dim"], 4)),
        ("reconstructions: SSIM to own input / another's",
         f"{evaluation['reconstruction_ssim']:.3f} / "
         f"{evaluation['reconstruction_ssim_other']:.3f}"),
        ("reconstructions: PSNR (dB)", round(evaluation["reconstruction_psnr"], 1)),
        ("samples: best SSIM to the data", round(evaluation["sample_best_ssim"], 3)),
        ("samples: diversity (data's)",
         f"{evaluation['sample_diversity']:.3f} ({evaluation['sample_data_diversity']:.3f})"),
        ("memorization score", memorization(evaluation)),
    ]


def memorization(evaluation: dict) -> object:
    """The memorization score, rounded, or why there is none."""
    score = evaluation["memorization"]
    return evaluation["memorization_note"] if score is None else round(score, 3)


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for everything the demo writes.")
@click.option("--quick", is_flag=True, help="Small numbers, same stages (what the tests run).")
@click.option("--verbose", is_flag=True,
              help="Let the model steps show the backend's start-up log (TensorFlow, absl, CUDA).")
def main(out: Path, quick: bool, verbose: bool) -> None:
    """Run the whole synthset pipeline offline against the built-in mirror."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, exit_on_signal)
    size = QUICK if quick else FULL
    out.mkdir(parents=True, exist_ok=True)
    data, datasets, run_dir = out / "data", out / "datasets", out / "run"
    state_file = out / "state.json"
    port = choose_port(state_file)
    started = time.monotonic()
    mirror = Mirror(port, size.images)
    try:
        state_file.write_text(json.dumps({"port": port}))
        console.rule(f"offline mirror at {mirror.base_url}")
        crawl("imagenet_synset", data, mirror.base_url, "synset=ice-cream cake")
        crawl("web_images", data, mirror.base_url, f"start_urls={mirror.base_url}web/index.html")
        harvest_sources_of_today(data, mirror.base_url, out / "downloads")
        truth = mirror.truth()
    finally:
        mirror.stop()
    curate = BIN / "curate"
    model = (BIN / "model", "--verbose") if verbose else (BIN / "model",)
    run(curate, "check", "--data", data)
    run(curate, "dedup", "--data", data)
    console.print("[dim]Screening: a person runs `curate review`; the demo imports the mirror's "
                  "ground truth instead.[/]")
    decisions_csv = out / "decisions.csv"
    write_ground_truth_decisions(truth, data, decisions_csv)
    run(curate, "decisions", "import", decisions_csv, "--data", data)
    run(curate, "export", "demo", "--data", data, "--out", datasets, "--overwrite")
    export_dir = datasets / "demo"
    # The images anyone may share, credited: the licence filter, the card and ATTRIBUTION.md
    # at work (the mirror's screening truth covers the ImageNet and web cakes only).
    run(curate, "export", "demo-open", "--data", data, "--out", datasets, "--overwrite",
        "--license", OPEN_LICENSES, "--include-unreviewed")
    open_dir = datasets / "demo-open"
    if not (run_dir / "train.json").exists():
        run(*model, "train", export_dir, "--out", run_dir, "--epochs", str(size.epochs),
            "--patience", str(size.patience), "--latent-dim", str(size.latent_dim),
            "--lr", "1e-3", "--overwrite")
    paths = {
        "sample grid": out / "samples.png",
        "reconstruction grid": out / "reconstructions.png",
        "loss curve": run_dir / "loss.png",
        "dataset card": export_dir / "README.md",
        "open-licence card": open_dir / "README.md",
        "credits": open_dir / "ATTRIBUTION.md",
    }
    for command in grid_commands(run_dir, export_dir, paths["sample grid"],
                                 paths["reconstruction grid"], size.samples, model):
        run(*command)
    evaluation = json.loads(run(*model, "evaluate", run_dir, export_dir, "--json", capture=True))
    stats = json.loads(run(curate, "stats", "--json", "--data", data, capture=True))
    train = json.loads((run_dir / "train.json").read_text())
    export = json.loads((export_dir / "export.json").read_text())
    rows = summary_rows(stats, export, train, evaluation)
    open_export = json.loads((open_dir / "export.json").read_text())
    rows.append((f"exported under {OPEN_LICENSES} (demo-open)", open_export["counts"]["total"]))
    summary: dict[str, object] = dict(rows)
    summary["paths"] = {label: str(path) for label, path in paths.items()}
    summary["seconds"] = round(time.monotonic() - started, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    console.rule(f"dataset card: {paths['open-licence card']} (first lines)")
    console.print("\n".join(paths["open-licence card"].read_text().splitlines()[:20]),
                  markup=False)
    console.print(summary_table(rows, paths))
    console.print(f"done in {summary['seconds']} s; rerun resumes; `make clean-demo` starts over")


if __name__ == "__main__":
    main(prog_name="python -m synthset.demo")
