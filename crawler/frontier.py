"""The shared frontier in Redis: its keys, the run it holds, what workers need to know from
the archive, and `frontier status` / `frontier clear`. No Scrapy here.

One Redis database holds one archive's frontier:

- a run record (`communique:run`): its id, the archive it fills, its sources, and the
  statement links counted so far per source;
- per source, the request stream (`communique:<source>:requests`, consumer group
  `workers`), scrapy-redis's duplicate filter set (`communique:<source>:dupefilter`) and
  the crawl plan published from the archive (`communique:<source>:plan`);
- the result stream (`communique:results`, consumer group `writer`);
- worker heartbeats (`communique:workers`) and the per-host throttle
  (`communique:host:<host>`, see crawler/throttle.py).

A run lasts from the writer's seeding to its finish; then the writer deletes it, so
nothing of it (queue, duplicate filter, plan) carries into the next run.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from archive.store import CrawlPlan, Recheck

PREFIX = "communique"
RUN = f"{PREFIX}:run"
RESULTS = f"{PREFIX}:results"
WORKERS = f"{PREFIX}:workers"
KNOWN = f"{PREFIX}:known"  # identities of the WeChat articles in the archive (JSON list)
COUNTED = f"{PREFIX}:counted"  # results whose statement links the run has counted
WORKERS_GROUP = "workers"
WRITER_GROUP = "writer"
WRITER = "writer"  # the writer's consumer name: a restarted writer re-reads what it held
# A worker is "seen" if its heartbeat is younger than this.
SEEN_WITHIN_S = 60.0
# scrapy-redis key templates (its scheduler fills in the spider's name, our source id).
QUEUE_KEY = PREFIX + ":%(spider)s:requests"
DUPEFILTER_KEY = PREFIX + ":%(spider)s:dupefilter"

# Run states: seeding → running → finishing (the writer is closing the crawl rows).
RUNNING = "running"
FINISHING = "finishing"


class FrontierError(Exception):
    """The frontier cannot be used; the message is one line naming its URL."""


class FrontierUnreachable(FrontierError):
    """Redis does not answer at the frontier's URL."""


class BadFrontierURL(FrontierError):
    """The frontier's URL is not a Redis URL."""


def requests_key(source_id: str) -> str:
    return QUEUE_KEY % {"spider": source_id}


def dupefilter_key(source_id: str) -> str:
    return DUPEFILTER_KEY % {"spider": source_id}


def plan_key(source_id: str) -> str:
    return f"{PREFIX}:{source_id}:plan"


def redacted(url: str) -> str:
    """The URL as it may be printed: a password in it becomes ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_url(url: str) -> str:
    """The URL if it names a Redis server (redis://, rediss://, unix://), else FrontierError."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise BadFrontierURL(
            f"{redacted(url)}: not a Redis URL (expected redis://HOST:PORT/DB, rediss://… "
            "or unix://PATH)"
        )
    return url


def client(url: str, timeout: float = 30.0) -> redis.Redis:
    """A client for the frontier at url (not yet connected: see `connect`)."""
    check_url(url)
    try:
        return redis.Redis.from_url(
            url, socket_connect_timeout=5, socket_timeout=timeout, health_check_interval=30
        )
    except ValueError as error:
        raise BadFrontierURL(f"{redacted(url)}: not a usable Redis URL ({error})") from None


@functools.cache
def shared(url: str) -> redis.Redis:
    """One client (and connection pool) per frontier URL for everything in a process."""
    return client(url)


def connect(url: str) -> redis.Redis:
    """A client for the frontier, checked to answer; FrontierUnreachable naming the URL."""
    r = client(url)
    try:
        r.ping()
    except redis.RedisError as error:
        raise unreachable(url, error) from None
    return r


def unreachable(url: str, error: BaseException) -> FrontierUnreachable:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return FrontierUnreachable(f"{redacted(url)}: the frontier does not answer ({reason})")


def now() -> float:
    return time.time()


