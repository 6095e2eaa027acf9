"""The HTTP side of the mirror: a threaded server on 127.0.0.1 that answers from a Site."""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from crawler.mirror import commons
from crawler.mirror.openverse import LOG_PATH as OPENVERSE_LOG
from crawler.mirror.plan import Resource
from crawler.mirror.site import Site
from synthset.errors import SynthsetError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TEXT = "text/plain; charset=utf-8"
WNID_LENGTH = 9  # "n" + 8 digits
MAX_POST_BYTES = 64 * 1024  # a larger request body is refused (413)


class MirrorServer(ThreadingHTTPServer):
    """One thread per connection; holding threads (timeouts, latency) never block others."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, port: int) -> None:
        super().__init__((LOOPBACK, port), MirrorHandler)
        self.site: Site | None = None
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{LOOPBACK}:{self.server_address[1]}/"


# tcpmux's port: privileged and unused, so nothing listens there and connections are
# refused. Fixed (not a port that was free a moment ago) so the refused URLs stay the
# same from one mirror start to the next and a rerun of a crawl finds them already done.
REFUSED_PORT = 1


def closed_port() -> int:
    """A 127.0.0.1 port where nothing listens: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex((LOOPBACK, REFUSED_PORT)) == 0:
            raise SynthsetError(
                f"something listens on {LOOPBACK}:{REFUSED_PORT}; cannot plant refusals there"
            )
    return REFUSED_PORT


class MirrorHandler(BaseHTTPRequestHandler):
    """Routes a GET or HEAD to the text API or to the site's route table."""

    server: MirrorServer
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "synthset-mirror/1"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        """Answer a GET."""
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        """Answer a HEAD (headers only)."""
        self._answer(send_body=False)

    def do_POST(self) -> None:  # noqa: N802
        """Answer a POST (only the Openverse token endpoint takes one)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_POST_BYTES:
            self.close_connection = True
            self._send(413, TEXT, b"request body too large\n", None, True)
            return
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        try:
            if parts.path.startswith("/v1/"):
                self._openverse(parts.path, parts.query, body, send_body=True)
            else:
                self._send(405, TEXT, b"method not allowed\n", None, True)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Requests are logged at DEBUG only (stdout belongs to the base-URL line)."""
        log.debug("%s " + format, self.address_string(), *args)

    def _answer(self, send_body: bool) -> None:
        site = self.server.site
        assert site is not None
        parts = urlsplit(self.path)
        try:
            if parts.path.startswith("/v1/") or parts.path == OPENVERSE_LOG:
                self._openverse(parts.path, parts.query, b"", send_body)
                return
            if parts.path.startswith("/api/text/"):
                status, ctype, body = self._api(
                    site, parts.path[len("/api/text/") :], parse_qs(parts.query)
                )
                self._send(status, ctype, body, None, send_body)
                return
            if parts.path == commons.LOG_PATH or site.commons.role(parts.path):
                self._commons(site, parts.path, parse_qs(parts.query), send_body)
                return
            resource = site.planner.routes.get(parts.path)
            if resource is None:
                self._send(404, TEXT, b"not found\n", None, send_body)
                return
            self._serve(site, parts.path, resource, send_body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _openverse(self, path: str, query: str, body: bytes, send_body: bool) -> None:
        """The Openverse API stand-in (GET searches, POST tokens), or its request log."""
        api = self.server.site.openverse
        if path == OPENVERSE_LOG:
            self._send(200, "application/json", api.log_bytes(), None, send_body)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, extra, payload = api.answer(self.command, path, query, headers, body)
        self._send(status, "application/json", payload, None, send_body, extra)

    def _commons(
        self, site: Site, path: str, query: dict[str, list[str]], send_body: bool
    ) -> None:
        """The Commons API and media host (counted and logged), or their request log."""
        if path == commons.LOG_PATH:
            if query.get("reset"):
                site.commons.reset()
            self._send(200, "application/json", site.commons.log_json(), None, send_body)
            return
        role = site.commons.role(path)
        # in flight from arrival until the answer is handed over (the client may read it and
        # send its next request before this thread would get to count a finished write)
        with site.commons.request(role, self.path, self.headers.get("User-Agent", "")) as entry:
            status, headers, body = site.commons.answer(role, path, query, entry.number)
            entry.status = status
        ctype = headers.pop("Content-Type")
        self._send(status, ctype, body, None, send_body, headers)

    def _serve(self, site: Site, path: str, resource: Resource, send_body: bool) -> None:
        delay = resource.hold_s + (site.options.latency_ms / 1000 if resource.image else 0.0)
        if delay and self.server.stopping.wait(delay):
            self.close_connection = True
            return
        body = site.planner.body(path)
        self._send(resource.status, resource.content_type, body, resource.location, send_body)

    def _api(
        self, site: Site, endpoint: str, query: dict[str, list[str]]
    ) -> tuple[int, str, bytes]:
        if endpoint == "imagenet.synset.obtain_synset_list":
            return 200, TEXT, site.synset_list()
        wnid = query.get("wnid", [""])[0]
        if len(wnid) != WNID_LENGTH or not wnid.startswith("n") or not wnid[1:].isdigit():
            return 400, TEXT, b"bad or missing wnid\n"
        answers = {
            "imagenet.synset.geturls": site.geturls,
            "imagenet.synset.geturls.getmapping": site.getmapping,
            "wordnet.synset.getwords": site.getwords,
            "wordnet.structure.hyponym": lambda w: site.hyponym(
                w, query.get("full", ["0"])[0] == "1"
            ),
        }
        answer = answers.get(endpoint)
        if answer is None:
            return 404, TEXT, b"unknown API endpoint\n"
        return 200, TEXT, answer(wnid)

    def _send(
        self, status: int, ctype: str, body: bytes, location: str | None, send_body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)
