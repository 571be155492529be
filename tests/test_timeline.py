"""Timelines (archive/web/timeline.py): statements per week and edit and gone events per
source on the home page, a statement's versions on a time axis; SVG drawn by the server,
so they show in a browser that cannot reach the network (checked in headless Chromium).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from archive.cleaned import Cleaned
from archive.statuses import STATUS_DELETED, STATUS_OK
from archive.web.timeline import MAX_WEEKS, week_of
from tests.browser import chromium, needs_browser, screenshot
from tests.builders import crawl, source
from tests.helpers import datasette_app, rows, running_datasette

NOW = datetime.now(UTC).replace(microsecond=0)
# The archive's last check (its latest capture, below): the axis ends with its week, which
# on a Monday is not the week of today.
CHECKED = (NOW - timedelta(days=1)).date()
HOSTILE_NAME = '<script>document.title="pwned"</script>外交部 & "friends"'
GOV = source("gov-en", name="Ministry of Examples")
MFA = source("mfa-zh", name=HOSTILE_NAME, issuer="外交部", language="zh")
WEEKS = 20  # of statements, one to four a week


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def page(c: Any, link: str, title: str, text: str, at: str, **more: Any) -> str:
    made = Cleaned(status=STATUS_OK, url=link, title=title, text=text, **more)
    return c.page(link, f"<h1>{title}</h1><p>{text}</p>", cleaned=made, at=at)


def build(path: Path) -> None:
    """Twenty weeks of gov-en statements (1–4 a week, published on the day they were
    seen), one edited twice and one deleted; mfa-zh with a hostile name, a page that says it
    was published in 2099 and one from 1900."""
    with crawl(path, GOV) as c:
        for week in range(WEEKS, 0, -1):
            for n in range(week % 4 + 1):
                days = week * 7 - n
                day = (NOW - timedelta(days=days)).date().isoformat()
                page(
                    c, f"https://gov-en.example/w{week}-{n}.html", f"Week {week} number {n}",
                    f"Text of week {week}, number {n}.", ago(days), published=day,
                )  # fmt: skip
        link = "https://gov-en.example/w3-0.html"
        for days, text in ((12, "Edited once."), (4, "Edited twice, much later.")):
            page(
                c,
                link,
                "Week 3 number 0",
                text,
                ago(days),
                published=(NOW - timedelta(days=21)).date().isoformat(),
            )
    for days in (9, 8):  # two definitive answers in a row make a statement gone
        with crawl(path, GOV) as c:
            link = "https://gov-en.example/w5-0.html"
            c.page(
                link,
                "<p>gone</p>",
                cleaned=Cleaned(status=STATUS_DELETED, url=link, reason="removed"),
                at=ago(days),
            )
    with crawl(path, MFA) as c:
        page(
            c,
            "https://mfa-zh.example/future.html",
            "来自未来",
            "二〇九九年。",
            ago(3),
            published="2099-01-01",
        )
        page(
            c,
            "https://mfa-zh.example/past.html",
            "来自过去",
            "一九〇〇年。",
            ago(3),
            published="1900-01-01",
        )
        page(
            c,
            "https://mfa-zh.example/today.html",
            "今天",
            "今天的声明。",
            ago(1),
            published=CHECKED.isoformat(),
        )


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("timeline") / "archive.db"
    build(path)
    return path


def fetch(db_path: Path, *paths: str) -> list[lxml.html.HtmlElement]:
    async def run() -> list[lxml.html.HtmlElement]:
        ds = datasette_app(db_path)
        pages = []
        for path in paths:
            response = await ds.client.get(path)
            assert response.status_code == 200, path
            pages.append(lxml.html.fromstring(response.text))
        return pages

    return asyncio.run(run())


def titles(chart: Any, css: str) -> dict[str, str]:
    """{"Week of 2024-05-06": "3 statements"} from the marks' tooltips."""
    found = {}
    for rect in chart.xpath(f".//*[local-name()='rect'][contains(@class, '{css}')]"):
        week, _, what = rect.xpath("string(./*[local-name()='title'])").partition(": ")
        found[week] = what
    return found


def chart_of(home: Any, source_id: str) -> Any:
    (article,) = home.xpath(f"//article[@id='source-{source_id}']")
    (svg,) = article.xpath(".//*[local-name()='svg']")
    return svg


def test_home_shows_statements_per_week_as_the_archive_holds_them(archive: Path) -> None:
    (home,) = fetch(archive, "/")
    held = Counter(
        week_of(date.fromisoformat(row["published"][:10]))
        for row in rows(archive, "select published from statements where source_id = 'gov-en'")
    )
    shown = titles(chart_of(home, "gov-en"), "week")
    assert shown == {
        f"Week of {week.isoformat()}": f"{n} statement{'' if n == 1 else 's'}"
        for week, n in held.items()
    }
    assert sum(held.values()) == sum(w % 4 + 1 for w in range(1, WEEKS + 1))


def test_home_shows_the_weeks_with_edits_and_disappearances(archive: Path) -> None:
    (home,) = fetch(archive, "/")
    chart = chart_of(home, "gov-en")
    edits = Counter(
        week_of(datetime.fromisoformat(row["first_seen"]).date())
        for row in rows(archive, "select first_seen from versions where version > 1")
    )
    assert sum(edits.values()) == 2
    assert titles(chart, "edits") == {
        f"Week of {week.isoformat()}": f"{n} edit{'' if n == 1 else 's'}"
        for week, n in edits.items()
    }
    (gone,) = rows(archive, "select at from status_changes where status = 'deleted'")
    week = week_of(datetime.fromisoformat(gone["at"]).date())
    assert titles(chart, "gone") == {f"Week of {week.isoformat()}": "1 statement gone"}
    # what a screen reader hears, in one sentence
    desc = chart.xpath("string(./*[local-name()='desc'])")
    assert re.search(r"\b2 edits, 1 statement gone$", desc), desc


