"""``scrapy crawl imagenet_synset``: the images of ImageNet synsets, from the text API or a list.

Examples::

    scrapy crawl imagenet_synset -a wnid=n07631926
    scrapy crawl imagenet_synset -a synset="ice-cream cake" -a limit=100
    scrapy crawl imagenet_synset -a wnid=n07628870 -a hyponyms=1 -a urls_file=fall11_urls.txt
    scrapy crawl imagenet_synset -a wnid=n07631926 -a archive=n07631926.tar
"""

from __future__ import annotations

import logging
import mimetypes
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from catalog.harvest import DiscoveredUrl, fetched_among
from crawler import imagenet
from crawler.archive import ArchiveHasNoImages, ArchiveImage, ArchiveUnreadable, iter_archive
from crawler.errors import ImagenetApiUnavailable, SpiderArgumentError, UnknownSynset
from crawler.fetch import failure_token
from crawler.items import FetchedImage, Synset
from crawler.spiderargs import (
    parse_count,
    parse_flag,
    parse_wnids,
    passed_through,
    readable_file,
    reject_unknown,
    split_list,
)
from crawler.spiders import ImageSpider, batched
from crawler.wordnet import WordNet
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

LINES_TOO_LONG_STAT = "synthset/list_lines_too_long"  # lines skipped, over MAX_LINE_CHARS
ARCHIVE_SKIPPED_STAT = "synthset/archive_members_skipped"  # bad archive members passed over
ARCHIVE_BATCH = 32  # archive images held at once, for one catalog lookup of what was recorded


@dataclass(frozen=True)
class ImagenetArgs:
    """The checked arguments of ``scrapy crawl imagenet_synset``."""

    wnids: tuple[str, ...]
    names: tuple[str, ...]
    hyponyms: bool = False
    urls_file: Path | None = None
    archive: Path | None = None
    limit: int | None = None
    refetch: bool = False


