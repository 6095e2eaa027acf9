"""``curate merge``: several workers' data directories into one, recorded as a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from catalog import Catalog
from catalog.merge import MergeCounts, merge_data_dir
from catalog.runs import finish_run, start_run


@dataclass
class MergeReport:
    """What one ``curate merge`` did, per source directory."""

    run_id: int
    sources: list[MergeCounts] = field(default_factory=list)


def merge(
    catalog: Catalog,
    sources: Sequence[Path],
    on_merged: Callable[[MergeCounts], None] | None = None,
) -> MergeReport:
    """Merge every data directory of ``sources`` into ``catalog``, one after another.

    Each source is merged in its own transaction (see :mod:`catalog.merge` for the
    rules), so an interrupted merge keeps the sources done so far; rerunning it
    adds nothing twice. ``on_merged`` is called after each source.
    """
    run_id = start_run(catalog, "merge", {"sources": [str(s) for s in sources]})
    report = MergeReport(run_id)
    for source in sources:
        counts = merge_data_dir(catalog, source)
        report.sources.append(counts)
        if on_merged is not None:
            on_merged(counts)
    finish_run(catalog, run_id, {"sources": [asdict(c) for c in report.sources]})
    return report
