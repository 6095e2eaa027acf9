"""ATTRIBUTION.md: one credit line per exported image whose licence asks for credit (TASL)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from catalog.exports import ExportRow
from crawler.commons import NO_AUTHOR
from curate.licenses import parse_license

ATTRIBUTION_FILE = "ATTRIBUTION.md"
MAX_TEXT = 200  # characters of a title or creator name kept in a credit line
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


@dataclass(frozen=True)
class Exported:
    """One exported image: where it is in the export and the catalog facts behind it."""

    file: str  # export-relative path: images/train/00012.png
    split: str  # train or val
    row: ExportRow


def plain_text(text: str | None, limit: int = MAX_TEXT) -> str:
    """Untrusted text for one Markdown line: whitespace collapsed, capped, specials escaped."""
    collapsed = " ".join((text or "").split())
    if len(collapsed) > limit:
        collapsed = collapsed[: limit - 1].rstrip() + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", collapsed)


def safe_url(url: str | None) -> str | None:
    """``url`` for a Markdown link when it is http(s), with spaces and brackets escaped."""
    if not url or urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        return None
    return quote(url.strip(), safe="/:?#@!$&'*+,;=%~-._")


def link(text: str, url: str | None) -> str:
    """``[text](url)`` when ``url`` is safe to link, else ``text``."""
    target = safe_url(url)
    return f"[{text}]({target})" if target else text


def asks_for_credit(license_id: str | None) -> bool:
    """Whether an image under ``license_id`` needs a credit line (known licences that ask for
    it, and licences this table does not know); unknown (None) licences state nothing."""
    return bool(license_id) and parse_license(license_id).asks_for_credit


def credit_line(image: Exported) -> str:
    """Title, author, source and licence of one image, as CC's attribution guide asks.

    An author the source does not name is said to be unknown, with a link to the page that
    describes the image, as Commons' own "Use this file" credit does ("See page for author");
    a source's credit or title is never put in the author's place.
    """
    row = image.row
    license = parse_license(row.license or "")
    page = row.landing_url or row.url
    title = link(plain_text(row.title) or "Untitled", page)
    creator = (link(plain_text(row.creator), row.creator_url) if row.creator
               else f"an unknown author ({link(NO_AUTHOR.lower(), page)})")
    terms = link(plain_text(license.name), row.license_url or license.canonical_url)
    return f"- `{image.file}`: {title} by {creator}, licensed under {terms}."


def attribution_markdown(images: Sequence[Exported], changes: str) -> str:
    """ATTRIBUTION.md: a heading, what was changed, then one line per image that needs credit.

    Lines follow the export's order (manifest order); images under CC0, the Public Domain
    Mark or of unknown licence get none.
    """
    lines = [credit_line(image) for image in images if asks_for_credit(image.row.license)]
    head = [
        "# Attribution",
        "",
        f"{len(lines)} of the {len(images)} images of this export are used under licences that "
        "ask for credit; they are credited below (title, creator, source, licence).",
        f"Changes made to every image: {changes}.",
        "",
    ]
    return "\n".join(head + lines) + "\n"
