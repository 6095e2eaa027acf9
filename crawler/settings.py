"""Crawl defaults for both spiders: polite, bounded, and recording facts into the catalog.

Every component reads these through ``from_crawler``; override any of them per run
with ``scrapy crawl ... -s NAME=VALUE``. Keep related settings grouped, with units.
"""

import os

from synthset import __version__
from synthset.paths import default_data_dir

BOT_NAME = "synthset"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"  # our `crawl`: one-line errors, exit 1 (crawler/commands)
PROJECT_URL = "https://github.com/synthset/synthset"

# --- Where facts go -------------------------------------------------------------------------
SYNTHSET_DATA = str(default_data_dir())  # data directory: catalog.db and images/
CATALOG_FLUSH_ITEMS = 100  # items per catalog write batch
CATALOG_FLUSH_SECONDS = 2.0  # seconds: a part-filled batch is written at least this often
CATALOG_STORE_THREADS = 1  # threads of the catalog writer process storing bodies (each fsynced)

# --- Processes and the frontier -------------------------------------------------------------
# A crawl of a listing spider (imagenet_synset) runs as this many Scrapy processes sharing
# SYNTHSET_DATA, each fetching the image hosts hashed to it, so per-host concurrency, delay and
# robots.txt hold machine-wide and every URL is fetched once. 0 = one process per CPU core.
CRAWL_PROCESSES = 0
CRAWL_PARTITION = ""  # "i/N", set by the launcher for process i of N; leave it empty
# Past one machine: -s REDIS_URL=redis://host:6379 makes every crawl process a worker of one
# shared scrapy-redis frontier (queue and duplicate filter in Redis; see crawler/frontier/).
REDIS_URL = ""
REDIS_CRAWL_ID = ""  # names this crawl's Redis keys (default: the spider's name)
REDIS_LEASE_SECONDS = 30  # seconds: a worker silent this long is dead; its requests are retaken

# --- Where URLs come from -------------------------------------------------------------------
IMAGENET_API_URL = "https://image-net.org/"  # root of the legacy text API (api/text/...)
WORDNET_DIR = "/usr/share/wordnet"  # WordNet 3.0 data.noun/index.noun (Debian: wordnet-base)

# --- Politeness -----------------------------------------------------------------------------
USER_AGENT = f"synthset/{__version__} (+{PROJECT_URL})"
ROBOTSTXT_OBEY = True
# Requests in flight, all hosts together: a cap for this machine, not for any host (the two
# settings below cap each host). A request waiting out its host's DOWNLOAD_DELAY holds a place
# here, and so does one to a dead host until DOWNLOAD_TIMEOUT, so a broad crawl needs room: at
# 64 a polite crawl over 254 hosts ran 10% slower (benchmarks/crawl.py, scenario 2).
CONCURRENT_REQUESTS = 128
CONCURRENT_REQUESTS_PER_DOMAIN = 4  # requests in flight per host
DOWNLOAD_DELAY = 0.25  # seconds between requests to one host (AutoThrottle adjusts it)
# Scrapy draws a random delay of DOWNLOAD_DELAY x (1 +- jitter) on every wake-up of a host's
# slot, not once per request, so the wait stretches to the largest draw: 1.22x DOWNLOAD_DELAY on
# average at Scrapy's 0.5, 18% below the rate the delay allows. 0 (no jitter) keeps every host at
# exactly 1 / DOWNLOAD_DELAY requests/s. (It replaces RANDOMIZE_DOWNLOAD_DELAY, deprecated.)
DOWNLOAD_DELAY_JITTER = 0.0  # fraction of DOWNLOAD_DELAY; 0 = a fixed delay
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0  # seconds
AUTOTHROTTLE_MAX_DELAY = 30.0  # seconds
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0  # average requests in flight per host
COOKIES_ENABLED = False  # image hosts need none; fewer tracking headers sent

# --- Limits ---------------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30  # seconds per request
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # bytes; a larger body is abandoned, error too_large
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024  # bytes; a larger body is logged
REDIRECT_MAX_TIMES = 10  # hops per request
URLLENGTH_LIMIT = 2083  # characters; a longer image URL is recorded with error `other`, unfetched
# Only http(s) is ever fetched: no handlers for file:, data:, s3:, ftp: (see SchemeGuardMiddleware).
DOWNLOAD_HANDLERS = {"file": None, "data": None, "s3": None, "ftp": None}

# --- Failures -------------------------------------------------------------------------------
HTTPERROR_ALLOW_ALL = True  # a 404 or 500 is a fact to record, not an error to drop
RETRY_ENABLED = True
RETRY_TIMES = 2  # retries after the first attempt (5xx, 408, 429, timeouts, resets)
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry; doubles per retry; 0 = no wait
RETRY_BACKOFF_MAX = 30.0  # seconds, the longest wait before a retry
RETRY_GIVE_UP_LOG_LEVEL = "INFO"  # giving up is an ordinary, recorded outcome

