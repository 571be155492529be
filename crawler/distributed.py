"""Crawling on several machines, the Scrapy side: scrapy-redis's scheduler on the shared
frontier, the source spiders as workers and the writer's seeding run them, and the item
pipeline that cleans each page and pushes it onto the result stream.

- The frontier is scrapy-redis's `Scheduler` and `RFPDupeFilter` (shared by every worker)
  with `crawler.stream_queue.StreamQueue` as its queue class. A request a worker takes
  stays pending in the stream's consumer group until every result of it is on the result
  stream and every request it led to is in the frontier (`Tracker`); only then is it
  acknowledged. A worker killed with SIGKILL leaves its requests pending, and once they
  have been idle --reclaim-after seconds another worker takes them over; a live worker
  keeps its own fresh, so a slow request is never taken from it.
- The duplicate check and the push of a request are one script in Redis, and so are the
  push of a redirect (or retry) and the acknowledgement of the request it replaces: a kill
  between the two cannot lose a request.
- Each page is cleaned in a process pool on the worker (crawler.pipelines' pool) and pushed
  with its cleaning and MinHash signature (crawler/results.py) for the one writer
  (crawler/writer.py).

SCHEDULER_PERSIST is always on: a worker that stops never flushes the shared queue or
duplicate filter. They belong to the run, and the writer deletes them when the run is
complete (crawler/frontier.py); a run cut short is resumed by the next writer, or
discarded with `communique frontier clear`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import redis
import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from twisted.internet.task import LoopingCall

from archive.clean import clean_page
from archive.cleaned import hints_for
from archive.fetched import INDEX, Fetched, FetchFailed
from archive.links.prepared import prepare
from archive.workers import WorkerDied
from communique.config import Config, Source
from crawler import frontier
from crawler.middlewares import WechatMiddleware
from crawler.pipelines import extraction_pool, replace_broken_pool
from crawler.results import CleaningError, Result, encode
from crawler.run import configure_logging, crawl_settings
from crawler.spiders import spider_for
from crawler.spiders.base import SourceSpider
from crawler.stream_queue import FRONTIER_META, Entry, gone
from crawler.throttle import HostLimiter

logger = logging.getLogger(__name__)

LINKS = "communique/links_found"
# Workers stop taking requests while this many results wait for the writer (it is down
# or slow), so that Redis does not fill up with bodies.
RESULTS_HIGH_WATER = 10_000
BACKLOG_CHECK_S = 2.0


class FrontierLost(frontier.FrontierUnreachable):
    """Redis stopped answering in the middle of the work."""


# The first Redis failure in this process; the worker's supervisor stops on it.
_failure: list[str] = []


def _lost(url: str, error: BaseException) -> None:
    if not _failure:
        _failure.append(str(frontier.unreachable(url, error)))
        logger.error("%s", _failure[0])


def failure() -> str | None:
    """Why Redis failed this process's crawl, if it did (one line naming the URL)."""
    return _failure[0] if _failure else None


# -- which requests a worker holds, and when each is finished ---------------------------------

DOWNLOADING, SCRAPING = "downloading", "scraping"


class Tracker:
    """The requests this worker took from the frontier and has not finished.

    Each has a count of what is still to happen: its download (until its callback's output
    is all handed over) and each of its items (until it is on the result stream). At zero
    it is acknowledged. A redirect or retry the downloader returns replaces the request
    (`handing_over`).
    """

    def __init__(self, ack: Callable[[str], None]) -> None:
        self.ack = ack
        self.tokens: dict[str, int] = {}
        self.state: dict[str, str] = {}

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self.tokens

    def taken(self, entry_id: str) -> None:
        self.tokens[entry_id] = 1
        self.state[entry_id] = DOWNLOADING

    def scraping(self, entry_id: str) -> None:
        if entry_id in self.state:
            self.state[entry_id] = SCRAPING

    def add(self, entry_id: str, count: int) -> None:
        if entry_id in self.tokens:
            self.tokens[entry_id] += count

    def release(self, entry_id: str) -> None:
        if entry_id not in self.tokens:
            return
        self.tokens[entry_id] -= 1
        if self.tokens[entry_id] <= 0:
            del self.tokens[entry_id], self.state[entry_id]
            self.ack(entry_id)

    def handing_over(self, entry_id: str) -> bool:
        """Whether a request carrying this entry id replaces it (the downloader gave back
        a redirect or a retry instead of a response); if so the entry is forgotten here,
        to be acknowledged with the push of its replacement."""
        if self.state.get(entry_id) != DOWNLOADING:
            return False
        del self.tokens[entry_id], self.state[entry_id]
        return True

    def held(self) -> list[str]:
        return list(self.tokens)


