"""Cleaning in a pool of worker processes, results in order, surviving a worker's death.

Cleaning is the CPU-heavy step (trafilatura, lxml): threads would serialise on the GIL,
so `reextract` and `warc import` clean in processes while their own process writes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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
