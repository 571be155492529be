"""Re-run the cleaner over the stored raw bodies of statements, recording real text changes."""

from __future__ import annotations

import gzip
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from archive.clean import Hints, clean_page
from archive.progress import JobProgress
from archive.store import CHANGED, UNCHANGED, Archive

K = TypeVar("K")
R = TypeVar("R")

# Jobs handed to the pool ahead of the one being waited for, per worker: keeps every
# worker busy while bounding how many raw bodies sit in memory at once.
QUEUE_PER_WORKER = 4


class WorkerDied(Exception):
    """The worker process running a job exited (a crash in C code, the OOM killer, …)."""


@dataclass
class _Job(Generic[K]):
    key: K
    args: tuple[Any, ...] | None  # None: nothing to run, passed through in order
    future: Future[Any] | None = None
    suspect: bool = False  # was running when the pool broke: retried on its own


def _lost(future: Future[Any]) -> bool:
    """Whether a job's result went down with its pool (rather than arriving before)."""
    if not future.done() or future.cancelled():
        return True
    return isinstance(future.exception(), BrokenProcessPool)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver: workers never inherit the parent's open SQLite connection or threads;
    # the server imports the cleaner once, so every worker (and a replacement after a
    # crash) starts with it loaded.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["archive.clean"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def map_in_workers(
    fn: Callable[..., R],
    jobs: Iterable[tuple[K, tuple[Any, ...] | None]],
    workers: int | None = None,
) -> Iterator[tuple[K, R | BaseException | None]]:
    """Run `fn(*args)` for each (key, args) in a process pool; yield (key, result) in order.

    The result is the exception when `fn` raised, or WorkerDied when the worker process
    died on that job; the other jobs go on. Jobs whose args are None are not run: they
    come out, in their place, as (key, None). At most a few jobs per worker are read
    from `jobs` ahead of the one whose result is being waited for.
    """
    workers = max(1, workers or os.cpu_count() or 1)
    window = workers * QUEUE_PER_WORKER
    source = iter(jobs)
    pending: deque[_Job[K]] = deque()
    exhausted = False
    pool: ProcessPoolExecutor | None = None
    try:
        while True:
            # After a worker died, the jobs that were running are retried one at a time,
            # so the job that kills a worker is found and only it fails.
            serial = any(job.suspect for job in pending)
            while not exhausted and not serial and len(pending) < window:
                try:
                    key, args = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(_Job(key, args))
            if not pending:
                return
            for job in list(pending)[:1] if serial else pending:
                if job.args is not None and job.future is None:
                    pool = pool or _new_pool(workers)
                    job.future = pool.submit(fn, *job.args)
            head = pending[0]
            if head.future is None:
                pending.popleft()
                yield head.key, None
                continue
            try:
                result: R | BaseException | None = head.future.result()
            except BrokenProcessPool:
                assert pool is not None
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
                if head.suspect:
                    pending.popleft()
                    yield head.key, WorkerDied("the cleaning worker process died on this page")
                else:
                    for job in pending:
                        if job.future is not None and _lost(job.future):
                            job.future = None
                            job.suspect = True
                continue
            except Exception as error:
                result = error
            pending.popleft()
            yield head.key, result
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class ReextractResult:
    """What a re-extraction did, in statements."""

    statements: int  # statements looked at
    changed: int  # got a new version
    unchanged: int  # the cleaner gives the text they already have
    # No stored body to clean, the cleaner raised, or it finds no statement on the page
    # any more (the current text is kept).
    failed: int


@dataclass(frozen=True)
class _Target:
    statement_id: str
    source_id: str
    capture_id: int | None
    url: str | None
    content_type: str | None
    body_sha256: str | None


def _targets(archive: Archive, source_ids: list[str]) -> list[_Target]:
    """Each statement with the latest capture its current text came from (if it has a body)."""
    where = ""
    if source_ids:
        where = f"where s.source_id in ({', '.join('?' for _ in source_ids)})"
    rows = archive.db.execute(
        "select s.id, s.source_id, c.id, c.url, c.content_type, c.body_sha256 "
        "from statements s left join captures c on c.id = ("
        "  select c2.id from captures c2 where c2.statement_id = s.id"
        "  and c2.outcome in ('new', 'changed', 'unchanged') and c2.body_sha256 is not null"
        "  order by c2.id desc limit 1"
        f") {where} order by s.source_id, s.id",
        source_ids,
    ).fetchall()
    return [_Target(*row) for row in rows]


def _fallback_hints(archive: Archive) -> dict[str, Hints]:
    """For sources no longer configured: their issuer and language from the archive."""
    rows = archive.db.execute("select id, issuer, language from sources").fetchall()
    return {sid: Hints(issuer=issuer, language=language) for sid, issuer, language in rows}


def reextract(
    db_path: Path,
    source_ids: list[str],
    hints: dict[str, Hints],
    progress: JobProgress | None = None,
) -> ReextractResult:
    """Clean every statement's stored body again (of the named sources, or all).

    Each statement's latest capture with a body is cleaned with the capture's URL and
    content type and its source's hints (from `hints`, else the issuer and language the
    archive has for a source no longer configured), in a process pool; the results are
    written from this process, one transaction per statement, and a new version is made
    only where the text or title really changed.
    """
    archive = Archive(db_path)
    try:
        targets = _targets(archive, source_ids)
        fallback = _fallback_hints(archive)
        if progress is not None:
            progress.set_total(len(targets))

        def jobs() -> Iterator[tuple[_Target, tuple[Any, ...] | None]]:
            for target in targets:
                row = None
                if target.body_sha256 is not None:
                    row = archive.db.execute(
                        "select body_gz from bodies where sha256 = ?", [target.body_sha256]
                    ).fetchone()
                if row is None:
                    yield target, None
                    continue
                source_hints = hints.get(target.source_id) or fallback.get(target.source_id)
                body = gzip.decompress(row[0])
                yield target, (body, target.url, target.content_type, source_hints)

        changed = unchanged = failed = 0
        workers = min(os.cpu_count() or 1, max(1, len(targets)))
        for target, cleaned in map_in_workers(clean_page, jobs(), workers):
            if progress is not None:
                progress.advance()
            if cleaned is None or isinstance(cleaned, BaseException):
                failed += 1
                continue
            assert target.capture_id is not None
            outcome = archive.apply_reextraction(target.statement_id, target.capture_id, cleaned)
            if outcome == CHANGED:
                changed += 1
            elif outcome == UNCHANGED:
                unchanged += 1
            else:
                failed += 1
        return ReextractResult(len(targets), changed, unchanged, failed)
    finally:
        archive.close()