# KEYS: duplicate filter, request stream. ARGV: fingerprint ('' = not filtered), request,
# run, group, entry to acknowledge ('' = none). Returns the new entry's id, or false.
_PUSH = """
local added = 1
if ARGV[1] ~= '' then added = redis.call('SADD', KEYS[1], ARGV[1]) end
local id = false
if added == 1 then id = redis.call('XADD', KEYS[2], '*', 'request', ARGV[2], 'run', ARGV[3]) end
if ARGV[5] ~= '' then
  redis.call('XACK', KEYS[2], ARGV[4], ARGV[5])
  redis.call('XDEL', KEYS[2], ARGV[5])
end
return id
"""

# KEYS: request stream. ARGV: group, consumer, entry ids. Resets the idle time of the
# entries this consumer still owns (one that another worker took over stays theirs).
_KEEP = """
local kept = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept = kept + 1
  end
end
return kept
"""


class FrontierScheduler(RedisScheduler):
    """scrapy-redis's scheduler on the shared frontier: duplicate filter and push in one
    step, requests acknowledged when finished, and only the seeding pushes start requests.

    With COMMUNIQUE_SEEDING it only pushes (the writer's seeding: nothing is fetched);
    otherwise it is a worker's, and keeps its spider open while the run lasts.
    """

    def __init__(self, server: redis.Redis, crawler: Crawler) -> None:
        settings = crawler.settings
        super().__init__(
            server,
            persist=True,  # the frontier is the run's: a worker never flushes it
            queue_key=frontier.QUEUE_KEY,
            queue_cls="crawler.stream_queue.StreamQueue",
            dupefilter_key=frontier.DUPEFILTER_KEY,
        )
        self.crawler = crawler
        self.stats = crawler.stats
        self.url = settings["COMMUNIQUE_FRONTIER"]
        self.seeding = settings.getbool("COMMUNIQUE_SEEDING")
        self.keep_every = max(0.2, settings.getfloat("COMMUNIQUE_RECLAIM_AFTER") / 4)
        self._push = server.register_script(_PUSH)
        self._keep = server.register_script(_KEEP)
        self.tracker = Tracker(self._ack)
        self.keeper: LoopingCall | None = None
        self.backlog_checked = 0.0
        self.backlogged = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        return cls(frontier.shared(crawler.settings["COMMUNIQUE_FRONTIER"]), crawler)

    def open(self, spider: scrapy.Spider) -> None:
        # What scrapy-redis's `open` does, without its deprecated `spider.log` call.
        self.spider = spider
        queue_class = load_object(self.queue_cls)  # scrapy-redis's SCHEDULER_QUEUE_CLASS
        self.queue = queue_class(self.server, spider, frontier.requests_key(spider.name))
        self.df = RFPDupeFilter(
            self.server,
            key=frontier.dupefilter_key(spider.name),
            debug=spider.settings.getbool("DUPEFILTER_DEBUG"),
        )
        self.run_id: str = getattr(spider, "run_id", "")
        spider.frontier = self  # type: ignore[attr-defined]
        self.crawler.signals.connect(self._idle, signal=signals.spider_idle)
        if not self.seeding:
            frontier.create_group(self.server, self.queue.key, frontier.WORKERS_GROUP)
            self.keeper = LoopingCall(self._keep_held)
            self.keeper.start(self.keep_every, now=False)

    def close(self, reason: str) -> None:
        if self.keeper is not None and self.keeper.running:
            self.keeper.stop()
        if not self.seeding:
            try:
                self.queue.let_go()
            except redis.RedisError as error:
                _lost(self.url, error)  # they are taken over after --reclaim-after instead
        # Nothing is flushed: see SCHEDULER_PERSIST in the module's docstring.

    def _idle(self, spider: scrapy.Spider) -> None:
        if not self.seeding:
            raise DontCloseSpider  # more requests may come while the run lasts

    def has_pending_requests(self) -> bool:
        return False  # the frontier's own; the spider stays open through `_idle` instead

    def enqueue_request(self, request: Request) -> bool:
        entry_id = request.meta.get(FRONTIER_META)
        replaced = entry_id if entry_id and self.tracker.handing_over(entry_id) else ""
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        try:
            added = self._push(
                keys=[self.df.key, self.queue.key],
                args=[
                    fingerprint,
                    self.queue._encode_request(request),
                    self.run_id,
                    frontier.WORKERS_GROUP,
                    replaced,
                ],
            )
        except redis.RedisError as error:
            _lost(self.url, error)
            return False
        if not added:
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if self.seeding or _failure or self._backlogged():
            return None
        try:
            while True:
                entry: Entry | None = self.queue.pop()
                if entry is None:
                    return None
                if entry.id in self.tracker:
                    continue  # already being fetched here (it was idle too long)
                if entry.request is not None:
                    break
                self._drop(entry)
        except redis.RedisError as error:
            _lost(self.url, error)
            return None
        self.tracker.taken(entry.id)
        self.stats.inc_value("scheduler/dequeued/redis")
        return entry.request

    def _drop(self, entry: Entry) -> None:
        """An entry that will not be fetched: a stranger's, or one that keeps killing
        workers (recorded as an error of its URL)."""
        if entry.url and entry.problem and entry.problem.startswith("given up"):
            item = FetchFailed(self.spider.name, entry.url, entry.problem)
            result = Result(f"{self.run_id}/{self.spider.name}:{entry.id}/0", self.run_id, item)
            self.server.xadd(frontier.RESULTS, encode(result))
            logger.warning("%s: error %s: %s", self.spider.name, entry.url, entry.problem)
        else:
            logger.warning(
                "%s: dropped frontier entry %s: %s", self.spider.name, entry.id, entry.problem
            )
        self.queue.ack(entry.id)

    def _ack(self, entry_id: str) -> None:
        try:
            self.queue.ack(entry_id)
        except redis.RedisError as error:
            _lost(self.url, error)  # left pending: another worker will fetch it again

    def _keep_held(self) -> None:
        held = self.tracker.held() + [entry_id.decode() for entry_id, _ in self.queue.claimed]
        if not held:
            return
        try:
            self._keep(keys=[self.queue.key], args=[self.queue.group, self.queue.consumer, *held])
        except redis.ResponseError as error:
            if not gone(error):
                _lost(self.url, error)
        except redis.RedisError as error:
            _lost(self.url, error)

    def _backlogged(self) -> bool:
        if time.monotonic() - self.backlog_checked < BACKLOG_CHECK_S:
            return self.backlogged
        self.backlog_checked = time.monotonic()
        try:
            waiting = int(self.server.xlen(frontier.RESULTS))
        except redis.RedisError as error:
            _lost(self.url, error)
            return True
        if waiting > RESULTS_HIGH_WATER and not self.backlogged:
            logger.warning(
                "%s: %d results wait for the writer: taking no requests until it catches up",
                self.spider.name,
                waiting,
            )
        self.backlogged = waiting > RESULTS_HIGH_WATER
        return self.backlogged


