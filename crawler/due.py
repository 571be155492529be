"""Which sources are due for a crawl now: their schedule against their last successful crawl."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from croniter import croniter

from archive.store import Archive
from communique.config import Source, is_cron, parse_duration

DEFAULT_EVERY = "6h"


def next_due(schedule: str, last_crawl: datetime | None, now: datetime) -> datetime:
    """When a source with this schedule and last successful crawl is next due."""
    if last_crawl is None:
        return now
    if is_cron(schedule):
        return croniter(schedule, last_crawl).get_next(datetime)
    return last_crawl + timedelta(seconds=parse_duration(schedule))


@dataclass(frozen=True)
class DueSource:
    source: Source
    next_due: datetime
    rechecks_due: int

    def due(self, now: datetime) -> bool:
        return self.next_due <= now

    @property
    def schedule(self) -> str:
        return self.source.every or DEFAULT_EVERY


def plan(
    sources: list[Source],
    last_crawls: dict[str, datetime],
    rechecks: dict[str, int],
    now: datetime | None = None,
) -> list[DueSource]:
    """Each source with when it is next due and how many statements await a recheck."""
    now = now or datetime.now(UTC)
    return [
        DueSource(
            source,
            next_due(source.every or DEFAULT_EVERY, last_crawls.get(source.id), now),
            rechecks.get(source.id, 0),
        )
        for source in sources
    ]


def due_now(sources: list[Source], db_path: Path) -> tuple[list[Source], list[str]]:
    """What `crawl --due` crawls: the sources due, or with statements due for a recheck;
    and the ids of those of them due for their rechecks only."""
    archive = Archive(db_path)
    try:
        planned = plan(sources, archive.last_crawls(), archive.rechecks_due())
    finally:
        archive.close()
    now = datetime.now(UTC)
    recheck_only = [p.source.id for p in planned if not p.due(now) and p.rechecks_due]
    return [p.source for p in planned if p.due(now) or p.rechecks_due], recheck_only


@dataclass(frozen=True)
class SourceStatus:
    """A source as `sources status` shows it: health, last crawl, next due, rechecks."""

    source: Source
    health: str  # ok, unhealthy, or unknown (never judged)
    health_reason: str | None
    last_crawl: datetime | None
    next_due: datetime
    rechecks_due: int


def status(sources: list[Source], db_path: Path) -> list[SourceStatus]:
    """Each source's health (as judged after its last crawl), last crawl and next due time."""
    archive = Archive(db_path)
    try:
        last = archive.last_crawls()
        planned = plan(sources, last, archive.rechecks_due())
        health = {row["id"]: row for row in archive.db.table("sources").rows}
    finally:
        archive.close()
    return [
        SourceStatus(
            item.source,
            health.get(item.source.id, {}).get("health") or "unknown",
            health.get(item.source.id, {}).get("health_reason"),
            last.get(item.source.id),
            item.next_due,
            item.rechecks_due,
        )
        for item in planned
    ]
