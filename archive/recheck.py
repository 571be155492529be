"""When to fetch a known statement again: often while it is new, rarely once it is old."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class RecheckSchedule:
    """(age below which, recheck every) steps, in seconds, and the interval after the last."""

    steps: tuple[tuple[float, float], ...] = (
        (2 * DAY, 6 * HOUR),
        (14 * DAY, DAY),
        (90 * DAY, 7 * DAY),
    )
    later: float = 30 * DAY

    def interval(self, age: float) -> float:
        for below, every in self.steps:
            if age < below:
                return every
        return self.later


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def next_check(
    published: str | None, first_seen: str, now: datetime, schedule: RecheckSchedule
) -> str:
    """The time a statement is next due, from its age (publication date, else first sighting)."""
    born = _parse_time(published) or _parse_time(first_seen) or now
    age = max(0.0, (now - born).total_seconds())
    return (now + timedelta(seconds=schedule.interval(age))).isoformat(timespec="seconds")
