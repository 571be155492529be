"""The statements table's own search box (`?_search=`) in a real Datasette and in Chromium.

It must find what the Search page finds, Chinese from one character and English alike,
with the count and facets over every match (including the many-matches plan, used above
MANY_MATCHES), never interpret what is typed, and the table page must show rows on the
first screen of a 1366×768 browser.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from archive.schema import open_archive
from archive.search import CANDIDATES, match_or_nothing, rebuild_search_index
from archive.web.plugin import MANY_MATCHES
from tests.browser import chromium, needs_browser, text_of
from tests.helpers import get, running_datasette

# Enough matches for the many-matches plan, and more than the Search page ranks.
BULK = max(MANY_MATCHES, CANDIDATES) + 100

NAMED = [
    ("flood", "zh", "驻卡使馆提醒防范洪涝灾害", "近日当地连降暴雨，多地发生洪涝灾害。"),
    ("mfa", "zh", "外交部发言人答记者问", "外交部发言人就有关问题答记者问。"),
    ("mfa-reprint", "zh", "外交部发言人答记者问（转载）", "外交部发言人就有关问题答记者问。"),
    ("sanctions", "en", "New sanctions announced", "The ministry announced sanctions today."),
    ("weather", "en", "Weather report", "Rain expected. No sanctions here? No: sanctioned."),
    ("evil", "en", "<script>alert(1)</script>", "Hostile <b>markup</b> & entities."),
]


def build(path: Path) -> dict[str, tuple[str, str]]:
    """An archive of the named statements and BULK others; returns id → (title, text)."""
    db = open_archive(str(path))
    db.table("sources").insert({"id": "gov", "name": "Gov", "issuer": "Gov"})
    rows = [
        {"id": sid, "source_id": "gov", "language": lang, "title": title, "text": text}
        for sid, lang, title, text in NAMED
    ]
    rows += [
        {
            "id": f"bulk-{n:05d}",
            "source_id": "gov",
            "language": "zh" if n % 2 else "en",
            "title": f"Statement {n}",
            "text": f"Statement {n} on cooperation. 关于合作的声明第{n}号。"
            + (" A dialogue. 对话。" if n % 7 == 0 else ""),
            "year": 2010 + n % 15,
        }
        for n in range(BULK)
    ]
    db.table("statements").insert_all(rows, batch_size=500)
    rebuild_search_index(db)  # written by hand: index them as the store would
    db.conn.close()
    return {row["id"]: (row["title"], row["text"]) for row in rows}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    path = tmp_path_factory.mktemp("table-search") / "archive.db"
    return path, build(path)


PROBE = """<!doctype html>
<html><body style="margin:0">
<iframe id="page" style="border:0;width:1366px;height:768px"></iframe>
<pre id="out">pending</pre>
<script>
var frame = document.getElementById("page");
frame.onload = function () {
  var doc = frame.contentDocument;
  var row = doc.querySelector("table.rows-and-columns tbody tr");
  var block = doc.querySelector("details.column-descriptions-block");
  var titled = Array.prototype.map.call(
    doc.querySelectorAll("th[title]"), function (th) { return th.getAttribute("data-column"); });
  document.getElementById("out").textContent = JSON.stringify({
    rowTop: row ? row.getBoundingClientRect().top : null,
    rowBottom: row ? row.getBoundingClientRect().bottom : null,
    rows: doc.querySelectorAll("table.rows-and-columns tbody tr").length,
    collapsed: block ? !block.open : null,
    titled: titled
  });
};
frame.src = decodeURIComponent(location.hash.slice(1));
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def site(archive: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real datasette as `communique serve` runs it, plus a same-origin probe page that
    measures the table page in a 1366×768 frame."""
    probe = tmp_path_factory.mktemp("probe")
    (probe / "first-screen.html").write_text(PROBE, encoding="utf-8")
    metadata = tmp_path_factory.mktemp("md")
    with running_datasette(archive[0], metadata, extra=("--static", f"probe:{probe}")) as base:
        yield base


def table_ids(site: str, query: str) -> list[str]:
    """Every statement the table's search box finds, following every page."""
    ids: list[str] = []
    path: str | None = "/archive/statements.json?_size=max&_search=" + urllib.parse.quote(query)
    while path:
        data = get(site, path).json()
        ids += [row[0] if isinstance(row, list) else row["id"] for row in data["rows"]]
        nxt = data.get("next_url")
        path = urllib.parse.urlsplit(nxt)._replace(scheme="", netloc="").geturl() if nxt else None
    return ids


def search_page_ids(site: str, query: str) -> list[str]:
    url = "/archive/search_statements.json?_shape=array&q=" + urllib.parse.quote(query)
    return [row["id"] for row in get(site, url).json()]


def containing(statements: dict[str, tuple[str, str]], needle: str) -> set[str]:
    return {sid for sid, (t, x) in statements.items() if needle.lower() in (t + x).lower()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("洪", {"flood"}),
        ("洪涝", {"flood"}),
        ("外交", {"mfa", "mfa-reprint"}),
        ("答记者问", {"mfa", "mfa-reprint"}),
        ("sanctions", {"sanctions", "weather"}),  # Porter: "sanctioned" too
        ("New SANCTIONS", {"sanctions"}),
    ],
    ids=["zh-1-char", "zh-2-chars", "zh-2-chars-b", "zh-4-chars", "english", "two-words"],
)
def test_search_box_finds_what_the_search_page_finds(
    site: str, query: str, expected: set[str]
) -> None:
    assert set(table_ids(site, query)) == expected
    assert set(search_page_ids(site, query)) == expected
    page = lxml.html.fromstring(
        get(site, "/archive/statements?_search=" + urllib.parse.quote(query)).text
    )
    assert page.cssselect("input#_search")[0].get("value") == query  # the box keeps it
    heading = text_of(page.cssselect("h3")[0])
    assert heading.startswith(f"{len(expected)} row") and "more than" not in heading