class ImagenetSynsetSpider(ImageSpider):
    """Lists each synset's image URLs (API getmapping, or a fall11-style file) and fetches them.

    With ``-a archive=PATH`` the images come from an ImageNet-21k archive instead (see
    :mod:`crawler.archive`): each member is recorded with its bytes, nothing is fetched.
    Names and hyponyms are resolved offline from WordNet 3.0 (setting WORDNET_DIR)
    when it is installed, otherwise through the API (setting IMAGENET_API_URL).
    """

    name = "imagenet_synset"
    partitioned = True  # every crawl process reads the listing, fetches its own hosts

    @classmethod
    def parse_args(
        cls,
        *,
        wnid: str | None = None,
        synset: str | None = None,
        hyponyms: str | None = None,
        urls_file: str | None = None,
        archive: str | None = None,
        limit: str | None = None,
        refetch: str | None = None,
        **extra: Any,
    ) -> ImagenetArgs:
        """Check ``-a wnid=... -a synset=...`` and the rest.

        :raises SpiderArgumentError: for a malformed or unknown argument, or no synset at all.
        """
        reject_unknown(cls.name, cls.parse_args, extra)
        wnids = parse_wnids(wnid)
        names = tuple(split_list(synset))
        if not wnids and not names:
            raise SpiderArgumentError(
                'name the synsets: -a wnid=n07631926[,...] or -a synset="ice-cream cake"'
            )
        if urls_file and archive:
            raise SpiderArgumentError(
                "-a urls_file and -a archive: give one source of images, not both"
            )
        return ImagenetArgs(
            wnids=wnids,
            names=names,
            hyponyms=parse_flag("hyponyms", hyponyms),
            urls_file=readable_file("urls_file", urls_file) if urls_file else None,
            archive=readable_file("archive", archive) if archive else None,
            limit=parse_count("limit", limit),
            refetch=parse_flag("refetch", refetch),
        )

    def __init__(self, **kwargs: Any) -> None:
        """Check the spider arguments (see :meth:`parse_args`).

        :raises SpiderArgumentError: for a malformed argument or no synset at all.
        """
        args = self.parse_args(**kwargs)
        super().__init__(**passed_through(kwargs))
        self.args = args
        self.wnids = list(args.wnids)
        self.names = list(args.names)
        self.hyponyms = args.hyponyms
        self.limit = args.limit
        self.refetch = args.refetch
        self.urls_file = args.urls_file
        self.archive = args.archive
        self._listed: set[str] = set()  # synsets whose listing was already asked for
        self._matched: set[str] = set()  # names (lower case) the API's words matched
        self._api_answers: Counter[str] = Counter()  # "ok" / "failed"
        self._api_problem: str | None = None  # the first failed API request, in words
        self._synset_list_problem: str | None = None  # why the API's synset list failed

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider with IMAGENET_API_URL and, when readable, the WORDNET_DIR WordNet."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.api_url = crawler.settings.get("IMAGENET_API_URL")
        spider.archive_max_bytes = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        spider.wordnet_dir = crawler.settings.get("WORDNET_DIR")
        spider.wordnet = WordNet(spider.wordnet_dir) if spider.wordnet_dir and WordNet.available(
            spider.wordnet_dir
        ) else None
        if spider.wordnet is None:
            logger.info("no readable WordNet in %(dir)s; using the API for names and hyponyms",
                        {"dir": spider.wordnet_dir})
        return spider

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        return {
            "wnid": self.wnids, "synset": self.names, "hyponyms": self.hyponyms,
            "urls_file": str(self.urls_file) if self.urls_file else None,
            "archive": str(self.archive) if self.archive else None,
            "limit": self.limit, "refetch": self.refetch,
        }

    def start_outputs(self) -> Iterator[Any]:
        """Synset items and requests to begin with (offline WordNet, else API requests)."""
        if self.wordnet is not None:
            yield from self._resolve_offline()
            return
        if self.names:
            yield self._api_request(
                imagenet.synset_list_url(self.api_url), self.parse_synset_list,
                errback=self.synset_list_failed,
            )
        for wnid in self.wnids:
            yield from self._expand_online(wnid)

    def final_error(self) -> SynthsetError | None:
        """A name the API never matched, or an API that never answered while nothing was listed."""
        unresolved = [n for n in self.names if n.lower() not in self._matched]
        if self.wordnet is None and unresolved:
            name = unresolved[0]
            if self._synset_list_problem:
                return ImagenetApiUnavailable(
                    f"-a synset={name!r}: no readable WordNet in {self.wordnet_dir}, and the "
                    f"ImageNet API failed to list its synsets ({self._synset_list_problem}); "
                    "install wordnet-base (or set -s WORDNET_DIR=...) or give -a wnid=nNNNNNNNN"
                )
            return UnknownSynset(
                f"-a synset={name!r}: the ImageNet API at {self.api_url} lists no synset of "
                f"that name{self._api_trouble()}; try another spelling or -a wnid=nNNNNNNNN"
            )
        if self.archive is not None and not self.urls_listed:
            return ArchiveHasNoImages(
                f"-a archive={str(self.archive)!r} holds no image of {', '.join(self._listed)} "
                "(members named like n07631926_123.JPEG, or synset tars like n07631926.tar); "
                "check the -a wnid and the archive"
            )
        if self._api_answers["failed"] and not self._api_answers["ok"] and not self.urls_listed:
            return ImagenetApiUnavailable(
                f"the ImageNet API failed ({self._api_problem}) and listed no images; set "
                "-s IMAGENET_API_URL=... to a working mirror, or give -a urls_file=fall11_urls.txt"
            )
        return None

    def _api_trouble(self) -> str:
        failed = self._api_answers["failed"]
        if not failed:
            return ""
        total = failed + self._api_answers["ok"]
        return f" (but {failed} of {total} API requests failed, first: {self._api_problem})"

    # --- offline: WordNet ---------------------------------------------------------------------
    def _resolve_offline(self) -> Iterator[Any]:
        assert self.wordnet is not None
        roots = list(self.wnids)
        for name in self.names:
            found = self.wordnet.lookup(name)
            if not found:
                raise UnknownSynset(
                    f"-a synset={name!r} is no noun of the WordNet 3.0 in {self.wordnet_dir}; "
                    "try another spelling or -a wnid=nNNNNNNNN"
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
    def _api_request(
        self, url: str, callback: Any, errback: Any = None, **cb_kwargs: Any
    ) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=errback or self.api_failed,
                              cb_kwargs=cb_kwargs, dont_filter=True)

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
            self._api_answers["ok"] += 1
            return True
        self._api_failure(f"HTTP {response.status} from {response.url}")
        return False

    def _api_failure(self, problem: str) -> str:
        logger.warning("ImageNet API request failed: %(problem)s", {"problem": problem})
        self.crawler.stats.inc_value("synthset/api_errors")
        self._api_answers["failed"] += 1
        self._api_problem = self._api_problem or problem
        return problem

    def api_failed(self, failure: Failure) -> None:
        """Note an API request that got no response (refused, timeout, DNS...)."""
        url = failure.request.url
        self._api_failure(f"{failure_token(failure)}: {url}")

    def synset_list_failed(self, failure: Failure) -> None:
        """Note that the API's synset list (needed to resolve names) got no response."""
        url = failure.request.url
        self._synset_list_problem = self._api_failure(f"{failure_token(failure)}: {url}")

    def parse_synset_list(self, response: Response) -> Iterator[Any]:
        """Ask for the words of every synset the API lists, to find the named ones."""
        if response.status != 200:
            self._synset_list_problem = self._api_failure(
                f"HTTP {response.status} from {response.url}"
            )
        else:
            self._api_answers["ok"] += 1
            for wnid in imagenet.parse_hyponyms(response.text, self._line_too_long):
                yield self._api_request(
                    imagenet.words_url(self.api_url, wnid), self.parse_name_match, wnid=wnid
                )

    def parse_name_match(self, response: Response, wnid: str) -> Iterator[Any]:
        """Continue with ``wnid`` if one of its words is a name asked for."""
        if not self._api_ok(response):
            return
        words = imagenet.parse_words(response.text, self._line_too_long)
        matched = {w.lower() for w in words} & {n.lower() for n in self.names}
        if matched:
            self._matched.update(matched)
            yield from self._expand_online(wnid)

    def parse_words(self, response: Response, wnid: str) -> Iterator[Synset]:
        """Record a synset's words as given by the API."""
        if self._api_ok(response):
            words = imagenet.parse_words(response.text, self._line_too_long)
            yield Synset(wnid, ", ".join(words) or None)

    def parse_hyponyms(self, response: Response, wnid: str) -> Iterator[Any]:
        """List the images of ``wnid`` and of every hyponym the API names."""
        found = (
            imagenet.parse_hyponyms(response.text, self._line_too_long)
            if self._api_ok(response) else []
        )
        for hyponym in found:
            if hyponym != wnid:
                yield self._api_request(
                    imagenet.words_url(self.api_url, hyponym), self.parse_words, wnid=hyponym
                )
        yield from self._list_images([wnid, *found])

    def _line_too_long(self) -> None:
        """Count a line of a URL list or API answer skipped for its length."""
        self.crawler.stats.inc_value(LINES_TOO_LONG_STAT)

    # --- listing and fetching -----------------------------------------------------------------
    def _list_images(self, wnids: Iterable[str]) -> Iterator[Any]:
        wanted = [w for w in dict.fromkeys(wnids) if w not in self._listed]
        self._listed.update(wanted)
        if not wanted:
            return
        if self.urls_file is not None:
            yield from self.image_requests(self._from_file(wanted))
            return
        if self.archive is not None:
            yield from self._from_archive(wanted)
            return
        for wnid in wanted:
            yield self._api_request(
                imagenet.mapping_url(self.api_url, wnid), self.parse_mapping, wnid=wnid
            )

    def _from_file(self, wnids: list[str]) -> Iterator[DiscoveredUrl]:
        assert self.urls_file is not None
        per_synset: Counter[str] = Counter()
        for listed in imagenet.iter_url_list(self.urls_file, wnids, self._line_too_long):
            per_synset[listed.wnid] += 1
            if self.limit is None or per_synset[listed.wnid] <= self.limit:
                yield DiscoveredUrl(listed.url, "imagenet", listed.wnid, listed.image_id)

    def parse_mapping(self, response: Response, wnid: str) -> Iterator[Any]:
        """Fetch the images of a synset's getmapping list (the first ``limit`` of them)."""
        if not self._api_ok(response):
            return
        listed = imagenet.parse_mapping(response.text, wnid, self._line_too_long)[: self.limit]
        yield from self.image_requests(
            DiscoveredUrl(item.url, "imagenet", item.wnid, item.image_id) for item in listed
        )

    # --- reading an ImageNet-21k archive ------------------------------------------------------
    def _from_archive(self, wnids: list[str]) -> Iterator[FetchedImage]:
        """The archive's images of ``wnids``, recorded with their bytes; none fetched.

        An image recorded before (by any earlier run) is passed over unless ``refetch``
        is set, so a rerun adds no row and writes nothing to the store.
        """
        assert self.archive is not None
        per_synset: Counter[str] = Counter()

        def wanted() -> Iterator[ArchiveImage]:
            for image in iter_archive(self.archive, wnids, self.archive_max_bytes,
                                      self._member_skipped):
                if image.identifier in self._requested:
                    continue  # the same member twice in one archive
                per_synset[image.wnid] += 1
                if self.limit is not None and per_synset[image.wnid] > self.limit:
                    if all(per_synset[w] > self.limit for w in wnids):
                        return  # every synset has its share: stop reading
                    continue
                self._requested.add(image.identifier)
                yield image

        stats = self.crawler.stats
        try:
            for chunk in batched(wanted(), ARCHIVE_BATCH):
                self.urls_listed += len(chunk)
                done = set() if self.refetch else fetched_among(
                    self.catalog, [image.identifier for image in chunk]
                )
                for image in chunk:
                    if image.identifier in done:
                        stats.inc_value("synthset/skipped_fetched_before")
                        continue
                    yield _archive_record(image)
        except ArchiveUnreadable as error:
            raise self.abort(error) from None

    def _member_skipped(self, name: str, reason: str) -> None:
        """Log and count an archive member passed over as untrustworthy."""
        logger.warning("archive %(archive)s: skipping member %(name)r: %(reason)s",
                       {"archive": self.archive, "name": name[:200], "reason": reason})
        self.crawler.stats.inc_value(ARCHIVE_SKIPPED_STAT)


def _archive_record(image: ArchiveImage) -> FetchedImage:
    """The catalog record of an archive image: its bytes, under its archive identifier."""
    return FetchedImage(
        url=image.identifier, source="imagenet", wnid=image.wnid, image_id=image.image_id,
        content_type=mimetypes.guess_type(image.name)[0], body=image.body,
    )
