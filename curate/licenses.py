"""Licence families: what a licence id means, and the ``--license`` filter of an export."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from synthset.errors import SynthsetError


class InvalidLicenseFilter(SynthsetError, ValueError):
    """A ``--license`` value that names no licence family or shorthand."""


@dataclass(frozen=True)
class Family:
    """One licence family (every version of it): its name, link and what it allows."""

    name: str  # as the licence names itself, before the version: "CC BY-SA"
    url: str  # with {version} where the licence has versions
    credit: bool  # asks for attribution
    commercial: bool
    modification: bool
    hf_ids: tuple[str, ...] = ()  # versions Hugging Face's card `license` field knows by id


_CC = "https://creativecommons.org/licenses/{path}/{{version}}/"
FAMILIES: dict[str, Family] = {
    "cc0": Family("CC0", "https://creativecommons.org/publicdomain/zero/{version}/",
                  False, True, True, ("cc0-1.0",)),
    "pdm": Family("Public Domain Mark", "https://creativecommons.org/publicdomain/mark/1.0/",
                  False, True, True),
    "cc-by": Family("CC BY", _CC.format(path="by"), True, True, True,
                    ("cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0")),
    "cc-by-sa": Family("CC BY-SA", _CC.format(path="by-sa"), True, True, True,
                       ("cc-by-sa-3.0", "cc-by-sa-4.0")),
    "cc-by-nd": Family("CC BY-ND", _CC.format(path="by-nd"), True, True, False,
                       ("cc-by-nd-4.0",)),
    "cc-by-nc": Family("CC BY-NC", _CC.format(path="by-nc"), True, False, True,
                       ("cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0")),
    "cc-by-nc-sa": Family("CC BY-NC-SA", _CC.format(path="by-nc-sa"), True, False, True,
                          ("cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0")),
    "cc-by-nc-nd": Family("CC BY-NC-ND", _CC.format(path="by-nc-nd"), True, False, False,
                          ("cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0")),
}
SHORTHANDS: dict[str, tuple[str, ...]] = {
    "commercial": tuple(key for key, family in FAMILIES.items() if family.commercial),
    "modification": tuple(key for key, family in FAMILIES.items() if family.modification),
}
UNKNOWN = "unknown"  # the rule that leaves out images of no known licence
NOT_SELECTED = "not_selected"  # the rule that leaves out images of other licences
# family, then an optional version (4.0, 2.5), then an optional jurisdiction port (-de, -igo)
_LICENSE_ID = re.compile(r"^(?P<family>[a-z0-9+]+(?:-[a-z+]+)*?)"
                         r"(?:-(?P<version>\d+(?:\.\d+)*)(?:-(?P<port>[a-z]{2,3}))?)?$")


@dataclass(frozen=True)
class License:
    """A licence id from the catalog, split into its family and version."""

    id: str  # lower-case short id as the catalog holds it: cc-by-sa-4.0
    family: str  # cc-by-sa
    version: str | None  # 4.0
    port: str | None = None  # a jurisdiction port: de, igo

    @property
    def known(self) -> Family | None:
        """The family's entry in :data:`FAMILIES`, or None for a licence this table lacks."""
        return FAMILIES.get(self.family)

    @property
    def name(self) -> str:
        """The licence as it names itself: ``CC BY-SA 4.0``, ``CC BY 2.0 de``; the id for an
        unknown family."""
        family = self.known
        if family is None:
            return self.id
        if not self.version:
            return family.name
        port = f" {self.port.upper() if self.port == 'igo' else self.port}" if self.port else ""
        return f"{family.name} {self.version}{port}"

    @property
    def canonical_url(self) -> str | None:
        """The licence's deed, when the family and (where it has versions) the version are known."""
        family = self.known
        if family is None or ("{version}" in family.url and not self.version):
            return None
        url = family.url.format(version=self.version)
        return f"{url}{self.port}/" if self.port and self.version else url

    @property
    def asks_for_credit(self) -> bool:
        """Whether the licence asks for attribution (an unknown licence is assumed to)."""
        family = self.known
        return True if family is None else family.credit


