"""The mirror's Wikimedia Commons: a MediaWiki Action API (formatversion=2) and a media host.

The API (``/w/api.php``) answers ``action=query`` with ``list=categorymembers`` (subcats)
and ``generator=categorymembers`` / ``generator=search`` with ``prop=imageinfo``, in the
real shapes: ``continue`` objects (API:Continue), imageinfo that stops mid-batch with
``iicontinue`` (as a full result does), extmetadata with HTML in it, ``warnings`` when a
limit is above the mirror's maximum. Its rules, re-armed by ``/commons/requests.json?reset=1``:
the ``MAXLAG_AT``-th API request gets a ``maxlag`` error, the ``API_BURST_AT``-th a 429 and
the ``MEDIA_BURST_AT``-th media request a 429, each once and with ``Retry-After``.
The media host (``/commons/upload/``) serves originals and thumbnails at the standard
widths only (others: 429); some files carry ``X-Robots-Tag`` opt-outs.
Every API and media request is logged (start, end, status, User-Agent) and the most in
flight at once is counted per role: ``/commons/requests.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from urllib.parse import quote

import numpy as np
from PIL import Image

from crawler.mirror import encoding
from crawler.mirror.drawing import CakeSpec, random_cake_spec
from crawler.mirror.plan import picture

API_PATH = "/w/api.php"
MEDIA_PREFIX = "/commons/upload/"
LOG_PATH = "/commons/requests.json"
WIKI_PREFIX = "commons/wiki/"  # file pages (landing URLs; recorded, not served)
STANDARD_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
MAX_LIMIT = 10  # the mirror's maximum for cmlimit/gcmlimit/gsrlimit (Commons: 500)
IMAGEINFO_PER_ANSWER = 4  # files whose imageinfo fits in one answer; the rest: iicontinue
MAXLAG_AT, API_BURST_AT, MEDIA_BURST_AT = 2, 6, 3  # which request after a reset is refused
RETRY_AFTER_S = 1
HOLD_S = 0.02  # every API and media answer takes this long, so overlapping requests show
TIMESTAMP = "20240101000000"
ROOT = "Category:Ice cream cakes"
SEARCH = "ice cream cake"
SEED_OFFSET = 9001  # the Commons world draws from its own generator, seeded seed + this

# (LicenseShortName, LicenseUrl, the id a crawl must record)
LICENCES = (
    ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0", "cc-by-sa-4.0"),
    ("CC BY 2.0", "https://creativecommons.org/licenses/by/2.0", "cc-by-2.0"),
    ("CC0", "http://creativecommons.org/publicdomain/zero/1.0/deed.en", "cc0-1.0"),
    ("Public domain", None, "pdm"),
    ("CC BY-SA 3.0 de", "https://creativecommons.org/licenses/by-sa/3.0/de/deed.en",
     "cc-by-sa-3.0-de"),
    ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0", "cc-by-4.0"),
    ("GFDL", "https://www.gnu.org/copyleft/fdl.html", None),
)
# (Artist HTML, its text, its link); (None, None, None): no Artist, only the Credit, which
# names the source (here a Flickr page whose link text is the photo's title), not an author
ARTISTS = (
    ('<a href="//commons.wikimedia.org/wiki/User:Baker{n}" title="User:Baker{n}">Baker{n}</a>',
     "Baker{n}", "https://commons.wikimedia.org/wiki/User:Baker{n}"),
    ('<bdi><a rel="nofollow" class="external text" href="https://www.flickr.com/people/c{n}">'
     "Jane &amp; Joe&#39;s Bakery</a>\n</bdi>", "Jane & Joe's Bakery",
     "https://www.flickr.com/people/c{n}"),
    ("Unknown author<br />photographed in <i>Vienna</i>", "Unknown author photographed in Vienna",
     None),
    (None, None, None),
)
# (Credit HTML, its text): Commons' source field
CREDITS = (('<span class="int-own-work" lang="en">Own work</span>', "Own work"),
           ('<a rel="nofollow" class="external text" href="https://www.flickr.com/photos/'
            'c{n}/{n}">Birthday cake {n}</a>', "Birthday cake {n}"))
# file number -> Restrictions, as extmetadata gives them (the restriction-* template classes)
RESTRICTIONS = {2: "personality", 9: "trademarked|insignia"}
NAMES = ("Ice cream cake {n:02d}", "Strawberry ice cream cake {n:02d}",
         "Birthday cake with candles {n:02d}", "Ice-cream cake slice {n:02d}")
# category -> (file numbers, subcategories); the by-flavour pair is a cycle, 3 is in two
CATEGORIES = {
    ROOT: (range(0, 12), ("Category:Ice cream cakes by flavour",
                          "Category:Ice cream cake slices")),
    "Category:Ice cream cakes by flavour": (range(12, 18), ("Category:Chocolate ice cream cakes",
                                                            ROOT)),
    "Category:Chocolate ice cream cakes": (range(18, 23), ("Category:Ice cream cakes by flavour",)),
    "Category:Ice cream cake slices": ((3, 23, 24, 25), ()),
}
FILES = 26
WIDE = (0, 1, 12)  # 1600 px wide: thumbnails at the default 1280
# file number -> (kind, X-Robots-Tag): opt-outs, one for another bot only, a bad checksum
SPECIAL = {
    5: ("opted_out", "noai"),
    14: ("opted_out", "synthset: noimageai"),
    8: ("ok", "otherbot: noai, noimageai"),
    20: ("sha1_mismatch", None),
    22: ("not_image", None),
}


@dataclass
class CommonsFileSpec:
    """One planted file and what a correct crawl records for it."""

    n: int
    title: str
    pageid: int
    ext: str
    width: int
    height: int
    kind: str  # ok | opted_out | sha1_mismatch | not_image
    x_robots_tag: str | None
    licence: tuple[str, str | None, str | None]
    artist: tuple[str | None, str | None, str | None]
    credit: tuple[str, str]
    attribution_required: bool
    restrictions: str | None
    cake: CakeSpec | None

    @property
    def file_name(self) -> str:
        """``Name.jpg`` with underscores, as in URLs."""
        return self.title[len("File:"):].replace(" ", "_")

    @property
    def hashed_dir(self) -> str:
        """``a/ab/``: MediaWiki's hashed upload directory of the file name."""
        digest = hashlib.md5(self.file_name.encode()).hexdigest()  # noqa: S324 (a path, as MW)
        return f"{digest[0]}/{digest[:2]}/"

    @property
    def mime(self) -> str:
        """The file's MIME type."""
        return {"jpg": "image/jpeg", "png": "image/png", "ogg": "audio/ogg"}[self.ext]


