"""Atom feeds (archive/web/feeds.py): new, edited and gone statements, for the archive and
per source, read by a real feed reader (feedparser) from a real Datasette.

The archive is built through the one way in (tests/builders.py), each page at a time of
the test's choosing, so every entry's time and id can be checked against what happened.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import lxml.etree
import lxml.html
import pytest

from archive.cleaned import Cleaned
from archive.statuses import STATUS_DELETED, STATUS_NOT_FOUND, STATUS_OK
from tests.builders import crawl, source
from tests.helpers import datasette_app, get, rows, running_datasette

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


GOV = source("gov-en", name="Ministry of Examples")
MFA = source("mfa-zh", name="外交部", issuer="外交部", language="zh")

V1 = "The Ministry announced new sanctions on five companies today.\nThe measures take effect on 1 June."
V2 = "The Ministry announced new sanctions on seven companies today.\nThe measures take effect on 1 June."
HOSTILE_TITLE = "<script>alert('t')</script> Markup \x00and\x1b[31m control\x0c <b>chars</b> & ]]>"
HOSTILE_TEXT = (
    "Before.\n<script>document.title='pwned'</script>\n<img src=x onerror=alert(1)>\n"
    "\x07bell \x00nul ]]> </content></entry> After."
)


def url(source_id: str, name: str) -> str:
    return f"https://{source_id}.example/{name}.html"


def page(c: Any, source_id: str, name: str, title: str, text: str, at: str, **more: Any) -> str:
    link = url(source_id, name)
    made = Cleaned(status=STATUS_OK, url=link, title=title, text=text, **more)
    return c.page(link, f"<h1>{title}</h1><p>{text}</p>", cleaned=made, at=at)


def gone(c: Any, source_id: str, name: str, status: str, reason: str, at: str) -> str:
    link = url(source_id, name)
    return c.page(
        link, "<p>gone</p>", cleaned=Cleaned(status=status, url=link, reason=reason), at=at
    )


def build(path: Path) -> None:
    """Two sources; an edit, two disappearances (one came back), a page that lies about its
    date and one whose title and text are hostile."""
    with crawl(path, GOV) as c:
        page(
            c,
            "gov-en",
            "liar",
            "Pinned to the top",
            "Claims the future.",
            ago(30),
            published="2099-01-01",
        )
        page(
            c, "gov-en", "sanctions", "New sanctions announced", V1, ago(20), published="2024-05-01"
        )
        page(c, "gov-en", "weather", "Weather report", "Rain expected.", ago(15))
        page(c, "gov-en", "hostile", HOSTILE_TITLE, HOSTILE_TEXT, ago(12))
        page(
            c, "gov-en", "sanctions", "New sanctions announced", V2, ago(10), published="2024-05-01"
        )
    with crawl(path, MFA) as c:
        page(c, "mfa-zh", "fyr", "外交部发言人答记者问", "外交部发言人就会议答记者问。", ago(25))
        page(c, "mfa-zh", "flood", "驻卡使馆提醒防范洪涝灾害", "请密切关注天气预报。", ago(8))
    # Two definitive answers in a row make a statement gone (one can be a fluke).
    for days in (6, 5):
        with crawl(path, MFA) as c:
            gone(c, "mfa-zh", "fyr", STATUS_DELETED, "该内容已被发布者删除", ago(days))
            gone(c, "mfa-zh", "flood", STATUS_NOT_FOUND, "页面不存在", ago(days))
    with crawl(path, MFA) as c:  # the flood notice comes back
        page(c, "mfa-zh", "flood", "驻卡使馆提醒防范洪涝灾害", "请密切关注天气预报。", ago(2))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feeds") / "archive.db"
    build(path)
    return path


def fetch(db_path: Path, *paths: str) -> list[tuple[int, bytes]]:
    """Each path from a fresh Datasette in this process (as `communique serve` sets it up)."""

    async def run() -> list[tuple[int, bytes]]:
        ds = datasette_app(db_path)
        return [((r := await ds.client.get(p)).status_code, r.content) for p in paths]

    return asyncio.run(run())


def feed(db_path: Path, path: str) -> Any:
    ((status, body),) = fetch(db_path, path)
    assert status == 200, body[:300]
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def statement_id(db_path: Path, name: str) -> str:
    (row,) = rows(db_path, "select id from statements where url like ?", [f"%/{name}.html"])
    return str(row["id"])


def text_of(entry: Any) -> str:
    """An entry's content as a reader shows it: the text of its HTML."""
    return lxml.html.fromstring(entry.content[0].value).text_content()


