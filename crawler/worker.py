"""`communique worker`: a crawl process on any machine, working for the shared frontier.

It opens a crawler per source of the run the writer started (crawler/distributed.py),
closes them when the run ends and opens the next run's; it stops on SIGTERM (finishing
the requests in flight), after --until-idle seconds of an empty frontier, or when Redis
stops answering.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import redis
from scrapy.crawler import Crawler, CrawlerRunner
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.reactor import install_reactor
from twisted.internet.task import LoopingCall

from communique.config import Config
from crawler import frontier
from crawler.distributed import distributed_settings, distributed_spider, failure
from crawler.pipelines import extraction_pool
from crawler.run import configure_logging

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(2).hex()}"


class Supervisor:
    """A worker's life: a crawler per source of the current run, opened when the run starts
    and closed when it ends; stops on SIGTERM (in-flight requests finished), after
    `until_idle` seconds of an empty frontier, or when Redis stops answering."""

    def __init__(
        self,
        runner: CrawlerRunner,
        config: Config,
        url: str,
        name: str,
        until_idle: float | None,
    ) -> None:
        self.runner = runner
        self.config = config
        self.url = url
        self.name = name
        self.until_idle = until_idle
        self.server = frontier.shared(url)
        self.known = {source.id: source for source in config.sources}
        self.run_id: str | None = None
        self.crawlers: dict[str, Crawler] = {}
        self.warned: set[str] = set()
        self.idle_since: float | None = None
        self.stopping = False
        self.failure: str | None = None

    def tick(self) -> None:
        if self.stopping:
            return
        if failure():
            self.stop(failure())
            return
        try:
            frontier.heartbeat(self.server, self.name)
            run = frontier.current_run(self.server)
            if run is None or run.id != self.run_id:
                self.close_crawlers()
                self.run_id = run.id if run else None
            busy = False
            if run is not None:
                for source_id in run.sources:
                    self.open_crawler(source_id, run.id)
                lengths = self._lengths(run.sources)
                busy = any(lengths)
                for source_id, length in zip(run.sources, lengths, strict=True):
                    if length and source_id in self.crawlers:
                        _wake(self.crawlers[source_id])
        except redis.RedisError as error:
            self.stop(str(frontier.unreachable(self.url, error)))
            return
        self.idle_since = None if busy else (self.idle_since or time.monotonic())
        if (
            self.until_idle is not None
            and self.idle_since is not None
            and time.monotonic() - self.idle_since >= self.until_idle
        ):
            idle = self.until_idle
            logger.info("worker %s: the frontier has been empty %gs: stopping", self.name, idle)
            self.stop()

    def _lengths(self, sources: tuple[str, ...]) -> list[int]:
        pipe = self.server.pipeline(transaction=False)
        for source_id in sources:
            pipe.xlen(frontier.requests_key(source_id))
        return [int(n) for n in pipe.execute()]

    def open_crawler(self, source_id: str, run_id: str) -> None:
        if source_id in self.crawlers:
            return
        source = self.known.get(source_id)
        if source is None:
            if source_id not in self.warned:
                self.warned.add(source_id)
                logger.warning(
                    "worker %s: source %s of the run is not in %s: its requests are left "
                    "to workers that have it",
                    self.name,
                    source_id,
                    self.config.path,
                )
            return
        crawler = self.runner.create_crawler(distributed_spider(source, self.config, run_id))
        self.crawlers[source_id] = crawler
        self.runner.crawl(crawler).addErrback(
            lambda failure: logger.error("%s: %s", source_id, failure.getErrorMessage())
        )

    def close_crawlers(self) -> None:
        for crawler in self.crawlers.values():
            deferred_from_coro(crawler.stop_async())
        self.crawlers = {}

    def stop(self, failure: str | None = None) -> None:
        """Stop taking requests, finish those in flight, stop the reactor."""
        reactor = _reactor()

        if self.stopping:
            return
        self.stopping = True
        self.failure = failure
        stopped = self.runner.stop()
        stopped.addBoth(lambda _: reactor.callLater(0, reactor.stop) and None)

    def on_signal(self, signum: int, _: Any) -> None:
        reactor = _reactor()

        if self.stopping:
            os._exit(1)  # a second signal: the pending requests go to other workers
        reactor.callFromThread(self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        logger.info(
            "worker %s: %s: finishing the requests in flight, then stopping",
            self.name,
            signal.Signals(signum).name,
        )
        self.stop()


def _reactor() -> Any:
    """The installed Twisted reactor (imported late: importing it installs one)."""
    from twisted.internet import reactor

    return reactor


def _wake(crawler: Crawler) -> None:
    """Have an idle crawler ask the frontier now rather than at its next heartbeat (5 s):
    requests other workers found appear in Redis, not in this process."""
    slot = getattr(getattr(crawler, "engine", None), "_slot", None)
    nextcall = getattr(slot, "nextcall", None)
    if nextcall is not None:
        nextcall.schedule()


def run_worker(
    config: Config,
    url: str,
    *,
    until_idle: float | None = None,
    reclaim_after: float = 60.0,
    name: str | None = None,
    log_level: str = "INFO",
    log_file: Path | None = None,
) -> str | None:
    """Work for the frontier at url until stopped; returns why it failed, or None."""
    frontier.connect(url)  # FrontierUnreachable, before anything starts
    name = name or worker_name()
    settings = distributed_settings(
        config,
        url,
        seeding=False,
        worker=name,
        log_level=log_level,
        reclaim_after=reclaim_after,
    )
    # The reactor Scrapy's settings ask for, installed before anything imports one; the
    # worker runs it itself, with its own signal handlers (see Supervisor).
    install_reactor(settings["TWISTED_REACTOR"], settings["ASYNCIO_EVENT_LOOP"])
    reactor = _reactor()

    runner = CrawlerRunner(settings)
    configure_logging(log_level, log_file)
    supervisor = Supervisor(runner, config, url, name, until_idle)
    ticker = LoopingCall(supervisor.tick)
    reactor.callWhenRunning(ticker.start, 1.0)
    # The cleaning processes start (and import the cleaner) while the worker waits for
    # requests, not when its first page arrives.
    extraction_pool(settings.getint("COMMUNIQUE_EXTRACT_WORKERS")).submit(abs, 0)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, supervisor.on_signal)
    logger.info("worker %s: working for %s", name, frontier.redacted(url))
    reactor.run(installSignalHandlers=False)
    return supervisor.failure or (failure())