@pytest.mark.slow
@pytest.mark.parametrize("query", ["合作", "合", "cooperation"])
def test_many_matches_page_through_all_and_say_more_than(
    site: str, archive: tuple[Path, dict[str, tuple[str, str]]], query: str
) -> None:
    truth = containing(archive[1], query)
    assert len(truth) == BULK > MANY_MATCHES
    data = get(site, "/archive/statements.json?_size=3&_search=" + urllib.parse.quote(query)).json()
    # The exact total and the facets would read every match: skipped, and said so.
    assert data["filtered_table_rows_count"] is None
    assert not data["facet_results"]
    assert set(table_ids(site, query)) == truth  # every page, every match, once
    page = lxml.html.fromstring(
        get(site, "/archive/statements?_search=" + urllib.parse.quote(query)).text
    )
    heading = text_of(page.cssselect("h3")[0])
    assert heading == (
        f'where search matches "{query}" (more than {MANY_MATCHES:,} statements: '
        "total and facets skipped, add a word to narrow the search)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("query", ["对话", "dialogue"])
def test_a_thousand_matches_are_counted_exactly(
    site: str, archive: tuple[Path, dict[str, tuple[str, str]]], query: str
) -> None:
    truth = containing(archive[1], query)
    data = get(site, "/archive/statements.json?_size=3&_search=" + urllib.parse.quote(query)).json()
    assert data["filtered_table_rows_count"] == len(truth) > 1_000
    languages = {f["value"]: f["count"] for f in data["facet_results"]["language"]["results"]}
    assert sum(languages.values()) == len(truth)


@pytest.mark.slow
@pytest.mark.parametrize(
    "query",
    ['" OR *', "NEAR(a b)", "外交) OR (1=1", "sanctions' --", "title:sanctions", "*"],
)
def test_typed_operators_and_quotes_are_only_words(site: str, query: str) -> None:
    r = get(site, "/archive/statements.json?_search=" + urllib.parse.quote(query))
    assert r.status == 200
    found = {row[0] for row in r.json()["rows"]}
    # Only statements holding the typed words (if any) come back: never all of them.
    assert len(found) <= 3


@pytest.mark.slow
def test_hostile_query_is_shown_escaped(site: str) -> None:
    query = '<img src=x onerror="alert(1)">'
    page = get(site, "/archive/statements?_search=" + urllib.parse.quote(query)).text
    tree = lxml.html.fromstring(page)
    assert not tree.cssselect("img[onerror]")
    assert tree.cssselect("input#_search")[0].get("value") == query


@pytest.mark.slow
def test_search_page_links_to_the_table_search(site: str) -> None:
    page = lxml.html.fromstring(get(site, "/archive/search?q=" + urllib.parse.quote("合作")).text)
    count = text_of(page.cssselect("#result-count")[0])
    assert count.startswith(f"More than {CANDIDATES:,} statements match “合作”")
    assert len(page.cssselect("a.result-title")) == 100
    narrow = next(
        a.get("href") for a in page.cssselect("#result-count a") if "Narrow" in text_of(a)
    )
    assert "_search=" in narrow
    data = get(site, narrow.replace("/archive/statements?", "/archive/statements.json?")).json()
    assert data["rows"] and data["human_description_en"].startswith('where search matches "合作"')


def first_screen(tmp_path: Path, site: str, path: str) -> dict[str, Any]:
    target = urllib.parse.quote(site + path, safe="")
    tree = lxml.html.fromstring(
        chromium(
            tmp_path,
            "--window-size=1366,900",
            "--dump-dom",
            f"{site}/probe/first-screen.html#{target}",
        )
    )
    return dict(json.loads(text_of(tree.cssselect("#out")[0])))


@pytest.mark.slow
@needs_browser
@pytest.mark.parametrize(
    "path", ["/archive/statements", "/archive/statements?_search=%E5%A4%96%E4%BA%A4"]
)
def test_table_page_shows_rows_on_the_first_screen(site: str, tmp_path: Path, path: str) -> None:
    seen = first_screen(tmp_path, site, path)
    assert seen["rows"] >= 1
    # A 1366×768 screen leaves about 620 pixels to the page under the browser's own bars:
    # at least the first 80 of them show rows.
    assert seen["rowTop"] is not None and seen["rowTop"] < 620 - 80, seen
    assert seen["collapsed"] is True  # the 26 column descriptions, one click away
    assert "title" in seen["titled"] and "published" in seen["titled"]  # header tooltips


def test_an_older_archive_is_upgraded_to_the_one_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = open_archive(str(path))
    db.table("sources").insert({"id": "gov", "name": "Gov", "issuer": "Gov"})
    db.table("statements").insert({"id": "flood", "source_id": "gov", "title": "洪涝灾害"})
    # As release 6 left it: a unicode61 index with triggers, the CJK index without prefixes.
    db.table("statements").enable_fts(["title", "text"], create_triggers=True)
    db.execute("drop table statements_search")
    db.execute(
        "create virtual table statements_search using fts5("
        "statement_id unindexed, title, text, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute("pragma user_version = 6")
    db.conn.commit()
    db.conn.close()
    db = open_archive(str(path))
    names = set(db.table_names())
    assert "statements_fts" not in names and "statements_search" in names
    assert not db.execute("select name from sqlite_master where type = 'trigger'").fetchall()
    assert (
        "prefix='1'"
        in db.execute("select sql from sqlite_master where name = 'statements_search'").fetchone()[
            0
        ]
    )
    found = db.execute(
        "select statement_id from statements_search where statements_search match ?",
        [match_or_nothing("洪")],
    ).fetchall()
    assert found == [("flood",)]
