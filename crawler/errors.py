"""Typed failures of the crawler: bad spider arguments and missing prerequisites."""

from synthset.errors import SynthsetError


class SpiderArgumentError(SynthsetError):
    """A ``-a name=value`` spider argument is missing, malformed or contradictory."""


class WordNetUnavailable(SynthsetError):
    """WORDNET_DIR holds no WordNet 3.0 noun files."""


class UnknownSynset(SynthsetError):
    """A synset name or id resolves to nothing, offline or through the API."""