def parse_license(license_id: str) -> License:
    """Split a catalog licence id (``cc-by-sa-4.0``, ``cc0-1.0``, ``pdm``) into its parts."""
    text = license_id.strip().lower()
    match = _LICENSE_ID.match(text)
    if match is None:
        return License(text, text, None)
    return License(text, match["family"], match["version"], match["port"])


@dataclass(frozen=True)
class LicenseFilter:
    """The licence families (or exact licence ids) an export keeps; empty keeps everything."""

    families: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()  # exact, versioned ids such as cc-by-4.0

    @property
    def active(self) -> bool:
        """Whether any filter was asked for (then unknown licences are left out)."""
        return bool(self.families or self.ids)

    def rule_against(self, license_id: str | None) -> str | None:
        """The rule that leaves an image of ``license_id`` out, or None if it is kept."""
        if not self.active:
            return None
        if not license_id:
            return UNKNOWN
        parsed = parse_license(license_id)
        if parsed.family in self.families or parsed.id in self.ids:
            return None
        return NOT_SELECTED

    def describe(self) -> list[str]:
        """The selection, sorted: families, then exact ids."""
        return sorted(self.families) + sorted(self.ids)


@dataclass
class FilterCounts:
    """What a licence filter left out: per rule, and per licence id under each rule."""

    by_rule: Counter[str] = field(default_factory=Counter)
    by_license: Counter[str] = field(default_factory=Counter)

    def add(self, rule: str, license_id: str | None) -> None:
        """Count one image left out by ``rule``."""
        self.by_rule[rule] += 1
        self.by_license[license_id or UNKNOWN] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        """JSON-ready, keys sorted, with both rules present."""
        rules = {rule: self.by_rule.get(rule, 0) for rule in (UNKNOWN, NOT_SELECTED)}
        return {"by_rule": rules, "by_license": dict(sorted(self.by_license.items()))}


def valid_filter_values() -> list[str]:
    """Every value ``--license`` accepts by name: families and shorthands."""
    return [*FAMILIES, *SHORTHANDS]


def parse_license_filter(text: str | None) -> LicenseFilter:
    """``cc0,pdm,cc-by,cc-by-sa``, ``commercial``, ``cc-by-4.0`` ... into a :class:`LicenseFilter`.

    A family name (no version) matches every version; an id with a version only that version;
    a shorthand every family that allows it. None or an empty text selects nothing (no filter).

    :raises InvalidLicenseFilter: naming the bad value and listing the valid ones.
    """
    families: set[str] = set()
    ids: set[str] = set()
    for value in (part.strip().lower() for part in (text or "").split(",")):
        if not value:
            continue
        if value in SHORTHANDS:
            families.update(SHORTHANDS[value])
        elif value in FAMILIES:
            families.add(value)
        elif parse_license(value).family in FAMILIES and parse_license(value).version:
            ids.add(value)
        else:
            raise InvalidLicenseFilter(
                f"--license {value!r} is not a licence family; use a comma-separated list of "
                f"{', '.join(valid_filter_values())} (or a versioned id such as cc-by-4.0)"
            )
    return LicenseFilter(frozenset(families), frozenset(ids))


def hugging_face_license(license_ids: set[str | None]) -> list[str]:
    """The card's ``license`` list: Hugging Face ids where it has one, else ``other``
    (``unknown`` for images of no known licence), sorted."""
    known = {hf for family in FAMILIES.values() for hf in family.hf_ids}
    out = set()
    for license_id in license_ids:
        if not license_id:
            out.add("unknown")
            continue
        parsed = parse_license(license_id)
        out.add(parsed.id if parsed.id in known else "other")
    return sorted(out)
