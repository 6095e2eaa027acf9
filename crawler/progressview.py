"""What a crawl's progress looks like: live lines, a log line, the summary table.

A crawl process reports :class:`Report` snapshots (its ``synthset/*`` stats and the
hosts its politeness holds back); a :class:`ProgressView` keeps the latest report
of each process (one for a plain crawl, N under the launcher), adds them up and
renders them. Rendering only reads numbers, so the crawl process and the launcher
draw the same display.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

RATE_WINDOW_S = 60.0  # seconds: images/s and the ETA are measured over this much recent time
OPT_OUT_TOKENS = {"opted_out": "noai", "robots": "robots.txt"}  # error token -> shown as
SHOWN_HOSTS = 3  # hosts named in the politeness line


@dataclass(frozen=True)
class HostWait:
    """A host with requests waiting on its politeness: the delay or its concurrency."""

    host: str
    queued: int  # requests waiting in its slot
    delay: float  # seconds between its requests


@dataclass(frozen=True)
class Report:
    """One process's progress: its ``synthset/*`` stats (prefix dropped) and its waiting hosts.

    ``waits`` is filled only when politeness is what limits the process (the downloader
    has room for more requests than the hosts' delays and concurrency let through).
    """

    counts: Mapping[str, int]
    waits: tuple[HostWait, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`from_json`)."""
        return {"counts": dict(self.counts), "waits": [[w.host, w.queued, w.delay]
                                                      for w in self.waits]}

    @classmethod
    def from_json(cls, data: Any) -> Report:
        """The report :meth:`as_json` wrote; ValueError for anything else."""
        try:
            counts = {str(k): int(v) for k, v in data["counts"].items()}
            waits = tuple(HostWait(str(h), int(q), float(d)) for h, q, d in data["waits"])
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a progress report: {error}") from None
        return cls(counts, waits)


@dataclass(frozen=True)
class Tally:
    """The numbers a crawl shows, derived from the sum of its processes' counts."""

    listed: int  # URLs queued for fetching this run (refusals included)
    fetched: int  # URLs with an outcome: a response or an error token
    bodies: int  # 2xx responses, their bodies stored
    stored: int  # new images in the store (distinct contents, committed)
    dead: Counter[int]  # HTTP status >= 400 -> URLs
    failed: Counter[str]  # error token -> URLs (opt-outs apart)
    opted_out: Counter[str]  # robots.txt / noai -> URLs

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Tally:
        """The tally of ``synthset/*`` counts (prefix dropped), as the pipeline keeps them."""
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        for key, value in counts.items():
            kind, _, name = key.partition("/")
            if kind == "status" and name.isdigit():
                statuses[int(name)] += value
            elif kind == "error":
                errors[name] += value
        opted = Counter({shown: errors.pop(token) for token, shown in OPT_OUT_TOKENS.items()
                         if token in errors})
        return cls(
            listed=max(counts.get("queued", 0), statuses.total() + errors.total() + opted.total()),
            fetched=statuses.total() + errors.total() + opted.total(),
            bodies=sum(n for status, n in statuses.items() if 200 <= status < 300),
            stored=counts.get("new_images", 0),
            dead=Counter({status: n for status, n in statuses.items() if status >= 400}),
            failed=errors,
            opted_out=opted,
        )


def breakdown(counts: Counter[Any]) -> str:
    """``12 (404 10, 500 2)``: the total, then the biggest parts."""
    if not counts:
        return "0"
    parts = ", ".join(f"{key} {n}" for key, n in counts.most_common(4))
    more = ", ..." if len(counts) > 4 else ""
    return f"{counts.total()} ({parts}{more})"


def duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class ProgressView:
    """The latest report of every process of one crawl, and how fast it has been going."""

    title: str
    started: float = field(default_factory=time.monotonic)
    reports: dict[str, Report] = field(default_factory=dict)
    _history: deque[tuple[float, int, int]] = field(default_factory=deque)  # (t, fetched, bodies)

    def update(self, source: str, report: Report) -> None:
        """Take ``source``'s latest report (``source``: the process, "" for a plain crawl)."""
        self.reports[source] = report
        now = time.monotonic()
        tally = self.tally()
        self._history.append((now, tally.fetched, tally.bodies))
        while len(self._history) > 2 and self._history[1][0] <= now - RATE_WINDOW_S:
            self._history.popleft()

    def tally(self) -> Tally:
        """The sum over every process's latest report."""
        total: Counter[str] = Counter()
        for report in self.reports.values():
            total.update(report.counts)
        return Tally.of(total)

    def waits(self) -> list[HostWait]:
        """The hosts held back by politeness in any process, most requests waiting first."""
        every: Iterable[HostWait] = (w for r in self.reports.values() for w in r.waits)
        return sorted(every, key=lambda w: (-w.queued, w.host))

    def rates(self) -> tuple[float, float]:
        """(URLs/s, images/s) over the last minute (the whole run before a minute has passed)."""
        if len(self._history) < 2:
            return 0.0, 0.0
        (t0, fetched0, bodies0), (t1, fetched1, bodies1) = self._history[0], self._history[-1]
        span = t1 - t0
        if span <= 0:
            return 0.0, 0.0
        return (fetched1 - fetched0) / span, (bodies1 - bodies0) / span

    def eta(self) -> float | None:
        """Seconds until every URL listed so far has an outcome, at the recent rate."""
        url_rate, _ = self.rates()
        tally = self.tally()
        left = tally.listed - tally.fetched
        if left <= 0 or url_rate <= 0:
            return None
        return left / url_rate

    def line(self) -> str:
        """One compact line (for the log, once a minute)."""
        tally = self.tally()
        _, image_rate = self.rates()
        eta = self.eta()
        parts = [
            f"URLs {tally.fetched}/{tally.listed} (listed so far)",
            f"{tally.stored} images stored ({image_rate:.1f}/s)",
            f"dead {breakdown(tally.dead)}",
            f"failed {breakdown(tally.failed)}",
            f"opted out {breakdown(tally.opted_out)}",
        ]
        if eta is not None:
            parts.append(f"ETA {duration(eta)}")
        if waits := self.waits():
            parts.append(f"politeness limits {len(waits)} hosts")
        return ", ".join(parts)

    def renderable(self) -> RenderableType:
        """The live display: a bar of URLs, the images, the failures, and politeness waits."""
        tally = self.tally()
        _, image_rate = self.rates()
        eta = self.eta()
        head = Table.grid(padding=(0, 1))
        head.add_row(
            Text(self.title, style="bold"),
            ProgressBar(total=max(tally.listed, 1), completed=tally.fetched, width=30),
            Text(f"URLs {tally.fetched}/{tally.listed} (listed so far)"),
            Text(f"ETA {duration(eta)}" if eta is not None else "ETA -", style="cyan"),
            Text(duration(time.monotonic() - self.started), style="dim"),
        )
        lines: list[RenderableType] = [
            head,
            Text(f"images stored {tally.stored}   {image_rate:.1f} images/s (last minute)"),
            Text(f"dead {breakdown(tally.dead)}   failed {breakdown(tally.failed)}   "
                 f"opted out {breakdown(tally.opted_out)}"),
        ]
        waits = self.waits()
        if waits:
            named = ", ".join(f"{w.host} ({w.queued} waiting, {w.delay:g} s apart)"
                              for w in waits[:SHOWN_HOSTS])
            more = f" and {len(waits) - SHOWN_HOSTS} more" if len(waits) > SHOWN_HOSTS else ""
            lines.append(Text(f"politeness limits {len(waits)} hosts: {named}{more}",
                              style="yellow"))
        return Group(*lines)

    def summary(self) -> Table:
        """The table printed when the crawl ends."""
        tally = self.tally()
        seconds = time.monotonic() - self.started
        table = Table(title=f"{self.title} ({seconds:.1f} s)")
        table.add_column("outcome")
        table.add_column("URLs", justify="right")
        table.add_row("fetched", str(tally.fetched), style="bold")
        table.add_row("stored (2xx)", str(tally.bodies))
        for status, count in sorted(tally.dead.items()):
            table.add_row(f"dead: HTTP {status}", str(count))
        for token, count in sorted(tally.failed.items()):
            table.add_row(f"failed: {token}", str(count))
        for why, count in sorted(tally.opted_out.items()):
            table.add_row(f"opted out: {why}", str(count))
        table.add_row("new images in the store", str(tally.stored), style="bold")
        table.add_row("images/s", f"{tally.bodies / seconds:.1f}" if seconds > 0 else "-")
        return table
