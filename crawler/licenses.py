"""Licence names from any source, normalised to one lower-case short id (``cc-by-sa-4.0``).

Wikimedia Commons names a licence in ``LicenseShortName`` ("CC BY-SA 4.0", "CC BY 2.0 de",
"CC0", "Public domain"); Openverse in two fields (``license="by-sa"``,
``license_version="4.0"``; ``"cc0"``, ``"pdm"``). Both become the ids the catalog stores:
``cc-<kind>-<version>[-<port>]``, ``cc0-1.0`` and ``pdm``. A name we cannot place is None,
never a guess.
"""

from __future__ import annotations

import re

# Creative Commons licence elements, as the sources spell them (lower case, in either order
# of nc/nd/sa): https://creativecommons.org/licenses/
CC_KINDS = frozenset({
    "by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd", "sampling+", "nc-sampling+",
})
CC0_ID = "cc0-1.0"
PUBLIC_DOMAIN_ID = "pdm"

# Names of public-domain status (not a licence) on Commons and Openverse, lower case.
_PUBLIC_DOMAIN_NAMES = frozenset({
    "pd", "pdm", "public domain", "public domain mark", "public domain mark 1.0", "pdm 1.0",
    "pdm-1.0", "no restrictions", "no known copyright restrictions",
})
_CC0_NAMES = frozenset({"cc0", "cc-0", "cc0 1.0", "cc0-1.0", "cc zero", "cc-zero"})
# "CC BY-SA 4.0", "CC-BY-SA-4.0", "cc by 2.0 de", "CC BY-SA 3.0 IGO", "CC BY 4.0 International"
_CC_NAME = re.compile(
    r"^cc[\s-]+(?P<kind>[a-z+]+(?:-[a-z+]+)*?)[\s-]+(?P<version>\d\.\d)"
    r"(?:[\s-]+(?P<port>[a-z]{2,3}))?$"
)
_VERSION = re.compile(r"^\d\.\d$")
_PORT_WORDS = frozenset({"int", "international", "unported", "generic"})  # no port, the default


def _kind(text: str) -> str | None:
    """The CC kind (``by-nc-sa``) of ``text`` with its elements in the canonical order, or None."""
    parts = [p for p in re.split(r"[\s-]+", text.strip().lower()) if p]
    if not parts:
        return None
    kind = "-".join(parts)
    if kind in CC_KINDS:
        return kind
    if parts[0] == "by" and set(parts[1:]) <= {"nc", "nd", "sa"}:  # "by-sa-nc" -> "by-nc-sa"
        ordered = "-".join(["by", *sorted(parts[1:], key=["nc", "nd", "sa"].index)])
        return ordered if ordered in CC_KINDS else None
    return None


def cc_id(kind: str, version: str, port: str | None = None) -> str | None:
    """``cc-<kind>-<version>[-<port>]`` for a CC licence, None if kind or version is unknown."""
    canonical = _kind(kind)
    if canonical is None or not _VERSION.match(version.strip()):
        return None
    port = (port or "").strip().lower()
    suffix = f"-{port}" if port and port not in _PORT_WORDS else ""
    return f"cc-{canonical}-{version.strip()}{suffix}"


def from_short_name(name: str | None) -> str | None:
    """The id of a Commons ``LicenseShortName`` ("CC BY-SA 4.0" -> ``cc-by-sa-4.0``), or None."""
    text = re.sub(r"\s+", " ", (name or "").strip().lower())
    if not text:
        return None
    if text in _CC0_NAMES:
        return CC0_ID
    if text in _PUBLIC_DOMAIN_NAMES:
        return PUBLIC_DOMAIN_ID
    for word in _PORT_WORDS:  # "CC BY 4.0 International" -> "cc by 4.0"
        text = re.sub(rf"\s+{word}$", "", text)
    match = _CC_NAME.match(text)
    if not match:
        return None
    return cc_id(match["kind"], match["version"], match["port"])


def from_openverse(code: str | None, version: str | None = None) -> str | None:
    """The id of an Openverse ``license``/``license_version`` pair (``by-sa``, ``4.0``), or None.

    ``cc0`` is always ``cc0-1.0`` and ``pdm`` always ``pdm``, whatever the version says.
    """
    code = (code or "").strip().lower()
    if code == "cc0":
        return CC0_ID
    if code == "pdm":
        return PUBLIC_DOMAIN_ID
    if not code or not version:
        return None
    return cc_id(code, version)

