"""Hands every fetched page to the archive's one way in (archive/ingest.py); cleaning runs
in worker processes, off the reactor."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler

from archive import statuses
from archive.clean import Cleaned, clean_page
from archive.fetched import Fetched, FetchFailed
from archive.ingest import ArchiveBusy, IngestSettings, Session, cleaning_failed, ingest
from archive.ingest import needs_cleaning as ingest_needs_cleaning
from archive.links.prepared import Prepared, prepare
from archive.workers import WorkerDied

logger = logging.getLogger(__name__)

_pool: Executor | None = None


def extraction_pool(workers: int) -> Executor:
    """One process pool per crawl process, shared by every source crawled in it."""
    global _pool
    if _pool is None:
        # forkserver: forking a process that runs the reactor's threads is unsafe; the
        # server imports the cleaner once, so every worker starts with it loaded.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["archive.clean", "archive.links.prepared"])
        _pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context)
    return _pool


def replace_broken_pool() -> None:
    """A worker died (killed, out of memory, a crash in lxml): start a fresh pool."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


def is_disk_full(error: sqlite3.OperationalError) -> bool:
    return "full" in str(error)  # "database or disk is full"


def ingest_settings(crawler: Crawler) -> IngestSettings:
    spider: Any = crawler.spider
    return IngestSettings(
        history=spider.history,
        wechat_hosts=tuple(crawler.settings.getlist("COMMUNIQUE_WECHAT_HOSTS")),
    )


class ArchivePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.db_path = crawler.settings.get("COMMUNIQUE_DB")
        self.workers = crawler.settings.getint("COMMUNIQUE_EXTRACT_WORKERS")
        self.session: Session | None = None
        self.disk_full: str | None = None
        self.closing: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls(crawler)
        # spider_closed, not close_spider: only the signal carries the finish reason
        # (finished, shutdown, closespider_…) that tells a complete crawl from a cut one.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.spider_opened, signal=signals.spider_opened)
        return pipeline

    def open_spider(self) -> None:
        spider: Any = self.crawler.spider
        session = Session(self.db_path, ingest_settings(self.crawler), spider.source)
        try:
            self.session = session.__enter__()
        except ArchiveBusy as error:
            # `scrapy crawl` or Scrapyd while another process writes: stop (once the spider
            # is open: Scrapy cannot close one mid-opening), write nothing.
            logger.error("%s: %s", spider.name, error)
            self.crawler.stats.set_value("communique/busy", str(error))
            return
        self.crawler.stats.set_value("communique/crawl_id", session.crawl_id)

    def spider_opened(self, spider: Any) -> None:
        if self.session is None and not self.disk_full:
            engine: Any = self.crawler.engine
            # Kept: a task nobody references can be collected before it runs.
            self.closing = asyncio.ensure_future(engine.close_spider_async(reason="archive_busy"))

    def spider_closed(self, spider: Any, reason: str) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        links = self.crawler.stats.get_value("communique/links_found", 0)
        try:
            session.finish(reason, links)
            if session.problem:
                logger.warning("%s: unhealthy: %s", spider.name, session.problem.reason)
        except sqlite3.OperationalError as error:
            if not is_disk_full(error):
                raise
            self.crawler.stats.set_value("communique/disk_full", str(error))
        finally:
            session.__exit__(None, None, None)

    async def clean(self, fetched: Fetched) -> Prepared | BaseException:
        """Clean a page in a worker process, and take from its text what the archive's
        links need (`archive.links.prepared`); a cleaner crash is recorded, not fatal."""
        assert self.session is not None
        try:
            # Workers import only archive.clean and archive.links, never Scrapy.
            future = extraction_pool(self.workers).submit(
                prepare,
                clean_page,
                fetched.body,
                fetched.url,
                fetched.content_type,
                self.session.hints,
            )
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            replace_broken_pool()
            logger.warning("%s: cleaning %s killed its worker", fetched.source_id, fetched.url)
            return WorkerDied("the cleaning worker process died on this page")
        except Exception as error:
            logger.exception("%s: cleaning %s failed", fetched.source_id, fetched.url)
            return error

    async def process_item(self, item: Any) -> Any:
        if self.disk_full or self.session is None:
            return item  # the crawl is closing: nothing more can be written
        try:
            await self.record(item)
        except sqlite3.OperationalError as error:
            if not is_disk_full(error):
                raise
            if self.disk_full:
                return item  # another page in flight hit the same wall: already stopping
            # Every committed page is intact (one transaction each); stop, don't flail.
            self.disk_full = str(error)
            self.crawler.stats.set_value("communique/disk_full", str(error))
            spider: Any = self.crawler.spider
            logger.warning("%s: stopping: %s", spider.name, error)
            engine: Any = self.crawler.engine
            # Kept: a task nobody references can be collected before it runs.
            self.closing = asyncio.ensure_future(engine.close_spider_async(reason="disk_full"))
        return item

    async def record(self, item: Fetched | FetchFailed) -> None:
        session = self.session
        assert session is not None
        cleaned: Cleaned | BaseException | None = None
        prepared: Prepared | None = None
        if ingest_needs_cleaning(session, item):
            assert isinstance(item, Fetched)
            result = await self.clean(item)
            if isinstance(result, Prepared):
                prepared, cleaned = result, result.cleaned
            else:
                cleaned = result
        if self.session is None:
            return  # the crawl closed while the page was being cleaned
        outcome = ingest(
            session,
            item,
            cleaned,
            prepared.signature if prepared else None,
            prepared.features if prepared else None,
        )
        self.crawler.stats.inc_value(f"communique/{outcome}")
        if isinstance(item, FetchFailed):
            return  # the spider logged it when it happened
        if outcome not in (statuses.ERROR, statuses.NOT_STATEMENT, statuses.GONE_OUTCOME):
            logger.info("%s: %s %s", item.source_id, outcome, item.url)
            return
        if isinstance(cleaned, BaseException):
            reason = cleaning_failed(item.url, cleaned).reason
        elif isinstance(cleaned, Cleaned) and cleaned.reason:
            reason = cleaned.reason
        else:
            reason = f"HTTP {item.http_status}"
        logger.warning("%s: %s %s: %s", item.source_id, outcome, item.url, reason)
