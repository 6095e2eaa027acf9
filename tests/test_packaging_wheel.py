"""The wheel, installed in a fresh venv, runs the pipeline from a folder outside the repository.

Marked ``packaging`` (a few minutes: it builds, installs TensorFlow from the pip cache or
the registry, crawls and trains); ``make test`` leaves it out, .ci/run runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("catalog", "crawler", "curate", "model", "synthset")
# The mirror is one local host: no politeness delays; its planted 60 s hold times out fast.
LOCAL_CRAWL = {
    "AUTOTHROTTLE_ENABLED": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_DELAY": "0",
    "DOWNLOAD_TIMEOUT": "3",
    "RETRY_TIMES": "0",
}

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1800)]


def clean_env() -> dict[str, str]:
    """This environment without anything that would point Python or Scrapy at the checkout."""
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "SCRAPY_SETTINGS_MODULE", "SYNTHSET_DATA"}
    return {name: value for name, value in os.environ.items() if name not in dropped}


def run(*command: str | Path, cwd: Path, timeout: float = 900) -> str:
    """Run ``command`` in ``cwd``; its stdout, or a failure that shows its output."""
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=clean_env(), capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``python -m build``: the sdist, then the wheel built from it."""
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", dist, REPO, cwd=REPO)
    (built,) = dist.glob("synthset-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) with ``WHEEL[model]`` installed."""
    where = tmp_path_factory.mktemp("venv") / "venv"
    run(sys.executable, "-m", "venv", where, cwd=where.parent)
    run(where / "bin" / "pip", "install", "--quiet", "--no-compile", "-c", REPO / "constraints.txt",
        f"{wheel}[model]", cwd=where.parent)  # fmt: skip
    return where


@pytest.fixture
def outside(tmp_path) -> Path:
    """A working folder with no scrapy.cfg above it (tmp_path is outside the repository)."""
    assert REPO not in tmp_path.parents
    return tmp_path


@pytest.fixture
def mirror(venv, outside) -> Iterator[str]:
    """The installed package's own offline mirror, on 127.0.0.1."""
    process = subprocess.Popen(
        [venv / "bin" / "python", "-m", "crawler.mirror", "--port", "0", "--images", "24"],
        cwd=outside, env=clean_env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    try:
        assert base_url.startswith("http://127.0.0.1:"), base_url
        yield base_url
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()


def test_the_wheel_holds_our_packages_their_data_and_the_licence(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {*OUR_PACKAGES, wheel.name.split("-py3")[0]
                                                      + ".dist-info"}
    for data in ("curate/data/placeholders.json", "curate/review/review.tcss",
                 "crawler/mirror/server.py", "crawler/commands/crawl.py"):
        assert data in names
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_fresh_install_is_consistent_and_owns_its_import_names(venv, outside):
    assert "No broken requirements found." in run(venv / "bin" / "pip", "check", cwd=outside)
    owners = json.loads(run(
        venv / "bin" / "python", "-c",
        "import importlib.metadata as m, json; print(json.dumps(m.packages_distributions()))",
        cwd=outside,
    ))  # fmt: skip
    for name in OUR_PACKAGES:  # no dependency brings a module of the same name
        assert owners[name] == ["synthset"], (name, owners[name])
    where = run(venv / "bin" / "python", "-c", "import crawler; print(crawler.__file__)",
                cwd=outside)  # fmt: skip
    assert Path(where.strip()).is_relative_to(venv)


def test_the_pipeline_runs_from_any_folder(venv, outside, mirror):
    bin_ = venv / "bin"
    settings = {**LOCAL_CRAWL, "SYNTHSET_DATA": "data", "IMAGENET_API_URL": mirror}
    flags = [flag for name, value in settings.items() for flag in ("-s", f"{name}={value}")]
    run(bin_ / "synthset", "crawl", "imagenet_synset", "-a", "wnid=n07631926", *flags,
        cwd=outside)  # fmt: skip
    run(bin_ / "curate", "check", "--data", "data", cwd=outside)
    run(bin_ / "curate", "dedup", "--data", "data", cwd=outside)
    stats = json.loads(run(bin_ / "curate", "stats", "--json", "--data", "data", cwd=outside))
    truth_urls = 24 + 30  # the 24 plain cakes and at least 30 planted URLs of one failure set
    assert stats["urls"]["total"] >= truth_urls
    assert stats["statuses"]["ok"] >= 24 and stats["statuses"]["dead"] >= 4
    assert stats["duplicates"]["removed"] >= 3
    run(bin_ / "curate", "export", "cakes", "--data", "data", "--out", "datasets",
        "--include-unreviewed", cwd=outside)  # fmt: skip
    export = json.loads((outside / "datasets" / "cakes" / "export.json").read_text())
    assert export["counts"]["total"] >= 24
    run(bin_ / "model", "train", "datasets/cakes", "--out", "runs/cakes", "--epochs", "1",
        "--latent-dim", "8", "--batch-size", "8", cwd=outside)  # fmt: skip
    train = json.loads((outside / "runs" / "cakes" / "train.json").read_text())
    assert train["stop_epoch"] == 1
    assert (outside / "runs" / "cakes" / "model.keras").stat().st_size > 0
