"""Wikimedia Commons through the MediaWiki Action API: the requests to make, the answers read.

Every request is ``action=query`` in JSON ``formatversion=2`` with ``maxlag=5``. Files come
through a generator (``categorymembers`` of type file, or ``search`` in namespace 6) with
``prop=imageinfo`` and ``iiprop=url|size|mime|sha1|extmetadata``; subcategories through
``list=categorymembers`` of type subcat. More results are fetched by sending back the whole
``continue`` object with the first request's parameters (API:Continue), never single keys:
imageinfo may stop mid-batch and ask for the generator's batch again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin

from catalog.harvest import Provenance
from crawler import licenses
from synthset.errors import SynthsetError

# Widths upload.wikimedia.org renders thumbnails at; any other width is answered with 429.
STANDARD_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
DEFAULT_WIDTH = 1280
MAXLAG_S = 5  # seconds of replication lag at which the API asks us to wait (API:Etiquette)
BATCH = 50  # files or subcategories asked for per API request
FILE_NAMESPACE = 6
CATEGORY_PREFIX = "Category:"
FILE_PREFIX = "File:"
IIPROP = "url|size|mime|sha1|extmetadata"
EXTMETADATA = ("ObjectName|Artist|Credit|LicenseShortName|LicenseUrl|AttributionRequired|"
               "UsageTerms|Restrictions")
VIA = "via Wikimedia Commons"
# What Commons' "Use this file" credit says in place of an author no Artist names.
NO_AUTHOR = "See page for author"
MAX_TEXT = 500  # characters kept of a creator or title (Artist fields can be whole essays)
_RESTRICTION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # restriction-<name> classes' names


def thumb_width(requested: int) -> int:
    """The standard thumbnail width at or above ``requested`` (``300`` -> ``330``).

    :raises ValueError: above the largest standard width (3840).
    """
    for width in STANDARD_WIDTHS:
        if width >= requested:
            return width
    raise ValueError(f"{requested} is wider than the largest thumbnail ({STANDARD_WIDTHS[-1]})")


def category_title(name: str) -> str:
    """``Category:Ice cream cakes`` for ``ice_cream_cakes``, ``Category:Ice cream cakes``, ..."""
    text = re.sub(r"[\s_]+", " ", name).strip()
    if text.lower().startswith(CATEGORY_PREFIX.lower()):
        text = text[len(CATEGORY_PREFIX):].strip()
    return CATEGORY_PREFIX + text[:1].upper() + text[1:] if text else ""


def _query(**params: object) -> dict[str, str]:
    base = {"action": "query", "format": "json", "formatversion": "2", "maxlag": str(MAXLAG_S)}
    return {**base, **{name: str(value) for name, value in params.items()}}


def _imageinfo(width: int | None) -> dict[str, str]:
    params = {"prop": "imageinfo", "iiprop": IIPROP, "iiextmetadatafilter": EXTMETADATA}
    if width is not None:
        params["iiurlwidth"] = str(width)
    return params


def category_files_params(category: str, width: int | None, limit: int = BATCH) -> dict[str, str]:
    """The files of ``category`` (a full ``Category:`` title) with their imageinfo."""
    return _query(generator="categorymembers", gcmtitle=category, gcmtype="file",
                  gcmlimit=limit, **_imageinfo(width))


def subcategories_params(category: str) -> dict[str, str]:
    """The subcategories of ``category``."""
    return _query(list="categorymembers", cmtitle=category, cmtype="subcat", cmlimit=BATCH)


def search_params(text: str, width: int | None, limit: int = BATCH) -> dict[str, str]:
    """Full-text search for ``text`` among files (namespace 6), with their imageinfo."""
    return _query(generator="search", gsrsearch=text, gsrnamespace=FILE_NAMESPACE,
                  gsrlimit=limit, **_imageinfo(width))


def continued(params: Mapping[str, str], cont: Mapping[str, Any]) -> dict[str, str]:
    """The next request: the first request's ``params`` with the whole ``continue`` object."""
    return {**params, **{name: str(value) for name, value in cont.items()}}


def api_url(api: str, params: Mapping[str, str]) -> str:
    """``api`` with ``params`` as its query string."""
    return f"{api}?{urlencode(params)}"


class _TextAndLinks(HTMLParser):
    """Collects the text of an HTML fragment and the targets of its links."""

    HIDDEN = frozenset({"script", "style"})  # their content is no text

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.extend(value for name, value in attrs if name == "href" and value)
        elif tag in ("br", "p", "div", "li"):
            self.text.append(" ")
        elif tag in self.HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def plain_text(fragment: str | None) -> str | None:
    """The text of an HTML ``fragment`` (tags dropped, entities decoded, spaces collapsed)."""
    if not fragment:
        return None
    parser = _TextAndLinks()
    parser.feed(fragment)
    parser.close()
    text = re.sub(r"\s+", " ", unescape("".join(parser.text))).strip()
    return text[:MAX_TEXT] or None


def first_link(fragment: str | None, base: str) -> str | None:
    """The first http(s) link of an HTML ``fragment``, made absolute against ``base``."""
    if not fragment:
        return None
    parser = _TextAndLinks()
    parser.feed(fragment)
    parser.close()
    for href in parser.links:
        # protocol-relative links (//commons.wikimedia.org/...): Wikimedia serves https only
        url = "https:" + href if href.startswith("//") else urljoin(base, href)
        if url.startswith(("https://", "http://")):
            return url
    return None


