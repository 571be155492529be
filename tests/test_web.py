"""The archivists' web pages in a real Datasette, looked at with a real headless Chromium.

Chromium is driven by its own command-line modes (--dump-dom after scripts ran,
--screenshot), so no browser automation library or browser download is needed. Without
/usr/bin/chromium (`make browser` installs it) the browser tests are skipped, saying so.
Screenshots go to each test's tmp folder; set COMMUNIQUE_SCREENSHOTS=DIR to also copy
them there (that is how docs/*.png are made).
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import io
import json
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from archive.schema import open_archive
from archive.search import ensure_search_index
from tests.browser import dom, needs_browser, screenshot, text_of
from tests.helpers import get, running_datasette

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


DAYS_AGO = {n: iso(NOW - timedelta(days=n)) for n in (1, 3, 10, 40, 60, 90)}

EDITED_V1 = (
    "The Ministry announced new sanctions on five companies today.\n"
    "The measures take effect on 1 June."
)
EDITED_V2 = (
    "The Ministry announced new sanctions on seven companies today.\n"
    "The measures take effect on 1 June."
)
EDITED_V3 = (
    "The Ministry announced new sanctions on seven companies today.\n"
    "The measures take effect immediately.\nFurther steps may follow."
)
EVIL_TEXT = (
    "Before the markup.\n"
    "<script>document.body.setAttribute('data-pwned', 'script')</script>\n"
    "<img src=x onerror=\"document.body.setAttribute('data-pwned', 'img')\">\n"
    "<a href=\"javascript:document.body.setAttribute('data-pwned', 'link')\">click me</a>\n"
    "After the markup."
)
EVIL_URL = "javascript:document.body.setAttribute('data-pwned','url')"
CHINESE_FLOOD = "驻卡尔维拉共和国大使馆提醒在卡中国公民防范洪涝灾害。\n请密切关注天气预报。"
CHINESE_MFA = "外交部发言人就北河流域部长级会议答记者问。\n中方愿同各方一道努力。"


def ops(old: str, new: str) -> str:
    """The store's diff format, [0, n] / [-1, s] / [1, s], computed over words."""
    a, b = re.findall(r"\s+|\w+|.", old), re.findall(r"\s+|\w+|.", new)
    result: list[list[Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if tag == "equal":
            result.append([0, len("".join(a[i1:i2]))])
            continue
        if tag in ("delete", "replace"):
            result.append([-1, "".join(a[i1:i2])])
        if tag in ("insert", "replace"):
            result.append([1, "".join(b[j1:j2])])
    return json.dumps(result, ensure_ascii=False)


def doc(title: str, text: str) -> str:
    return f"{title}\n\n{text}"


def statement(id_: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id_,
        "source_id": "gov-en",
        "url": f"https://gov.example/news/{id_}",
        "title": f"Statement {id_}",
        "issuer": "Ministry of Examples",
        "published": "2024-05-01",
        "year": 2024,
        "language": "en",
        "text": f"Routine text of {id_}.",
        "status": "live",
        "first_seen": DAYS_AGO[60],
        "last_seen": DAYS_AGO[1],
        "version_count": 1,
        "capture_count": 1,
    }
    row.update(fields)
    return row


def build_web_archive(path: Path) -> sqlite3.Connection | None:
    """An archive with an edited, a deleted, a hostile and some Chinese statements."""
    db = open_archive(str(path))
    db.table("sources").insert_all(
        [
            {"id": "gov-en", "name": "Ministry of Examples", "issuer": "Ministry of Examples"},
            {"id": "mfa-zh", "name": "外交部", "issuer": "外交部", "language": "zh"},
        ]
    )
    db.table("crawls").insert_all(
        [
            {
                "id": 1,
                "source_id": "gov-en",
                "started": DAYS_AGO[10],
                "finished": DAYS_AGO[10],
                "status": "finished",
                "pages_fetched": 10,
                "statements_new": 4,
                "errors": 0,
            },
            {
                "id": 2,
                "source_id": "mfa-zh",
                "started": DAYS_AGO[3],
                "finished": DAYS_AGO[3],
                "status": "finished",
                "pages_fetched": 3,
                "statements_new": 0,
                "statements_changed": 0,
                "statements_unchanged": 0,
                "errors": 3,
            },
        ]
    )
    edited_title = "New sanctions announced"
    rows = [
        statement(
            "edited",
            title=edited_title,
            text=EDITED_V3,
            version_count=3,
            capture_count=3,
            first_seen=DAYS_AGO[40],
        ),
        statement(
            "deleted",
            source_id="mfa-zh",
            title="外交部发言人答记者问",
            issuer="外交部",
            language="zh",
            text=CHINESE_MFA,
            status="deleted",
            status_reason="页面不存在 (HTTP 404)",
            gone_since=DAYS_AGO[3],
            url="https://www.mfa.example.cn/fyrbt/1.html",
            published="2024-07-01",
        ),
        statement(
            "flood",
            source_id="mfa-zh",
            title="驻卡使馆提醒防范洪涝灾害",
            issuer="外交部",
            language="zh",
            text=CHINESE_FLOOD,
            published="2024-06-20",
        ),
        statement(
            "reprint",
            source_id="gov-en",
            title="外交部发言人答记者问（转载）",
            issuer="外交部",
            language="zh",
            text=CHINESE_MFA,
            published="2024-07-02",
        ),
        statement(
            "evil", title="<b>Bold</b> & <i>markup</i> in a title", text=EVIL_TEXT, url=EVIL_URL
        ),
        statement(
            "plain",
            title="Weather report",
            text="Rain expected. No sanctions here? No: sanctioned.",
        ),
    ]
    db.table("statements").insert_all(rows)
    db.table("statement_urls").insert_all(
        [
            {
                "url": "https://gov.example/news/edited",
                "statement_id": "edited",
                "source_id": "gov-en",
                "first_seen": DAYS_AGO[40],
                "last_seen": DAYS_AGO[1],
            },
            {
                "url": "https://gov.example/archive/2024/edited.html",
                "statement_id": "edited",
                "source_id": "gov-en",
                "first_seen": DAYS_AGO[10],
                "last_seen": DAYS_AGO[1],
            },
            {
                "url": "https://www.mfa.example.cn/fyrbt/1.html",
                "statement_id": "deleted",
                "source_id": "mfa-zh",
                "first_seen": DAYS_AGO[60],
                "last_seen": DAYS_AGO[10],
            },
            {
                "url": EVIL_URL,
                "statement_id": "evil",
                "source_id": "gov-en",
                "first_seen": DAYS_AGO[60],
                "last_seen": DAYS_AGO[1],
            },
        ]
    )
    body = b"<html><body><h1>New sanctions announced</h1></body></html>"
    sha = hashlib.sha256(body).hexdigest()
    db.table("bodies").insert({"sha256": sha, "size": len(body), "body_gz": gzip.compress(body)})
    db.table("captures").insert_all(
        [
            {
                "id": n,
                "crawl_id": 1,
                "source_id": "gov-en",
                "url": "https://gov.example/news/edited",
                "canonical_url": "https://gov.example/news/edited",
                "fetched_at": when,
                "http_status": 200,
                "content_type": "text/html; charset=utf-8",
                "body_sha256": sha,
                "body_size": len(body),
                "status": "ok",
                "statement_id": "edited",
                "outcome": outcome,
            }
            for n, when, outcome in [
                (1, DAYS_AGO[40], "new"),
                (2, DAYS_AGO[10], "changed"),
                (3, DAYS_AGO[3], "changed"),
            ]
        ]
    )
    texts = [EDITED_V1, EDITED_V2, EDITED_V3]
    versions = []
    for number, (text, seen) in enumerate(zip(texts, [40, 10, 3], strict=True), start=1):
        row: dict[str, Any] = {
            "id": number,
            "statement_id": "edited",
            "version": number,
            "title": edited_title,
            "text": text,
            "first_seen": DAYS_AGO[seen],
            "last_seen": DAYS_AGO[seen],
            "capture_id": number,
        }
        if number > 1:
            diff = ops(doc(edited_title, texts[number - 2]), doc(edited_title, text))
            parsed = json.loads(diff)
            row["diff"] = diff
            row["chars_added"] = sum(len(v) for k, v in parsed if k == 1)
            row["chars_removed"] = sum(len(v) for k, v in parsed if k == -1)
        versions.append(row)
    for number, row in enumerate(rows[1:], start=4):
        versions.append(
            {
                "id": number,
                "statement_id": row["id"],
                "version": 1,
                "title": row["title"],
                "text": row["text"],
                "first_seen": row["first_seen"],
                "last_seen": row["last_seen"],
            }
        )
    db.table("versions").insert_all(versions)
    db.table("status_changes").insert(
        {
            "id": 1,
            "statement_id": "deleted",
            "status": "deleted",
            "reason": "页面不存在 (HTTP 404)",
            "at": DAYS_AGO[3],
        }
    )
    db.table("related").insert(
        {
            "statement_id": "reprint",
            "related_id": "deleted",
            "similarity": 0.97,
            "relation": "reprint",
            "found_at": DAYS_AGO[3],
        }
    )
    ensure_search_index(db)
    db.conn.close()
    return None


# --- The browser -------------------------------------------------------------------------


# --- Fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web") / "archive.db"
    build_web_archive(path)
    return path


@pytest.fixture(scope="module")
def site(web_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_datasette(web_archive, tmp_path_factory.mktemp("metadata")) as base:
        yield base


# --- Over HTTP ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "/archive/statement/edited",
        "/archive/statements/edited",  # Datasette's row page, where the id column links
    ],
)
def test_statement_page_over_http(site: str, path: str) -> None:
    page = get(site, path)
    assert page.status == 200
    tree = lxml.html.fromstring(page.text)
    assert text_of(tree.cssselect("h1")[0]) == "New sanctions announced"
    assert tree.cssselect("#versions")  # the history, not a list of raw columns
    assert get(site, "/archive/statement/nope").status == 404
    assert get(site, "/nodb/statement/edited").status == 404


@pytest.mark.slow
def test_statement_row_stays_datasettes_as_data(site: str) -> None:
    page = lxml.html.fromstring(get(site, "/archive/statement/edited").text)
    links = {text_of(a): a.get("href") for a in page.cssselect(".statement-meta a")}
    row = json.loads(get(site, links["JSON"]).text)  # the row as data is still Datasette's
    assert row["rows"][0][0] == "edited"


@pytest.mark.slow
def test_raw_body_downloads_as_attachment(site: str, web_archive: Path) -> None:
    r = get(site, "/archive/capture/2/body")
    assert r.status == 200
    assert r.content_type == "application/octet-stream"
    assert r.body == b"<html><body><h1>New sanctions announced</h1></body></html>"
    gz = get(site, "/archive/capture/2/body?gz=1")
    assert gzip.decompress(gz.body) == r.body
    assert get(site, "/archive/capture/999/body").status == 404


@pytest.mark.slow
def test_canned_queries(site: str) -> None:
    edited = get(site, "/archive/edited.json?_shape=array").json()
    assert [(row["id"], row["version"]) for row in edited] == [("edited", 3), ("edited", 2)]
    gone = get(site, "/archive/gone.json?_shape=array").json()
    assert [(row["id"], row["status_reason"]) for row in gone] == [
        ("deleted", "页面不存在 (HTTP 404)")
    ]
    silent = get(site, "/archive/silent_sources.json?_shape=array").json()
    assert [row["id"] for row in silent] == ["mfa-zh"]
    health = {
        row["id"]: row for row in get(site, "/archive/sources_health.json?_shape=array").json()
    }
    assert health["mfa-zh"]["health"] == "unhealthy"
    assert health["mfa-zh"]["health_reason"] == "every request failed (3 error(s))"
    assert health["mfa-zh"]["error_rate"] == 1.0
    assert health["gov-en"]["health"] == "ok"
    assert health["gov-en"]["statements"] == 4
    newest = get(site, "/archive/newest.json?_shape=array").json()
    assert newest[0]["id"] == "reprint"


@pytest.mark.slow
def test_search_json_and_table_filter(site: str) -> None:
    def ids(query: str) -> list[str]:
        url = "/archive/search_statements.json?_shape=array&q=" + urllib.parse.quote(query)
        return [row["id"] for row in get(site, url).json()]

    assert set(ids("洪")) == {"flood"}
    assert set(ids("外交")) == {"deleted", "reprint"}
    assert ids("答记者问")[0] in {"deleted", "reprint"}
    assert set(ids("sanctions")) == {"edited", "plain"}  # Porter: "sanctioned" too
    assert ids("") == []
    assert ids('" OR *') == []
    table = get(site, "/archive/statements.json?_shape=array&_q=" + urllib.parse.quote("洪涝"))
    assert [row["id"] for row in table.json()] == ["flood"]


# --- In the browser ----------------------------------------------------------------------


@pytest.mark.slow
@needs_browser
def test_edited_statement_shows_versions_diff_and_urls(site: str, tmp_path: Path) -> None:
    url = site + "/archive/statement/edited"
    tree = dom(tmp_path, url)
    assert not tree.cssselect("#status-banner")
    edits = tree.cssselect("#edits article.edit")
    assert [e.get("id") for e in edits] == ["edit-2", "edit-3"]
    first = (
        [text_of(e) for e in edits[0].cssselect(".diff ins")],
        [text_of(e) for e in edits[0].cssselect(".diff del")],
    )
    assert first == (["seven"], ["five"])
    inserted = [text_of(e) for e in edits[1].cssselect(".diff ins")]
    deleted = [text_of(e) for e in edits[1].cssselect(".diff del")]
    assert any("immediately" in t for t in inserted)
    assert "Further" in " ".join(inserted)
    assert "June" in " ".join(deleted)
    assert [text_of(e) for e in tree.cssselect("table.versions tbody tr td:first-child")] == [
        "1",
        "2",
        "3",
    ]
    urls = [text_of(a) for a in tree.cssselect("#urls a")]
    assert urls == [
        "https://gov.example/news/edited",
        "https://gov.example/archive/2024/edited.html",
    ]
    paragraphs = [text_of(p) for p in tree.cssselect("#text p")]
    assert paragraphs == EDITED_V3.split("\n")
    downloads = [a.get("href") for a in tree.cssselect("#captures a") if "body" in a.get("href")]
    assert "/archive/capture/3/body" in downloads
    screenshot(tmp_path, url + "#edits", "statement-diff.png", height=1700)


@pytest.mark.slow
@needs_browser
def test_deleted_statement_has_banner_and_related(site: str, tmp_path: Path) -> None:
    url = site + "/archive/statement/deleted"
    tree = dom(tmp_path, url)
    banner = text_of(tree.cssselect("#status-banner")[0])
    assert "deleted" in banner
    assert DAYS_AGO[3] in banner
    assert "页面不存在 (HTTP 404)" in banner
    related = tree.cssselect("#related a")
    assert [text_of(a) for a in related] == ["外交部发言人答记者问（转载）"]
    screenshot(tmp_path, url, "statement-deleted.png")


@pytest.mark.slow
@needs_browser
def test_hostile_text_renders_inert(site: str, tmp_path: Path) -> None:
    for path in ("/archive/statement/evil", "/archive/search?q=markup", "/archive/statements"):
        tree = dom(tmp_path, site + path)
        body = tree.find("body")
        assert body is not None
        assert body.get("data-pwned") is None, path
        assert not [s for s in tree.iter("script") if "pwned" in (s.text or "")], path
        assert not [img for img in tree.iter("img") if img.get("onerror")], path
        assert not [a for a in tree.iter("a") if "javascript" in (a.get("href") or "").lower()]
    tree = dom(tmp_path, site + "/archive/statement/evil")
    shown = text_of(tree.cssselect("#text")[0])
    assert "<script>document.body.setAttribute('data-pwned', 'script')</script>" in shown
    assert text_of(tree.cssselect("h1")[0]) == "<b>Bold</b> & <i>markup</i> in a title"
    assert EVIL_URL in text_of(tree.cssselect("#urls")[0])  # shown, never a link


@pytest.mark.slow
@needs_browser
@pytest.mark.parametrize(
    ("query", "expected"),
    [("洪", ["flood"]), ("外交", ["deleted", "reprint"]), ("Sanctions", ["edited", "plain"])],
    ids=["chinese-1-char", "chinese-2-chars", "english"],
)
def test_search_page(site: str, tmp_path: Path, query: str, expected: list[str]) -> None:
    url = site + "/archive/search?q=" + urllib.parse.quote(query)
    tree = dom(tmp_path, url)
    links = [a.get("href") for a in tree.cssselect("a.result-title")]
    assert sorted(href.rsplit("/", 1)[1] for href in links) == sorted(expected)
    marks = {text_of(m).lower() for m in tree.cssselect(".snippet mark")}
    assert marks and all(query.lower() in m for m in marks)
    if query == "外交":
        screenshot(tmp_path, url, "search-chinese.png", height=900)


@pytest.mark.slow
def test_browse_all_statements_shows_the_columns_a_reader_scans(site: str) -> None:
    home = lxml.html.fromstring(get(site, "/").text)
    href = next(a.get("href") for a in home.cssselect("a") if text_of(a) == "Browse all statements")
    table = lxml.html.fromstring(get(site, href).text)
    columns = [th.get("data-column") for th in table.cssselect("table.rows-and-columns th")]
    assert [c for c in columns if c] == [
        "id", "title", "issuer", "published", "language", "status", "source_id", "url",
        "version_count",
    ]  # fmt: skip
    assert "wechat_biz" not in columns and "text_hash" not in columns
    assert table.cssselect(".facet-info") or table.cssselect(".facet-results")  # facets stay


@pytest.mark.slow
@needs_browser
def test_home_page_three_clicks_to_a_change_and_a_csv(
    site: str, web_archive: Path, tmp_path: Path
) -> None:
    home = dom(tmp_path, site + "/")
    assert "archive of statements" in text_of(home.cssselect(".lead")[0])
    links = {text_of(a): a.get("href") for a in home.cssselect("a")}
    # Click 1: recently edited statements; click 2: the statement; the page shows the diff.
    edited = dom(tmp_path, site + links["Edited in the last 30 days"])
    titles = [
        a for a in edited.cssselect("table.rows-and-columns a") if "/statement/" in a.get("href")
    ]
    assert titles and text_of(titles[0]) == "New sanctions announced"
    page = dom(tmp_path, site + titles[0].get("href"))
    assert page.cssselect("#edits ins") and page.cssselect("#edits del")
    # Click 3 (from home): the CSV of all statements, identical to the database.
    r = get(site, links["All statements as CSV"])
    assert r.status == 200
    downloaded = list(csv.DictReader(io.StringIO(r.text, newline="")))
    conn = sqlite3.connect(web_archive)
    conn.row_factory = sqlite3.Row
    stored = [dict(row) for row in conn.execute("select * from statements order by rowid")]
    conn.close()
    assert len(downloaded) == len(stored)
    by_id = {row["id"]: row for row in downloaded}
    for row in stored:
        assert by_id[row["id"]]["text"] == row["text"]
        assert by_id[row["id"]]["title"] == row["title"]
        assert by_id[row["id"]]["status"] == row["status"]
    screenshot(tmp_path, site + "/", "home.png", height=1000)
