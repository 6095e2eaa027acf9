"""``scrapy crawl openverse``: openly licensed images from the Openverse search API.

Examples::

    scrapy crawl openverse -a q="ice cream cake" -a limit=100 -a wnid=n07631926
    scrapy crawl openverse -a q="ice cream cake" -a license=by,by-sa,cc0 -a source=flickr
    scrapy crawl openverse -a q=cake -a license_type=commercial,modification
    scrapy crawl openverse -a q=cake -a mature=1   # results Openverse marks mature too
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from catalog.harvest import DiscoveredUrl
from crawler import openverse
from crawler.errors import SpiderArgumentError
from crawler.fetch import failure_token
from crawler.spiderargs import (
    parse_count,
    parse_flag,
    parse_wnids,
    passed_through,
    reject_unknown,
    split_list,
)
from crawler.spiders import ImageSpider
from synthset.errors import SynthsetError

logger = logging.getLogger(__name__)

API_SLOT = "openverse-api"  # the download slot of API requests: one at a time, spaced
TRUNCATED = "openverse_truncated"  # runs.stats key: the search counted more than it reached
CREDENTIALS = ("OPENVERSE_CLIENT_ID", "OPENVERSE_CLIENT_SECRET")  # settings, else environment


class OpenverseCredentialsIncomplete(SynthsetError):
    """Only one of OPENVERSE_CLIENT_ID and OPENVERSE_CLIENT_SECRET is set."""


class OpenverseApiFailed(SynthsetError):
    """The Openverse API refused or failed a request the crawl could not do without."""


@dataclass(frozen=True)
class OpenverseArgs:
    """The checked arguments of ``scrapy crawl openverse``."""

    query: openverse.SearchQuery
    wnid: str | None = None
    limit: int | None = None
    refetch: bool = False


def credentials(settings: BaseSettings) -> tuple[str, str] | None:
    """The client id and secret (settings first, then the environment); None: anonymous.

    :raises OpenverseCredentialsIncomplete: if only one of the two is set.
    """
    found = [settings.get(name) or os.environ.get(name) or "" for name in CREDENTIALS]
    if all(found):
        return found[0], found[1]
    if any(found):
        missing = CREDENTIALS[found.index("")]
        raise OpenverseCredentialsIncomplete(
            f"{missing} is not set: give both OPENVERSE_CLIENT_ID and OPENVERSE_CLIENT_SECRET "
            "(-s NAME=... or the environment), or neither to search anonymously"
        )
    return None


class OpenverseSpider(ImageSpider):
    """Pages through one Openverse search and fetches every image it lists.

    Anonymous by default (20 results a page); with OPENVERSE_CLIENT_ID and
    OPENVERSE_CLIENT_SECRET it first trades them for a bearer token. API requests go
    one at a time, a second apart (download slot ``openverse-api`` in DOWNLOAD_SLOTS; the
    RetryAfterMiddleware holds them after a 429 for its Retry-After). Each image is
    recorded with its licence, creator, landing page, source, provider and mature flag.
    Results marked mature are asked for only with ``-a mature=1``. A search that counts
    more results than its pages reach says so in one log line and in the runs row.
    """

    name = "openverse"

    @classmethod
    def parse_args(
        cls,
        *,
        q: str | None = None,
        license: str | None = None,  # noqa: A002 (the API's parameter name)
        license_type: str | None = None,
        source: str | None = None,
        limit: str | None = None,
        wnid: str | None = None,
        refetch: str | None = None,
        mature: str | None = None,
        **extra: Any,
    ) -> OpenverseArgs:
        """Check ``-a q=... -a license=... -a license_type=... -a source=...`` and the rest;
        ``-a mature=1`` asks for the results Openverse marks mature too.

        :raises SpiderArgumentError: for a missing query, an unknown licence or licence
            type, a malformed source, more than one wnid, or a bad limit.
        """
        reject_unknown(cls.name, cls.parse_args, extra)
        if not (q or "").strip():
            raise SpiderArgumentError('give the words to search for: -a q="ice cream cake"')
        codes = [code.lower() for code in split_list(license)]
        kinds = [kind.lower() for kind in split_list(license_type)]
        sources = [name.lower() for name in split_list(source)]
        for name, values, known in (("license", codes, openverse.LICENSE_CODES),
                                    ("license_type", kinds, openverse.LICENSE_TYPES)):
            unknown = [value for value in values if value not in known]
            if unknown:
                raise SpiderArgumentError(
                    f"-a {name}={unknown[0]!r} is not one the API knows; use "
                    f"{', '.join(sorted(known))} (comma-separated)"
                )
        bad_source = [name for name in sources if not openverse.valid_source(name)]
        if bad_source:
            raise SpiderArgumentError(
                f"-a source={bad_source[0]!r}: a source is a short id such as flickr or "
                "wikimedia (see https://api.openverse.org/v1/images/stats/)"
            )
        wnids = parse_wnids(wnid)
        if len(wnids) > 1:
            raise SpiderArgumentError(f"-a wnid={wnid!r}: tag the images with one synset")
        return OpenverseArgs(
            query=openverse.SearchQuery(" ".join(q.split()), tuple(codes), tuple(kinds),
                                        tuple(sources), parse_flag("mature", mature)),
            wnid=wnids[0] if wnids else None,
            limit=parse_count("limit", limit),
            refetch=parse_flag("refetch", refetch),
        )

    @classmethod
    def check_settings(cls, settings: BaseSettings) -> None:
        """Refuse half-given credentials before the crawl starts."""
        credentials(settings)

    def __init__(self, **kwargs: Any) -> None:
        """Check the spider arguments (see :meth:`parse_args`)."""
        args = self.parse_args(**kwargs)
        super().__init__(**passed_through(kwargs))
        self.args = args
        self.query = args.query
        self.wnid = args.wnid
        self.limit = args.limit
        self.refetch = args.refetch
        self.token: str | None = None
        self.listed = 0  # results handed on for fetching (limit counts these)
        self.result_count: int | None = None  # what the API last said the query matches
        self.truncated: dict[str, int] | None = None  # set when results were out of reach
        self._problem: str | None = None  # why the API failed, in words

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        """Create the spider with OPENVERSE_API_URL and the client credentials, if any."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.api_url = crawler.settings.get("OPENVERSE_API_URL")
        spider.credentials = credentials(crawler.settings)
        return spider

    @property
    def page_size(self) -> int:
        """Results asked for per page: the anonymous maximum, or more with a token."""
        return openverse.AUTHED_PAGE_SIZE if self.token else openverse.ANONYMOUS_PAGE_SIZE

    def run_args(self) -> dict[str, Any]:
        """The spider's arguments (never the credentials), for the catalog's runs row."""
        query = self.query
        return {"q": query.q, "license": list(query.license),
                "license_type": list(query.license_type), "source": list(query.source),
                "mature": query.mature, "wnid": self.wnid, "limit": self.limit,
                "refetch": self.refetch, "authenticated": self.credentials is not None}

    def run_notes(self) -> dict[str, Any]:
        """What the runs row keeps beside the counts: whether the search was truncated."""
        return {TRUNCATED: self.truncated} if self.truncated else {}

    def start_outputs(self) -> Iterator[Any]:
        """A token request first when credentials are set, else the first search page."""
        if self.credentials is None:
            yield self._page_request(1)
            return
        client_id, secret = self.credentials
        yield scrapy.FormRequest(
            openverse.token_url(self.api_url), formdata=openverse.token_form(client_id, secret),
            callback=self.parse_token, errback=self.api_failed, meta=self._api_meta(),
            dont_filter=True,
        )

    def _api_meta(self) -> dict[str, Any]:
        # API requests obey the API's terms and rate limits rather than robots.txt (as the
        # Commons spider's do); the images they list still obey their hosts' robots.txt.
        return {"download_slot": API_SLOT, "autothrottle_dont_adjust_delay": True,
                "dont_obey_robotstxt": True}

    def _page_request(self, page: int) -> scrapy.Request:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return scrapy.Request(
            openverse.search_url(self.api_url, self.query, page, self.page_size),
            headers=headers, callback=self.parse_search, errback=self.api_failed,
            cb_kwargs={"page": page}, meta=self._api_meta(), dont_filter=True,
        )

    def parse_token(self, response: Response) -> Iterator[Any]:
        """Keep the bearer token and ask for the first page with it."""
        if response.status != 200:
            raise self.abort(OpenverseApiFailed(
                f"Openverse refused the client credentials (HTTP {response.status} from "
                f"{response.url}); check OPENVERSE_CLIENT_ID and OPENVERSE_CLIENT_SECRET"
            ))
        try:
            self.token = openverse.parse_token(response.body)
        except openverse.OpenverseAnswerError as error:
            raise self.abort(OpenverseApiFailed(f"Openverse token: {error}")) from None
        logger.info("Openverse: authenticated as a registered client (page_size %(n)d)",
                    {"n": self.page_size})
        yield self._page_request(1)

    def parse_search(self, response: Response, page: int) -> Iterator[Any]:
        """List one page's images, then ask for the next page while there is one."""
        if response.status != 200:
            self._page_refused(response, page)
            return
        try:
            answer = openverse.parse_page(response.body)
        except openverse.OpenverseAnswerError as error:
            self._failed(f"{error} ({response.url})")
            return
        self.result_count = answer.result_count
        wanted = answer.results
        if self.limit is not None:
            wanted = wanted[: max(0, self.limit - self.listed)]
        self.listed += len(wanted)
        for name, count in Counter(image.source or "unknown" for image in wanted).items():
            self.crawler.stats.inc_value(f"synthset/openverse_source/{name}", count)
        yield from self.image_requests(
            DiscoveredUrl(image.url, "openverse", self.wnid, found_on=image.detail_url,
                          provenance=image.provenance())
            for image in wanted
        )
        if self.limit is not None and self.listed >= self.limit:
            return
        if answer.results and page < answer.page_count:
            yield self._page_request(page + 1)
        elif left := answer.unreachable(self.page_size):
            self._cap_reached(page, left)

    def _cap_reached(self, pages: int, left: int) -> None:
        """Say that the query matches more than its pages reach, and how to get the rest."""
        self.truncated = {"pages": pages, "page_size": self.page_size, "listed": self.listed,
                          "result_count": self.result_count or 0, "left": left}
        logger.warning(
            "Openverse: reached the API's cap for this query after %(n)d results "
            "(%(pages)d pages of %(size)d); %(left)d of its %(count)d results were left: to get "
            "them, narrow the query (more words, -a license=, -a license_type=, -a source=)"
            "%(or_register)s",
            {"n": self.listed, "pages": pages, "size": self.page_size, "left": left,
             "count": self.result_count or 0,
             "or_register": "" if self.token else (
                 " or register a client and set OPENVERSE_CLIENT_ID and "
                 "OPENVERSE_CLIENT_SECRET")},
        )
        self.crawler.stats.set_value("synthset/openverse_cap_reached", pages)

    def _page_refused(self, response: Response, page: int) -> None:
        if page > 1 and response.status in (400, 401) and openverse.refuses_page(response.body):
            reached = (page - 1) * self.page_size
            self._cap_reached(page - 1, max(0, (self.result_count or 0) - reached))
            return
        detail = openverse.error_detail(response.body)
        self._failed(f"HTTP {response.status} from {response.url}"
                     + (f": {str(detail)[:300]}" if detail else ""))

    def _failed(self, problem: str) -> None:
        logger.warning("Openverse API request failed: %(problem)s", {"problem": problem})
        self.crawler.stats.inc_value("synthset/api_errors")
        self._problem = self._problem or problem

    def api_failed(self, failure: Failure) -> None:
        """Note an API request that got no response (refused, timeout, DNS...)."""
        self._failed(f"{failure_token(failure)}: {failure.request.url}")

    def final_error(self) -> SynthsetError | None:
        """The API's failure, if one cut the search short."""
        if self._problem is None:
            return None
        return OpenverseApiFailed(
            f"the Openverse API failed ({self._problem}) after listing {self.urls_listed} "
            "images; check -s OPENVERSE_API_URL, or wait and rerun if it was rate-limited "
            "(HTTP 429): the rerun skips what was fetched"
        )