def attribution(title: str, creator: str | None, license_name: str | None) -> str:
    """A TASL credit line: ``"Title" by Creator, CC BY-SA 4.0, via Wikimedia Commons``.

    Without a creator it says so as Commons' "Use this file" credit does:
    ``"Title", See page for author, CC0, via Wikimedia Commons``.
    """
    line = f'"{title}"' + (f" by {creator}" if creator else f", {NO_AUTHOR}")
    return f"{line}, {license_name or 'licence unknown'}, {VIA}"


@dataclass(frozen=True)
class CommonsFile:
    """One file as the API describes it, with the URL to fetch at the width asked for."""

    pageid: int
    title: str  # "File:Name.jpg"
    fetch_url: str  # the thumbnail at the standard width, or the original
    original_url: str
    mime: str
    sha1: str | None
    landing_url: str | None
    license: str | None  # our id (cc-by-sa-4.0)
    license_name: str | None  # as Commons writes it (CC BY-SA 4.0)
    license_url: str | None
    creator: str | None  # Artist: the author; None when the file page names none
    creator_url: str | None
    credit: str | None  # Credit: the source ("Own work", the page it was copied from)
    attribution_required: bool | None
    usage_terms: str | None  # the licence's long name
    restrictions: str | None  # personality|trademarked|...: limits beyond the licence
    name: str  # ObjectName, or the title without File: and extension

    @property
    def is_image(self) -> bool:
        """Whether the file is a still image (not audio, video or a document)."""
        return self.mime.startswith("image/")

    def provenance(self) -> Provenance:
        """What the catalog records about the file; the credit is the source, not the creator."""
        return Provenance(
            license=self.license,
            license_url=self.license_url,
            creator=self.creator,
            creator_url=self.creator_url,
            landing_url=self.landing_url,
            title=self.name,
            attribution=attribution(self.name, self.creator, self.license_name),
            source_id=str(self.pageid),
            credit=self.credit,
            attribution_required=self.attribution_required,
            usage_terms=self.usage_terms,
            restrictions=self.restrictions,
        )


def _meta(extmetadata: Mapping[str, Any], key: str) -> str | None:
    entry = extmetadata.get(key)
    value = entry.get("value") if isinstance(entry, Mapping) else None
    return str(value) if value not in (None, "") else None


def _file_name(title: str) -> str:
    name = title[len(FILE_PREFIX):] if title.startswith(FILE_PREFIX) else title
    return name.rsplit(".", 1)[0] if "." in name else name


def restriction_list(value: str | None) -> str | None:
    """Commons' ``Restrictions`` (``personality|trademarked``): the class suffixes of the file
    page's restriction templates, |-separated; only the well-formed names are kept."""
    names = [name.strip() for name in (plain_text(value) or "").lower().split("|")]
    names = [name for name in names if _RESTRICTION.match(name)]
    return "|".join(dict.fromkeys(names)) or None


def commons_file(page: Mapping[str, Any], original: bool) -> CommonsFile | None:
    """The file of one ``query.pages`` entry; None while its imageinfo is still to come.

    ``original``: fetch the original file rather than the thumbnail the request asked for.
    """
    infos = page.get("imageinfo")
    if not infos or "url" not in infos[0]:
        return None
    info = infos[0]
    meta = info.get("extmetadata") or {}
    landing = info.get("descriptionurl")
    artist = _meta(meta, "Artist")
    required = _meta(meta, "AttributionRequired")
    name = plain_text(_meta(meta, "ObjectName")) or _file_name(str(page["title"]))
    license_name = plain_text(_meta(meta, "LicenseShortName"))
    return CommonsFile(
        pageid=int(page["pageid"]),
        title=str(page["title"]),
        fetch_url=info["url"] if original else info.get("thumburl") or info["url"],
        original_url=info["url"],
        mime=str(info.get("mime", "")),
        sha1=info.get("sha1"),
        landing_url=landing,
        license=licenses.from_short_name(license_name),
        license_name=license_name,
        license_url=_meta(meta, "LicenseUrl"),
        creator=plain_text(artist),
        creator_url=first_link(artist, landing or info["url"]),
        credit=plain_text(_meta(meta, "Credit")),
        attribution_required=None if required is None else required.lower() == "true",
        usage_terms=plain_text(_meta(meta, "UsageTerms")),
        restrictions=restriction_list(_meta(meta, "Restrictions")),
        name=name[:MAX_TEXT],
    )


@dataclass
class ApiAnswer:
    """One API answer: files, subcategory titles, the ``continue`` object, or an error."""

    pages: list[dict[str, Any]] = field(default_factory=list)
    subcategories: list[str] = field(default_factory=list)
    cont: dict[str, Any] | None = None
    error: str | None = None  # "code: info"


def read_answer(body: bytes) -> ApiAnswer:
    """Read an API answer (formatversion=2 JSON).

    :raises ValueError: if the body is not a JSON object.
    """
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    error = data.get("error")
    if isinstance(error, dict):
        return ApiAnswer(error=f"{error.get('code', '?')}: {error.get('info', '')}".strip())
    query = data.get("query") or {}
    pages = [p for p in query.get("pages", []) if isinstance(p, dict) and "pageid" in p]
    members = [m["title"] for m in query.get("categorymembers", []) if "title" in m]
    cont = data.get("continue")
    return ApiAnswer(pages=pages, subcategories=members,
                     cont=cont if isinstance(cont, dict) else None)


class ContactMissing(SynthsetError):
    """No CONTACT setting: Wikimedia's User-Agent policy wants a way to reach the crawler's user."""


class CommonsApiUnavailable(SynthsetError):
    """The Commons API failed, or answered with an error, where the crawl needs it."""


class NothingFound(SynthsetError):
    """The category or search named no file at all."""
