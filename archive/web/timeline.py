"""Timelines drawn on the server as small inline SVGs: nothing to load, so they show offline.

On the home page, per source: statements per week, and the weeks with edits and with
statements gone. On a statement page: its versions on a time axis, with its status changes
and captures. The week axis ends at the archive's own last check (never at a date a page
claims), so a page that says it was published in 2099 cannot stretch every chart.
Every text in an SVG is escaped; each mark carries a <title> (a tooltip, and what a screen
reader or a test reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from archive import statuses

MAX_WEEKS = 52  # the home page shows the last year at most
MIN_WEEKS = 8  # and never fewer weeks than this, so one busy week is not one fat bar
WIDTH = 720
LEFT = 64  # room for the lane names
RIGHT = 8

COLOURS = {
    "statements": "#4c78a8",
    "edits": "#f58518",
    "gone": "#d62728",
    "live": "#2ca02c",
    "capture": "#888888",
    "versions": ("#4c78a8", "#9ecae9"),
    "axis": "#666666",
}


def week_of(day: date) -> date:
    """The Monday of day's week."""
    return day - timedelta(days=day.weekday())


def moment(value: Any) -> datetime | None:
    """An archive timestamp as an aware datetime (UTC when it names no zone), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _attrs(**values: Any) -> Markup:
    return Markup(" ").join(
        Markup('{}="{}"').format(name.rstrip("_").replace("_", "-"), value)
        for name, value in values.items()
        if value is not None
    )


def _rect(title: str, css: str, **values: Any) -> Markup:
    return Markup("<rect {} {}><title>{}</title></rect>").format(
        _attrs(class_=css), _attrs(**values), title
    )


def _text(text: str, **values: Any) -> Markup:
    return Markup("<text {}>{}</text>").format(_attrs(**values), text)


def _svg(
    width: int, height: int, css: str, label_id: str, title: str, desc: str, body: Markup
) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="timeline {}" role="img" '
        'width="{}" height="{}" viewBox="0 0 {} {}" aria-labelledby="{}-title {}-desc" '
        'font-family="sans-serif" font-size="10">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>{}</svg>'
    ).format(
        css, width, height, width, height, label_id, label_id, label_id, title, label_id, desc,
        body,
    )  # fmt: skip


# --- Home page: per source, statements per week and events ------------------------------


@dataclass
class SourceWeeks:
    source_id: str
    name: str
    statements: dict[date, int] = field(default_factory=dict)
    edits: dict[date, int] = field(default_factory=dict)
    gone: dict[date, int] = field(default_factory=dict)
    total: int = 0  # statements of the source, in the chart's weeks or not
    chart: Markup = field(default_factory=Markup)


_WEEK = "date({}, '-6 days', 'weekday 1')"  # the Monday on or before a date

# Each query reads only what its weeks need through an index: a statement row is large (its
# text), so a scan of the table costs seconds on a big archive (see `make bench`).
SOURCES_SQL = """
select src.id, src.name,
  (select count(*) from statements s where s.source_id = src.id) as total
from sources src order by src.id
"""
STATEMENT_WEEKS_SQL = f"""
select source_id, week, count(*) as n from (
  select source_id,
    {_WEEK.format("coalesce(date(substr(published, 1, 10)), date(first_seen))")} as week
  from statements where published >= :start
  union all
  select source_id, {_WEEK.format("date(first_seen)")} as week
  from statements where published is null
) where week between :start and :end group by source_id, week
"""
# CROSS JOIN keeps SQLite from starting with a scan of the statements.
EDIT_WEEKS_SQL = f"""
select s.source_id, {_WEEK.format("date(v.first_seen)")} as week, count(*) as n
from versions v cross join statements s on s.id = v.statement_id
where v.version > 1 and coalesce(v.origin, 'crawl') = 'crawl'
  and v.first_seen >= :start
