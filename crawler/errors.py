"""Typed failures of the crawler: bad spider arguments, missing prerequisites, dead sources."""

from synthset.errors import SynthsetError


class SpiderArgumentError(SynthsetError):
    """A ``-a name=value`` spider argument is missing, malformed or contradictory."""


class WordNetUnavailable(SynthsetError):
    """WORDNET_DIR holds no WordNet 3.0 noun files."""


class UnknownSynset(SynthsetError):
    """A synset name or id resolves to nothing, offline or through the API."""


class ImagenetApiUnavailable(SynthsetError):
    """The ImageNet text API (IMAGENET_API_URL) failed where the crawl could not do without it."""


class StartPagesUnreadable(SynthsetError):
    """Not one of the web_images spider's start pages could be fetched as HTML."""


class UnknownSpider(SynthsetError):
    """``scrapy crawl NAME`` names no spider of this project."""


class DataDirUnusable(SynthsetError):
    """SYNTHSET_DATA names a place where no catalog can be opened or created."""


class FrontierUnavailable(SynthsetError):
    """REDIS_URL is set, but scrapy-redis is not installed or the Redis server does not answer."""


class CrawlRunning(SynthsetError):
    """Another crawl's processes are using the same data directory or JOBDIR."""
