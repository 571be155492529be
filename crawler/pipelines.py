"""Hands every fetched page to the archive; cleaning runs in worker processes, off the reactor."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler

from archive import health
from archive.clean import Cleaned, clean_page
from archive.store import ERROR, GONE, NOT_STATEMENT, Archive, Fetched
from crawler.items import INDEX, FetchErrorItem, PageItem

logger = logging.getLogger(__name__)

_pool: Executor | None = None


def extraction_pool(workers: int) -> Executor:
    """One process pool per crawl process, shared by every source crawled in it."""
    global _pool
    if _pool is None:
        # forkserver: forking a process that runs the reactor's threads is unsafe.
        context = multiprocessing.get_context("forkserver")
        _pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context)
    return _pool


class ArchivePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.db_path = crawler.settings.get("COMMUNIQUE_DB")
        self.workers = crawler.settings.getint("COMMUNIQUE_EXTRACT_WORKERS")
        self.archive: Archive | None = None
        self.crawl_id = 0

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
        self.hints = source.hints
        self.archive = Archive(self.db_path, spider.history)
        self.archive.sync_sources([source.model_dump()])
        self.crawl_id = self.archive.start_crawl(source.id)
        self.crawler.stats.set_value("communique/crawl_id", self.crawl_id)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.archive is None:
            return
        links = self.crawler.stats.get_value("communique/links_found", 0)
        self.archive.finish_crawl(self.crawl_id, reason, links)
        problem = health.judge(self.archive.db, self.crawl_id)
        if problem:
            logger.warning("%s: unhealthy: %s", problem.source_id, problem.reason)
        self.archive.close()

    async def clean(self, fetched: Fetched) -> Cleaned:
        """Clean a page in a worker process; a cleaner crash is recorded, never fatal."""
        if fetched.http_status >= 400:
            return Cleaned(status="http_error", url=fetched.url)
        # Workers import only archive.clean, never Scrapy.
        future = extraction_pool(self.workers).submit(
            clean_page, fetched.body, fetched.url, fetched.content_type, self.hints
        )
        try:
            return await asyncio.wrap_future(future)
        except Exception as error:
            logger.exception("%s: cleaning %s failed", fetched.source_id, fetched.url)
            reason = f"cleaning failed: {type(error).__name__}: {error}"
            return Cleaned(status="clean_failed", url=fetched.url, reason=reason)

    async def process_item(self, item: Any) -> Any:
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
                cleaned = await self.clean(fetched)
                outcome = self.archive.record_page(self.crawl_id, fetched, cleaned)
            stats.inc_value(f"communique/{outcome}")
            if cleaned is not None and outcome in (ERROR, NOT_STATEMENT, GONE):
                reason = cleaned.reason or f"HTTP {fetched.http_status}"
                logger.warning("%s: %s %s: %s", fetched.source_id, outcome, fetched.url, reason)
            else:
                logger.info("%s: %s %s", fetched.source_id, outcome, fetched.url)
        return item
