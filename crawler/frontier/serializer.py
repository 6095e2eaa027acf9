"""Requests as JSON for the Redis queue (scrapy-redis' SCHEDULER_SERIALIZER), never pickle.

A queued request is data another worker will act on, so it is decoded as plain
JSON: bytes, dicts with non-text keys and the :class:`DiscoveredUrl` a request
carries are tagged objects, and nothing else is turned back into a Python object.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, fields
from typing import Any

from catalog.harvest import DiscoveredUrl

_BYTES, _PAIRS, _DISCOVERED = "__bytes__", "__pairs__", "__discovered_url__"
_DISCOVERED_FIELDS = frozenset(f.name for f in fields(DiscoveredUrl))


def _encoded(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, DiscoveredUrl):
        return {_DISCOVERED: asdict(value)}
    if isinstance(value, list | tuple):
        return [_encoded(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not ({_BYTES, _PAIRS, _DISCOVERED}
                                                               & value.keys()):
            return {key: _encoded(item) for key, item in value.items()}
        return {_PAIRS: [[_encoded(key), _encoded(item)] for key, item in value.items()]}
    raise TypeError(f"cannot queue a {type(value).__name__} in the Redis frontier")


def _decoded(value: Any) -> Any:
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and _BYTES in value:
        return base64.b64decode(value[_BYTES])
    if len(value) == 1 and _PAIRS in value:
        return {_decoded(key): _decoded(item) for key, item in value[_PAIRS]}
    if len(value) == 1 and _DISCOVERED in value:
        known = {k: v for k, v in value[_DISCOVERED].items() if k in _DISCOVERED_FIELDS}
        return DiscoveredUrl(**known)
    return {key: _decoded(item) for key, item in value.items()}


def dumps(request: dict[str, Any]) -> str:
    """A request dict (``Request.to_dict``) as JSON text."""
    return json.dumps(_encoded(request), separators=(",", ":"))


def loads(text: str | bytes) -> dict[str, Any]:
    """The request dict of :func:`dumps`' text."""
    return _decoded(json.loads(text))
