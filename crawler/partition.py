"""Which crawl process owns a host: hosts are hashed onto the processes of one crawl."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from crawler.urlsafety import host_of


@dataclass(frozen=True)
class Partition:
    """Process ``index`` of ``count``: it fetches exactly the URLs whose host hashes to it.

    Every host belongs to one process, so per-host concurrency, delay and
    robots.txt hold for the whole machine, and a URL can only be fetched by one
    process. A URL without a host belongs to process 0.
    """

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"i/N"`` (the CRAWL_PARTITION setting) as a partition; ``""`` is the whole crawl.

        :raises ValueError: for anything else, or ``i`` outside ``0..N-1``.
        """
        if not text:
            return cls()
        index, _, count = text.partition("/")
        partition = cls(int(index), int(count))
        if not 0 <= partition.index < partition.count:
            raise ValueError(f"CRAWL_PARTITION={text!r}: give i/N with 0 <= i < N")
        return partition

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, url: str) -> bool:
        """Whether this process fetches ``url``."""
        return self.count == 1 or host_partition(host_of(url), self.count) == self.index


@lru_cache(maxsize=65536)  # asked once per listed URL, of far fewer hosts: each hashed once
def host_partition(host: str, count: int) -> int:
    """The process (0..count-1) that owns ``host``: stable across runs, machines and Pythons."""
    if count <= 1 or not host:
        return 0
    digest = hashlib.blake2b(host.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count