def as_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- What each feed holds -------------------------------------------------------------------


def test_newest_is_what_the_archive_saw_newest_first(archive: Path) -> None:
    parsed = feed(archive, "/archive/newest.atom")
    order = ["flood", "hostile", "weather", "sanctions", "fyr", "liar"]
    assert [e.link.rsplit("/", 1)[1] for e in parsed.entries] == [
        statement_id(archive, name) for name in order
    ]
    seen = {
        row["id"]: row["first_seen"]
        for row in rows(archive, "select id, first_seen from statements")
    }
    # one entry per statement, newest first by the archive's clock, `updated` its first sighting
    assert len(parsed.entries) == len(seen)
    updated = [as_time(e.updated) for e in parsed.entries]
    assert updated == sorted(updated, reverse=True)
    for entry in parsed.entries:
        sid = entry.link.rsplit("/", 1)[1]
        assert as_time(entry.updated) == as_time(seen[sid])
        assert entry.id == f"urn:communique:statement:{sid}"
        assert entry.link == f"http://localhost/archive/statement/{sid}"
    # a page that claims to be published in 2099 is not pinned to the top: it was seen first
    assert parsed.entries[-1].title == "Pinned to the top"
    assert "published 2099-01-01" in parsed.entries[-1].content[0].value


def test_edited_has_the_edit_its_time_and_what_changed(archive: Path) -> None:
    parsed = feed(archive, "/archive/edited.atom")
    (entry,) = parsed.entries
    sid = statement_id(archive, "sanctions")
    (version,) = rows(
        archive, "select * from versions where statement_id = ? and version = 2", [sid]
    )
    assert entry.title == "Edited: New sanctions announced (version 2)"
    assert entry.id == f"urn:communique:statement:{sid}:version:2"
    assert as_time(entry.updated) == as_time(version["first_seen"]) == as_time(ago(10))
    content = text_of(entry)
    assert f"+{version['chars_added']} / −{version['chars_removed']} characters" in content
    assert "Removed: five" in content and "Added: seven" in content
    assert entry.link.endswith(f"/archive/statement/{sid}")


def test_gone_has_each_disappearance_with_status_and_reason(archive: Path) -> None:
    parsed = feed(archive, "/archive/gone.atom")
    changes = rows(
        archive,
        "select c.statement_id, c.status, c.reason, c.at from status_changes c "
        "where c.status != 'live' order by c.at desc, c.id desc",
    )
    assert len(parsed.entries) == len(changes) == 2  # the return to live is no entry
    by_title = {e.title: e for e in parsed.entries}
    deleted = text_of(by_title["Deleted: 外交部发言人答记者问"])
    assert "Status: deleted since" in deleted and "Reason: 该内容已被发布者删除" in deleted
    not_found = text_of(by_title["Not found: 驻卡使馆提醒防范洪涝灾害"])
    assert "Status: not found (not_found) since" in not_found and "Reason: 页面不存在" in not_found
    for entry, change in zip(parsed.entries, changes, strict=True):
        assert as_time(entry.updated) == as_time(change["at"])
        assert entry.id.startswith(f"urn:communique:statement:{change['statement_id']}:")


@pytest.mark.parametrize("name", ["newest", "edited", "gone"])
def test_per_source_feeds_hold_only_that_source(archive: Path, name: str) -> None:
    everything = feed(archive, f"/archive/{name}.atom")
    for source_id, source_name in (("gov-en", "Ministry of Examples"), ("mfa-zh", "外交部")):
        parsed = feed(archive, f"/archive/{name}.atom?source={source_id}")
        assert parsed.feed.title.endswith(f"from {source_name}")
        ids = {
            row["id"]
            for row in rows(archive, "select id from statements where source_id = ?", [source_id])
        }
        assert {e.link.rsplit("/", 1)[1] for e in parsed.entries} <= ids
        expected = [e.id for e in everything.entries if e.link.rsplit("/", 1)[1] in ids]
        assert [e.id for e in parsed.entries] == expected


def test_entry_and_feed_ids_are_stable_across_runs(archive: Path) -> None:
    paths = ["/archive/newest.atom", "/archive/edited.atom", "/archive/gone.atom?source=mfa-zh"]
    first = [feedparser.parse(body) for _, body in fetch(archive, *paths)]
    again = [feedparser.parse(body) for _, body in fetch(archive, *paths)]
    for one, two in zip(first, again, strict=True):
        assert [e.id for e in one.entries] == [e.id for e in two.entries]
        assert [e.updated for e in one.entries] == [e.updated for e in two.entries]
        assert one.feed.id == two.feed.id
    # extra query arguments change neither the feed's id nor its self link
    parsed = feed(archive, "/archive/gone.atom?_x=1&source=mfa-zh")
    assert parsed.feed.id == first[2].feed.id == "http://localhost/archive/gone.atom?source=mfa-zh"


