"""``scrapy crawl imagenet_synset``: the images of ImageNet synsets, from the text API or a list.

Examples::

    scrapy crawl imagenet_synset -a wnid=n07631926
    scrapy crawl imagenet_synset -a synset="ice-cream cake" -a limit=100
    scrapy crawl imagenet_synset -a wnid=n07628870 -a hyponyms=1 -a urls_file=fall11_urls.txt
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response

from catalog.harvest import DiscoveredUrl
from crawler import imagenet
from crawler.errors import SpiderArgumentError, UnknownSynset
from crawler.items import Synset
from crawler.spiders import ImageSpider, parse_count, parse_flag, split_list
from crawler.wordnet import WordNet

logger = logging.getLogger(__name__)


class ImagenetSynsetSpider(ImageSpider):
    """Lists each synset's image URLs (API getmapping, or a fall11-style file) and fetches them.

    Names and hyponyms are resolved offline from WordNet 3.0 (setting WORDNET_DIR)
    when it is installed, otherwise through the API (setting IMAGENET_API_URL).
    """

    name = "imagenet_synset"

    def __init__(
        self,
        wnid: str | None = None,
        synset: str | None = None,
        hyponyms: str | None = None,
        urls_file: str | None = None,
        limit: str | None = None,
        refetch: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Validate the spider arguments (``-a wnid=... -a synset=...`` and the rest).

        :raises SpiderArgumentError: for a malformed argument or no synset at all.
        """
        super().__init__(**kwargs)
        self.wnids = split_list(wnid)
        bad = [w for w in self.wnids if not imagenet.is_wnid(w)]
        if bad:
            raise SpiderArgumentError(f"-a wnid={bad[0]!r}: a wnid is n + 8 digits, e.g. n07631926")
        self.names = split_list(synset)
        if not self.wnids and not self.names:
            raise SpiderArgumentError(
                'name the synsets: -a wnid=n07631926[,...] or -a synset="ice-cream cake"'
            )
        self.hyponyms = parse_flag("hyponyms", hyponyms)
        self.limit = parse_count("limit", limit)
        self.refetch = parse_flag("refetch", refetch)
        self.urls_file = Path(urls_file) if urls_file else None
        if self.urls_file is not None and not self.urls_file.is_file():
            raise SpiderArgumentError(f"-a urls_file={urls_file!r}: no such file")
        self._listed: set[str] = set()  # synsets whose listing was already asked for

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider with IMAGENET_API_URL and, when installed, the WORDNET_DIR WordNet."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.api_url = crawler.settings.get("IMAGENET_API_URL")
        wordnet_dir = crawler.settings.get("WORDNET_DIR")
        spider.wordnet = WordNet(wordnet_dir) if wordnet_dir and WordNet.available(
            wordnet_dir
        ) else None
        if spider.wordnet is None:
            logger.info("no WordNet in %(dir)s; using the API for names and hyponyms",
                        {"dir": wordnet_dir})
        return spider

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        return {
            "wnid": self.wnids, "synset": self.names, "hyponyms": self.hyponyms,
            "urls_file": str(self.urls_file) if self.urls_file else None,
            "limit": self.limit, "refetch": self.refetch,
        }

    async def start(self) -> AsyncIterator[Any]:
        """Resolve the synsets, then list and fetch their images."""
        for output in self.start_outputs():
            yield output

    def start_outputs(self) -> Iterator[Any]:
        """Synset items and requests to begin with (offline WordNet, else API requests)."""
        if self.wordnet is not None:
            yield from self._resolve_offline()
            return
        if self.names:
            yield self._api_request(imagenet.synset_list_url(self.api_url), self.parse_synset_list)
        for wnid in self.wnids:
            yield from self._expand_online(wnid)

    # --- offline: WordNet ---------------------------------------------------------------------
    def _resolve_offline(self) -> Iterator[Any]:
        assert self.wordnet is not None
        roots = list(self.wnids)
        for name in self.names:
            found = self.wordnet.lookup(name)
            if not found:
                raise UnknownSynset(
                    f"-a synset={name!r} is no WordNet 3.0 noun; try another spelling or -a wnid="
                )
            logger.info("%(name)r is %(wnids)s", {"name": name, "wnids": ", ".join(found)})
            roots.extend(found)
        synsets: dict[str, Synset] = {}
        for root in roots:
            try:
                walk = self.wordnet.walk_hyponyms(root) if self.hyponyms else [
                    self.wordnet.synset(root)
                ]
                for noun in walk:
                    synsets.setdefault(noun.wnid, Synset(
                        noun.wnid, ", ".join(noun.words), noun.gloss, noun.parent
                    ))
            except KeyError:
                logger.warning("%(wnid)s is not in WordNet 3.0; asking the API", {"wnid": root})
                yield from self._expand_online(root)
        yield from synsets.values()
        yield from self._list_images(list(synsets))

    # --- online: the text API -----------------------------------------------------------------
    def _api_request(self, url: str, callback: Any, **cb_kwargs: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, cb_kwargs=cb_kwargs, dont_filter=True)

    def _expand_online(self, wnid: str) -> Iterator[Any]:
        yield self._api_request(imagenet.words_url(self.api_url, wnid), self.parse_words, wnid=wnid)
        if self.hyponyms:
            yield self._api_request(
                imagenet.hyponyms_url(self.api_url, wnid), self.parse_hyponyms, wnid=wnid
            )
        else:
            yield from self._list_images([wnid])

    def _api_ok(self, response: Response) -> bool:
        if response.status == 200:
            return True
        logger.warning("API answered %(status)d for %(url)s",
                       {"status": response.status, "url": response.url})
        self.crawler.stats.inc_value("synthset/api_errors")
        return False

    def parse_synset_list(self, response: Response) -> Iterator[Any]:
        """Ask for the words of every synset the API lists, to find the named ones."""
        if self._api_ok(response):
            for wnid in imagenet.parse_hyponyms(response.text):
                yield self._api_request(
                    imagenet.words_url(self.api_url, wnid), self.parse_name_match, wnid=wnid
                )

    def parse_name_match(self, response: Response, wnid: str) -> Iterator[Any]:
        """Continue with ``wnid`` if one of its words is a name asked for."""
        if not self._api_ok(response):
            return
        words = {w.lower() for w in imagenet.parse_words(response.text)}
        if words & {n.lower() for n in self.names}:
            yield from self._expand_online(wnid)

    def parse_words(self, response: Response, wnid: str) -> Iterator[Synset]:
        """Record a synset's words as given by the API."""
        if self._api_ok(response):
            yield Synset(wnid, ", ".join(imagenet.parse_words(response.text)) or None)

    def parse_hyponyms(self, response: Response, wnid: str) -> Iterator[Any]:
        """List the images of ``wnid`` and of every hyponym the API names."""
        found = imagenet.parse_hyponyms(response.text) if self._api_ok(response) else []
        for hyponym in found:
            if hyponym != wnid:
                yield self._api_request(
                    imagenet.words_url(self.api_url, hyponym), self.parse_words, wnid=hyponym
                )
        yield from self._list_images([wnid, *found])

    # --- listing and fetching -----------------------------------------------------------------
    def _list_images(self, wnids: Iterable[str]) -> Iterator[Any]:
        wanted = [w for w in dict.fromkeys(wnids) if w not in self._listed]
        self._listed.update(wanted)
        if not wanted:
            return
        if self.urls_file is not None:
            yield from self.image_requests(self._from_file(wanted))
            return
        for wnid in wanted:
            yield self._api_request(
                imagenet.mapping_url(self.api_url, wnid), self.parse_mapping, wnid=wnid
            )

    def _from_file(self, wnids: list[str]) -> Iterator[DiscoveredUrl]:
        assert self.urls_file is not None
        per_synset: Counter[str] = Counter()
        for listed in imagenet.iter_url_list(self.urls_file, wnids):
            per_synset[listed.wnid] += 1
            if self.limit is None or per_synset[listed.wnid] <= self.limit:
                yield DiscoveredUrl(listed.url, "imagenet", listed.wnid, listed.image_id)

    def parse_mapping(self, response: Response, wnid: str) -> Iterator[Any]:
        """Fetch the images of a synset's getmapping list (the first ``limit`` of them)."""
        if not self._api_ok(response):
            return
        listed = imagenet.parse_mapping(response.text, wnid)[: self.limit]
        yield from self.image_requests(
            DiscoveredUrl(item.url, "imagenet", item.wnid, item.image_id) for item in listed
        )
