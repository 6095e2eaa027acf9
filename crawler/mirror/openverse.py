"""A stand-in for the Openverse API (``/v1/``): image search, client-credentials tokens, throttling.

Shapes follow api.openverse.org: ``GET /v1/images/?q=&license=&license_type=&source=&mature=
&page=&page_size=`` answers ``result_count``, ``page_count``, ``page_size``, ``page`` and
``results`` (id, title, foreign_landing_url, url, creator, creator_url, license,
license_version, license_url, attribution, source, provider, mature, thumbnail, ...).
Anonymous callers get ``page_size`` <= 20 (more: 401) and at most ``ANONYMOUS_RESULTS``
results per query (a page beyond: 400 naming ``page``, like the API's pagination-depth
error); a token from ``POST /v1/auth_tokens/token/`` lifts both to page_size <= 500 and
page <= 20. As the API's pagination does, ``page_count`` is capped at the deepest page the
caller may ask for while ``result_count`` counts every match. Results marked ``mature`` are
left out unless ``mature`` is true (the API's default is false). A burst is
throttled: the ``THROTTLE_AT``-th request of one search (same q and filters, any page) from
one caller gets a 429 with ``Retry-After: 1`` (once), and so does every search of that caller
until the Retry-After has passed, so a client that does not wait gets a second 429.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from math import ceil
from urllib.parse import parse_qs

import numpy as np

from crawler.mirror import encoding
from crawler.mirror.drawing import random_cake_spec
from crawler.mirror.plan import Planner, picture

CLIENT_ID = "synthset-mirror-client"  # the one registered client the mirror knows
CLIENT_SECRET = "synthset-mirror-secret"
ANONYMOUS_PAGE_SIZE = 20  # largest anonymous page_size (the API's MAX_ANONYMOUS_PAGE_SIZE)
AUTHED_PAGE_SIZE = 500  # largest page_size with a token (MAX_AUTHED_PAGE_SIZE)
MAX_PAGE = 20  # the API's MAX_PAGINATION_DEPTH
ANONYMOUS_RESULTS = 240  # results an anonymous caller can page through, per query
THROTTLE_AT = 5  # the 5th request of a search (per caller) is throttled, once
RETRY_AFTER_S = 1  # the 429's Retry-After, seconds
TOKEN_EXPIRES_S = 36000
JSON = "application/json"
LOG_PATH = "/_mirror/openverse-log.json"  # every /v1/ request so far (not part of the API)

# license code -> (version, human name, deed URL path); a cycle the images take in turn
LICENSES = (
    ("by", "4.0"), ("by-sa", "4.0"), ("cc0", "1.0"), ("by", "2.0"), ("pdm", "1.0"),
    ("by-nc", "2.0"), ("by-sa", "3.0"), ("by-nd", "4.0"), ("by-nc-sa", "2.0"),
)
LICENSE_TYPES = {  # the API's LICENSE_GROUPS
    "commercial": {"by", "by-sa", "by-nd", "cc0", "pdm"},
    "modification": {"by", "by-sa", "by-nc", "by-nc-sa", "cc0", "pdm"},
    "all-cc": {"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "cc0"},
    "all": {"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "cc0", "pdm"},
}
# (source, provider): the dataset an image was indexed from, and the site that hosts it
# (the API's own example: Google Open Images is source=openimages, provider=flickr)
SOURCES = (("flickr", "flickr"), ("wikimedia", "wikimedia"), ("stocksnap", "stocksnap"),
           ("openimages", "flickr"))
# (words in the title, how many images): "ice cream cake" exceeds the anonymous cap
SUBJECTS = (("Ice cream cake", 300), ("Birthday cake", 30), ("Tench", 5))
DEAD_EVERY = 50  # every 50th image's url answers 404 (Openverse indexes dead links too)
MATURE_EVERY = 25  # every 25th image (the 13th, 38th, ...) is marked mature
TRUE_VALUES = {"t", "y", "yes", "true", "on", "1"}  # what DRF's BooleanField reads as true


@dataclass(frozen=True)
class OpenverseImage:
    """One indexed image, as the API describes it (plus where the mirror serves it)."""

    id: str
    title: str
    foreign_landing_url: str
    url: str
    creator: str | None
    creator_url: str | None
    license: str
    license_version: str
    license_url: str
    attribution: str
    source: str
    provider: str
    mature: bool
    thumbnail: str
    tags: tuple[str, ...]
    dead: bool  # the url answers 404

    def result(self, base_url: str) -> dict:
        """The API's JSON object for this image."""
        shown = asdict(self)
        del shown["dead"]
        shown["tags"] = [{"name": tag, "accuracy": None, "unstable__provider": self.provider}
                         for tag in self.tags]
        return {**shown, "category": "photograph", "filesize": None, "filetype": "jpg",
                "width": None, "height": None, "fields_matched": ["title"],
                "detail_url": f"{base_url}v1/images/{self.id}/",
                "related_url": f"{base_url}v1/images/{self.id}/related/",
                "unstable__sensitivity": ["user_reported_sensitive"] if self.mature else []}


