"""Where a crawl's CPU goes: synthset's CPU per URL against Scrapy alone, in the same run.

One process (``CRAWL_PROCESSES=1``), ``--urls`` URLs (4,000 by default) on a loopback farm
of 32 hosts (benchmarks/imagefarm.py: 100 ms per image, 30% dead) at img2dataset's
aggressiveness (benchmarks/crawl.py's AGGRESSIVE settings). Four runs on the same list,
each timed by the CPU its process used (user + system, from ``getrusage`` of the waited
child), and the farm's CPU over the same run (from ``/proc/PID/stat``):

- ``Scrapy alone`` (the baseline): benchmarks/scrapy_floor.py, nothing of ours;
- ``synthset, no robots.txt, no pipeline``: ``ROBOTSTXT_OBEY=False``, ``ITEM_PIPELINES={}``
  (the spider, its middlewares, nothing stored);
- ``synthset, no robots.txt``: the catalog pipeline on (sha256, the store, SQLite);
- ``synthset``: as a user runs it.

Each crawl also runs over the list's first URL alone: what that costs (start-up, shut-down)
is taken out of the per-URL figure. Every crawl runs ``--repeat`` times, in turn, and the
least CPU is kept (CPU time varies less than wall time on a busy machine, but it varies).
It prints each crawl's CPU milliseconds per URL, its ratio to Scrapy alone, the share of the
full crawl's CPU per URL that robots.txt and the catalog pipeline take (the differences
between crawls), and the CPU per URL with the farm's included (what bounds images/s on a
machine whose cores serve the farm too).

The pipeline's share is then split by replaying its writer's work in this process, on the
bodies and rows the crawl wrote, in the crawl's batches (``CATALOG_FLUSH_ITEMS``): the
hand-over (each batch pickled and unpickled, as on the writer's pipe), the store
(``store_bodies``: sha256, each file written, fsynced and renamed) and the catalog
(``record_fetches``: one SQLite transaction per batch). What the pipeline costs beyond the
three is its part in the crawling process (items queued, batches sent).

    python benchmarks/crawl_cpu.py               # 4,000 URLs x 3: about 3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repo's packages first

from crawl import AGGRESSIVE, DEAD_FRACTION, WNID, Farm, start_farm  # noqa: E402
from imagefarm import draw_jpegs, is_dead  # noqa: E402

from catalog import open_catalog  # noqa: E402
from catalog.harvest import FetchResult, record_fetches  # noqa: E402
from crawler import settings as defaults  # noqa: E402
from crawler.catalogwriter import Batch, store_bodies  # noqa: E402

HOSTS = 32
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    """One crawler's CPU seconds: a run over the list, a run over its first URL only (the
    start-up and shut-down every run pays), and the farm's CPU during the list's run."""

    name: str
    cpu_s: float
    fixed_s: float
    farm_cpu_s: float

    def per_url_ms(self, count: int) -> float:
        """CPU milliseconds per URL, start-up and shut-down taken out."""
        return (self.cpu_s - self.fixed_s) * 1000 / (count - 1)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def children_cpu() -> float:
    """CPU seconds used by every waited-for child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(command: list[str], farm: Farm, log: Path) -> tuple[float, float]:
    """Run ``command`` to the end: its CPU seconds and the farm's meanwhile."""
    before, farm_before = children_cpu(), process_cpu(farm.process.pid)
    with log.open("a") as out:
        subprocess.run(command, cwd=REPO, stdout=out, stderr=out, check=True)
    return children_cpu() - before, process_cpu(farm.process.pid) - farm_before


def settings_args(settings: dict[str, object]) -> list[str]:
    """``-s NAME=VALUE`` for each setting."""
    return [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]


def floor_command(floor_list: Path, settings: dict[str, object]) -> list[str]:
    """Scrapy alone (benchmarks/scrapy_floor.py) over ``floor_list`` at ``settings``."""
    return [sys.executable, "-m", "scrapy", "runspider", str(REPO / "benchmarks/scrapy_floor.py"),
            "-a", f"urls_file={floor_list}", *settings_args(settings)]


def synthset_command(listing: Path, data_dir: Path, settings: dict[str, object]) -> list[str]:
    """``scrapy crawl imagenet_synset`` over ``listing`` into ``data_dir`` at ``settings``."""
    return [sys.executable, "-m", "scrapy", "crawl", "imagenet_synset", "-a", f"wnid={WNID}",
            "-a", f"urls_file={listing}", "-s", f"SYNTHSET_DATA={data_dir}",
            *settings_args(settings)]


def commands(listing: Path, floor_list: Path, data_dir: Path) -> dict[str, list[str]]:
    """The four crawls of one list, baseline first."""
    engine = {**AGGRESSIVE, "CRAWL_PROCESSES": 1}
    found = {"Scrapy alone": floor_command(floor_list, engine)}
    variants = (("synthset, no robots.txt, no pipeline",
                 {"ROBOTSTXT_OBEY": False, "ITEM_PIPELINES": "{}"}),
                ("synthset, no robots.txt", {"ROBOTSTXT_OBEY": False}),
                ("synthset", {}))
    for number, (name, changes) in enumerate(variants):
        found[name] = synthset_command(listing, Path(f"{data_dir}-{number}"),
                                       {**engine, **changes})
    return found


Crawls = Callable[[Path, Path, Path], dict[str, list[str]]]


def run_folder(work: Path, attempt: int, size: int) -> Path:
    """Where :func:`runs` keeps the lists and data directories of one attempt at one size."""
    return work / f"{attempt}-{size}"


