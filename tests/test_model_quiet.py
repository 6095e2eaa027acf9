"""Quiet output (issue 21): no TensorFlow, absl or CUDA start-up lines unless --verbose."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import open_catalog
from model.datasets import draw_shapes, write_export
from model.quiet import filtered_stderr

BIN = Path(sys.executable).parent
# A line only the backend's start-up writes: glog/absl prefixes (I1207 ..., E0000 ...) or its
# usual words.
BACKEND_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d|absl|tensorflow|cuda|cuInit|oneDNN|cpu_feature_guard",
    re.IGNORECASE | re.MULTILINE,
)


def run(*command: str | Path) -> subprocess.CompletedProcess:
    """Run a console script of this environment (TensorFlow's own log level unset)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300,
                          env={**env, "COLUMNS": "100"})


def test_the_filter_holds_back_startup_lines_and_passes_real_errors(capfd):
    with filtered_stderr():
        os.write(2, b"I0000 00:00:1.5 1 cudart_stub.cc:31] Could not find cuda drivers\n")
        os.write(2, b"E0000 00:00:2.5 1 cuda_platform.cc:52] failed call to cuInit: (303)\n")
        os.write(2, b"ImportError: libfoo.so: cannot open shared object file\n")
    err = capfd.readouterr().err
    assert err == "ImportError: libfoo.so: cannot open shared object file\n"


def test_the_filter_passes_lines_on_when_the_block_raises(capfd):
    with pytest.raises(ImportError), filtered_stderr():
        os.write(2, b"the import failed because of this\n")
        raise ImportError("no backend")
    assert capfd.readouterr().err == "the import failed because of this\n"


@pytest.mark.model
def test_model_train_prints_no_backend_lines_unless_verbose(tmp_path: Path):
    export = write_export(
        tmp_path / "shapes", {"train": draw_shapes(16, 12), "val": draw_shapes(8, 12, seed=1)}
    ).path
    args = ["train", export, "--epochs", "1", "--latent-dim", "2", "--batch-size", "8"]
    quiet = run(BIN / "model", *args, "--out", tmp_path / "quiet")
    assert quiet.returncode == 0, quiet.stderr
    assert "trained" in quiet.stderr  # the result table is still there
    assert not BACKEND_LINE.search(quiet.stderr), quiet.stderr
    # the control: the same check finds the lines that --verbose lets through
    loud = run(BIN / "model", "--verbose", *args, "--out", tmp_path / "loud")
    assert loud.returncode == 0, loud.stderr
    assert BACKEND_LINE.search(loud.stderr), loud.stderr


def test_curate_prints_no_backend_lines(data_dir: Path):
    open_catalog(data_dir).close()
    done = run(BIN / "curate", "stats", "--data", data_dir)
    assert done.returncode == 0, done.stderr
    assert not BACKEND_LINE.search(done.stdout + done.stderr), done.stdout + done.stderr