def license_url(code: str, version: str) -> str:
    """The Creative Commons deed of a licence code and version."""
    if code == "cc0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if code == "pdm":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    return f"https://creativecommons.org/licenses/{code}/{version}/"


def license_name(code: str, version: str) -> str:
    """How the API names a licence in attributions: ``CC BY-SA 4.0``, ``CC0 1.0``, ``PDM``..."""
    if code == "pdm":
        return f"Public Domain Mark {version}"
    if code == "cc0":
        return f"CC0 {version}"
    return f"CC {code.upper()} {version}"


def attribution(title: str, creator: str | None, code: str, version: str) -> str:
    """The API's ready-made credit line."""
    by = f' by {creator}' if creator else ""
    verb = "is marked with" if code in ("cc0", "pdm") else "is licensed under"
    return (f'"{title}"{by} {verb} {license_name(code, version)}. To view '
            f"{'the terms' if code in ('cc0', 'pdm') else 'a copy of this license'}, "
            f"visit {license_url(code, version)}.")


class OpenverseApi:
    """The indexed images, their routes, tokens and the throttle; answers /v1/ requests."""

    def __init__(self, planner: Planner, seed: int) -> None:
        self.planner = planner
        self.base_url = planner.base_url
        rng = np.random.default_rng([seed, 42])  # its own stream: the rest of the site is unmoved
        self.images: list[OpenverseImage] = []
        for subject, count in SUBJECTS:
            for n in range(count):
                self.images.append(self._plant(rng, subject, n, len(self.images)))
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._searches: dict[tuple[str, str], int] = {}  # (caller, search) -> requests so far
        self._blocked: dict[str, float] = {}  # caller -> monotonic time its 429 wait ends
        self.log: list[dict] = []  # every /v1/ request: t (monotonic), path, status, bearer

    def _plant(self, rng: np.random.Generator, subject: str, n: int, index: int) -> OpenverseImage:
        image_id = str(uuid.UUID(int=int(rng.integers(2**63)) << 64 | index, version=4))
        code, version = LICENSES[index % len(LICENSES)]
        source, provider = SOURCES[index % len(SOURCES)]
        title = f"{subject} {n + 1}"
        creator = None if index % 7 == 3 else f"Baker {index % 13}"
        dead = index % DEAD_EVERY == DEAD_EVERY - 1
        path = f"/openverse/img/{image_id}.jpg"
        if dead:
            self.planner.add_bytes(path, lambda: encoding.html_page("404 Not Found"), status=404)
        else:
            spec = random_cake_spec(int(rng.integers(2**31)))
            self.planner.add_bytes(path, lambda: encoding.jpeg(picture(spec), quality=88))
        return OpenverseImage(
            id=image_id, title=title,
            foreign_landing_url=f"{self.base_url}openverse/{source}/photos/{index}",
            url=self.planner.url(path),
            creator=creator,
            creator_url=None if creator is None or index % 5 == 0
            else f"{self.base_url}openverse/{source}/people/{index % 13}",
            license=code, license_version=version, license_url=license_url(code, version),
            attribution=attribution(title, creator, code, version),
            source=source, provider=provider, mature=index % MATURE_EVERY == MATURE_EVERY // 2,
            thumbnail=f"{self.base_url}v1/images/{image_id}/thumb/",
            tags=tuple(subject.lower().split()), dead=dead,
        )

    # -- requests -------------------------------------------------------------------------------
    def answer(self, method: str, path: str, query: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, extra headers, JSON body) for a request under /v1/; logged."""
        bearer = _bearer(headers.get("authorization", ""))
        if path == "/v1/auth_tokens/token/" and method == "POST":
            answer = self._token(headers.get("content-type", ""), body)
        elif path == "/v1/images/" and method in ("GET", "HEAD"):
            answer = self._search(parse_qs(query), bearer)
        else:
            answer = 404, {}, {"detail": "Not found."}
        status, extra, payload = answer
        with self._lock:
            self.log.append({"t": time.monotonic(), "method": method,
                             "path": path + (f"?{query}" if query else ""), "status": status,
                             "bearer": bearer})
        return status, extra, json.dumps(payload).encode()

    def log_bytes(self) -> bytes:
        """Every /v1/ request so far, as JSON (for tests)."""
        with self._lock:
            return json.dumps(self.log).encode()

    def _token(self, content_type: str, body: bytes) -> tuple[int, dict, dict]:
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return 400, {}, {"error": "invalid_request"}  # the API takes form data only
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type"}
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {}, {"error": "invalid_client"}
        with self._lock:
            token = f"mirror-token-{len(self._tokens) + 1}"
            self._tokens.add(token)
        return 200, {}, {"access_token": token, "scope": "read write groups",
                         "expires_in": TOKEN_EXPIRES_S, "token_type": "Bearer"}

    def _throttled(self, caller: str, params: dict[str, str]) -> int | None:
        """Seconds to ask the caller to wait (a 429), or None to answer."""
        now = time.monotonic()
        search = json.dumps(sorted((k, v) for k, v in params.items() if k != "page"))
        with self._lock:
            if now < self._blocked.get(caller, 0.0):
                return max(1, ceil(self._blocked[caller] - now))
            seen = self._searches[caller, search] = self._searches.get((caller, search), 0) + 1
            if seen == THROTTLE_AT:
                self._blocked[caller] = now + RETRY_AFTER_S
                return RETRY_AFTER_S
            return None

    def _search(self, query: dict[str, list[str]], bearer: str | None) -> tuple[int, dict, dict]:
        if bearer is not None and bearer not in self._tokens:
            return 401, {}, {"detail": "Authentication credentials were not valid."}
        authed = bearer is not None
        params = {name: values[0] for name, values in query.items()}
        wait = self._throttled(bearer or "anonymous", params)
        if wait is not None:
            return 429, {"Retry-After": str(wait)}, {
                "detail": f"Request was throttled. Expected available in {wait} second."
            }
        try:
            page = int(params.get("page", "1"))
            page_size = int(params.get("page_size", str(ANONYMOUS_PAGE_SIZE)))
        except ValueError:
            return 400, {}, {"detail": {"page": ["A valid integer is required."]}}
        largest = AUTHED_PAGE_SIZE if authed else ANONYMOUS_PAGE_SIZE
        if page_size > largest:
            message = f"Ensure this value is less than or equal to {largest}."
            return (401, {}, {"detail": message}) if not authed else (
                400, {}, {"detail": {"page_size": [message]}})
        deepest = MAX_PAGE if authed else min(MAX_PAGE, ANONYMOUS_RESULTS // page_size)
        if not 1 <= page <= deepest or page_size < 1:
            return 400, {}, {"detail": {"page": [
                f"Ensure this value is less than or equal to {deepest}."
            ]}}
        try:
            matches = self.matches(params)
        except ValueError as error:
            return 400, {}, {"detail": {str(error.args[0]): [str(error.args[1])]}}
        shown = matches[(page - 1) * page_size : page * page_size]
        if not shown:
            count, pages = 0, 0
        else:
            count, pages = len(matches), min(deepest, ceil(len(matches) / page_size))
            if len(shown) < page_size:
                pages = page  # the API's way of saying the query is exhausted
        return 200, {}, {"result_count": count, "page_count": pages, "page_size": page_size,
                         "page": page, "results": [i.result(self.base_url) for i in shown]}

    def matches(self, params: dict[str, str]) -> list[OpenverseImage]:
        """The images a search finds, in rank order (every word of q in title or tags);
        those marked mature only when ``mature`` is true.

        :raises ValueError: ``(parameter, message)`` for an unknown licence or licence type.
        """
        words = params.get("q", "").lower().split()
        allowed = set(LICENSE_TYPES["all"])
        if params.get("license"):
            codes = set(params["license"].lower().split(","))
            unknown = codes - LICENSE_TYPES["all"]
            if unknown:
                raise ValueError("license", f"License '{sorted(unknown)[0]}' does not exist.")
            allowed &= codes
        for kind in filter(None, params.get("license_type", "").lower().split(",")):
            if kind not in LICENSE_TYPES:
                raise ValueError("license_type", f"License type '{kind}' does not exist.")
            allowed &= LICENSE_TYPES[kind]
        sources = set(filter(None, params.get("source", "").lower().split(",")))
        mature = params.get("mature", "").strip().lower() in TRUE_VALUES
        return [
            image for image in self.images
            if all(w in image.title.lower().split() or w in image.tags for w in words)
            and image.license in allowed and (not sources or image.source in sources)
            and (mature or not image.mature)
        ]

    def truth(self) -> dict:
        """The ``openverse`` part of /truth.json."""
        return {
            "api_url": f"{self.base_url}v1/",
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "anonymous_page_size": ANONYMOUS_PAGE_SIZE, "anonymous_results": ANONYMOUS_RESULTS,
            "max_page": MAX_PAGE, "throttle_at": THROTTLE_AT, "retry_after_s": RETRY_AFTER_S,
            "images": [{**self._truth_row(image)} for image in self.images],
        }

    def _truth_row(self, image: OpenverseImage) -> dict:
        row = asdict(image)
        row["tags"] = list(image.tags)
        row["http_status"] = 404 if image.dead else 200
        row["stored"] = not image.dead
        return row


def _bearer(authorization: str) -> str | None:
    kind, _, token = authorization.partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None