def _word_set(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def matches(query: str, title: str) -> bool:
    """The mirror's search rule: every word of ``query`` is a word of ``title``."""
    return bool(_word_set(query)) and _word_set(query) <= _word_set(title)


@dataclass
class _Logged:
    role: str
    path: str
    user_agent: str
    start: float
    number: int  # of its role, since the last reset
    end: float = 0.0
    status: int = 0


@dataclass
class CommonsSite:
    """The Commons world of one mirror: files, categories, rules, the request log."""

    base_url: str
    seed: int
    files: list[CommonsFileSpec] = field(default_factory=list)
    _bodies: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _log: list[_Logged] = field(default_factory=list)
    _in_flight: dict[str, int] = field(default_factory=dict)
    _max_in_flight: dict[str, int] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed + SEED_OFFSET)
        for n in range(FILES):
            kind, tag = SPECIAL.get(n, ("ok", None))
            ext = "ogg" if kind == "not_image" else ("png" if n % 5 == 4 else "jpg")
            width = 1600 if n in WIDE else (640, 800, 960, 480)[n % 4]
            cake = None if ext == "ogg" else replace(
                random_cake_spec(int(rng.integers(2**31))), width=width, height=width * 3 // 4
            )
            self.files.append(CommonsFileSpec(
                n=n, title=f"File:{NAMES[n % len(NAMES)].format(n=n)}.{ext}", pageid=70000 + n,
                ext=ext, width=width, height=width * 3 // 4, kind=kind, x_robots_tag=tag,
                licence=LICENCES[n % len(LICENCES)], artist=ARTISTS[n % len(ARTISTS)],
                credit=CREDITS[n % len(CREDITS)], attribution_required=n % 3 != 0,
                restrictions=RESTRICTIONS.get(n), cake=cake,
            ))
        self.reset()

    # -- the world ---------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """The API's absolute URL (the crawl's COMMONS_API_URL)."""
        return self.base_url + API_PATH.lstrip("/")

    def original_url(self, spec: CommonsFileSpec) -> str:
        """``.../commons/upload/a/ab/Name.jpg``."""
        return f"{self.base_url}{MEDIA_PREFIX.lstrip('/')}{spec.hashed_dir}{quote(spec.file_name)}"

    def thumb_url(self, spec: CommonsFileSpec, width: int) -> str:
        """``.../commons/upload/thumb/a/ab/Name.jpg/330px-Name.jpg``."""
        name = quote(spec.file_name)
        return (f"{self.base_url}{MEDIA_PREFIX.lstrip('/')}thumb/{spec.hashed_dir}{name}/"
                f"{width}px-{name}")

    def landing_url(self, spec: CommonsFileSpec) -> str:
        """The file page: ``.../commons/wiki/File:Name.jpg``."""
        return f"{self.base_url}{WIKI_PREFIX}{quote(spec.title.replace(' ', '_'), safe=':')}"

    def category_files(self, category: str) -> list[CommonsFileSpec]:
        """The files of ``category``, in title order (as categorymembers lists them)."""
        numbers = CATEGORIES.get(category, ((), ()))[0]
        return sorted((self.files[n] for n in numbers), key=lambda f: f.title)

    def search(self, query: str) -> list[CommonsFileSpec]:
        """Files whose title holds every word of ``query``, in pageid order."""
        return [f for f in self.files if matches(query, f.title)]

    def _intended(self, spec: CommonsFileSpec) -> bytes:
        """The original's bytes as the API's SHA-1 describes them."""
        if spec.cake is None:
            return b"OggS\x00\x02" + bytes(58)  # an Ogg page header, enough for a MIME sniff
        image = picture(spec.cake)
        return encoding.png(image) if spec.ext == "png" else encoding.jpeg(image, quality=90)

    def _cached(self, key: str, render: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._bodies.get(key)
        if body is None:
            body = render()
            with self._lock:
                self._bodies[key] = body
        return body

    def intended(self, spec: CommonsFileSpec) -> bytes:
        """The original's bytes as described (cached)."""
        return self._cached(f"i{spec.n}", lambda: self._intended(spec))

    def served(self, spec: CommonsFileSpec) -> bytes:
        """The original as served: for a sha1_mismatch file, not the bytes described."""
        if spec.kind != "sha1_mismatch":
            return self.intended(spec)
        return self._cached(f"s{spec.n}", lambda: encoding.jpeg(picture(spec.cake), quality=60))

    def thumbnail(self, spec: CommonsFileSpec, width: int) -> bytes:
        """The file scaled to ``width`` pixels wide."""
        def render() -> bytes:
            image = picture(spec.cake).resize(
                (width, max(1, round(spec.height * width / spec.width))), Image.LANCZOS
            )
            return encoding.png(image) if spec.ext == "png" else encoding.jpeg(image, quality=85)
        return self._cached(f"t{spec.n}-{width}", render)

    # -- requests ----------------------------------------------------------------------------
    def role(self, path: str) -> str | None:
        """``api`` or ``media`` for a counted path, None for any other."""
        if path == API_PATH:
            return "api"
        return "media" if path.startswith(MEDIA_PREFIX) else None

    def reset(self) -> None:
        """Clear the request log and re-arm the once-only refusals."""
        with self._lock:
            self._log.clear()
            self._in_flight = {"api": 0, "media": 0}
            self._max_in_flight = {"api": 0, "media": 0}
            self._counts = {"api": 0, "media": 0}

    @contextmanager
    def request(self, role: str, path: str, user_agent: str) -> Iterator[_Logged]:
        """Count and log one request while it is answered; yields its log entry."""
        with self._lock:
            self._in_flight[role] += 1
            self._max_in_flight[role] = max(self._max_in_flight[role], self._in_flight[role])
            self._counts[role] += 1
            entry = _Logged(role, path, user_agent, time.monotonic(), self._counts[role])
            self._log.append(entry)
        try:
            yield entry
        finally:
            with self._lock:
                self._in_flight[role] -= 1
                entry.end = time.monotonic()

    def log_json(self) -> bytes:
        """/commons/requests.json: the most requests in flight per role, and every request."""
        with self._lock:
            doc = {
                "max_in_flight": dict(self._max_in_flight),
                "retry_after_s": RETRY_AFTER_S,
                "requests": [entry.__dict__ for entry in self._log],
            }
        return json.dumps(doc, indent=1).encode()

    def answer(
        self, role: str, path: str, query: dict[str, list[str]], number: int
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for request ``number`` (since the reset) of ``role``."""
        time.sleep(HOLD_S)
        if role == "api":
            return self._api({k: v[0] for k, v in query.items()}, number)
        return self._media(path, number)

    # -- media -------------------------------------------------------------------------------
    def _media(self, path: str, number: int) -> tuple[int, dict[str, str], bytes]:
        if number == MEDIA_BURST_AT:
            return _too_many("request rate exceeded", retry_after=True)
        rest = path[len(MEDIA_PREFIX):]
        width = None
        if rest.startswith("thumb/"):
            match = re.match(r"^thumb/(\w/\w\w/)([^/]+)/(\d+)px-\2$", rest)
            if not match:
                return 404, {"Content-Type": "text/plain"}, b"no such thumbnail\n"
            rest, width = match[1] + match[2], int(match[3])
        spec = next((f for f in self.files if f.hashed_dir + quote(f.file_name) == rest), None)
        if spec is None:
            return 404, {"Content-Type": "text/plain"}, b"no such file\n"
        if width is not None and (width not in STANDARD_WIDTHS or spec.cake is None):
            return _too_many(f"use a standard thumbnail width, not {width}", retry_after=False)
        body = self.served(spec) if width is None else self.thumbnail(spec, width)
        headers = {"Content-Type": spec.mime}
        if spec.x_robots_tag:
            headers["X-Robots-Tag"] = spec.x_robots_tag
        return 200, headers, body

    # -- API ---------------------------------------------------------------------------------
    def _api(self, params: dict[str, str], number: int) -> tuple[int, dict[str, str], bytes]:
        if number == API_BURST_AT:
            return _too_many("too many API requests", retry_after=True)
        if params.get("action") != "query" or params.get("formatversion") != "2":
            return _api_error("badvalue", "the mirror answers action=query, formatversion=2")
        if number == MAXLAG_AT and "maxlag" in params:
            status, headers, body = _api_error(
                "maxlag", "Waiting for 10.64.16.8: 7 seconds lagged.", lag=7, type="db"
            )
            headers.update({"Retry-After": str(RETRY_AFTER_S), "X-Database-Lag": "7"})
            return status, headers, body
        given = [k for k in params if k.endswith("continue") and k != "continue"]
        if given and "continue" not in params:
            return _api_error("badcontinue", "Invalid continue param. You should pass the "
                              "original value returned by the previous query.")
        warnings: dict[str, dict[str, str]] = {}
        if params.get("list") == "categorymembers":
            doc = self._subcategories(params, warnings)
        elif params.get("generator") in ("categorymembers", "search"):
            doc = self._files(params, warnings)
        else:
            return _api_error("badvalue", "unsupported query for the mirror")
        if warnings:
            doc["warnings"] = warnings
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(doc).encode()

    def _limit(self, params: dict[str, str], name: str, module: str,
               warnings: dict[str, dict[str, str]]) -> int:
        asked = int(params.get(name, "10") or 10)
        if asked > MAX_LIMIT:
            warnings[module] = {
                "warnings": f'"{name}" may not be over {MAX_LIMIT} (set to {MAX_LIMIT}) for users.'
            }
        return max(1, min(asked, MAX_LIMIT))

    def _subcategories(self, params: dict[str, str], warnings: dict) -> dict:
        category = params.get("cmtitle", "")
        members = CATEGORIES.get(category, ((), ()))[1] if params.get("cmtype") == "subcat" else ()
        start = _position(params.get("cmcontinue"))
        limit = self._limit(params, "cmlimit", "categorymembers", warnings)
        batch = members[start:start + limit]
        doc: dict = {"batchcomplete": True, "query": {"categorymembers": [
            {"pageid": 90000 + list(CATEGORIES).index(title), "ns": 14, "title": title}
            for title in batch
        ]}}
        if start + limit < len(members):
            doc["continue"] = {"cmcontinue": _token("subcat", start + limit), "continue": "-||"}
        return doc

    def _files(self, params: dict[str, str], warnings: dict) -> dict:
        if params["generator"] == "categorymembers":
            found = self.category_files(params.get("gcmtitle", ""))
            if params.get("gcmtype", "file") != "file":
                found = []
            key, module = "gcmcontinue", "categorymembers"
            start = _position(params.get(key))
            limit = self._limit(params, "gcmlimit", module, warnings)
        else:
            found = self.search(params.get("gsrsearch", ""))
            if params.get("gsrnamespace") != "6":
                found = []
            key, module = "gsroffset", "search"
            start = int(params.get(key, "0") or 0)
            limit = self._limit(params, "gsrlimit", module, warnings)
        batch = found[start:start + limit]
        by_title = sorted(batch, key=lambda f: f.title)
        first = 0
        if params.get("iicontinue"):
            name = params["iicontinue"].split("|", 1)[0]
            first = next((i for i, f in enumerate(by_title) if f.file_name == name), len(by_title))
        described = {f.n for f in by_title[first:first + IMAGEINFO_PER_ANSWER]}
        pages = []
        for spec in sorted(batch, key=lambda f: f.pageid):
            page: dict = {"pageid": spec.pageid, "ns": 6, "title": spec.title,
                          "imagerepository": "local"}
            if key == "gsroffset":
                page["index"] = start + batch.index(spec) + 1
            if spec.n in described:
                page["imageinfo"] = [self._imageinfo(spec, params)]
            pages.append(page)
        doc: dict = {"query": {"pages": pages}} if pages else {"batchcomplete": True}
        rest = by_title[first + IMAGEINFO_PER_ANSWER:]
        if rest:  # imageinfo continues; the generator repeats this batch (API:Continue)
            cont = {"iicontinue": f"{rest[0].file_name}|{TIMESTAMP}"}
            if key in params:
                cont[key] = params[key]
            cont["continue"] = f"{key if key in params else ''}||"
            doc["continue"] = cont
            return doc
        if pages:
            doc["batchcomplete"] = True
        if start + limit < len(found):
            following = start + limit
            value = _token("file", following) if key == "gcmcontinue" else following
            doc["continue"] = {key: value, "continue": f"{key}||"}
        return doc

    def _imageinfo(self, spec: CommonsFileSpec, params: dict[str, str]) -> dict:
        original = self.intended(spec)
        info: dict = {"size": len(original), "width": spec.width if spec.cake else 0,
                      "height": spec.height if spec.cake else 0}
        wanted = params.get("iiurlwidth")
        if wanted and spec.cake is not None:
            width = int(wanted)
            if width < spec.width:
                info.update(thumburl=self.thumb_url(spec, width), thumbwidth=width,
                            thumbheight=round(spec.height * width / spec.width))
            else:
                info.update(thumburl=self.original_url(spec), thumbwidth=spec.width,
                            thumbheight=spec.height)
        info.update(
            url=self.original_url(spec),
            descriptionurl=self.landing_url(spec),
            descriptionshorturl=f"{self.base_url}w/index.php?curid={spec.pageid}",
            sha1=hashlib.sha1(original).hexdigest(),  # noqa: S324 (as MediaWiki reports it)
            mime=spec.mime,
            extmetadata=self._extmetadata(spec, params.get("iiextmetadatafilter")),
        )
        return info

    def _extmetadata(self, spec: CommonsFileSpec, only: str | None) -> dict:
        short, url, _ = spec.licence
        artist_html = spec.artist[0]
        values = {
            "DateTime": "2024-01-01 00:00:00",
            "ObjectName": spec.title[len("File:"):].rsplit(".", 1)[0],
            "Credit": spec.credit[0].format(n=spec.n),
            "Artist": artist_html.format(n=spec.n) if artist_html else None,
            "LicenseShortName": short,
            "UsageTerms": self._usage_terms(short),
            "AttributionRequired": "true" if spec.attribution_required else "false",
            "LicenseUrl": url,
            "Copyrighted": "False" if short in ("CC0", "Public domain") else "True",
            "Restrictions": spec.restrictions,
            "Categories": "|".join(c[len("Category:"):] for c, (numbers, _) in CATEGORIES.items()
                                   if spec.n in numbers),
        }
        keys = set(only.split("|")) if only else set(values)
        return {key: {"value": value, "source": "commons-desc-page",
                      **({"hidden": True} if key == "Categories" else {})}
                for key, value in values.items() if value is not None and key in keys}

    @staticmethod
    def _usage_terms(short: str) -> str:
        """UsageTerms: the licence's long name (the license template's licensetpl_long)."""
        return f"Creative Commons {short}" if short.startswith("CC") else short

    # -- truth -------------------------------------------------------------------------------
    def truth(self) -> dict:
        """The Commons part of /truth.json (see docs/mirror.md)."""
        depths = {ROOT: 0}
        queue = [ROOT]
        while queue:
            category = queue.pop(0)
            for child in CATEGORIES[category][1]:
                if child not in depths:
                    depths[child] = depths[category] + 1
                    queue.append(child)
        return {
            "api_url": self.api_url,
            "root": ROOT,
            "standard_widths": list(STANDARD_WIDTHS),
            "retry_after_s": RETRY_AFTER_S,
            "rules": {"maxlag_at": MAXLAG_AT, "api_burst_at": API_BURST_AT,
                      "media_burst_at": MEDIA_BURST_AT, "max_limit": MAX_LIMIT,
                      "imageinfo_per_answer": IMAGEINFO_PER_ANSWER},
            "categories": {
                title: {"depth": depths[title], "subcategories": list(subcats),
                        "files": [f.title for f in self.category_files(title)]}
                for title, (_, subcats) in CATEGORIES.items()
            },
            "search": {SEARCH: [f.title for f in self.search(SEARCH)]},
            "files": [self._truth_row(spec) for spec in self.files],
        }

    def _truth_row(self, spec: CommonsFileSpec) -> dict:
        short, url, licence_id = spec.licence
        _, creator, creator_url = spec.artist
        return {
            "title": spec.title, "pageid": spec.pageid, "kind": spec.kind, "mime": spec.mime,
            "width": spec.width, "height": spec.height, "x_robots_tag": spec.x_robots_tag,
            "original_url": self.original_url(spec),
            "thumb_urls": {str(w): self.thumb_url(spec, w) for w in STANDARD_WIDTHS
                           if w < spec.width and spec.cake is not None},
            "landing_url": self.landing_url(spec),
            "name": spec.title[len("File:"):].rsplit(".", 1)[0],
            "license": licence_id, "license_short_name": short, "license_url": url,
            "creator": creator.format(n=spec.n) if creator else None,
            "creator_url": creator_url.format(n=spec.n) if creator_url else None,
            "credit": spec.credit[1].format(n=spec.n),
            "attribution_required": spec.attribution_required,
            "usage_terms": self._usage_terms(short),
            "restrictions": spec.restrictions,
        }


def _position(token: str | None) -> int:
    """The list position a ``cmcontinue``/``gcmcontinue`` token of ours points at."""
    if not token:
        return 0
    parts = token.split("|")
    return int(parts[1], 16) if len(parts) == 3 else 0


def _token(kind: str, position: int) -> str:
    """A continuation token shaped like MediaWiki's (``file|<hex sortkey>|<pageid>``)."""
    return f"{kind}|{position:04X}|{position + 1}"


def _api_error(code: str, info: str, **extra: object) -> tuple[int, dict[str, str], bytes]:
    doc = {"error": {"code": code, "info": info, **extra,
                     "docref": "See /w/api.php for API usage."}, "servedby": "mirror"}
    headers = {"Content-Type": "application/json; charset=utf-8", "MediaWiki-API-Error": code}
    return 200, headers, json.dumps(doc).encode()


def _too_many(why: str, retry_after: bool) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if retry_after:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return 429, headers, f"Too many requests: {why}\n".encode()
