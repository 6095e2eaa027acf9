"""``scrapy crawl commons``: images of Wikimedia Commons, with their licence and creator.

Examples::

    scrapy crawl commons -s CONTACT=you@example.org -a category="Ice cream cakes" -a depth=2
    scrapy crawl commons -s CONTACT=you@example.org -a search="ice cream cake" -a limit=100

Wikimedia's rules are the defaults: a User-Agent naming the tool and a contact (CONTACT),
one API request at a time with maxlag=5, at most two media requests at a time, Retry-After
honoured (crawler.middlewares.RetryAfterMiddleware), thumbnails only at standard widths.
API requests are exempt from robots.txt (Wikimedia's closes the API's /w/ path to crawlers
and governs the API by its etiquette instead); media requests obey it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from catalog.harvest import DiscoveredUrl
from crawler import commons
from crawler.commons import CommonsApiUnavailable, ContactMissing, NothingFound
from crawler.errors import SpiderArgumentError
from crawler.fetch import failure_token, fetched_from_response
from crawler.items import FetchedImage
from crawler.spiderargs import (
    parse_count,
    parse_flag,
    parse_wnids,
    passed_through,
    reject_unknown,
)
from crawler.spiders import ImageSpider
from synthset import __version__
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

DEFAULT_DEPTH = 1  # subcategory levels walked below the named category
ORIGINAL = "original"  # -a width=original: fetch the original files
API_SLOT = "commons-api"  # download slots (see DOWNLOAD_SLOTS in crawler/settings.py)
MEDIA_SLOT = "commons-media"
SHA1_MISMATCH = "sha1_mismatch"  # urls.error: an original whose bytes are not the API's SHA-1


def contact_of(settings: BaseSettings) -> str:
    """The CONTACT setting, checked to be an email address or an http(s) URL.

    :raises ContactMissing: naming the ways to set it.
    """
    contact = (settings.get("CONTACT") or "").strip()
    if "@" in contact or contact.startswith(("https://", "http://")):
        return contact
    given = f" ({contact!r} is neither an email address nor a URL)" if contact else ""
    raise ContactMissing(
        f"Wikimedia asks every crawler for a contact{given}: add -s CONTACT=you@example.org "
        "(or set SYNTHSET_CONTACT, or CONTACT in crawler/settings.py)"
    )


def user_agent(settings: BaseSettings, contact: str) -> str:
    """``synthset/VERSION (PROJECT_URL; CONTACT) Scrapy/VERSION`` (Wikimedia's UA policy)."""
    return (f"{settings.get('BOT_NAME', 'synthset')}/{__version__} "
            f"({settings.get('PROJECT_URL')}; {contact}) Scrapy/{scrapy.__version__}")


@dataclass(frozen=True)
class CommonsArgs:
    """The checked arguments of ``scrapy crawl commons``."""

    category: str | None = None  # full title, "Category:Ice cream cakes"
    search: str | None = None
    depth: int = DEFAULT_DEPTH
    limit: int | None = None
    wnid: str | None = None
    width: int | None = commons.DEFAULT_WIDTH  # None: originals
    refetch: bool = False


def parse_width(value: str | None) -> int | None:
    """``-a width=N`` rounded up to a standard width, or None for ``original``.

    :raises SpiderArgumentError: for anything but a whole number up to 3840 or ``original``.
    """
    if value is None or value == "":
        return commons.DEFAULT_WIDTH
    if str(value).strip().lower() == ORIGINAL:
        return None
    width = parse_count("width", value)
    try:
        return commons.thumb_width(width)
    except ValueError as error:
        raise SpiderArgumentError(f"-a width={value!r}: {error}; use width=original") from None


class CommonsSpider(ImageSpider):
    """Files of a Commons category (and its subcategories to ``depth``) or of a search.

    Each category is listed once, however many paths lead to it, and each file fetched
    once, however many categories hold it. Files that are not still images (audio,
    video, PDF) are skipped. Every image is recorded with its licence, creator, file
    page and a ready-to-print attribution line.
    """

    name = "commons"

    @classmethod
    def parse_args(
        cls,
        *,
        category: str | None = None,
        search: str | None = None,
        depth: str | None = None,
        limit: str | None = None,
        wnid: str | None = None,
        width: str | None = None,
        refetch: str | None = None,
        **extra: Any,
    ) -> CommonsArgs:
        """Check ``-a category=... | -a search=...`` and the rest.

        :raises SpiderArgumentError: for a malformed, unknown or contradictory argument.
        """
        reject_unknown(cls.name, cls.parse_args, extra)
        title = commons.category_title(category or "") or None
        text = (search or "").strip() or None
        if (title is None) == (text is None):
            raise SpiderArgumentError(
                'give one of -a category="Ice cream cakes" or -a search="ice cream cake"'
            )
        if depth not in (None, "") and text:
            raise SpiderArgumentError("-a depth applies to -a category, not to -a search")
        wnids = parse_wnids(wnid)
        if len(wnids) > 1:
            raise SpiderArgumentError(f"-a wnid={wnid!r}: give one synset to tag the images with")
        return CommonsArgs(
            category=title,
            search=text,
            depth=DEFAULT_DEPTH if depth in (None, "") else parse_count("depth", depth, 0),
            limit=parse_count("limit", limit),
            wnid=wnids[0] if wnids else None,
            width=parse_width(width),
            refetch=parse_flag("refetch", refetch),
        )

    @classmethod
    def check_settings(cls, settings: BaseSettings) -> None:
        """Refuse to start without a CONTACT (checked before the crawl starts).

        :raises ContactMissing: naming the ways to set it.
        """
        contact_of(settings)

    def __init__(self, **kwargs: Any) -> None:
        """Check the spider arguments (see :meth:`parse_args`)."""
        self.args = self.parse_args(**kwargs)
        super().__init__(**passed_through(kwargs))
        self.refetch = self.args.refetch
        self._categories: set[str] = set()  # categories whose listing was asked for
        self._titles: set[str] = set()  # files already taken (or skipped)
        self._sha1: dict[str, str] = {}  # original URL -> the API's SHA-1 (width=original)
        self.files_found = 0
        self._api_problem: str | None = None  # the first API request that failed, in words

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider with COMMONS_API_URL and a User-Agent naming CONTACT.

        :raises ContactMissing: without a usable CONTACT setting.
        """
        contact = contact_of(crawler.settings)
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.api = crawler.settings.get("COMMONS_API_URL")
        spider.headers = {"User-Agent": user_agent(crawler.settings, contact)}
        return spider

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments, for the catalog's runs row."""
        args = self.args
        return {"category": args.category, "search": args.search, "depth": args.depth,
                "limit": args.limit, "wnid": args.wnid,
                "width": args.width or ORIGINAL, "refetch": args.refetch}

    @property
    def limit_reached(self) -> bool:
        """Whether ``-a limit`` files have been found."""
        return self.args.limit is not None and self.files_found >= self.args.limit

    def _batch(self) -> int:
        if self.args.limit is None:
            return commons.BATCH
        return max(1, min(commons.BATCH, self.args.limit - self.files_found))

    # -- API ---------------------------------------------------------------------------------
    def start_outputs(self) -> Iterator[Any]:
        """Ask for the named category (and its subcategories), or for the search."""
        if self.args.category:
            yield from self._visit(self.args.category, 0)
        else:
            params = commons.search_params(self.args.search or "", self.args.width, self._batch())
            yield self._api_request(params, params, self.parse_files,
                                    what=f"the search {self.args.search!r}")

    def _visit(self, category: str, depth: int) -> Iterator[scrapy.Request]:
        """List ``category``'s files and, above ``depth``, its subcategories; once only."""
        if category in self._categories or self.limit_reached:
            return
        self._categories.add(category)
        files = commons.category_files_params(category, self.args.width, self._batch())
        yield self._api_request(files, files, self.parse_files, what=category)
        if depth < self.args.depth:
            subcats = commons.subcategories_params(category)
            yield self._api_request(subcats, subcats, self.parse_subcategories,
                                    what=f"the subcategories of {category}", depth=depth)

    def _api_request(self, base: Mapping[str, str], params: Mapping[str, str], callback: Any,
                     **cb_kwargs: Any) -> scrapy.Request:
        """An API request; ``base`` are the first request's parameters (for continuing)."""
        return scrapy.Request(
            commons.api_url(self.api, params),
            callback=callback,
            errback=self.api_failed,
            headers=self.headers,
            cb_kwargs={"base": dict(base), **cb_kwargs},
            meta={"dont_obey_robotstxt": True, "download_slot": API_SLOT},
            dont_filter=True,  # a continuation may repeat a URL's batch on purpose
        )

    def _answer(self, response: Response, what: str) -> commons.ApiAnswer | None:
        """The API's answer, or None (noted as the crawl's API problem) if it failed."""
        problem = None
        if response.status != 200:
            problem = f"HTTP {response.status} for {what}"
        else:
            try:
                answer = commons.read_answer(response.body)
            except ValueError:
                problem = f"an answer that is not JSON for {what}"
            else:
                if answer.error is None:
                    return answer
                problem = f"the error {answer.error!r} for {what}"
        self._note_api_problem(problem)
        return None

    def _note_api_problem(self, problem: str) -> None:
        logger.warning("Commons API request failed: %(problem)s", {"problem": problem})
        self.crawler.stats.inc_value("synthset/api_errors")
        self._api_problem = self._api_problem or problem

    def api_failed(self, failure: Failure) -> None:
        """Note an API request that got no response (refused, timeout, DNS...)."""
        what = failure.request.cb_kwargs.get("what", failure.request.url)
        self._note_api_problem(f"{failure_token(failure)} for {what}")

    def _more(self, answer: commons.ApiAnswer, base: Mapping[str, str], callback: Any,
              **cb_kwargs: Any) -> Iterator[scrapy.Request]:
        """The continuation request, if the API has more and the limit allows."""
        if answer.cont and not self.limit_reached:
            params = commons.continued(base, answer.cont)
            yield self._api_request(base, params, callback, **cb_kwargs)

    def parse_files(self, response: Response, base: dict[str, str], what: str) -> Iterator[Any]:
        """Record and fetch the files of one answer; ask for the next batch."""
        answer = self._answer(response, what)
        if answer is None:
            return
        yield from self.image_requests(self._discovered(answer.pages))
        yield from self._more(answer, base, self.parse_files, what=what)

    def parse_subcategories(self, response: Response, base: dict[str, str], what: str,
                            depth: int) -> Iterator[Any]:
        """Visit each subcategory not visited yet; ask for more subcategories."""
        answer = self._answer(response, what)
        if answer is None:
            return
        for title in answer.subcategories:
            yield from self._visit(commons.category_title(title), depth + 1)
        yield from self._more(answer, base, self.parse_subcategories, what=what, depth=depth)

    def _discovered(self, pages: Iterable[Mapping[str, Any]]) -> list[DiscoveredUrl]:
        """The image URLs of ``pages`` not taken before, up to the limit."""
        found = []
        for page in sorted(pages, key=lambda p: p.get("index", p["pageid"])):
            file = commons.commons_file(page, original=self.args.width is None)
            if file is None or file.title in self._titles or self.limit_reached:
                continue  # imageinfo still to come, taken before, or enough
            self._titles.add(file.title)
            if not file.is_image:
                logger.info("skipping %(title)s: %(mime)s is no still image",
                            {"title": file.title, "mime": file.mime})
                self.crawler.stats.inc_value("synthset/commons_not_image")
                continue
            self.files_found += 1
            if self.args.width is None and file.sha1:
                self._sha1[file.fetch_url] = file.sha1.lower()
            found.append(DiscoveredUrl(file.fetch_url, "commons", wnid=self.args.wnid,
                                       found_on=file.landing_url, provenance=file.provenance()))
        return found

    # -- media -------------------------------------------------------------------------------
    def image_requests(self, found: Iterable[DiscoveredUrl]) -> Iterator[Any]:
        """The base's fetches, sent with our User-Agent through the media slot."""
        for output in super().image_requests(found):
            if isinstance(output, scrapy.Request):
                output = output.replace(
                    headers=self.headers, meta={**output.meta, "download_slot": MEDIA_SLOT}
                )
            yield output

    def parse_image(self, response: Response, found: DiscoveredUrl) -> Iterator[FetchedImage]:
        """Record the response; an original whose SHA-1 is not the API's is not stored."""
        result = fetched_from_response(found, response)
        expected = self._sha1.get(found.url)
        if expected and result.body is not None and (
            hashlib.sha1(result.body).hexdigest() != expected  # noqa: S324 (the API's checksum)
        ):
            logger.warning("%(url)s: SHA-1 differs from the API's; not stored", {"url": found.url})
            self.crawler.stats.inc_value("synthset/sha1_mismatch")
            result = replace(result, body=None, error=SHA1_MISMATCH)
        yield result

    def final_error(self) -> SynthsetError | None:
        """An API request failed, or the category or search named no file at all."""
        if self._api_problem:
            return CommonsApiUnavailable(
                f"the Commons API at {self.api} failed: {self._api_problem} (what it did "
                "answer is recorded; rerun to complete, or check COMMONS_API_URL)"
            )
        if self.files_found or self._titles:
            return None
        if self.args.category:
            return NothingFound(
                f"{self.args.category} holds no files within depth {self.args.depth}; "
                "check the name on Commons, or give a larger -a depth"
            )
        return NothingFound(f"no Commons file matches the search {self.args.search!r}")