group by s.source_id, week
"""
GONE_WEEKS_SQL = f"""
select s.source_id, {_WEEK.format("date(c.at)")} as week, count(*) as n
from status_changes c cross join statements s on s.id = c.statement_id
where {statuses.gone_sql("c.status")} and c.at >= :start
group by s.source_id, week
"""


async def _rows(db: Any, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    return list((await db.execute(sql, params or {})).rows)


async def source_weeks(db: Any) -> tuple[list[date], list[SourceWeeks]]:
    """The weeks on the axis and each source's counts in them, read from the archive."""
    names = set(await db.table_names())
    if not {"statements", "sources"} <= names:
        return [], []
    # The archive's last check: its latest capture (an index lookup), or, in an archive
    # without captures, the statements' last sighting (a scan).
    checked = None
    if "captures" in names:
        checked = moment((await _rows(db, "select max(fetched_at) from captures"))[0][0])
    if checked is None:
        checked = moment((await _rows(db, "select max(last_seen) from statements"))[0][0])
    sources = {
        row["id"]: SourceWeeks(row["id"], row["name"] or row["id"], total=row["total"])
        for row in await _rows(db, SOURCES_SQL)
    }
    if checked is None or not sources:
        return [], list(sources.values())
    end = week_of(checked.astimezone(UTC).date())
    start = end - timedelta(weeks=MAX_WEEKS - 1)
    params = {"start": start.isoformat(), "end": end.isoformat()}
    queries = [("statements", STATEMENT_WEEKS_SQL)]
    queries += [("edits", EDIT_WEEKS_SQL)] if "versions" in names else []
    queries += [("gone", GONE_WEEKS_SQL)] if "status_changes" in names else []
    earliest = end
    for kind, sql in queries:
        for row in await _rows(db, sql, params):
            source = sources.get(row["source_id"])
            try:
                week = date.fromisoformat(row["week"] or "")
            except ValueError:
                continue
            if source is None or not start <= week <= end:
                continue
            getattr(source, kind)[week] = row["n"]
            earliest = min(earliest, week)
    first = min(earliest, end - timedelta(weeks=MIN_WEEKS - 1))
    weeks = [first + timedelta(weeks=n) for n in range((end - first).days // 7 + 1)]
    return weeks, list(sources.values())


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def source_chart(weeks: list[date], source: SourceWeeks, index: int) -> Markup:
    """One source's weeks: statement bars above the axis, edit and gone lanes below it."""
    top, bars = 14, 56
    base = top + bars
    lane = 9
    height = base + 2 * (lane + 2) + 18
    step = (WIDTH - LEFT - RIGHT) / len(weeks)
    most = max(source.statements.values(), default=0)
    body: list[Markup] = [
        Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
            LEFT, base, WIDTH - RIGHT, base, COLOURS["axis"]
        ),
        _text("statements", x=LEFT - 4, y=top + 8, text_anchor="end", fill=COLOURS["axis"]),
        _text(f"max {most}", x=LEFT - 4, y=top + 20, text_anchor="end", fill=COLOURS["axis"]),
        _text("edits", x=LEFT - 4, y=base + lane, text_anchor="end", fill=COLOURS["edits"]),
        _text("gone", x=LEFT - 4, y=base + 2 * lane + 2, text_anchor="end", fill=COLOURS["gone"]),
    ]
    for n, week in enumerate(weeks):
        x = LEFT + n * step
        label = f"Week of {week.isoformat()}"
        count = source.statements.get(week, 0)
        if count:
            h = max(1.0, bars * count / most)
            body.append(
                _rect(
                    f"{label}: {_plural(count, 'statement')}", "week",
                    x=f"{x + step * 0.1:.1f}", y=f"{base - h:.1f}", width=f"{step * 0.8:.1f}",
                    height=f"{h:.1f}", fill=COLOURS["statements"],
                )
            )  # fmt: skip
        for row, kind, word in ((0, "edits", "edit"), (1, "gone", "statement gone")):
            events = getattr(source, kind).get(week, 0)
            if events:
                body.append(
                    _rect(
                        f"{label}: {_plural(events, word)}", kind,
                        x=f"{x + step * 0.1:.1f}", y=base + 2 + row * (lane + 2),
                        width=f"{step * 0.8:.1f}", height=lane, fill=COLOURS[kind],
                    )
                )  # fmt: skip
        if week.day <= 7 and (n > 0 or len(weeks) <= MIN_WEEKS):  # the first week of a month
            name = week.strftime("%b %Y" if week.month == 1 or n < 5 else "%b")
            body.append(
                _text(name, x=f"{x:.1f}", y=height - 4, fill=COLOURS["axis"], class_="month")
            )
    statements = sum(source.statements.values())
    desc = (
        f"{_plural(statements, 'statement')} in the {len(weeks)} weeks from "
        f"{weeks[0].isoformat()} to {(weeks[-1] + timedelta(days=6)).isoformat()} "
        f"(of {source.total:,} in all), {_plural(sum(source.edits.values()), 'edit')}, "
        f"{_plural(sum(source.gone.values()), 'statement')} gone"
    )
    return _svg(
        WIDTH, height, "source-timeline", f"timeline-{index}",
        f"{source.name}: statements per week", desc, Markup("").join(body),
    )  # fmt: skip


async def home(db: Any) -> list[SourceWeeks]:
    """Every source with its chart, for the home page."""
    weeks, sources = await source_weeks(db)
    for index, source in enumerate(sources):
        if weeks:
            source.chart = source_chart(weeks, source, index)
    return sources


# --- Statement page: versions on a time axis ---------------------------------------------


def statement_chart(
    statement: dict[str, Any],
    versions: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    captures: list[dict[str, Any]],
) -> Markup | None:
    """The statement's versions as spans on a time axis, its status changes and captures
    as marks below; None when it has no version with a time."""
    dated = [(v, moment(v.get("first_seen"))) for v in versions]
    spans = [(v, seen) for v, seen in dated if seen is not None]
    if not spans:
        return None
    times = [seen for _, seen in spans]
    times += [t for v in versions if (t := moment(v.get("last_seen")))]
    times += [t for c in changes if (t := moment(c.get("at")))]
    times += [t for c in captures if (t := moment(c.get("fetched_at")))]
    times += [t for t in (moment(statement.get("last_seen")),) if t]
    first, last = min(times).astimezone(UTC), max(times).astimezone(UTC)
    if last - first < timedelta(hours=1):  # one moment: centre it on a day
        first, last = first - timedelta(hours=12), last + timedelta(hours=12)
    # a margin either side, so the latest version has room to show and be clicked
    margin = (last - first) * 0.04
    start, span = first - margin, (last - first + 2 * margin).total_seconds()

    def x(when: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (when - start).total_seconds() / span

    top, band = 18, 16
    axis = top + band
    height = axis + 40
    body: list[Markup] = [
        _text("versions", x=LEFT - 4, y=top + 12, text_anchor="end", fill=COLOURS["axis"]),
        _text("status", x=LEFT - 4, y=axis + 13, text_anchor="end", fill=COLOURS["axis"]),
        _text("captures", x=LEFT - 4, y=axis + 25, text_anchor="end", fill=COLOURS["capture"]),
    ]
    for n, (version, seen) in enumerate(spans):
        left = x(seen)
        # a version lasts until the next one; the latest is the text as of the last check
        right = x(spans[n + 1][1]) if n + 1 < len(spans) else WIDTH - RIGHT
        right = max(right, left + 3)
        number = version.get("version")
        added, removed = version.get("chars_added"), version.get("chars_removed")
        change = f"; +{added} −{removed} characters" if n and added is not None else ""
        title = (
            f"Version {number}: first seen {version.get('first_seen')}, "
            f"last seen {version.get('last_seen') or '?'}{change}"
        )
        body.append(
            Markup('<a href="#version-{}">{}{}</a>').format(
                number,
                _rect(
                    title, "version",
                    x=f"{left:.1f}", y=top, width=f"{right - left:.1f}", height=band,
                    fill=COLOURS["versions"][n % 2],
                ),
                _text(f"v{number}", x=f"{left:.1f}", y=top - 4, fill=COLOURS["axis"]),
            )
        )  # fmt: skip
    dated_changes = [(c, t) for c in changes if (t := moment(c.get("at")))]
    for n, (change_row, at) in enumerate(dated_changes):
        status = str(change_row.get("status") or "")
        ends = dated_changes[n + 1][1] if n + 1 < len(dated_changes) else last
        kind = "gone" if statuses.is_gone(status) else "live"
        reason = f": {change_row.get('reason')}" if change_row.get("reason") else ""
        body.append(
            _rect(
                f"{statuses.GONE.get(status, status)} from {change_row.get('at')}{reason}",
                f"status status-{kind}",
                x=f"{x(at):.1f}", y=axis + 5, width=f"{max(x(ends) - x(at), 3):.1f}", height=8,
                fill=COLOURS[kind],
            )
        )  # fmt: skip
    for capture in captures:
        fetched = moment(capture.get("fetched_at"))
        if fetched is None:
            continue
        body.append(
            _rect(
                f"Capture {capture.get('id')}, fetched {capture.get('fetched_at')}: "
                f"{capture.get('outcome') or '?'}",
                "capture",
                x=f"{x(fetched) - 0.5:.1f}", y=axis + 17, width=1.5, height=10,
                fill=COLOURS["capture"],
            )
        )  # fmt: skip
    body += [
        Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
            LEFT, axis, WIDTH - RIGHT, axis, COLOURS["axis"]
        ),
        _text(
            first.strftime("%Y-%m-%d %H:%M"), x=f"{x(first):.1f}", y=height - 2,
            fill=COLOURS["axis"],
        ),
        _text(
            last.strftime("%Y-%m-%d %H:%M UTC"), x=f"{x(last):.1f}", y=height - 2,
            text_anchor="end", fill=COLOURS["axis"],
        ),
    ]  # fmt: skip
    desc = (
        f"{_plural(len(spans), 'version')}, {_plural(len(dated_changes), 'status change')} "
        f"and {_plural(len(captures), 'capture')} from {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    )
    return _svg(
        WIDTH, height, "statement-timeline", "statement-timeline",
        "Versions over time", desc, Markup("").join(body),
    )  # fmt: skip
