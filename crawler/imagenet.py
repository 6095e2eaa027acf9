"""The legacy ImageNet text API (URLs and response parsers) and fall11-style URL lists."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlencode, urljoin

logger = logging.getLogger(__name__)

API_PATH = "api/text/"
MAX_LINE_CHARS = 8192  # characters; a longer line of a URL list or API answer is skipped
_WNID = re.compile(r"^n\d{8}$")
_IMAGE_ID = re.compile(r"^(n\d{8})_\d+$")


TooLong = Callable[[], None]  # called once per line skipped for its length


@dataclass(frozen=True)
class ListedUrl:
    """One image URL of a synset's list, with its ImageNet image id when the list has one."""

    wnid: str
    url: str
    image_id: str | None = None


def is_wnid(text: str) -> bool:
    """Whether ``text`` looks like a WordNet noun id (``n`` + 8 digits)."""
    return bool(_WNID.match(text))


def api_url(base_url: str, endpoint: str, **params: str) -> str:
    """The URL of text-API ``endpoint`` (e.g. ``imagenet.synset.geturls``) under ``base_url``."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    query = f"?{urlencode(params)}" if params else ""
    return urljoin(base, API_PATH + endpoint) + query


def mapping_url(base_url: str, wnid: str) -> str:
    """The URL listing ``wnid``'s images as ``W_N URL`` lines."""
    return api_url(base_url, "imagenet.synset.geturls.getmapping", wnid=wnid)


def hyponyms_url(base_url: str, wnid: str) -> str:
    """The URL listing all hyponyms of ``wnid`` (the whole subtree)."""
    return api_url(base_url, "wordnet.structure.hyponym", wnid=wnid, full="1")


def words_url(base_url: str, wnid: str) -> str:
    """The URL listing the words of ``wnid``."""
    return api_url(base_url, "wordnet.synset.getwords", wnid=wnid)


def synset_list_url(base_url: str) -> str:
    """The URL listing every wnid the API has images for."""
    return api_url(base_url, "imagenet.synset.obtain_synset_list")


def bounded_lines(
    handle: TextIO, limit: int = MAX_LINE_CHARS, on_too_long: TooLong | None = None
) -> Iterator[str]:
    """The lines of ``handle``, each read with at most ``limit + 1`` characters in memory.

    A line longer than ``limit`` characters (its line end not counted) is skipped, read
    past in ``limit``-sized pieces, with a warning and a call to ``on_too_long``.
    """
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) <= limit or line[limit:] == "\n":  # universal newlines: ends are \n
            yield line
            continue
        length = len(line)
        while not line.endswith("\n") and (line := handle.readline(limit)):
            length += len(line)
        length -= line.endswith("\n")  # the line end is not part of the line
        logger.warning("skipped line %(number)d: %(length)d characters, over %(limit)d",
                       {"number": number, "length": length, "limit": limit})
        if on_too_long is not None:
            on_too_long()


def _lines(text: str, on_too_long: TooLong | None = None) -> Iterator[str]:
    for line in bounded_lines(io.StringIO(text, newline=None), on_too_long=on_too_long):
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def parse_mapping(text: str, wnid: str, on_too_long: TooLong | None = None) -> list[ListedUrl]:
    """Parse a getmapping response (``W_N URL`` lines, CRLF or LF) for synset ``wnid``.

    Lines over ``MAX_LINE_CHARS`` are skipped (``on_too_long`` is called for each).
    """
    listed = []
    for line in _lines(text, on_too_long):
        image_id, _, url = line.partition(" ")
        if url.strip():
            listed.append(ListedUrl(wnid=wnid, url=url.strip(), image_id=image_id))
    return listed


def parse_hyponyms(text: str, on_too_long: TooLong | None = None) -> list[str]:
    """Parse a wordnet.structure.hyponym response: the wnid, then ``-HYPONYM`` lines."""
    found = [line.lstrip("-").strip() for line in _lines(text, on_too_long)]
    return [wnid for wnid in found if is_wnid(wnid)]


def parse_words(text: str, on_too_long: TooLong | None = None) -> list[str]:
    """Parse a wordnet.synset.getwords response: one word per line."""
    return list(_lines(text, on_too_long))


def iter_url_list(
    path: Path | str, wnids: Collection[str] | None = None, on_too_long: TooLong | None = None
) -> Iterator[ListedUrl]:
    """Stream a fall11_urls.txt-style file (``W_N<whitespace>URL``), keeping ``wnids`` only.

    The file is read line by line, so a 14M-line list never sits in memory, and no
    line is held whole past ``MAX_LINE_CHARS`` characters: a longer one is skipped
    with a warning (``on_too_long`` is called for each). Malformed lines are skipped.
    ``wnids=None`` keeps every synset.
    """
    wanted = set(wnids) if wnids is not None else None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in bounded_lines(handle, on_too_long=on_too_long):
            parts = line.split(None, 1)
            if len(parts) != 2:
                continue
            match = _IMAGE_ID.match(parts[0])
            if not match:
                continue
            wnid = match.group(1)
            if wanted is None or wnid in wanted:
                yield ListedUrl(wnid=wnid, url=parts[1].strip(), image_id=parts[0])
