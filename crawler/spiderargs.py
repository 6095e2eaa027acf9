"""Parsing ``-a name=value`` spider arguments: flags, counts, lists, files and unknown names."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crawler.errors import SpiderArgumentError
from crawler.imagenet import is_wnid

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def parse_flag(name: str, value: str | bool | None) -> bool:
    """A yes/no spider argument (``-a hyponyms=1``).

    :raises SpiderArgumentError: for anything but 1/0, true/false, yes/no, on/off.
    """
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SpiderArgumentError(f"-a {name}={value!r}: expected 1 or 0")


def parse_count(name: str, value: str | int | None, minimum: int = 1) -> int | None:
    """A whole-number spider argument >= ``minimum`` (``-a limit=50``), None when not given.

    :raises SpiderArgumentError: for anything but a whole number >= ``minimum``.
    """
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum or str(number) != str(value).strip():
        raise SpiderArgumentError(f"-a {name}={value!r}: expected a whole number >= {minimum}")
    return number


def split_list(value: str | None) -> list[str]:
    """The non-empty, stripped items of a comma-separated spider argument."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_wnids(value: str | None) -> tuple[str, ...]:
    """The comma-separated WordNet ids of ``-a wnid=``, each checked.

    :raises SpiderArgumentError: naming the first id that is not n + 8 digits.
    """
    wnids = tuple(split_list(value))
    bad = [w for w in wnids if not is_wnid(w)]
    if bad:
        raise SpiderArgumentError(f"-a wnid={bad[0]!r}: a wnid is n + 8 digits, e.g. n07631926")
    return wnids


def readable_file(name: str, value: str) -> Path:
    """The path of a ``-a name=PATH`` argument, checked to be a file this process can open.

    :raises SpiderArgumentError: if there is no such file or it cannot be opened.
    """
    path = Path(value).expanduser()
    if not path.is_file():
        raise SpiderArgumentError(f"-a {name}={value!r}: no such file")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        raise SpiderArgumentError(
            f"-a {name}={value!r}: cannot be read ({error.strerror or error})"
        ) from None
    return path


def passed_through(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``_``-prefixed arguments that tools such as scrapyd add (``_job``), for Spider."""
    return {name: value for name, value in kwargs.items() if name.startswith("_")}


def reject_unknown(spider: str, parser: Callable[..., Any], extra: Mapping[str, Any]) -> None:
    """Refuse arguments in ``extra`` that ``parser`` does not name (``_``-prefixed ones pass).

    :raises SpiderArgumentError: naming the first unknown argument and the known ones.
    """
    unknown = sorted(name for name in extra if not name.startswith("_"))
    if not unknown:
        return
    known = [
        param.name for param in inspect.signature(parser).parameters.values()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    raise SpiderArgumentError(
        f"-a {unknown[0]}={extra[unknown[0]]!r}: {spider} has no such argument; "
        f"use {', '.join(known)}"
    )
