"""The deterministic planted world: ImageNet URL lists, web pages, routes and the ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass

from crawler.mirror import wordnet_tree
from crawler.mirror.archives import Archives
from crawler.mirror.commons import CommonsSite
from crawler.mirror.failures import PLANTERS, plant_ok
from crawler.mirror.openverse import OpenverseApi
from crawler.mirror.pages import build_web
from crawler.mirror.plan import Planner, Planted, Resource, planted

# /w/ as on Wikimedia: the Commons API's path, closed to crawlers (the API is exempt by etiquette)
ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\nDisallow: /w/\n"
PNG_SHARE = 10  # one plain cake in PNG_SHARE is a PNG, the rest JPEG


@dataclass(frozen=True)
class MirrorOptions:
    """What decides the world: the same options give a byte-identical site."""

    seed: int = 0
    images: int = 400  # plain ok cakes listed for n07631926
    latency_ms: int = 0  # delay before every image response
    dead_fraction: float = 0.0  # > 0: benchmark list (n07631926 = images URLs, this share 404)

    @property
    def benchmark(self) -> bool:
        """Whether n07631926 holds the plain benchmark list (planted failures then go to cake)."""
        return self.dead_fraction > 0


class Site:
    """Routes, URL lists and truth of one mirror; bodies are rendered lazily and cached."""

    def __init__(self, options: MirrorOptions, base_url: str, refused_base: str) -> None:
        self.options = options
        self.base_url = base_url
        self.planner = Planner(base_url, refused_base, options.seed)
        self.lists: dict[str, list[Planted]] = {}
        self._lay_out_imagenet()
        self.web = build_web(self.planner)
        self.archives = Archives(self.planner, options.seed)
        self.openverse = OpenverseApi(self.planner, options.seed)
        self.commons = CommonsSite(base_url, options.seed)
        self.planner.add("/robots.txt", _text(ROBOTS_TXT))
        self.planner.add("/fall11_urls.txt", _text(self._fall11()))
        self.planner.add(
            "/truth.json",
            Resource(render=self.truth_bytes, content_type="application/json", image=False),
        )

    # -- layout -----------------------------------------------------------------------------
    def _plant_ok_cakes(self, wnid: str, count: int) -> list[Planted]:
        rows = []
        for n in range(count):
            ext = "png" if self.planner.rng.integers(PNG_SHARE) == 0 else "jpg"
            rows.append(plant_ok(self.planner, f"{wnid}-{n:05d}", ext))
        return rows

    def _plant_failures(self, wnid: str, sets: int) -> list[Planted]:
        rows = []
        for n in range(sets):
            for name, planter in PLANTERS.items():
                rows.extend(planter(self.planner, f"{wnid}-{name}-{n}"))
        return rows

    def _benchmark_list(self, wnid: str) -> list[Planted]:
        count = self.options.images
        dead = set(
            self.planner.rng.permutation(count)[
                : round(count * self.options.dead_fraction)
            ].tolist()
        )
        rows = []
        for n in range(count):
            if n in dead:
                url = self.planner.add_bytes(f"/img/cake/{wnid}-{n:05d}.jpg", bytes, status=404)
                rows.append(planted(url, "not_found", variant="dead link"))
            else:
                rows.append(plant_ok(self.planner, f"{wnid}-{n:05d}"))
        return rows

    def _lay_out_imagenet(self) -> None:
        opts, rng = self.options, self.planner.rng
        sets = max(1, opts.images // 100)
        if opts.benchmark:
            self._add_list(
                wordnet_tree.ICE_CREAM_CAKE, self._benchmark_list(wordnet_tree.ICE_CREAM_CAKE)
            )
        else:
            rows = self._plant_ok_cakes(wordnet_tree.ICE_CREAM_CAKE, opts.images)
            rows += self._plant_failures(wordnet_tree.ICE_CREAM_CAKE, sets)
            self._add_list(wordnet_tree.ICE_CREAM_CAKE, rows)
        for wnid in wordnet_tree.cake_synsets():
            rows = self._plant_ok_cakes(wnid, int(rng.integers(1, 4)))
            if opts.benchmark and wnid == wordnet_tree.CAKE:
                rows += self._plant_failures(wnid, 1)
            self._add_list(wnid, rows)
        for wnid, _, _ in wordnet_tree.OTHER_SYNSETS:
            if wnid not in self.lists:
                self._add_list(wnid, self._plant_ok_cakes(wnid, 1))

    def _add_list(self, wnid: str, rows: list[Planted]) -> None:
        order = self.planner.rng.permutation(len(rows))
        shuffled = [rows[i] for i in order]
        for position, row in enumerate(shuffled, start=1):
            row.wnid, row.image_id = wnid, f"{wnid}_{position}"
        self.lists[wnid] = shuffled

    def prerender(self, wnid: str) -> int:
        """Render and cache the bodies in the list of ``wnid`` now (fair benchmarks)."""
        paths = [
            "/" + row.url[len(self.base_url) :]
            for row in self.lists.get(wnid, ())
            if row.url.startswith(self.base_url)
        ]
        served = [path for path in paths if path in self.planner.routes]
        for path in served:
            self.planner.body(path)
        return len(served)

    # -- text API ---------------------------------------------------------------------------
    def geturls(self, wnid: str) -> bytes:
        """imagenet.synset.geturls: one URL per line, CRLF."""
        return "".join(f"{row.url}\r\n" for row in self.lists.get(wnid, ())).encode()

    def getmapping(self, wnid: str) -> bytes:
        """imagenet.synset.geturls.getmapping: ``W_N URL`` per line, CRLF."""
        return "".join(f"{row.image_id} {row.url}\r\n" for row in self.lists.get(wnid, ())).encode()

    def hyponym(self, wnid: str, full: bool) -> bytes:
        """wordnet.structure.hyponym: the wnid, then ``-HYPONYM`` lines."""
        return "".join(
            [f"{wnid}\r\n"] + [f"-{h}\r\n" for h in wordnet_tree.hyponyms(wnid, full)]
        ).encode()

    def synset_list(self) -> bytes:
        """imagenet.synset.obtain_synset_list: every wnid with a URL list, one per line."""
        return "".join(f"{wnid}\r\n" for wnid in sorted(self.lists)).encode()

    def getwords(self, wnid: str) -> bytes:
        """wordnet.synset.getwords: the synset's words, one per line."""
        return (
            "".join(f"{w}\r\n" for w in wordnet_tree.words(wnid)).encode()
            if wordnet_tree.known(wnid)
            else b""
        )

    def _fall11(self) -> bytes:
        return "".join(
            f"{row.image_id}\t{row.url}\n"
            for wnid in sorted(self.lists)
            for row in self.lists[wnid]
        ).encode()

    # -- truth ------------------------------------------------------------------------------
    def rows(self) -> list[Planted]:
        """Every planted URL: the ImageNet lists in wnid order, then the web images."""
        return [row for wnid in sorted(self.lists) for row in self.lists[wnid]] + self.web.rows

    def truth(self) -> dict:
        """The ground truth (see docs/mirror.md)."""
        return {
            "base_url": self.base_url,
            "seed": self.options.seed,
            "options": {
                "images": self.options.images,
                "latency_ms": self.options.latency_ms,
                "dead_fraction": self.options.dead_fraction,
            },
            "synsets": {
                wnid: {
                    "words": list(wordnet_tree.words(wnid)),
                    "parent": wordnet_tree.parent(wnid),
                    "images": len(self.lists[wnid]),
                }
                for wnid in sorted(self.lists)
            },
            "urls": [row.as_truth() for row in self.rows()],
            "pages": [{"url": url, "depth": depth} for url, depth in self.web.pages.items()],
            "archives": self.archives.truth(),
            "openverse": self.openverse.truth(),
            "commons": self.commons.truth(),
        }

    def truth_bytes(self) -> bytes:
        """/truth.json, indented, same bytes for the same options and base URL."""
        return (json.dumps(self.truth(), indent=1) + "\n").encode()


def _text(body: bytes) -> Resource:
    return Resource(render=lambda: body, content_type="text/plain; charset=utf-8", image=False)
