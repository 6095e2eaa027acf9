"""The loopback image farm of benchmarks/imagefarm.py as a test helper: many hosts, one port."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WNID = "n07631926"  # the synset the URL lists are filed under (in WordNet 3.0)


@dataclass
class Farm:
    """A running image farm on 127.0.0.1 ... 127.0.0.``hosts``."""

    process: subprocess.Popen
    port: int
    hosts: int

    def url(self, number: int) -> str:
        """Image ``number``'s URL; images are spread over the hosts in turn."""
        return f"http://127.0.0.{1 + number % self.hosts}:{self.port}/img/{number}.jpg"

    def write_list(self, path: Path, count: int) -> list[str]:
        """Write a fall11-style list of images 0..count-1; return their URLs."""
        urls = [self.url(n) for n in range(count)]
        path.write_text("".join(f"{WNID}_{n}\t{url}\n" for n, url in enumerate(urls)))
        return urls

    def requests(self) -> Counter[str]:
        """How many times each image URL was requested so far."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/requests.json",
                                    timeout=30) as answer:
            counts: dict[str, int] = json.load(answer)
        return Counter({self.url(int(path[len("/img/"):-len(".jpg")])): count
                        for path, count in counts.items()})

    def stop(self) -> None:
        """Stop the farm process."""
        self.process.kill()
        self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()


def start_farm(hosts: int, latency_ms: int, dead_fraction: float) -> Farm:
    """Start benchmarks/imagefarm.py; its first stdout line is its port."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "benchmarks" / "imagefarm.py"), "--hosts", str(hosts),
         "--latency-ms", str(latency_ms), "--dead-fraction", str(dead_fraction)],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.isdigit():
        process.kill()
        raise RuntimeError(f"image farm did not start: first line {line!r}")
    return Farm(process, int(line), hosts)