def test_dates_a_page_claims_never_stretch_the_axis(archive: Path) -> None:
    (home,) = fetch(archive, "/")
    chart = chart_of(home, "mfa-zh")
    # only the statement published within the axis is drawn; 1900 and 2099 are not
    assert titles(chart, "week") == {f"Week of {week_of(CHECKED).isoformat()}": "1 statement"}
    desc = chart.xpath("string(./*[local-name()='desc'])")
    first, last = re.search(r"from (\S+) to (\S+) ", desc).groups()  # type: ignore[union-attr]
    # the axis ends with the week of the archive's last check and spans at most a year
    assert date.fromisoformat(last) == week_of(CHECKED) + timedelta(days=6)
    assert date.fromisoformat(first) >= week_of(CHECKED) - timedelta(weeks=MAX_WEEKS - 1)
    assert "1 statement in the" in desc and "(of 3 in all)" in desc


def test_a_hostile_source_name_stays_text(archive: Path) -> None:
    (home,) = fetch(archive, "/")
    assert not home.xpath("//script[contains(., 'pwned')]")
    chart = chart_of(home, "mfa-zh")
    title = chart.xpath("string(./*[local-name()='title'])")
    assert title == f"{HOSTILE_NAME}: statements per week"
    (heading,) = home.xpath("//article[@id='source-mfa-zh']/h3/a")
    assert heading.text_content() == HOSTILE_NAME


def test_statement_page_puts_its_versions_on_a_time_axis(archive: Path) -> None:
    (row,) = rows(archive, "select id from statements where url like '%/w3-0.html'")
    (page,) = fetch(archive, f"/archive/statement/{row['id']}")
    (svg,) = page.xpath("//figure[@class='statement-timeline']/*[local-name()='svg']")
    versions = rows(
        archive, "select version, first_seen from versions where statement_id = ? order by version",
        [row["id"]],
    )  # fmt: skip
    marks = svg.xpath(".//*[local-name()='a']")
    assert [a.get("href") for a in marks] == [f"#version-{v['version']}" for v in versions]
    tooltips = [a.xpath("string(.//*[local-name()='title'])") for a in marks]
    assert [t.split(",")[0] for t in tooltips] == [
        f"Version {v['version']}: first seen {v['first_seen']}" for v in versions
    ]
    # versions stand left to right in time: each starts where the archive first saw it
    xs = [float(a.xpath(".//*[local-name()='rect']")[0].get("x")) for a in marks]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    captures = rows(archive, "select id from captures where statement_id = ?", [row["id"]])
    assert len(svg.xpath(".//*[local-name()='rect'][@class='capture']")) == len(captures)
    # and each version link leads to the version's row
    for v in versions:
        assert page.xpath(f"//tr[@id='version-{v['version']}']")


def test_a_gone_statement_shows_when_it_went(archive: Path) -> None:
    (row,) = rows(archive, "select id from statements where url like '%/w5-0.html'")
    (page,) = fetch(archive, f"/archive/statement/{row['id']}")
    (svg,) = page.xpath("//figure[@class='statement-timeline']/*[local-name()='svg']")
    (status,) = svg.xpath(".//*[local-name()='rect'][contains(@class, 'status-gone')]")
    (change,) = rows(archive, "select at from status_changes where statement_id = ?", [row["id"]])
    assert (
        status.xpath("string(./*[local-name()='title'])") == f"deleted from {change['at']}: removed"
    )


# --- In a browser with no network ------------------------------------------------------------

# Every host resolves to nothing but the loopback address the test serves on.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


def external_references(page: Any, base: str) -> list[str]:
    found = page.xpath("//script/@src | //link/@href | //img/@src | //iframe/@src")
    return [u for u in found if re.match(r"^(https?:)?//", u) and not u.startswith(base)]


@needs_browser
@pytest.mark.slow
def test_charts_render_in_chromium_without_network(archive: Path, tmp_path: Path) -> None:
    (row,) = rows(archive, "select id from statements where url like '%/w3-0.html'")
    with running_datasette(archive, tmp_path / "metadata") as base:
        # the switch really is off: the same server by a host name does not load
        by_name = base.replace("127.0.0.1", "localhost") + "/"
        assert "Communique" in chromium(tmp_path, "--dump-dom", by_name)
        assert "Communique" not in chromium(tmp_path, OFFLINE, "--dump-dom", by_name)
        home = lxml.html.fromstring(chromium(tmp_path, OFFLINE, "--dump-dom", base + "/"))
        assert external_references(home, base) == []
        (svg,) = home.xpath("//article[@id='source-gov-en']//*[local-name()='svg']")
        assert len(svg.xpath(".//*[local-name()='rect'][@class='week']")) == WEEKS
        statement_url = f"{base}/archive/statement/{row['id']}"
        page = lxml.html.fromstring(chromium(tmp_path, OFFLINE, "--dump-dom", statement_url))
        assert external_references(page, base) == []
        assert len(page.xpath("//figure[@class='statement-timeline']//*[local-name()='a']")) == 3
        screenshot(tmp_path, base + "/", "home-timelines.png", height=1800)
        screenshot(tmp_path, statement_url, "statement-timeline.png", height=900)