# -- the spiders, as workers and the seeding run them ---------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """An item on its way to the result stream, with where it came from."""

    item: Fetched | FetchFailed
    entry: str | None  # the frontier entry it came from (None: the seeding)
    key: str  # with the run and `index`, the result's id
    index: int
    links: int = 0  # statement links found on the page (given with its first item)


class DistributedSpider(SourceSpider):
    """A source's spider on the frontier: placed before the source's own spider class.

    Workers do not seed (`start` is empty) and learn what the archive knows (rechecks,
    fresh statements, entry pages as last seen, known WeChat articles) from the plan the
    writer published. Each callback's output is handed on whole, counted for the tracker.
    """

    run_id: ClassVar[str] = ""
    frontier: FrontierScheduler

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if not crawler.settings.getbool("COMMUNIQUE_SEEDING"):
            spider.load_archive_state()
        return spider

    async def start(self) -> AsyncIterator[Any]:
        if not self.settings.getbool("COMMUNIQUE_SEEDING"):
            return
        index = 0
        async for output in super().start():
            if isinstance(output, Request):
                yield output
            else:
                yield Outgoing(output, None, f"seed:{self.name}", index)
                index += 1

    def load_archive_state(self) -> None:
        r = frontier.shared(self.settings["COMMUNIQUE_FRONTIER"])
        self.plan = frontier.read_plan(r, self.name)
        if hasattr(self, "known"):
            self.known = frontier.read_known(r)

    def parse_entry(self, response: Any) -> Iterator[Any]:
        return self._tracked(response.request, super().parse_entry, response)

    def parse_statement(self, response: Any) -> Iterator[Any]:
        return self._tracked(response.request, super().parse_statement, response)

    def on_error(self, failure: Any) -> Iterator[Any]:
        return self._tracked(failure.request, super().on_error, failure)

    def _tracked(
        self, request: Request | None, callback: Callable[[Any], Any], argument: Any
    ) -> Iterator[Any]:
        """The callback's output, taken whole first (so that the statement links it found
        are this page's alone), items wrapped for the result stream."""
        entry = request.meta.get(FRONTIER_META) if request is not None else None
        tracker = self.frontier.tracker
        if entry:
            tracker.scraping(entry)
        stats = self.crawler.stats
        before = stats.get_value(LINKS, 0)
        outputs: list[Any] = []
        error: Exception | None = None
        try:
            for output in callback(argument) or ():
                outputs.append(output)
        except Exception as raised:  # handed on after what came before it
            error = raised
        links = stats.get_value(LINKS, 0) - before
        items = [output for output in outputs if not isinstance(output, Request)]
        if entry:
            tracker.add(entry, len(items))
        key = f"{self.name}:{entry or os.urandom(6).hex()}"
        try:
            index = 0
            for output in outputs:
                if isinstance(output, Request):
                    yield output
                    continue
                yield Outgoing(output, entry, key, index, links if index == 0 else 0)
                index += 1
            if error is not None:
                raise error
        finally:
            if entry:
                tracker.release(entry)  # the download's own count


