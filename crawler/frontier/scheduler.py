"""scrapy-redis' scheduler with leases: what a dead worker took goes back into the queue.

scrapy-redis pops a request from Redis and forgets it; a worker killed before it
recorded the fetch loses that URL, and the duplicate filter keeps every other
worker from queueing it again. Here a request is popped and leased in one atomic
step (a Lua script): it moves from the queue to the worker's hash
``<crawl>:taken:<worker>`` and leaves it once its outcome is in the catalog (the
pipeline's ``FETCHES_RECORDED``) or, for a listing or page, once its response
arrived. Marking a request seen and queueing it is one atomic step too, so a
worker killed in between cannot leave a URL seen but never queued. A worker
restarted with the same identity puts its leftovers back at once; any worker
that idles puts back those of workers whose ``<crawl>:alive:<worker>`` key has
expired, and stays open while a live worker still holds requests (it may yet
list more).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Self

import redis
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.utils.request import request_from_dict
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.frontier import frontier_key
from crawler.partition import Partition
from crawler.pipelines import FETCHES_RECORDED

logger = logging.getLogger(__name__)

RETAKEN_STAT = "synthset/frontier_put_back"  # requests put back from stopped workers' leases
QUEUE_CLASS = "scrapy_redis.queue.PriorityQueue"  # a sorted set: the scripts below rely on it

# KEYS: queue (sorted set), lease hash. Pop the best request and lease it, or nothing.
POP_AND_LEASE = """
local popped = redis.call('ZRANGE', KEYS[1], 0, 0)
if #popped == 0 then return false end
redis.call('ZREM', KEYS[1], popped[1])
redis.call('HSET', KEYS[2], popped[1], '1')
return popped[1]
"""
# KEYS: seen set, queue. ARGV: fingerprint, score, request. Queue it unless seen before.
QUEUE_IF_UNSEEN = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


def worker_name(crawler: Crawler) -> str:
    """This worker's lasting identity: host, data directory and process slot."""
    settings = crawler.settings
    data_dir = os.path.abspath(settings.get("SYNTHSET_DATA") or ".")
    slot = Partition.parse(settings.get("CRAWL_PARTITION") or "").index
    return f"{socket.gethostname()}:{data_dir}:{slot}"


def lease_key(request: Request) -> str:
    """What ends a request's lease: the image URL as the catalog records it, else its URL."""
    found = request.cb_kwargs.get("found")
    return found.url if found is not None else request.url


class LeasingScheduler(Scheduler):
    """A scrapy-redis scheduler that leases what it hands out (see the module docstring).

    Settings: REDIS_URL (the server), REDIS_CRAWL_ID (names the keys),
    REDIS_LEASE_SECONDS (how long a silent worker counts as alive).
    """

    crawler: Crawler
    worker: str
    lease_seconds: int

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """Connect to REDIS_URL and to the signals that end leases."""
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        scheduler.worker = worker_name(crawler)
        scheduler.lease_seconds = max(3, crawler.settings.getint("REDIS_LEASE_SECONDS", 30))
        scheduler.leases: dict[str, list[bytes]] = {}  # lease key -> encoded requests held
        scheduler.pop_and_lease = scheduler.server.register_script(POP_AND_LEASE)
        scheduler.queue_if_unseen = scheduler.server.register_script(QUEUE_IF_UNSEEN)
        crawler.signals.connect(scheduler.fetches_recorded, signal=FETCHES_RECORDED)
        crawler.signals.connect(scheduler.response_received, signal=signals.response_received)
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    def open(self, spider: Spider) -> None:
        """Open the queue, announce this worker, and put back what its last life had taken."""
        super().open(spider)
        settings = self.crawler.settings
        name = {"spider": spider.name}
        self.taken_key = frontier_key(settings, f"taken:{self.worker}") % name
        self.taken_prefix = frontier_key(settings, "taken:") % name
        self.alive_prefix = frontier_key(settings, "alive:") % name
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(self.lease_seconds / 3, now=True)
        put_back = self._put_back(self.taken_key)
        if put_back:
            logger.info("put back %(n)d requests this worker had taken before it stopped",
                        {"n": put_back})

    def close(self, reason: str) -> None:
        """Stop the heartbeat; a finished worker holds nothing, a stopped one leaves its leases."""
        if self._heartbeat.running:
            self._heartbeat.stop()
        if reason == "finished":
            self.server.delete(self.taken_key)
        self.server.delete(self.alive_prefix + self.worker)
        super().close(reason)

    def enqueue_request(self, request: Request) -> bool:
        """Queue ``request`` unless any worker queued it before (seen and queued atomically)."""
        if request.dont_filter:
            return super().enqueue_request(request)
        fingerprint = self.df.request_fingerprint(request)
        encoded = self.serializer.dumps(request.to_dict(spider=self.spider))
        if not self.queue_if_unseen(keys=[self.df.key, self.queue.key],
                                    args=[fingerprint, -request.priority, encoded]):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", spider=self.spider)
        return True

    def next_request(self) -> Request | None:
        """The next request from the shared queue, leased to this worker in the same step."""
        encoded = self.pop_and_lease(keys=[self.queue.key, self.taken_key])
        if not encoded:
            return None
        request = request_from_dict(self.serializer.loads(encoded), spider=self.spider)
        self.leases.setdefault(lease_key(request), []).append(encoded)
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis", spider=self.spider)
        return request

    def fetches_recorded(self, urls: list[str]) -> None:
        """End the leases on image URLs whose fetch is now in the catalog."""
        self._release(urls)

    def response_received(self, response: Response, request: Request, spider: Spider) -> None:
        """End the lease on a listing or page once its response is here (images wait)."""
        if "found" not in request.cb_kwargs:
            self._release([request.url])

    def spider_idle(self, spider: Spider) -> None:
        """Put back stopped workers' requests; stay open while live workers still hold some."""
        self._beat()
        holders = 0
        for key in self.server.scan_iter(match=self.taken_prefix + "*", count=100):
            key = key.decode() if isinstance(key, bytes) else key
            worker = key.removeprefix(self.taken_prefix)
            if worker == self.worker or not self.server.hlen(key):
                continue
            if self.server.exists(self.alive_prefix + worker):
                holders += 1
                continue
            claimed = f"{key}:put-back:{uuid.uuid4().hex}"  # itself a lease of nobody alive
            try:
                self.server.rename(key, claimed)  # only one worker wins a stopped worker's leases
            except redis.ResponseError:  # another worker renamed it first
                continue
            put_back = self._put_back(claimed)
            logger.info("put back %(n)d requests of stopped worker %(worker)s",
                        {"n": put_back, "worker": worker})
        if holders or len(self.queue):
            raise DontCloseSpider

    def _release(self, keys: list[str]) -> None:
        held = [encoded for key in keys for encoded in self.leases.pop(key, [])]
        if held:
            self.server.hdel(self.taken_key, *held)

    def _beat(self) -> None:
        self.server.set(self.alive_prefix + self.worker, "1", ex=self.lease_seconds)

    def _put_back(self, key: str) -> int:
        """Queue again every request leased in hash ``key``, then drop the hash."""
        leased = self.server.hkeys(key)
        for encoded in leased:
            self.queue.push(request_from_dict(self.serializer.loads(encoded), spider=self.spider))
        self.server.delete(key)
        if leased and self.stats is not None:
            self.stats.inc_value(RETAKEN_STAT, len(leased), spider=self.spider)
        return len(leased)