# --- Components -----------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.SchemeGuardMiddleware": 40,  # before robots.txt and everything else
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.QuietRobotsTxtMiddleware": 100,  # where RobotsTxtMiddleware was
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,  # where RetryMiddleware was
}
ITEM_PIPELINES = {"crawler.pipelines.CatalogPipeline": 300}
EXTENSIONS = {
    "crawler.progress.CrawlProgress": 500,  # the live display / progress line (crawler/progress.py)
    "scrapy.extensions.logstats.LogStats": None,  # its "Crawled N pages" line says less than ours
    "crawler.jobdir.JobDirMarker": 1000,  # after Scrapy's SpiderState: JOBDIR whole (jobdir.py)
}
ADDONS = {"crawler.frontier.RedisFrontierAddon": 0}  # switches scrapy-redis on with REDIS_URL

# --- Engine ---------------------------------------------------------------------------------
# Items per response processed in parallel; ours are cheap and synchronous (the pipeline only
# queues them), and Scrapy starts this many asyncio tasks for every callback result, however
# few items it holds (100 by default): one task per response is all our callbacks need.
CONCURRENT_ITEMS = 1
# Scrapy parses a callback's source for a `return value` on every response whose callback
# it has not cached (bound methods fall out of its weak cache): a developer warning, off.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Broad crawl: take the next request from the host with the fewest in flight, so one slow or
# saturated host never holds back the others (Scrapy's "Broad crawls" advice).
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Per-request work no one reads: header byte counts (our pipeline counts statuses itself) and
# link depth (web_images counts its own hops).
DOWNLOADER_STATS = False
SPIDER_MIDDLEWARES = {"scrapy.spidermiddlewares.depth.DepthMiddleware": None}
LOG_LEVEL = "INFO"
# Scrapy's, but no DEBUG record per response and per item is built when LOG_LEVEL hides them.
LOG_FORMATTER = "crawler.logformatter.QuietLogFormatter"
# How a crawl shows progress: "auto" = a live display when stderr is a terminal and no LOG_FILE
# (else a log line), "log" = the log line only, "report" = JSON lines for the launcher (set by it).
CRAWL_PROGRESS = "auto"
CRAWL_PROGRESS_LOG_SECONDS = 60.0  # seconds between progress lines in the log
# Both run Python sent to a localhost port. Scrapy's remote control (2.19) also writes its token
# to a job file under ~/.local/state/scrapy/job_files/ that a killed crawl leaves behind. On for
# one run: -s REMOTE_CONTROL_ENABLED=1 (-s REMOTE_CONTROL_JOBS_DIR=DIR keeps its file out of ~).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
# seconds from SIGTERM or the first Ctrl-C to exit (crawler/stopping.py): the first half lets
# requests in flight finish, then they are dropped (still pending in the catalog) and what was
# fetched is committed. A second signal exits at once. 0 = Scrapy's own stop, unbounded.
CRAWL_STOP_TIMEOUT = 10.0

# --- Sources of today: Wikimedia Commons; etiquette and opt-outs -------------------------------
# Who to contact about this crawl (email or URL): Wikimedia's User-Agent policy asks for one and
# `scrapy crawl commons` refuses to start without it. -s CONTACT=... or SYNTHSET_CONTACT.
CONTACT = os.environ.get("SYNTHSET_CONTACT", "")
COMMONS_API_URL = "https://commons.wikimedia.org/w/api.php"  # the MediaWiki Action API
OPTOUT_DIRECTIVES = ["noai", "noimageai"]  # X-Robots-Tag directives that opt a response out
RETRY_AFTER_MAX = 120.0  # seconds: the longest pause a Retry-After header can impose
MAXLAG_WAIT = 5.0  # seconds a MediaWiki maxlag error waits when it names no Retry-After
# Slots named in requests' meta["download_slot"]; RetryAfterMiddleware keeps to the concurrency.
DOWNLOAD_SLOTS = {
    "commons-api": {"concurrency": 1},  # Wikimedia: one API request at a time
    "commons-media": {"concurrency": 2},  # upload.wikimedia.org: at most 2 in flight
    "openverse-api": {"concurrency": 1, "delay": 1.0},  # Openverse: one search a second
}
DOWNLOADER_MIDDLEWARES |= {
    "crawler.middlewares.OptOutMiddleware": 580,  # final responses only (redirects are at 600)
    "crawler.middlewares.RetryAfterMiddleware": 950,  # next to the downloader (see its doc)
}

# --- Openverse (scrapy crawl openverse) ------------------------------------------------------
OPENVERSE_API_URL = "https://api.openverse.org/v1/"  # root of the Openverse API (v1)
# A registered client (docs.openverse.org/api/user/authentication.html) gets a token and
# larger pages; empty: anonymous. The environment variables of the same names also work.
OPENVERSE_CLIENT_ID = ""
OPENVERSE_CLIENT_SECRET = ""