def runs(urls: list[str], farm: Farm, work: Path, repeat: int,
         crawls: Crawls = commands) -> list[Run]:
    """Each of ``crawls`` (name -> command for a listing, a floor list and a data directory
    prefix) over ``urls`` and over its first URL, ``repeat`` times in turn (each in a fresh
    :func:`run_folder`); the least CPU of each kept."""
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for attempt in range(repeat):
        for size in (len(urls), 1):
            folder = run_folder(work, attempt, size)
            folder.mkdir()
            listing, floor_list = folder / "fall11_urls.txt", folder / "floor-urls.txt"
            listing.write_text("".join(f"{WNID}_{n}\t{url}\n" for n, url in
                                       enumerate(urls[:size])))
            floor_list.write_text("".join(f"{url}\n" for url in urls[:size]))
            for name, command in crawls(listing, floor_list, folder / "data").items():
                cpu = measured(command, farm, work / "crawls.log")
                best[name, size] = min(best.get((name, size), cpu), cpu)
    names = list(crawls(work, work, work))
    return [Run(name, best[name, len(urls)][0], best[name, 1][0], best[name, len(urls)][1])
            for name in names]


def report(found: list[Run], count: int) -> None:
    """Print CPU per URL, ratios to the baseline and the shares of robots.txt and pipeline."""
    baseline = found[0].per_url_ms(count)
    for run in found:
        per_url = run.per_url_ms(count)
        print(f"  {run.name:38s} {per_url:5.2f} ms CPU per URL ({per_url / baseline:4.2f}x "
              f"Scrapy alone; {run.fixed_s:.1f} s to start and stop); with the farm's "
              f"{per_url + run.farm_cpu_s * 1000 / count:5.2f} ms")
    bare, no_robots, full = (run.per_url_ms(count) for run in found[1:])
    print(f"  share of synthset's CPU per URL: robots.txt {(full - no_robots) / full:.0%}, "
          f"catalog pipeline {(no_robots - bare) / full:.0%}, the rest of ours "
          f"{(bare - baseline) / full:.0%}, Scrapy itself {baseline / full:.0%}", flush=True)


def farm_fetches(urls: list[str], dead_fraction: float) -> list[FetchResult]:
    """What the crawl's pipeline gets for ``urls`` from the farm: the same statuses, content
    types and bodies (benchmarks/imagefarm.py's)."""
    jpegs, found = draw_jpegs(), []
    for n, url in enumerate(urls):
        number = int(url.rsplit("/", 1)[1].removesuffix(".jpg"))
        dead = is_dead(number, dead_fraction)
        found.append(FetchResult(
            url=url, source="imagenet", wnid=WNID, image_id=f"{WNID}_{n}", final_url=url,
            http_status=404 if dead else 200,
            content_type="text/plain" if dead else "image/jpeg",
            body=None if dead else jpegs[number % len(jpegs)] + b"synthset-farm-%d" % number))
    return found


def writer_stages(urls: list[str], dead_fraction: float, work: Path) -> dict[str, float]:
    """CPU milliseconds per URL of the writer's stages, replayed here on the farm's answers
    for ``urls`` in the crawl's batches: hand-over, store, catalog."""
    fetches = farm_fetches(urls, dead_fraction)
    size = defaults.CATALOG_FLUSH_ITEMS
    batches = [fetches[i:i + size] for i in range(0, len(fetches), size)]
    spent = dict.fromkeys(("hand-over", "store", "catalog"), 0.0)
    with open_catalog(work / "replay", create=True) as catalog:
        for batch in batches:
            started = own_cpu()
            pickle.loads(pickle.dumps(Batch(fetched=batch), protocol=pickle.HIGHEST_PROTOCOL))
            stored_at = own_cpu()
            stored = store_bodies(catalog, batch)
            recorded_at = own_cpu()
            record_fetches(catalog, batch, stored)
            spent["hand-over"] += stored_at - started
            spent["store"] += recorded_at - stored_at
            spent["catalog"] += own_cpu() - recorded_at
    return {stage: seconds * 1000 / len(urls) for stage, seconds in spent.items()}


def own_cpu() -> float:
    """CPU seconds (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_options(description: str, repeat: int) -> argparse.Namespace:
    """``--urls`` and ``--repeat`` (default ``repeat``), parsed; prints the machine's cores and
    load and the runs' size first, as every CPU benchmark's opening line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--urls", type=int, default=4_000, help="image URLs crawled per run")
    parser.add_argument("--repeat", type=int, default=repeat,
                        help="runs of each crawl (least CPU kept)")
    options = parser.parse_args()
    print(f"{os.cpu_count()} cores, {os.getloadavg()[0]:.1f} load; {options.urls} URLs on "
          f"{HOSTS} hosts, one crawl process", flush=True)
    return options


def main() -> None:
    """Parse the options, run the four crawls on one farm, print the figures."""
    options = run_options(__doc__.splitlines()[0], repeat=3)
    farm = start_farm(HOSTS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            urls = farm.urls(options.urls)
            found = runs(urls, farm, Path(tmp), options.repeat)
            stages = [writer_stages(urls, DEAD_FRACTION, Path(tmp) / f"replay-{n}")
                      for n in range(options.repeat)]
    finally:
        farm.stop()
    report(found, options.urls)
    least = {stage: min(run[stage] for run in stages) for stage in stages[0]}
    pipeline = found[2].per_url_ms(options.urls) - found[1].per_url_ms(options.urls)
    print("  the catalog pipeline's writer, replayed here (ms CPU per URL, least of "
          f"{options.repeat}): " + ", ".join(f"{k} {v:.3f}" for k, v in least.items())
          + f"; the pipeline's part in the crawling process: "
          f"{pipeline - sum(least.values()):.3f}", flush=True)


if __name__ == "__main__":
    main()
