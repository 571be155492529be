"""Atom feeds and timelines on a large archive: each feed, the home page with its charts and
a statement page, through a real `datasette` process, beside the feed SQL run in sqlite3.

The archive is the search benchmark's (bench/search_speed.py: statements spread over ten
years), plus a second version for one statement in EDIT_EVERY and a deletion for one in
GONE_EVERY, written straight into the tables for speed.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from archive.web import timeline
from archive.web.feeds import FEEDS, MAX_ENTRIES
from bench import search_speed

EDIT_EVERY = 50
GONE_EVERY = 200
REPEAT = 5


def add_events(path: Path) -> tuple[int, int]:
    """Versions 1 and 2 for every EDIT_EVERY-th statement, a deletion for every GONE_EVERY-th."""
    conn = sqlite3.connect(path)
    try:
        ids = conn.execute(
            "select id, title, text, first_seen from statements order by rowid"
        ).fetchall()
        versions, changes = [], []
        for n, (sid, title, text, seen) in enumerate(ids):
            if n % EDIT_EVERY == EDIT_EVERY - 1:  # n % 10 == 9: the latest year
                edited = text + " Corrected."  # the stored ops fit, as the store writes them
                ops = json.dumps([[0, len(title) + 2 + len(text)], [1, " Corrected."]])
                later = seen[:10] + "T12:00:00+00:00"
                versions += [
                    (sid, 1, title, text, seen, seen, None, None, None, "crawl"),
                    (sid, 2, title, edited, later, later, ops, 11, 0, "crawl"),
                ]
            if n % GONE_EVERY == GONE_EVERY - 1:
                changes.append(
                    (sid, "deleted", "页面不存在 (HTTP 404)", seen[:10] + "T18:00:00+00:00")
                )
        with conn:
            conn.executemany(
                "insert into versions (statement_id, version, title, text, first_seen, "
                "last_seen, diff, chars_added, chars_removed, origin) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                versions,
            )
            conn.executemany(
                "insert into status_changes (statement_id, status, reason, at) values (?, ?, ?, ?)",
                changes,
            )
        return len(versions) // 2, len(changes)
    finally:
        conn.close()


def time_sql(path: Path, sql: str, params: dict[str, Any]) -> float:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        timings = []
        conn.execute(sql, params).fetchall()  # warm-up
        for _ in range(REPEAT):
            started = time.perf_counter()
            conn.execute(sql, params).fetchall()
            timings.append(time.perf_counter() - started)
        return round(statistics.median(timings) * 1000, 1)
    finally:
        conn.close()


def time_url(url: str) -> tuple[float, int]:
    timings = []
    status = search_speed._get(url)[0]  # warm-up
    for _ in range(REPEAT):
        started = time.perf_counter()
        status, _ = search_speed._get(url)
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings) * 1000, 1), status


def run(work: Path, count: int) -> dict[str, Any]:
    path = work / f"feeds-{count}.db"
    results: dict[str, Any] = {"statements": count}
    results["build_seconds"] = round(search_speed.build(path, count), 1)
    results["edits"], results["gone"] = add_events(path)
    sid = sqlite3.connect(path).execute("select statement_id from versions limit 1").fetchone()[0]
    pages = {f"{name}.atom": f"/{path.stem}/{name}.atom" for name in FEEDS}
    pages |= {f"{name}.atom?source=": f"/{path.stem}/{name}.atom?source=bench" for name in FEEDS}
    pages |= {"home page (timelines)": "/", "statement page": f"/{path.stem}/statement/{sid}"}
    process, base = search_speed.serve(path, work / "datasette-metadata")
    try:
        for label, page in pages.items():
            ms, status = time_url(base + page)
            results.setdefault("pages", {})[label] = {"ms": ms, "status": status}
    finally:
        process.terminate()
        process.wait(timeout=20)
    results["sql_ms"] = {
        name: time_sql(path, feed.sql, {"source": "", "limit": MAX_ENTRIES})
        for name, feed in FEEDS.items()
    }
    (checked,) = sqlite3.connect(path).execute("select max(last_seen) from statements").fetchone()
    end = timeline.week_of(timeline.moment(checked).date())  # type: ignore[union-attr]
    weeks = {"start": (end - timeline.timedelta(weeks=timeline.MAX_WEEKS - 1)).isoformat()}
    weeks["end"] = end.isoformat()
    results["timeline_sql_ms"] = {
        name: time_sql(path, sql, weeks)
        for name, sql in (
            ("sources", timeline.SOURCES_SQL),
            ("statements per week", timeline.STATEMENT_WEEKS_SQL),
            ("edits per week", timeline.EDIT_WEEKS_SQL),
            ("gone per week", timeline.GONE_WEEKS_SQL),
        )
    }
    # What else the home page reads (archive/web/plugin.py), to tell the charts' share.
    results["home_other_sql_ms"] = time_sql(
        path,
        "select min(published), max(published), max(last_seen) from statements",
        {},
    )
    path.unlink(missing_ok=True)
    return results
