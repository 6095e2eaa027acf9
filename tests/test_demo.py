"""The main job, end to end, in its quick mode: every stage, real commands, offline."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import open_catalog
from synthset.demo import port_is_free

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.demo, pytest.mark.model]


def run_demo(out: Path) -> dict:
    """Run ``python -m synthset.demo --quick`` into ``out``; return its summary.json."""
    result = subprocess.run(
        [sys.executable, "-m", "synthset.demo", "--out", str(out), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "synthset demo" in result.stdout  # the summary table
    return json.loads((out / "summary.json").read_text())


@pytest.mark.timeout(600)  # two demo runs, each with five crawls
def test_quick_demo_runs_every_stage_and_resumes(tmp_path):
    out = tmp_path / "demo"
    first = run_demo(out)
    for label in ("sample grid", "reconstruction grid", "loss curve"):
        path = Path(first["paths"][label])
        assert path.is_file() and path.stat().st_size > 0, label
    manifest = (out / "datasets" / "demo" / "manifest.csv").read_text().splitlines()
    assert first["exported"] == len(manifest) - 1 > 0
    assert first["accepted"] == first["exported"]
    for failure in ("dead", "empty", "corrupt", "placeholders", "duplicates"):
        assert first[failure] > 0, failure  # the mirror plants each of them
    for source in ("imagenet", "web", "commons", "openverse"):
        assert first[f"URLs from {source}"] > 0, source  # harvested from every source
    licensed = [label for label in first if label.startswith("images under licence cc")]
    assert len(licensed) >= 3, licensed  # images per licence in the summary
    assert first["epochs"] >= 1
    open_manifest = list(csv.DictReader((out / "datasets" / "demo-open" / "manifest.csv").open()))
    assert first["exported under cc0,pdm,cc-by,cc-by-sa (demo-open)"] == len(open_manifest) > 0
    assert {row["license"].split("-")[0] for row in open_manifest} <= {"cc0", "pdm", "cc"}
    credited = [row for row in open_manifest if row["license"].startswith("cc-by")]
    credits = Path(first["paths"]["credits"]).read_text()
    assert credited and all(f"`{row['file']}`" in credits for row in credited)
    assert "license:" in Path(first["paths"]["open-licence card"]).read_text()
    port = json.loads((out / "state.json").read_text())["port"]
    assert port_is_free(port), "the demo left its mirror running"

    trained_at = (out / "run" / "train.json").stat().st_mtime_ns
    with open_catalog(out / "data", create=False) as catalog:
        urls_before = catalog.conn.execute("SELECT count(*) FROM urls").fetchone()[0]
    second = run_demo(out)
    assert (out / "run" / "train.json").stat().st_mtime_ns == trained_at  # not retrained
    assert second["URLs found"] == first["URLs found"] == urls_before
    assert second["exported"] == first["exported"]


def mirror_processes(port: int) -> list[int]:
    """Pids of live ``python -m crawler.mirror --port PORT`` processes."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"crawler.mirror" in argv and str(port).encode() in argv and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.mark.timeout(120)
def test_a_terminated_demo_leaves_no_process_running(tmp_path):
    """SIGTERM (a closed terminal, a CI cancel) mid-crawl must stop the mirror and the crawl."""
    out = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "synthset.demo", "--out", str(out), "--quick"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if "crawl imagenet_synset" in line:  # the mirror is up and the first crawl starting
                break
        port = json.loads((out / "state.json").read_text())["port"]
        assert mirror_processes(port) and not port_is_free(port)  # control: it runs now
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
    finally:
        demo.kill()
        demo.stdout.close()
    assert demo.returncode == 128 + signal.SIGTERM
    assert mirror_processes(port) == []
    assert port_is_free(port), "the terminated demo left its mirror running"