def distributed_spider(source: Source, config: Config, run_id: str) -> type[SourceSpider]:
    """The source's spider class for the frontier: politeness moves to the shared throttle."""
    base = spider_for(source, config)
    crawl = config.crawl
    settings = {
        **(base.custom_settings or {}),
        # Spacing and concurrency per host are counted across workers (crawler/throttle.py);
        # Scrapy's own per-process delays would only hold requests back after that.
        "COMMUNIQUE_HOST_DELAY": crawl.download_delay,
        "COMMUNIQUE_HOST_CONCURRENCY": crawl.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_SLOTS": {
            host: {"concurrency": 1, "delay": 0, "jitter": 0} for host in crawl.wechat_hosts
        },
    }
    name = f"Distributed{base.__name__}"
    return type(name, (DistributedSpider, base), {"custom_settings": settings, "run_id": run_id})


class ResultPipeline:
    """Cleans each page in the worker's process pool and pushes it onto the result stream."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.url = crawler.settings["COMMUNIQUE_FRONTIER"]
        self.server = frontier.shared(self.url)
        self.worker = crawler.settings.get("COMMUNIQUE_WORKER") or "seeder"
        self.workers = crawler.settings.getint("COMMUNIQUE_EXTRACT_WORKERS")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResultPipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        spider: Any = self.crawler.spider
        if not isinstance(item, Outgoing):
            logger.warning("%s: not a page or an error, not kept: %r", spider.name, item)
            return item
        page = item.item
        cleaned: Any = None
        signature = found = None
        if isinstance(page, Fetched) and needs_cleaning(page):
            cleaned, signature, found = await self.clean(page, spider)
        result = Result(
            f"{spider.run_id}/{item.key}/{item.index}",
            spider.run_id,
            page,
            cleaned,
            signature,
            item.links,
            self.worker,
            found,
        )
        try:
            self.server.xadd(frontier.RESULTS, encode(result))
        except redis.RedisError as error:
            # Not acknowledged: the request stays pending and is fetched again later.
            _lost(self.url, error)
            return item
        if isinstance(page, Fetched):
            logger.debug("%s: fetched %s (%d)", spider.name, page.url, page.http_status)
        if item.entry:
            spider.frontier.tracker.release(item.entry)
        return item

    async def clean(self, page: Fetched, spider: Any) -> tuple[Any, bytes | None, Any]:
        try:
            future = extraction_pool(self.workers).submit(
                prepare,
                clean_page,
                page.body,
                page.url,
                page.content_type,
                hints_for(spider.source),
            )
            prepared = await asyncio.wrap_future(future)
            return prepared.cleaned, prepared.signature, prepared.features
        except BrokenProcessPool:
            replace_broken_pool()
            logger.warning("%s: cleaning %s killed its worker", spider.name, page.url)
            died = WorkerDied("the cleaning worker process died on this page")
            return CleaningError(f"{type(died).__name__}: {died}"), None, None
        except Exception as error:
            logger.exception("%s: cleaning %s failed", spider.name, page.url)
            return CleaningError(f"{type(error).__name__}: {error}"), None, None


def needs_cleaning(page: Fetched) -> bool:
    """What the writer would clean (archive.ingest.needs_cleaning) short of asking the
    archive: a statement page that answered. A known page seen again unchanged is cleaned
    here for nothing, and recorded by the writer without its cleaning."""
    return page.role != INDEX and page.http_status < 400 and page.http_status != 304


class SharedWechatMiddleware(WechatMiddleware):
    """WeChat's throttle, with a wall pausing the WeChat hosts for every worker."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.url = crawler.settings["COMMUNIQUE_FRONTIER"]
        self.limiter = HostLimiter(frontier.shared(self.url))

    def wall(self, request: Request, kind: str, detail: str, asked: float | None = None) -> Any:
        wall = super().wall(request, kind, detail, asked)
        pause = max(0.0, self.clock.next_allowed - time.monotonic())
        try:
            for host in self.hosts:
                self.limiter.pause(host, pause)
        except redis.RedisError as error:
            _lost(self.url, error)
        return wall