def create_group(r: redis.Redis, key: str, group: str) -> None:
    """The stream's consumer group, reading from its start (entries pushed before the
    group existed are not skipped); nothing if it exists."""
    try:
        r.xgroup_create(key, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


# -- the run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One crawl of some sources through the frontier into one archive."""

    id: str
    archive: str
    sources: tuple[str, ...]
    started: str
    state: str = RUNNING
    seeded: bool = False
    links: dict[str, int] = field(default_factory=dict)  # per source, seed + entry pages


def current_run(r: redis.Redis) -> Run | None:
    raw: Any = r.hgetall(RUN)
    if not raw or b"id" not in raw:
        return None
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    sources = tuple(json.loads(fields.get("sources", "[]")))
    links = {source: int(fields.get(f"links:{source}", 0)) for source in sources}
    for source in sources:
        links[source] += int(fields.get(f"seed_links:{source}", 0))
    return Run(
        id=fields["id"],
        archive=fields.get("archive", ""),
        sources=sources,
        started=fields.get("started", ""),
        state=fields.get("state", RUNNING),
        seeded=fields.get("seeded") == "1",
        links=links,
    )


def open_run(r: redis.Redis, archive: str, sources: Iterable[str]) -> tuple[Run, bool]:
    """Start a run of these sources into the archive, or resume the one left by a writer
    that was killed (its sources and these). Returns (run, resumed).

    A run of another archive is an error: one Redis database holds one archive's frontier.
    """
    wanted = list(dict.fromkeys(sources))
    run = current_run(r)
    if run is not None and run.state == FINISHING:
        # The writer was stopped while closing the crawl rows: what it held is recorded;
        # a new run starts from the archive as it is.
        close_run(r, run)
        run = None
    if run is not None and run.archive != archive:
        raise FrontierError(
            f"the frontier holds a run ({run.id}) for another archive, {run.archive}: "
            "finish it with that archive, or `communique frontier clear`"
        )
    if run is None:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        mapping: dict[Any, Any] = {
            "id": run_id,
            "archive": archive,
            "sources": json.dumps(wanted),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "state": RUNNING,
            "seeded": "0",
        }
        r.hset(RUN, mapping=mapping)
        resumed = False
    else:
        merged = list(dict.fromkeys([*run.sources, *wanted]))
        r.hset(RUN, mapping={"sources": json.dumps(merged), "seeded": "0"})
        resumed = True
    for source in current_sources(r):
        create_group(r, requests_key(source), WORKERS_GROUP)
    create_group(r, RESULTS, WRITER_GROUP)
    run = current_run(r)
    assert run is not None
    return run, resumed


def current_sources(r: redis.Redis) -> list[str]:
    run = current_run(r)
    return list(run.sources) if run else []


def mark_seeded(r: redis.Redis, run: Run, seed_links: dict[str, int]) -> None:
    """Seeding is done; the statement links it counted (a re-seed counts them anew)."""
    mapping: dict[Any, Any] = {f"seed_links:{s}": str(n) for s, n in seed_links.items()}
    mapping["seeded"] = "1"
    r.hset(RUN, mapping=mapping)


def mark_finishing(r: redis.Redis) -> None:
    r.hset(RUN, "state", FINISHING)


def close_run(r: redis.Redis, run: Run) -> None:
    """Delete the run and everything it kept: its queues, duplicate filters and plans."""
    keys: list[str] = [RUN, KNOWN, RESULTS, COUNTED]
    for source in run.sources:
        keys += [requests_key(source), dupefilter_key(source), plan_key(source)]
    r.delete(*keys)


# -- what workers need to know from the archive -------------------------------------------------


def publish_plan(r: redis.Redis, source_id: str, plan: CrawlPlan) -> None:
    """A source's crawl plan (rechecks, fresh statements, entry pages as last seen), for
    the seeding and for the workers that parse its entry pages."""
    data = {
        "rechecks": [[c.url, c.etag, c.last_modified] for c in plan.rechecks],
        "fresh": sorted(plan.fresh),
        "entry_pages": {
            url: [c.etag, c.last_modified, c.body_sha256] for url, c in plan.entry_pages.items()
        },
    }
    r.set(plan_key(source_id), json.dumps(data))


def publish_known(r: redis.Redis, identities: Iterable[str]) -> None:
    r.set(KNOWN, json.dumps(sorted(identities)))


def read_plan(r: redis.Redis, source_id: str) -> CrawlPlan:
    raw = r.get(plan_key(source_id))
    if not raw:
        return CrawlPlan()
    data: dict[str, Any] = json.loads(raw)
    return CrawlPlan(
        rechecks=[Recheck(url, etag, modified) for url, etag, modified in data["rechecks"]],
        fresh=set(data["fresh"]),
        entry_pages={
            url: Recheck(url, etag, modified, digest)
            for url, (etag, modified, digest) in data["entry_pages"].items()
        },
    )


def read_known(r: redis.Redis) -> set[str]:
    raw = r.get(KNOWN)
    return set(json.loads(raw)) if raw else set()


# -- status and clear --------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceQueue:
    source_id: str
    waiting: int  # requests no worker has taken yet
    held: int  # taken by a worker, not finished
    seen: int  # the duplicate filter: requests this run has queued


@dataclass(frozen=True)
class FrontierStatus:
    url: str
    run: Run | None
    queues: list[SourceQueue]
    held_by: dict[str, int]  # worker → requests it holds
    results_waiting: int  # results on the stream, not yet in the archive
    results_held: int  # read by the writer, not yet committed
    workers: dict[str, float]  # worker → seconds since its last heartbeat (< 1 min)

    @property
    def empty(self) -> bool:
        return not any(q.waiting or q.held for q in self.queues) and not self.results_waiting


def pending_by_consumer(r: redis.Redis, key: str, group: str) -> dict[str, int]:
    try:
        summary: dict[str, Any] = r.xpending(key, group)
    except redis.ResponseError:  # no such stream or group
        return {}
    return {
        str(c["name"].decode() if isinstance(c["name"], bytes) else c["name"]): int(c["pending"])
        for c in summary.get("consumers") or []
    }


def status(r: redis.Redis, url: str) -> FrontierStatus:
    run = current_run(r)
    sources = list(run.sources) if run else []
    queues = []
    held_by: dict[str, int] = {}
    for source in sources:
        pending = pending_by_consumer(r, requests_key(source), WORKERS_GROUP)
        for worker, count in pending.items():
            held_by[worker] = held_by.get(worker, 0) + count
        held = sum(pending.values())
        length = int(r.xlen(requests_key(source)))
        seen = int(r.scard(dupefilter_key(source)))
        queues.append(SourceQueue(source, max(0, length - held), held, seen))
    results = int(r.xlen(RESULTS))
    writer_held = sum(pending_by_consumer(r, RESULTS, WRITER_GROUP).values())
    cutoff = now() - SEEN_WITHIN_S
    beats: Any = r.zrangebyscore(WORKERS, cutoff, "+inf", withscores=True)
    workers = {name.decode(): round(now() - at, 1) for name, at in beats}
    return FrontierStatus(redacted(url), run, queues, held_by, results, writer_held, workers)


def look(url: str) -> FrontierStatus:
    """`frontier status`: the frontier at url, or FrontierUnreachable naming it."""
    r = connect(url)
    try:
        return status(r, url)
    except redis.RedisError as error:
        raise unreachable(url, error) from None


def wipe(url: str) -> int:
    """`frontier clear`: delete the frontier at url; how many keys it had."""
    r = connect(url)
    try:
        return clear(r)
    except redis.RedisError as error:
        raise unreachable(url, error) from None


def clear(r: redis.Redis) -> int:
    """Delete every key of the frontier; returns how many there were."""
    removed = 0
    batch: list[bytes] = []
    for key in r.scan_iter(match=f"{PREFIX}:*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            removed += int(r.delete(*batch))
            batch = []
    if batch:
        removed += int(r.delete(*batch))
    return removed


def heartbeat(r: redis.Redis, worker: str) -> None:
    """Note that a worker is alive; forget workers silent for a day."""
    pipe = r.pipeline(transaction=False)
    pipe.zadd(WORKERS, {worker: now()})
    pipe.zremrangebyscore(WORKERS, "-inf", now() - 86400)
    pipe.execute()
