"""Which sources are due for a crawl now: their schedule against their last successful crawl."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

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