def distributed_settings(
    config: Config,
    url: str,
    *,
    seeding: bool,
    worker: str = "",
    log_level: str = "INFO",
    reclaim_after: float = 60.0,
    refetch: bool = False,
    recheck_only: list[str] | None = None,
) -> Settings:
    settings = crawl_settings(config.path, Path(""), log_level, refetch, recheck_only)
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    middlewares.pop("crawler.middlewares.WechatMiddleware", None)
    middlewares[f"{__name__}.SharedWechatMiddleware"] = 585
    # Last before the network: see crawler/throttle.py.
    middlewares["crawler.throttle.SharedThrottleMiddleware"] = 990
    values = {
        "COMMUNIQUE_DB": "",  # a worker has no archive: the plan comes from the frontier
        "COMMUNIQUE_FRONTIER": url,
        "COMMUNIQUE_SEEDING": seeding,
        "COMMUNIQUE_WORKER": worker,
        "COMMUNIQUE_RECLAIM_AFTER": reclaim_after,
        "SCHEDULER": f"{__name__}.FrontierScheduler",
        "SCHEDULER_PERSIST": True,
        "ITEM_PIPELINES": {f"{__name__}.ResultPipeline": 300},
        "DOWNLOADER_MIDDLEWARES": middlewares,
    }
    for name, value in values.items():
        settings.set(name, value, priority="cmdline")
    return settings


# -- the seeding (run by the writer) ----------------------------------------------------------


def seed(
    config: Config,
    sources: list[Source],
    url: str,
    run_id: str,
    *,
    refetch: bool = False,
    recheck_only: list[str] | None = None,
    log_level: str = "INFO",
    log_file: Path | None = None,
) -> dict[str, int]:
    """Push each source's start requests (rechecks, entry pages) into the frontier, through
    the duplicate filter, and its start items onto the result stream; returns the
    statement links counted on the way, per source. Runs Scrapy's reactor: once a process.
    """
    settings = distributed_settings(
        config,
        url,
        seeding=True,
        log_level=log_level,
        refetch=refetch,
        recheck_only=recheck_only,
    )
    process = CrawlerProcess(settings)
    configure_logging(log_level, log_file)
    crawlers = []
    for source in sources:
        crawler = process.create_crawler(distributed_spider(source, config, run_id))
        crawlers.append(crawler)
        process.crawl(crawler)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    process.start()
    # Scrapy's handlers would ask the stopped reactor to stop: the writer that goes on
    # writing must stop on Ctrl-C and SIGTERM as before.
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    if _failure:
        raise FrontierLost(_failure[0])
    return {
        source.id: int(crawler.stats.get_value(LINKS, 0))
        for source, crawler in zip(sources, crawlers, strict=True)
    }
