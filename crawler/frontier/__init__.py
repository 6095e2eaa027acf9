"""The shared crawl frontier: scrapy-redis, switched on by ``-s REDIS_URL=redis://host:6379``.

Every worker (any number, on any number of machines, each with its own
SYNTHSET_DATA) runs the same ``scrapy crawl`` with the same REDIS_URL. Requests
go to one queue in Redis and a request fingerprint seen by any worker is not
queued again (scrapy-redis' scheduler and duplicate filter), so each image URL
is fetched by one worker. :class:`~crawler.frontier.scheduler.LeasingScheduler`
adds what scrapy-redis leaves out: a request a worker took but had not recorded
when it died is put back in the queue. Requests travel as JSON
(:mod:`crawler.frontier.serializer`), never pickled. Merge the workers' data
directories afterwards with ``curate merge``.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import BaseSettings

from crawler.errors import FrontierUnavailable

KEY_PREFIX = "synthset"


def frontier_key(settings: BaseSettings, name: str) -> str:
    """The Redis key ``name`` of this crawl (``%(spider)s`` stands for the spider's name)."""
    crawl_id = (settings.get("REDIS_CRAWL_ID") or "").replace("%", "%%") or "%(spider)s"
    return f"{KEY_PREFIX}:{crawl_id}:{name}"


class RedisFrontierAddon:
    """A Scrapy add-on: with REDIS_URL set, the scheduler and duplicate filter live in Redis."""

    def update_settings(self, settings: BaseSettings) -> None:
        """Point SCHEDULER and DUPEFILTER_CLASS at scrapy-redis when REDIS_URL is set."""
        if not settings.get("REDIS_URL"):
            return
        frontier: dict[str, Any] = {
            "SCHEDULER": "crawler.frontier.scheduler.LeasingScheduler",
            "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
            "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
            "SCHEDULER_PERSIST": True,  # one worker finishing must not wipe the others' queue
            "SCHEDULER_SERIALIZER": "crawler.frontier.serializer",
            "SCHEDULER_QUEUE_KEY": frontier_key(settings, "requests"),
            "SCHEDULER_DUPEFILTER_KEY": frontier_key(settings, "dupefilter"),
        }
        for name, value in frontier.items():
            settings.set(name, value, priority="addon")


def check_frontier(settings: BaseSettings) -> None:
    """With REDIS_URL set, make sure scrapy-redis is installed and the server answers.

    :raises FrontierUnavailable: naming the package to install or the server to start.
    """
    url = settings.get("REDIS_URL")
    if not url:
        return
    try:
        import redis
        import scrapy_redis  # noqa: F401 (only its presence is checked here)
    except ImportError:
        raise FrontierUnavailable(
            "-s REDIS_URL needs scrapy-redis: pip install 'synthset[redis]'"
        ) from None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=10).ping()
    except (redis.RedisError, ValueError) as error:
        raise FrontierUnavailable(
            f"-s REDIS_URL={url}: no Redis answers there ({error}); start redis-server "
            "or fix the URL"
        ) from None
