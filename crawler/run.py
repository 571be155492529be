"""Run crawls of configured sources in this process and report what each one did."""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from archive.store import Archive, CrawlSummary
from crawler.sources import Config, Source
from crawler.spiders import spider_for


def crawl_settings(
    config_path: str, db_path: Path, log_level: str = "INFO", refetch: bool = False
) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("COMMUNIQUE_CONFIG", config_path, priority="cmdline")
    settings.set("COMMUNIQUE_DB", str(db_path), priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("COMMUNIQUE_REFETCH", refetch, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # ours: see below
    return settings


class _OperatorFilter(logging.Filter):
    """Passes our records at the chosen level, everyone else's (Scrapy's) only from WARNING."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "crawler" or record.name.startswith("crawler.")
        return record.levelno >= (
            self.level if ours or self.level <= logging.DEBUG else logging.WARNING
        )


def configure_logging(level: str) -> None:
    """One line per page with source and URL; Scrapy's own INFO chatter only at DEBUG.

    Scrapy's INFO output (settings, middlewares, stats dumps per source) buries what an
    operator needs. A handler filter, because Scrapy resets logger levels per crawler.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handler.addFilter(_OperatorFilter(logging.getLevelNamesMapping()[level]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if level == "DEBUG" else logging.INFO)


def run_crawl(
    config: Config,
    sources: list[Source],
    db_path: Path,
    log_level: str = "INFO",
    *,
    refetch: bool = False,
) -> list[CrawlSummary]:
    """Crawl the sources side by side into the archive; blocks until all are done.

    A Twisted reactor runs once per process, so call this once per process.
    """
    process = CrawlerProcess(crawl_settings(config.path, db_path, log_level, refetch))
    configure_logging(log_level)
    crawlers: list[Crawler] = []
    for source in sources:
        crawler = process.create_crawler(spider_for(source, config))
        crawlers.append(crawler)
        process.crawl(crawler)
    process.start()
    crawl_ids = [crawler.stats.get_value("communique/crawl_id") for crawler in crawlers]
    archive = Archive(db_path)
    try:
        return [archive.crawl_summary(crawl_id) for crawl_id in crawl_ids if crawl_id]
    finally:
        archive.close()
