"""Hands every fetched page to the archive; cleaning runs in worker processes, off the reactor."""

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

from archive import health
from archive.clean import Cleaned, clean_page
from archive.cleaned import hints_for
from archive.reprints import signed
from archive.store import ERROR, GONE, NOT_STATEMENT, Archive, Fetched
from crawler.items import INDEX, FetchErrorItem, PageItem

logger = logging.getLogger(__name__)

_pool: Executor | None = None


def extraction_pool(workers: int) -> Executor:
    """One process pool per crawl process, shared by every source crawled in it."""
    global _pool
    if _pool is None:
        # forkserver: forking a process that runs the reactor's threads is unsafe; the
        # server imports the cleaner once, so every worker starts with it loaded.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["archive.clean", "archive.reprints"])
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


class ArchivePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.db_path = crawler.settings.get("COMMUNIQUE_DB")
        self.workers = crawler.settings.getint("COMMUNIQUE_EXTRACT_WORKERS")
        self.archive: Archive | None = None
        self.crawl_id = 0
        self.disk_full: str | None = None
        self.closing: asyncio.Future[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = cls(crawler)
        # spider_closed, not close_spider: only the signal carries the finish reason
        # (finished, shutdown, closespider_…) that tells a complete crawl from a cut one.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self) -> None:
        spider: Any = self.crawler.spider
        source = spider.source
        self.hints = hints_for(source)
        self.archive = Archive(self.db_path, spider.history)
        self.archive.sync_sources([source.model_dump()])
        self.crawl_id = self.archive.start_crawl(source.id)
        self.crawler.stats.set_value("communique/crawl_id", self.crawl_id)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.archive is None:
            return
        links = self.crawler.stats.get_value("communique/links_found", 0)
        try:
            self.archive.finish_crawl(self.crawl_id, reason, links)
            problem = health.judge(self.archive.db, self.crawl_id)
            if problem:
                logger.warning("%s: unhealthy: %s", problem.source_id, problem.reason)
        except sqlite3.OperationalError as error:
            if not is_disk_full(error):
                raise
            self.crawler.stats.set_value("communique/disk_full", str(error))
        finally:
            self.archive.close()

    async def clean(self, fetched: Fetched) -> tuple[Cleaned, bytes | None]:
        """Clean and sign a page in a worker process; a cleaner crash is recorded, not fatal."""
        if fetched.http_status >= 400:
            return Cleaned(status="http_error", url=fetched.url), None
        try:
            # Workers import only archive.clean and archive.reprints, never Scrapy.
            future = extraction_pool(self.workers).submit(
                signed, clean_page, fetched.body, fetched.url, fetched.content_type, self.hints
            )
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            replace_broken_pool()
            logger.warning("%s: cleaning %s killed its worker", fetched.source_id, fetched.url)
            reason = "cleaning failed: the worker process died on this page"
            return Cleaned(status="clean_failed", url=fetched.url, reason=reason), None
        except Exception as error:
            logger.exception("%s: cleaning %s failed", fetched.source_id, fetched.url)
            reason = f"cleaning failed: {type(error).__name__}: {error}"
            return Cleaned(status="clean_failed", url=fetched.url, reason=reason), None

    async def process_item(self, item: Any) -> Any:
        if self.disk_full:
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

    async def record(self, item: Any) -> None:
        assert self.archive is not None
        stats = self.crawler.stats
        if isinstance(item, FetchErrorItem):
            self.archive.record_error(
                self.crawl_id, item.source_id, item.url, item.reason, item.http_status
            )
            stats.inc_value("communique/errors")
        elif isinstance(item, PageItem) and item.role == INDEX:
            self.archive.record_index_page(self.crawl_id, item.fetched)
        elif isinstance(item, PageItem):
            fetched = item.fetched
            # A 304 or the very bytes seen last time: a sighting, no cleaning needed.
            outcome = self.archive.record_if_unchanged(self.crawl_id, fetched)
            cleaned = None
            if outcome is None:
                cleaned, signature = await self.clean(fetched)
                outcome = self.archive.record_page(self.crawl_id, fetched, cleaned, signature)
            stats.inc_value(f"communique/{outcome}")
            if cleaned is not None and outcome in (ERROR, NOT_STATEMENT, GONE):
                reason = cleaned.reason or f"HTTP {fetched.http_status}"
                logger.warning("%s: %s %s: %s", fetched.source_id, outcome, fetched.url, reason)
            else:
                logger.info("%s: %s %s", fetched.source_id, outcome, fetched.url)
