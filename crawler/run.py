"""Run crawls of configured sources in this process and report what each one did.

Scrapy is imported only once there is something to crawl: `crawl --due` from cron every
minute must cost nothing when nothing is due.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from archive.ingest import exclusive
from archive.relink import LinkResult, linkable_count, relink_if_outgrown
from archive.schema import open_archive
from archive.store import Archive, CrawlSummary
from communique.config import Config, Source
from crawler import due as scheduling

if TYPE_CHECKING:
    from scrapy.settings import Settings


class DiskFull(Exception):
    """The archive's disk filled up mid-crawl; every page recorded before is intact."""


@dataclass(frozen=True)
class CrawlReport:
    """What a crawl did: a summary per source crawled, and the sources now unhealthy."""

    db_path: Path
    summaries: list[CrawlSummary] = field(default_factory=list)
    unhealthy: list[dict[str, Any]] = field(default_factory=list)  # rows of `sources`
    nothing_due: bool = False
    relinked: LinkResult | None = None  # the archive linked again at the end (relink.py)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.summaries)

    @property
    def nothing_fetched(self) -> bool:
        """Errors, and not one page from any source: the network is down, hosts refuse."""
        return bool(self.errors) and not any(s.pages_fetched for s in self.summaries)


def crawl(
    config: Config,
    source_ids: list[str] | tuple[str, ...],
    db_path: Path,
    *,
    due: bool = False,
    refetch: bool = False,
    log_level: str = "INFO",
    log_file: Path | None = None,
    progress: bool = False,
) -> CrawlReport:
    """Crawl the named sources (all when none are named) into the archive.

    With `due`, only the sources whose schedule has come round, and the statements due for
    a recheck. Holds the archive's lock for the whole run (ArchiveBusy at once if another
    process writes); raises ConfigError for an unknown source, UnusableDatabase for a file
    that is not an archive, DiskFull when the disk fills up.
    """
    sources = config.select(source_ids)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    open_archive(str(db_path)).close()  # a bad file fails here, before anything is fetched
    with exclusive(db_path):
        recheck_only: list[str] = []
        if due:
            sources, recheck_only = scheduling.due_now(sources, db_path)
            if not sources:
                return CrawlReport(db_path, nothing_due=True)
        linkable_before = linkable_count(db_path)
        summaries = run_crawl(
            config,
            sources,
            db_path,
            log_level,
            refetch=refetch,
            recheck_only=recheck_only,
            log_file=log_file,
            progress=progress,
        )
        relinked = relink_if_outgrown(db_path, linkable_before, live=progress)
    crawled = [s.source_id for s in summaries]
    return CrawlReport(db_path, summaries, unhealthy_sources(db_path, crawled), relinked=relinked)


def unhealthy_sources(db_path: Path, source_ids: list[str]) -> list[dict[str, Any]]:
    """The named sources that their last crawl left unhealthy, as rows of `sources`."""
    db = sqlite_utils.Database(db_path)
    try:
        rows = db.table("sources").rows_where("health = 'unhealthy'")
        return [row for row in rows if row["id"] in source_ids]
    finally:
        db.close()


def notify(command: str, report: CrawlReport) -> list[str]:
    """Run the operator's command (through the shell) once per unhealthy source, with the
    problem as JSON on stdin; the failures of the command itself, in words."""
    failures = []
    for row in report.unhealthy:
        problem = {
            "source_id": row["id"],
            "source": row["name"],
            "problem": row["health_reason"],
            "checked": row["health_checked"],
            "archive": str(report.db_path),
        }
        result = subprocess.run(
            command,
            shell=True,
            input=json.dumps(problem, ensure_ascii=False),
            text=True,
            check=False,
        )
        if result.returncode:
            failures.append(f"notify command exited {result.returncode} for {row['id']}")
    return failures


def crawl_settings(
    config_path: str,
    db_path: Path,
    log_level: str = "INFO",
    refetch: bool = False,
    recheck_only: list[str] | None = None,
) -> Settings:
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("COMMUNIQUE_CONFIG", config_path, priority="cmdline")
    settings.set("COMMUNIQUE_DB", str(db_path), priority="cmdline")
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    settings.set("COMMUNIQUE_REFETCH", refetch, priority="cmdline")
    settings.set("COMMUNIQUE_RECHECK_ONLY", recheck_only or [], priority="cmdline")
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


