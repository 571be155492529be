"""When to fetch a known statement again: often while it is new, rarely once it is old."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = 3600.0
DAY = 24 * HOUR
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": HOUR, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str) -> float:
    """Seconds in `30m`, `6h`, `1d`, `2w`; ValueError naming the text otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration like 30m, 6h, 1d or 2w: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


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
