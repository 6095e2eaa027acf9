"""Offline WordNet 3.0 noun lookups: names to wnids, hyponym walks, words and glosses."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.errors import WordNetUnavailable

logger = logging.getLogger(__name__)

INDEX_FILE = "index.noun"
DATA_FILE = "data.noun"
HYPONYM_POINTERS = frozenset({"~"})  # "~i" (instance hyponyms) are proper nouns, not kinds
HYPERNYM_POINTERS = frozenset({"@"})
_WNID = re.compile(r"^n(\d{8})$")


@dataclass(frozen=True)
class NounSynset:
    """One WordNet noun synset as read from data.noun."""

    wnid: str
    words: tuple[str, ...]
    gloss: str
    hypernyms: tuple[str, ...]
    hyponyms: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        """The first hypernym (WordNet's is-a parent), if any."""
        return self.hypernyms[0] if self.hypernyms else None


def wnid_offset(wnid: str) -> int:
    """The byte offset in data.noun of ``wnid`` (``n07631926`` -> 7631926).

    :raises ValueError: if ``wnid`` is not an ``n`` followed by eight digits.
    """
    match = _WNID.match(wnid)
    if not match:
        raise ValueError(f"{wnid!r} is not a WordNet noun id (n + 8 digits)")
    return int(match.group(1))


def lemma_key(name: str) -> str:
    """How WordNet's index spells a name: lower case, words joined by underscores."""
    return "_".join(name.strip().lower().split())


def parse_data_line(line: str) -> NounSynset:
    """Parse one data.noun line (``offset lex ss_type w_cnt words... p_cnt ptrs... | gloss``)."""
    fields_part, _, gloss = line.partition(" | ")
    fields = fields_part.split()
    offset, word_count = fields[0], int(fields[3], 16)
    words = tuple(fields[4 + 2 * i].replace("_", " ") for i in range(word_count))
    # Adjective markers like "(a)" never occur on nouns, so words need no cleaning.
    at = 4 + 2 * word_count
    pointer_count = int(fields[at])
    hypernyms, hyponyms = [], []
    for i in range(pointer_count):
        symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
        if pos != "n":
            continue
        if symbol in HYPONYM_POINTERS:
            hyponyms.append(f"n{target}")
        elif symbol in HYPERNYM_POINTERS:
            hypernyms.append(f"n{target}")
    return NounSynset(
        wnid=f"n{offset}",
        words=words,
        gloss=gloss.strip(),
        hypernyms=tuple(hypernyms),
        hyponyms=tuple(hyponyms),
    )


class WordNet:
    """Reads WordNet 3.0's noun files (data.noun, index.noun) from one directory.

    Synset offsets are byte offsets into data.noun, so a lookup is one seek.
    """

    def __init__(self, directory: Path | str) -> None:
        """Open the WordNet in ``directory``.

        :raises WordNetUnavailable: if data.noun or index.noun is missing there.
        """
        self.directory = Path(directory)
        missing = [n for n in (DATA_FILE, INDEX_FILE) if not (self.directory / n).is_file()]
        if missing:
            raise WordNetUnavailable(
                f"no WordNet 3.0 {', '.join(missing)} in {self.directory}; install the Debian "
                "package wordnet-base or set WORDNET_DIR"
            )

    @staticmethod
    def available(directory: Path | str) -> bool:
        """Whether ``directory`` holds WordNet's noun files, readable as UTF-8 text."""
        try:
            for name in (DATA_FILE, INDEX_FILE):
                with open(Path(directory) / name, encoding="utf-8") as handle:
                    handle.readline()
        except (OSError, UnicodeDecodeError):
            return False
        return True

    def lookup(self, name: str) -> list[str]:
        """The wnids of every noun sense of ``name``, most frequent sense first ([] if unknown)."""
        key = lemma_key(name)
        if not key:
            return []
        prefix = key + " "
        with open(self.directory / INDEX_FILE, encoding="utf-8") as index:
            for line in index:
                if line.startswith(prefix):
                    fields = line.split()
                    sense_count = int(fields[2])
                    return [f"n{offset}" for offset in fields[-sense_count:]]
        return []

    def synset(self, wnid: str) -> NounSynset:
        """The synset ``wnid``.

        :raises KeyError: if ``wnid`` is not a synset of this WordNet.
        """
        offset = wnid_offset(wnid)
        with open(self.directory / DATA_FILE, "rb") as data:
            data.seek(offset)
            line = data.readline().decode("utf-8")
        if not line.startswith(f"{offset:08d} "):
            raise KeyError(f"{wnid} is not a noun synset of the WordNet in {self.directory}")
        return parse_data_line(line)

    def walk_hyponyms(self, wnid: str) -> Iterator[NounSynset]:
        """``wnid`` and all its hyponyms, recursively, depth first, each once.

        :raises KeyError: if ``wnid`` is not a synset of this WordNet.
        """
        seen: set[str] = set()
        stack = [wnid]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            synset = self.synset(current)
            yield synset
            stack.extend(reversed(synset.hyponyms))
