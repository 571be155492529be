"""The one writer of a crawl on several machines (`communique crawl --frontier`).

It opens (or resumes) a run on the frontier, publishes what the workers need to know
from the archive, seeds the sources' start requests, then takes the workers' results off
the result stream (XREADGROUP) into the archive through `archive.ingest`, with the
workers' cleaning. A result is acknowledged (XACK) only after its SQLite commit, and is
recorded with its id in that commit: a writer killed in between re-reads it on restart
and does not record it twice. It checks every result against the config (a known source
of this run, URLs in its allowed domains): the stream is open to anyone with Redis
access. It stops when no request waits or is held by a worker and no result waits.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from archive import statuses
from archive.cleaned import STATUS_CLEAN_FAILED, Cleaned
from archive.fetched import Fetched, FetchFailed
from archive.identity import in_domains
from archive.ingest import IngestSettings, Session, apply_links, exclusive, ingest
from archive.linker import Linker
from archive.links.languages import Written
from archive.relink import linkable_count, relink_if_outgrown
from archive.schema import open_archive
from archive.store import Archive, CrawlPlan, CrawlSummary
from communique.config import Config, ConfigError, Source
from crawler import due as scheduling
from crawler import frontier
from crawler.results import BadResult, CleaningError, Result, claimed, decode
from crawler.run import CrawlReport, DiskFull, configure_logging, unhealthy_sources

logger = logging.getLogger(__name__)

BATCH = 200  # results read (and committed) at a time
BLOCK_MS = 1000
WAITING_LOG_S = 60.0  # how often a writer with nothing to write says what it waits for


def crawl(
    config: Config,
    source_ids: list[str] | tuple[str, ...],
    db_path: Path,
    url: str,
    *,
    due: bool = False,
    refetch: bool = False,
    log_level: str = "INFO",
    log_file: Path | None = None,
) -> CrawlReport:
    """Crawl the named sources (all when none are named) through the frontier at url:
    seed, write what the workers fetch, finish when the frontier is empty.

    Raises FrontierError (FrontierUnreachable) naming the URL before the archive is
    touched; ConfigError, UnusableDatabase, ArchiveBusy and DiskFull as `crawl` does.
    """
    r = frontier.connect(url)
    configure_logging(log_level, log_file)
    sources = config.select(source_ids)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    open_archive(str(db_path)).close()  # a bad file fails here, before anything is seeded
    archive_id = str(db_path.resolve())
    with exclusive(db_path):
        try:
            left = frontier.current_run(r)
            recheck_only: list[str] = []
            if due and (left is None or left.archive != archive_id):
                sources, recheck_only = scheduling.due_now(sources, db_path)
                if not sources:
                    return CrawlReport(db_path, nothing_due=True)
            run, run_sources = start_run(
                r, url, config, sources, db_path, refetch, recheck_only, log_level, log_file
            )
            linkable_before = linkable_count(db_path)
            summaries = Writer(r, url, db_path, config, run_sources, run.id).write()
        except redis.RedisError as error:
            raise frontier.unreachable(url, error) from None
        relinked = relink_if_outgrown(db_path, linkable_before)
    crawled = [summary.source_id for summary in summaries]
    return CrawlReport(db_path, summaries, unhealthy_sources(db_path, crawled), relinked=relinked)


def start_run(
    r: redis.Redis,
    url: str,
    config: Config,
    sources: list[Source],
    db_path: Path,
    refetch: bool = False,
    recheck_only: list[str] | None = None,
    log_level: str = "INFO",
    log_file: Path | None = None,
) -> tuple[frontier.Run, list[Source]]:
    """Open (or resume) the run, publish what the workers need from the archive, seed the
    frontier; returns the run and its sources (a resumed run's with these)."""
    run, resumed = frontier.open_run(r, str(db_path.resolve()), [s.id for s in sources])
    run_sources = _run_sources(config, run)
    if resumed:
        logger.info(
            "resuming run %s (its writer stopped before the end): %s",
            run.id,
            ", ".join(run.sources),
        )
    publish_plans(r, db_path, run_sources, refetch)
    from crawler.distributed import seed

    links = seed(
        config,
        run_sources,
        url,
        run.id,
        refetch=refetch,
        recheck_only=recheck_only,
        log_level=log_level,
        log_file=log_file,
    )
    frontier.mark_seeded(r, run, links)
    return run, run_sources


def _run_sources(config: Config, run: frontier.Run) -> list[Source]:
    known = {source.id: source for source in config.sources}
    missing = [source for source in run.sources if source not in known]
    if missing:
        raise ConfigError(
            f"{config.path}: the run in the frontier ({run.id}) has source(s) not in this "
            f"file: {', '.join(missing)}; use the file it was started with, or "
            "`communique frontier clear`"
        )
    return [known[source] for source in run.sources]


def publish_plans(r: redis.Redis, db_path: Path, sources: list[Source], refetch: bool) -> None:
    """What seeding and workers need to know from the archive, per source: statements due
    for a recheck (with their validators for conditional requests), those not due (links
    to them are not followed), entry pages as last seen; and the WeChat articles known."""
    archive = Archive(db_path)
    try:
        for source in sources:
            plan = archive.crawl_plan(source.id)
            if refetch:
                plan = CrawlPlan(rechecks=plan.rechecks)
            frontier.publish_plan(r, source.id, plan)
        known: list[str] = []
        if not refetch and any(source.kind == "wechat" for source in sources):
            rows = archive.db.execute(
                "select identity from statements where identity like 'wechat:%'"
            ).fetchall()
            known = [row[0] for row in rows]
        frontier.publish_known(r, known)
    finally:
        archive.close()


def allowed_domains(source: Source, config: Config) -> list[str]:
    """Where a result of this source may come from: the hosts its spider may fetch."""
    domains = set(source.domains)
    if source.kind == "wechat":
        from crawler.spiders.wechat import read_links

        domains |= set(config.crawl.wechat_hosts)
        for path in route_files(source, config):
            try:
                links = read_links(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
            domains |= {urlsplit(link).hostname or "" for link in links} - {""}
    return sorted(domains)


def route_files(source: Source, config: Config) -> list[Path]:
    """A WeChat source's link files, as its spider resolves them."""
    found = []
    for route in source.routes:
        if route.file:
            path = Path(route.file)
            found.append(path if path.is_absolute() else Path(config.path).parent / path)
    return found


# KEYS: run record, ids counted. ARGV: result id, counter, statement links found.
_COUNT = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[2], ARGV[3])
end
"""


@dataclass(frozen=True)
class Rejected:
    """A result the writer refuses, and why (recorded as an error of its source)."""

    url: str
    worker: str
    why: str


class Writer:
    """Takes a run's results into the archive, one crawl row per source."""

    def __init__(
        self,
        r: redis.Redis,
        url: str,
        db_path: Path,
        config: Config,
        sources: list[Source],
        run_id: str,
    ) -> None:
        self.r = r
        self.url = url
        self.db_path = db_path
        self.run_id = run_id
        self.sources = {source.id: source for source in sources}
        self.domains = {source.id: allowed_domains(source, config) for source in sources}
        self.files = {
            source.id: {path.absolute().as_uri() for path in route_files(source, config)}
            for source in sources
        }
        self.max_body = config.crawl.max_page_bytes
        self.settings = IngestSettings.from_config(config)
        self.sessions: dict[str, Session] = {}
        self.linker: Linker | None = None  # links what the sessions store (archive/linker.py)
        self.taken = 0
        self._count = r.register_script(_COUNT)

    def write(self) -> list[CrawlSummary]:
        """Open a crawl per source, take results until the run is over, finish the crawls
        (health judged) and delete the run from the frontier."""
        with ExitStack() as stack:
            for source_id, source in self.sources.items():
                self.sessions[source_id] = stack.enter_context(
                    Session(self.db_path, self.settings, source, link_later=True)
                )
            self.linker = stack.enter_context(Linker(self.db_path))
            try:
                self.drain()
                self.write_links(self.linker.finish())
            except sqlite3.OperationalError as error:
                if "full" in str(error):
                    raise DiskFull(f"{self.db_path}: disk full ({error})") from None
                raise
            logger.info("linked %d statement(s) across languages", self.linker.count)
            frontier.mark_finishing(self.r)
            run = frontier.current_run(self.r)
            links = run.links if run else {}
            summaries = []
            for source_id, session in self.sessions.items():
                summaries.append(session.finish("finished", links.get(source_id, 0)))
                if session.problem:
                    logger.warning("%s: unhealthy: %s", source_id, session.problem.reason)
        frontier.close_run(self.r, frontier.Run(self.run_id, "", tuple(self.sources), ""))
        return summaries

    def drain(self, until_done: bool = True) -> int:
        """Take results until the run is over (or, without until_done, until none waits);
        returns how many were taken."""
        while True:  # first what this writer read before and did not acknowledge
            answer: Any = self.r.xreadgroup(
                frontier.WRITER_GROUP, frontier.WRITER, {frontier.RESULTS: "0"}, count=BATCH
            )
            entries = answer[0][1] if answer else []
            if not entries:
                break
            self.take(entries)
        reader = _Prefetch(self.r)
        reader.start()
        said = time.monotonic()
        try:
            while True:
                entries = reader.next()
                if entries:
                    self.take(entries)
                    continue
                if self.linker is not None:
                    self.write_links(self.linker.linked())  # nothing else to write meanwhile
                if not self.r.exists(frontier.RUN):
                    raise frontier.FrontierError(
                        f"{frontier.redacted(self.url)}: the run was cleared while its "
                        "writer was running (`frontier clear`)"
                    )
                if self.finished() or not until_done:
                    return self.taken
                if time.monotonic() - said >= WAITING_LOG_S:
                    said = time.monotonic()
                    self.say_waiting()
        finally:
            reader.stop()

    def finished(self) -> bool:
        """No request waits or is held, and no result waits: the run is complete.

        One transaction, so the counts are one moment's: a worker acknowledges a request
        only after its results and the requests it led to are in."""
        pipe = self.r.pipeline(transaction=True)
        for source_id in self.sources:
            pipe.xlen(frontier.requests_key(source_id))
        pipe.xlen(frontier.RESULTS)
        return not any(pipe.execute())

    def say_waiting(self) -> None:
        state = frontier.status(self.r, self.url)
        waiting = sum(q.waiting for q in state.queues)
        held = sum(q.held for q in state.queues)
        workers = len(state.workers)
        logger.info(
            "waiting for workers: %d request(s) queued, %d held by %d worker(s); "
            "%d worker(s) seen in the last minute",
            waiting,
            held,
            len(state.held_by),
            workers,
        )
        if not workers:
            logger.warning(
                "no worker has been seen for a minute: start `communique worker --frontier %s`",
                frontier.redacted(self.url),
            )

    def take(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Record a batch: per source in one transaction; then acknowledge them all."""
        by_source: dict[str, list[tuple[str, Result | Rejected]]] = {}
        strays: list[str] = []
        counts: list[Result] = []
        for raw_id, fields in entries:
            entry_id = raw_id.decode()
            checked = self.check(fields)
            if isinstance(checked, str):
                logger.warning("dropped result %s: %s", entry_id, checked)
                strays.append(entry_id)
                continue
            source_id, verdict = checked
            by_source.setdefault(source_id, []).append((entry_id, verdict))
            if isinstance(verdict, Result) and verdict.links:
                counts.append(verdict)
        links = self.linker.linked() if self.linker is not None else []
        for source_id, batch in by_source.items():
            session = self.sessions[source_id]
            with session.batch():
                if links:  # what the linker found for earlier batches, in this commit
                    apply_links(session, links)
                    links = []
                for entry_id, verdict in batch:
                    self.record(session, entry_id, verdict)
        self.write_links(links)  # none taken above (every result was dropped)
        ids = strays + [entry_id for batch in by_source.values() for entry_id, _ in batch]
        pipe = self.r.pipeline(transaction=True)
        pipe.xack(frontier.RESULTS, frontier.WRITER_GROUP, *ids)
        pipe.xdel(frontier.RESULTS, *ids)
        for result in counts:
            # Once per result id: the same page pushed again by a worker that took over a
            # dead one's request is not counted again; one re-read after a restart is,
            # since it was not before (this runs with the acknowledgement, atomically).
            self._count(
                keys=[frontier.RUN, frontier.COUNTED],
                args=[result.id, f"links:{result.source_id}", result.links],
                client=pipe,
            )
        pipe.execute()
        self.taken += len(ids)
        queued = []
        for session in self.sessions.values():
            queued += session.store.queued_for_linking
            session.store.queued_for_linking.clear()
        if self.linker is not None:
            self.linker.hand_on(queued)

    def write_links(self, links: list[Written]) -> None:
        """Write what the linker found, in a transaction of its own."""
        if links:
            apply_links(next(iter(self.sessions.values())), links)

    def check(self, fields: dict[bytes, bytes]) -> tuple[str, Result | Rejected] | str:
        """(source, the result or why it is rejected) for a result charged to a source of
        this run; or, for one that cannot be charged to any, why it is dropped."""
        try:
            result = decode(fields, self.max_body)
        except BadResult as error:
            source_id, url, worker = claimed(fields)
            if source_id in self.sources:
                return source_id, Rejected(url, worker, f"unreadable ({error})")
            return f"unreadable ({error})"
        source_id = result.source_id
        if source_id not in self.sources:
            return f"source {source_id[:80]!r} is not crawled in this run"
        if result.run != self.run_id:
            return f"of another run ({result.run[:40]!r}), for {source_id}"
        item = result.item
        if not result.id.startswith(
            (f"{self.run_id}/{source_id}:", f"{self.run_id}/seed:{source_id}/")
        ):
            # Ids are how the writer records nothing twice: a result may not take an id
            # that another source's results will use.
            why = f"id {result.id[:120]!r} is not one of {source_id}'s"
            return source_id, Rejected(item.url, result.worker, why)
        urls = [item.url]
        if isinstance(item, Fetched) and item.requested_url:
            urls.append(item.requested_url)
        for url in urls:
            if isinstance(item, FetchFailed) and url in self.files[source_id]:
                continue  # a WeChat route's link file that could not be read
            scheme = urlsplit(url).scheme
            if scheme not in ("http", "https") or not in_domains(url, self.domains[source_id]):
                why = f"{url[:300]} is outside {source_id}'s allowed domains"
                return source_id, Rejected(item.url, result.worker, why)
        return source_id, result

    def record(self, session: Session, entry_id: str, verdict: Result | Rejected) -> None:
        if isinstance(verdict, Rejected):
            worker = verdict.worker[:80] or "an unnamed worker"
            reason = f"rejected a result from {worker}: {verdict.why}"
            logger.warning("%s: %s", session.source_id, reason)
            failed = FetchFailed(session.source_id or "", verdict.url[:2000], reason)
            # Recorded under the stream's own id for it: one nobody pushing can choose.
            ingest(session, failed, delivery=f"{self.run_id}/rejected/{entry_id}")
            return
        item = verdict.item
        cleaned: Cleaned | None = None
        if isinstance(verdict.cleaned, CleaningError):
            reason = f"cleaning failed: {verdict.cleaned}"
            cleaned = Cleaned(status=STATUS_CLEAN_FAILED, url=item.url, reason=reason)
        else:
            cleaned = verdict.cleaned
        outcome = ingest(
            session, item, cleaned, verdict.signature, verdict.features, delivery=verdict.id
        )
        _log(verdict, outcome, cleaned)


class _Prefetch(threading.Thread):
    """Reads the next batch of results while the writer records this one: a batch is
    megabytes of bodies, which arrive from Redis while SQLite works. An empty batch (none
    came within BLOCK_MS) is the writer's cue to see whether the run is over."""

    def __init__(self, r: redis.Redis) -> None:
        super().__init__(name="results-reader", daemon=True)
        self.r = r
        self.batches: queue.Queue[list[Any] | BaseException] = queue.Queue(maxsize=1)
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                answer: Any = self.r.xreadgroup(
                    frontier.WRITER_GROUP,
                    frontier.WRITER,
                    {frontier.RESULTS: ">"},
                    count=BATCH,
                    block=BLOCK_MS,
                )
            except Exception as error:  # handed to the writer, which stops on it
                self.batches.put(error)
                return
            self.batches.put(answer[0][1] if answer else [])

    def next(self) -> list[Any]:
        batch = self.batches.get()
        if isinstance(batch, BaseException):
            raise batch
        return batch

    def stop(self) -> None:
        """Stop reading. What it read and the writer did not take stays pending for this
        consumer, and is read again first by the next writer."""
        self.running = False
        with contextlib.suppress(queue.Empty):
            self.batches.get_nowait()  # unblocks a reader waiting to hand a batch over


def _log(result: Result, outcome: str, cleaned: Cleaned | None) -> None:
    item = result.item
    if outcome == statuses.DELIVERED_BEFORE:
        logger.debug("%s: already recorded: %s", item.source_id, item.url)
    elif isinstance(item, FetchFailed):
        logger.warning("%s: error %s: %s", item.source_id, item.url, item.reason)
    elif outcome in (statuses.ERROR, statuses.NOT_STATEMENT, statuses.GONE_OUTCOME):
        reason = (cleaned.reason if cleaned else None) or f"HTTP {item.http_status}"
        logger.warning("%s: %s %s: %s", item.source_id, outcome, item.url, reason)
    else:
        logger.info("%s: %s %s", item.source_id, outcome, item.url)
