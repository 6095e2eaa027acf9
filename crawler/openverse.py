"""The Openverse image search API (api.openverse.org/v1/): search URLs, answers, tokens.

Reference: https://api.openverse.org/v1/ and docs.openverse.org/api/user/ (docs/sources.md
says what each field we keep means). A search is ``GET images/?q=&license=&license_type=
&source=&mature=&page=&page_size=``; its answer carries ``result_count``, ``page_count``,
``page`` and ``results``. ``page_count`` is already capped at the pages the caller may reach
while ``result_count`` is not, so a query can count more results than its pages hold.
Anonymous callers may ask for at most 20 results a page and reach only so deep into a query
(a page past the cap answers 400 naming ``page``); a registered client trades its
credentials for a bearer token at ``POST auth_tokens/token/`` (form data,
``grant_type=client_credentials``). Results the API marks ``mature`` are left out unless
``mature=true`` is asked for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

from catalog.harvest import Provenance
from crawler import licenses
from synthset.errors import SynthsetError

ANONYMOUS_PAGE_SIZE = 20  # the API's largest page for anonymous callers
AUTHED_PAGE_SIZE = 100  # results per page with a token (the API allows up to 500)
LICENSE_CODES = frozenset({
    "by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "cc0", "pdm",
    "sampling+", "nc-sampling+",
})
LICENSE_TYPES = frozenset({"commercial", "modification", "all-cc", "all"})
_SOURCE = re.compile(r"^[a-z0-9_.-]{1,64}$")
MAX_TEXT = 2000  # characters kept of a free-text field (title, creator, attribution)


class OpenverseAnswerError(SynthsetError):
    """An Openverse answer is not of the shape the API documents."""


@dataclass(frozen=True)
class SearchQuery:
    """What to search for: the API's filters, as sent."""

    q: str
    license: tuple[str, ...] = ()
    license_type: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    mature: bool = False  # ask for results marked mature too (the API leaves them out)

    def params(self, page: int, page_size: int) -> dict[str, str]:
        """The query string's parameters for ``page``, empty filters left out."""
        params = {"q": self.q, "license": ",".join(self.license),
                  "license_type": ",".join(self.license_type), "source": ",".join(self.source),
                  "mature": "true" if self.mature else "",
                  "page": str(page), "page_size": str(page_size)}
        return {name: value for name, value in params.items() if value}


@dataclass(frozen=True)
class OpenverseImage:
    """One search result: the image URL and what Openverse says about it."""

    id: str
    url: str
    title: str | None
    foreign_landing_url: str | None
    creator: str | None
    creator_url: str | None
    license: str | None
    license_version: str | None
    license_url: str | None
    attribution: str | None
    source: str | None  # the dataset Openverse indexed it from (flickr, wikimedia, ...)
    provider: str | None  # the site that hosts the work; may differ from the source
    mature: bool | None  # marked mature (sensitive) by Openverse
    detail_url: str | None

    def provenance(self) -> Provenance:
        """The catalog's provenance: licence as a short id, the landing page, the Openverse
        id, its source, provider and mature flag."""
        return Provenance(
            license=licenses.from_openverse(self.license, self.license_version),
            license_url=self.license_url, creator=self.creator, creator_url=self.creator_url,
            landing_url=self.foreign_landing_url, title=self.title,
            attribution=self.attribution, source_id=self.id,
            upstream_source=self.source, provider=self.provider, mature=self.mature,
        )


@dataclass(frozen=True)
class SearchPage:
    """One page of search results."""

    result_count: int
    page_count: int
    page: int
    results: list[OpenverseImage]

    def unreachable(self, page_size: int) -> int:
        """On the last page the API lets the caller reach, when it is full: how many of
        ``result_count`` no page holds. 0 on any other page, and on a short last page (the
        query ran out: the API counts results it then filters, such as dead links)."""
        if self.page < self.page_count or len(self.results) < page_size:
            return 0
        reached = (self.page - 1) * page_size + len(self.results)
        return max(0, self.result_count - reached)


def search_url(api_url: str, query: SearchQuery, page: int, page_size: int) -> str:
    """The URL of one page of ``query`` under ``api_url`` (``.../v1/``)."""
    return _endpoint(api_url, "images/") + "?" + urlencode(query.params(page, page_size))


def token_url(api_url: str) -> str:
    """Where a registered client gets its bearer token."""
    return _endpoint(api_url, "auth_tokens/token/")


def token_form(client_id: str, client_secret: str) -> dict[str, str]:
    """The form fields of a client-credentials token request."""
    return {"client_id": client_id, "client_secret": client_secret,
            "grant_type": "client_credentials"}


def _endpoint(api_url: str, path: str) -> str:
    return urljoin(api_url if api_url.endswith("/") else api_url + "/", path)


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise OpenverseAnswerError(f"{what} is not JSON ({error})") from None


def parse_token(body: bytes) -> str:
    """The bearer token of a token answer.

    :raises OpenverseAnswerError: if the answer holds no token.
    """
    answer = _json(body, "the token answer")
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > 4096:
        raise OpenverseAnswerError("the token answer holds no access_token")
    return token.strip()


def error_detail(body: bytes) -> Any:
    """The ``detail`` of an error answer (a message, or a mapping of parameter -> messages)."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return answer.get("detail") if isinstance(answer, dict) else None


def refuses_page(body: bytes) -> bool:
    """Whether an error answer refuses the ``page`` asked for: the query's depth cap."""
    detail = error_detail(body)
    return isinstance(detail, dict) and "page" in detail


def parse_page(body: bytes) -> SearchPage:
    """One page of a search answer; results without an ``id`` or a ``url`` are dropped.

    :raises OpenverseAnswerError: if the answer is not a search page.
    """
    answer = _json(body, "the search answer")
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise OpenverseAnswerError("the search answer has no results list")
    counts = [answer.get(name) for name in ("result_count", "page_count", "page")]
    if not all(isinstance(n, int) and n >= 0 for n in counts):
        raise OpenverseAnswerError("the search answer has no result_count/page_count/page")
    results = [image for item in answer["results"] if (image := _image(item)) is not None]
    return SearchPage(*counts, results=results)


def _text(item: dict, name: str) -> str | None:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_TEXT]


def _image(item: Any) -> OpenverseImage | None:
    if not isinstance(item, dict):
        return None
    image_id, url = _text(item, "id"), _text(item, "url")
    if image_id is None or url is None:
        return None
    return OpenverseImage(
        id=image_id, url=url, title=_text(item, "title"),
        foreign_landing_url=_text(item, "foreign_landing_url"),
        creator=_text(item, "creator"), creator_url=_text(item, "creator_url"),
        license=_text(item, "license"), license_version=_text(item, "license_version"),
        license_url=_text(item, "license_url"), attribution=_text(item, "attribution"),
        source=_text(item, "source"), provider=_text(item, "provider"),
        mature=item["mature"] if isinstance(item.get("mature"), bool) else None,
        detail_url=_text(item, "detail_url"),
    )


def valid_source(name: str) -> bool:
    """Whether ``name`` looks like an Openverse source id (``flickr``, ``wikimedia``)."""
    return bool(_SOURCE.match(name))
