"""The fault campaign (benchmarks/faults.py), small and seeded: two kills of a two-process
crawl with JOBDIR and two SIGTERMs, each then run to the end and checked."""

from __future__ import annotations

import importlib.util
import sys

from conftest import REPO


def load_faults():
    """benchmarks/faults.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("faults", REPO / "benchmarks" / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_small_seeded_campaign_converges() -> None:
    faults = load_faults()
    rows = faults.campaign(kills=2, seed=1, names=["crawl-kill-jobdir-2p", "crawl-term-2p"],
                           final_limit=120.0)
    for row in rows:
        assert row.kills == 2
        assert row.converged, row
        assert (row.lost, row.extra, row.bad_files, row.left, row.hangs, row.tracebacks) == (
            0, 0, 0, 0, 0, 0), row
        assert all(s < faults.STOP_TIMEOUT_S + 1 for s in row.stop_seconds), row
