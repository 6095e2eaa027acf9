"""Opt-outs: ``X-Robots-Tag`` directives by which a site asks AI crawlers not to use an image.

A response opts out when one of its ``X-Robots-Tag`` headers holds a directive of
``OPTOUT_DIRECTIVES`` (``noai``, ``noimageai``) for every crawler (``noai``, or
``*: noai``) or for ours by name (``synthset: noimageai``). Directives named for another
crawler (``otherbot: noai``) do not apply. robots.txt is a separate matter, obeyed as ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from scrapy.exceptions import IgnoreRequest

OPTED_OUT = "opted_out"  # the urls.error token
DEFAULT_DIRECTIVES = ("noai", "noimageai")
ALL_AGENTS = "*"
# Directives that carry their own "name: value" (not a crawler's name before the colon).
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})


class OptedOut(IgnoreRequest):
    """The response asked not to be used for AI (``X-Robots-Tag``); its body is dropped."""

    token = OPTED_OUT


def robots_tag_directives(values: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(agent, directive)`` pairs of ``X-Robots-Tag`` header values, lower case.

    ``"otherbot: noai, nofollow"`` gives ``("otherbot", "noai")`` and
    ``("otherbot", "nofollow")``; a directive with no crawler named has agent ``*``.
    """
    for value in values:
        agent = ALL_AGENTS
        for part in value.split(","):
            name, colon, rest = part.partition(":")
            name = name.strip().lower()
            if colon and name not in _VALUED and " " not in name:
                agent, part = name, rest
            directive = part.strip().lower()
            if directive:
                yield agent, directive


def opts_out(values: Iterable[str], directives: Iterable[str], bot_name: str) -> str | None:
    """The first directive of ``directives`` that ``values`` set for all or for ``bot_name``."""
    wanted = {d.strip().lower() for d in directives if d.strip()}
    agents = {ALL_AGENTS, bot_name.strip().lower()}
    for agent, directive in robots_tag_directives(values):
        if agent in agents and directive in wanted:
            return directive
    return None
