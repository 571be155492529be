"""Statuses are defined once (archive/statuses.py): the Python helpers, the gone query, the
home page count and the statement page's banner agree on an archive holding one statement
in each status, each reached through the one way in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import lxml.html
import pytest

from archive import statuses
from tests.builders import crawl
from tests.helpers import datasette_app, rows


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    db = tmp_path / "archive.db"
    with crawl(db) as c:
        for status in statuses.STATEMENT_STATUSES:
            url = f"https://gov-en.example/{status}.html"
            c.statement(url, f"Statement that becomes {status}", f"The text of the {status} one.")
    # Two definitive answers in a row make a statement gone (one can be a fluke).
    for _ in range(2):
        with crawl(db) as c:
            for status in statuses.GONE_STATUSES:
                c.gone(f"https://gov-en.example/{status}.html", status, f"the page says {status}")
    return db


def test_each_status_is_reached_through_ingest(archive: Path) -> None:
    held = {
        row["url"].rsplit("/", 1)[1][:-5]: row["status"]
        for row in rows(archive, "select url, status from statements")
    }
    assert held == {status: status for status in statuses.STATEMENT_STATUSES}


def test_gone_query_home_page_and_statement_pages_agree_with_python(archive: Path) -> None:
    gone_in_python = {s for s in statuses.STATEMENT_STATUSES if statuses.is_gone(s)}
    assert gone_in_python == set(statuses.GONE) and statuses.LIVE not in gone_in_python

    async def pages() -> tuple[set[str], str, dict[str, bool]]:
        ds = datasette_app(archive)
        gone = (await ds.client.get("/archive/gone.json?_shape=array")).json()
        home = (await ds.client.get("/")).text
        banners = {}
        for row in rows(archive, "select id, status from statements"):
            page = (await ds.client.get(f"/archive/statement/{row['id']}")).text
            banners[row["status"]] = bool(lxml.html.fromstring(page).cssselect("#status-banner"))
        return {row["status"] for row in gone}, home, banners

    gone, home, banners = asyncio.run(pages())
    assert gone == gone_in_python
    assert f"<strong>{len(gone_in_python)}</strong> gone" in home
    assert banners == {s: statuses.is_gone(s) for s in statuses.STATEMENT_STATUSES}