def test_unknown_source_is_a_404_naming_it(archive: Path) -> None:
    ((status, body),) = fetch(archive, "/archive/newest.atom?source=no-such<b>")
    assert status == 404
    text = body.decode()
    assert "no-such&lt;b&gt;" in text and "no-such<b>" not in text


def test_an_archive_with_nothing_yet_gives_valid_empty_feeds(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with crawl(path, GOV) as c:
        page(c, "gov-en", "only", "The only statement", "Nothing happened to it.", ago(1))
    for name in ("edited", "gone"):
        parsed = feed(path, f"/archive/{name}.atom")
        assert parsed.entries == []
        assert parsed.feed.updated.startswith("1970-01-01")  # nothing happened: never changes
    assert len(feed(path, "/archive/newest.atom").entries) == 1


# --- Hostile text -------------------------------------------------------------------------


def test_hostile_title_and_text_make_a_valid_feed_with_the_text_escaped(archive: Path) -> None:
    ((status, body),) = fetch(archive, "/archive/newest.atom")
    assert status == 200
    # well-formed XML: lxml refuses control characters and stray markup outright
    root = lxml.etree.fromstring(body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    sid = statement_id(archive, "hostile")
    (entry,) = [
        e for e in root.findall("a:entry", ns) if e.findtext("a:id", namespaces=ns).endswith(sid)
    ]
    # the title is text: markup shown as written, control characters dropped
    assert entry.findtext("a:title", namespaces=ns) == (
        "<script>alert('t')</script> Markup and[31m control <b>chars</b> & ]]>"
    )
    # the content is HTML in which the statement's markup is text, never elements
    html = lxml.html.fromstring(entry.findtext("a:content", namespaces=ns))
    assert not html.xpath("//script | //img | //b")
    assert "<script>document.title='pwned'</script>" in html.text_content()
    assert "<img src=x onerror=alert(1)>" in html.text_content()
    assert "bell nul ]]> </content></entry> After." in html.text_content()
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    (hostile,) = [e for e in parsed.entries if e.id.endswith(sid)]
    assert "<script>" not in hostile.content[0].value  # a reader that renders it runs nothing


# --- Where the feeds are found ------------------------------------------------------------


def alternates(html: bytes) -> dict[str, str]:
    page = lxml.html.fromstring(html.decode("utf-8"))
    return {
        link.get("title"): link.get("href")
        for link in page.xpath('//head/link[@rel="alternate"][@type="application/atom+xml"]')
    }


def test_home_and_source_pages_link_their_feeds(archive: Path) -> None:
    (home_status, home), (source_status, source_page) = fetch(
        archive, "/", "/archive/sources/mfa-zh"
    )
    assert home_status == source_status == 200
    assert sorted(alternates(home).values()) == [
        "/archive/edited.atom", "/archive/gone.atom", "/archive/newest.atom"
    ]  # fmt: skip
    on_source = alternates(source_page)
    assert sorted(on_source.values()) == [
        "/archive/edited.atom?source=mfa-zh",
        "/archive/gone.atom?source=mfa-zh",
        "/archive/newest.atom?source=mfa-zh",
    ]
    assert all(title.endswith("from 外交部") for title in on_source)
    # every advertised feed is one a reader can parse
    for href in [*alternates(home).values(), *on_source.values()]:
        feed(archive, href)


@pytest.mark.slow
def test_feeds_over_http_keep_their_ids_and_link_to_statement_pages(
    archive: Path, tmp_path: Path
) -> None:
    in_process = feedparser.parse(fetch(archive, "/archive/edited.atom")[0][1])
    with running_datasette(archive, tmp_path / "metadata") as base:
        response = get(base, "/archive/edited.atom")
        assert response.status == 200
        parsed = feedparser.parse(response.body)
        assert parsed.bozo == 0
        # another host, another process: the same event keeps its id
        assert [e.id for e in parsed.entries] == [e.id for e in in_process.entries]
        for entry in parsed.entries:
            assert entry.link.startswith(base + "/archive/statement/")
            statement = get(base, entry.link.removeprefix(base))
            assert statement.status == 200
            assert "New sanctions announced" in statement.text