class _SourcePrefix(logging.Filter):
    """Scrapy's own lines (a retry given up, a download error) name the source, as ours do.

    Scrapy passes the spider along with those records; the spider's name is the source id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        name = getattr(getattr(record, "spider", None), "name", None)
        # Our own lines (and the spiders' loggers) already start with it.
        if name and not record.getMessage().startswith(f"{name}: "):
            record.msg = f"{str(name).replace('%', '%%')}: {record.msg}"
        return True


class OneLineFormatter(logging.Formatter):
    """A record's exception as its last line only: a terminal or cron mail is not the place
    for tracebacks (the log file keeps them, and --log-level DEBUG shows them)."""

    def formatException(self, ei: Any) -> str:
        lines = super().formatException(ei).strip().splitlines()
        return f"  ({lines[-1]})" if lines else ""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\n  (", " (", 1)


def configure_logging(level: str, log_file: Path | None = None, console: Any = None) -> None:
    """Lines with source and URL; Scrapy's own INFO chatter only at DEBUG.

    Scrapy's INFO output (settings, middlewares, stats dumps per source) buries what an
    operator needs. A handler filter, because Scrapy resets logger levels per crawler.
    With a rich console (live progress), lines print above the table; with a log file,
    they also go to a rotating file for unattended runs.
    """
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers: list[logging.Handler] = []
    if console is not None:
        from rich.logging import RichHandler

        handlers.append(RichHandler(console=console, show_path=False, markup=False))
    else:
        stream = logging.StreamHandler()
        brief = OneLineFormatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        stream.setFormatter(formatter if level == "DEBUG" else brief)
        handlers.append(stream)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = RotatingFileHandler(
            log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
        )
        rotating.setFormatter(formatter)
        handlers.append(rotating)
    chosen = logging.getLevelNamesMapping()[level]
    for handler in handlers:
        handler.addFilter(_OperatorFilter(chosen))
        handler.addFilter(_SourcePrefix())
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG)


def job_dir(db_path: Path, source_id: str) -> Path:
    """Where Scrapy keeps a source's pending requests, so a killed crawl resumes there."""
    return db_path.parent / "jobs" / db_path.stem / source_id


def run_crawl(
    config: Config,
    sources: list[Source],
    db_path: Path,
    log_level: str = "INFO",
    *,
    refetch: bool = False,
    recheck_only: list[str] | None = None,
    log_file: Path | None = None,
    progress: bool = False,
) -> list[CrawlSummary]:
    """Crawl the sources side by side into the archive; blocks until all are done.

    A Twisted reactor runs once per process, so call this once per process.
    """
    from rich.console import Console
    from rich.live import Live
    from scrapy.crawler import Crawler, CrawlerProcess

    from crawler.progress import ProgressTable
    from crawler.spiders import spider_for

    settings = crawl_settings(config.path, db_path, log_level, refetch, recheck_only)
    process = CrawlerProcess(settings)
    console = Console(stderr=True) if progress else None
    configure_logging(log_level, log_file, console)
    crawlers: list[Crawler] = []
    for source in sources:
        spider = spider_for(source, config, jobdir=job_dir(db_path, source.id))
        crawler = process.create_crawler(spider)
        crawlers.append(crawler)
        process.crawl(crawler)
    if console is not None:
        with Live(ProgressTable(crawlers), console=console, refresh_per_second=4):
            process.start()
    else:
        process.start()
    for crawler, source in zip(crawlers, sources, strict=True):
        if crawler.stats.get_value("finish_reason") == "finished":
            # A finished crawl's queue is spent; kept, its seen-requests filter would
            # make the next crawl skip every page.
            shutil.rmtree(job_dir(db_path, source.id), ignore_errors=True)
    for crawler in crawlers:
        if crawler.stats.get_value("communique/disk_full"):
            raise DiskFull(
                f"{db_path}: disk full ({crawler.stats.get_value('communique/disk_full')})"
            )
    crawl_ids = [crawler.stats.get_value("communique/crawl_id") for crawler in crawlers]
    archive = Archive(db_path)
    try:
        return [archive.crawl_summary(crawl_id) for crawl_id in crawl_ids if crawl_id]
    finally:
        archive.close()
