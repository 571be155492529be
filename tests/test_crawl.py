"""Real crawls of the fixture government web with the `communique` CLI, checked in the archive."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from tests.conftest import write_sources
from tests.helpers import ROOT, communique, get, rows, served_archive
from tests.sites.server import SiteServer

pytestmark = pytest.mark.slow


# What a correct crawl of tests/sites/gov archives (see tests/sites/README.md).
EXPECTED_STATEMENTS = {
    "mfa-en": 5,
    "mfa-zh": 6,
    "mss-atom": 4,
    "embassy-sitemap": 5,
    "cac-urls": 3,
}


def site_config(
    site: SiteServer, directory: Path, extra_sources: list[dict[str, Any]] | None = None
) -> Path:
    return write_sources(site.base_url, directory / "sources.yaml", extra_sources=extra_sources)


@pytest.fixture(scope="module")
def crawled(
    gov_site: SiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path, subprocess.CompletedProcess[str], int]]:
    """One full crawl of every demo source, shared by the tests that only read its result."""
    directory = tmp_path_factory.mktemp("crawl")
    config = site_config(gov_site, directory)
    db_path = directory / "archive.db"
    first_request = len(gov_site.requests)
    result = communique("crawl", "--config", str(config), "--db", str(db_path))
    yield config, db_path, result, first_request


def test_crawl_exits_0_and_prints_a_summary_per_source(crawled: Any) -> None:
    _, _db_path, result, _ = crawled
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line}
    for source_id, count in EXPECTED_STATEMENTS.items():
        pages, new, _changed, _unchanged, _errors = map(int, lines[source_id])
        assert new == count, (source_id, lines[source_id])
        assert pages >= count
    assert "5 source(s) crawled" in result.stdout


def test_every_statement_archived_once_per_source(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    counts = {
        row["source_id"]: row["n"]
        for row in rows(db_path, "select source_id, count(*) n from statements group by source_id")
    }
    assert counts == EXPECTED_STATEMENTS
    assert sum(counts.values()) >= 20


def test_statements_have_text_title_date_and_language(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    statements = rows(db_path, "select * from statements")
    for statement in statements:
        assert statement["title"], statement["url"]
        assert len(statement["text"]) > 200, statement["url"]
        assert statement["published"] and statement["published"][:2] == "20", statement["url"]
        assert statement["language"] in {"en", "zh"}, statement["url"]
        assert statement["status"] == "live"
    languages = {s["language"] for s in statements}
    assert languages == {"en", "zh"}


def test_boilerplate_does_not_reach_the_archive(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    texts = "\n".join(row["text"] for row in rows(db_path, "select text from statements"))
    for furniture in [
        "Русский язык",
        "Leave a Reply",
        "Your email address will not be published",
        "【打印】",
        "【关闭窗口】",
        "当前位置",
        "Current location",
        "ICP备",
    ]:
        assert furniture not in texts


def test_gb2312_declared_pages_keep_their_gbk_characters(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    statements = rows(db_path, "select title, text from statements where source_id = 'mfa-zh'")
    joined = "".join(s["title"] + s["text"] for s in statements)
    assert "\ufffd" not in joined
    assert any(character in joined for character in "镕喆堃昇")
    encodings = {
        r["encoding"]
        for r in rows(
            db_path, "select encoding from captures where source_id = 'mfa-zh' and outcome = 'new'"
        )
    }
    assert encodings == {"gb18030"}


def test_tracking_parameters_and_fragments_do_not_make_new_statements(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    urls = [r["url"] for r in rows(db_path, "select url from statement_urls")]
    assert not [url for url in urls if "utm_" in url or "#" in url]


def test_page_under_two_urls_is_one_statement_with_both_urls(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    shared = rows(
        db_path,
        "select statement_id, count(*) n from statement_urls where source_id = 'embassy-sitemap' "
        "group by statement_id having n > 1",
    )
    assert len(shared) == 1
    assert shared[0]["n"] == 2


def test_failures_are_recorded_with_url_and_reason(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    errors = rows(db_path, "select source_id, url, reason, http_status from crawl_errors")
    by_reason = {(e["source_id"], e["http_status"]): e for e in errors}
    missing = by_reason[("mfa-zh", 404)]
    assert missing["reason"] == "HTTP 404"
    pdf = [e for e in errors if e["url"].endswith(".pdf")]
    assert len(pdf) == 1 and "not an HTML page" in pdf[0]["reason"]
    robots = [e for e in errors if "/private/" in e["url"]]
    assert robots and "robots.txt" in robots[0]["reason"]


def test_robots_disallowed_path_is_never_fetched(crawled: Any, gov_site: SiteServer) -> None:
    _, _, _, first_request = crawled
    fetched = gov_site.requests[first_request:]
    assert "/robots.txt" in fetched
    assert not [path for path in fetched if path.startswith("/private/")]


def test_raw_captures_are_kept_and_decompress_to_what_was_served(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    capture = rows(
        db_path,
        "select c.url, c.body_sha256, b.body_gz, c.headers from captures c "
        "join bodies b on b.sha256 = c.body_sha256 "
        "where c.source_id = 'mfa-zh' and c.outcome = 'new' limit 1",
    )[0]
    body = gzip.decompress(capture["body_gz"])
    assert hashlib.sha256(body).hexdigest() == capture["body_sha256"]
    assert b"gb2312" in body.lower()
    assert "gb2312" in json.loads(capture["headers"]).get("Content-Type", "").lower()


def test_every_crawl_row_is_finished_with_counts(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    crawls = rows(db_path, "select * from crawls")
    assert {c["source_id"] for c in crawls} == set(EXPECTED_STATEMENTS)
    assert {c["status"] for c in crawls} == {"finished"}
    assert all(c["finished"] >= c["started"] for c in crawls)


def copy_archive(db_path: Path, copy: Path) -> Path:
    source, target = sqlite3.connect(db_path), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    return copy


def summary_line(stdout: str, source_id: str) -> tuple[int, ...]:
    line = next(line for line in stdout.splitlines() if line.startswith(source_id + " "))
    return tuple(map(int, line.split()[1:]))


def test_second_crawl_does_not_refetch_known_statements(
    crawled: Any, gov_site: SiteServer, tmp_path: Path
) -> None:
    config, db_path, _, _ = crawled
    copy = copy_archive(db_path, tmp_path / "archive.db")
    before = rows(copy, "select count(*) n from statements")[0]["n"]
    first_request = len(gov_site.requests)
    result = communique("crawl", "--config", str(config), "--db", str(copy), "--source", "mfa-en")
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = gov_site.requests[first_request:]
    assert [path for path in fetched if not path.startswith("/robots")] == ["/mfa-en/rss.xml"]
    assert rows(copy, "select count(*) n from statements")[0]["n"] == before
    assert summary_line(result.stdout, "mfa-en") == (1, 0, 0, 0, 0)


def test_refetch_records_sightings_without_new_statements(crawled: Any, tmp_path: Path) -> None:
    config, db_path, _, _ = crawled
    copy = copy_archive(db_path, tmp_path / "archive.db")
    before = rows(copy, "select count(*) n from statements")[0]["n"]
    result = communique(
        "crawl", "--config", str(config), "--db", str(copy), "--source", "mfa-en", "--refetch"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows(copy, "select count(*) n from statements")[0]["n"] == before
    _pages, new, changed, unchanged, errors = summary_line(result.stdout, "mfa-en")
    assert (new, changed, unchanged, errors) == (0, 0, 5, 0)
    sightings = rows(
        copy, "select reason from captures where source_id = 'mfa-en' and outcome = 'unchanged'"
    )
    assert [s["reason"] for s in sightings] == ["same body"] * 5  # not cleaned again


def test_due_rechecks_are_refetched_and_rescheduled(
    crawled: Any, gov_site: SiteServer, tmp_path: Path
) -> None:
    config, db_path, _, _ = crawled
    copy = copy_archive(db_path, tmp_path / "archive.db")
    db = sqlite_utils.Database(copy)
    db.execute(
        "update statements set next_check = '2000-01-01T00:00:00+00:00' where source_id = 'mss-atom'"
    )
    db.conn.commit()
    db.close()
    result = communique("crawl", "--config", str(config), "--db", str(copy), "--source", "mss-atom")
    assert result.returncode == 0, result.stderr[-3000:]
    assert summary_line(result.stdout, "mss-atom")[1:4] == (0, 0, 4)
    next_checks = rows(copy, "select next_check from statements where source_id = 'mss-atom'")
    assert all(r["next_check"] > "2026" for r in next_checks)


def test_source_option_crawls_only_named_sources(gov_site: SiteServer, tmp_path: Path) -> None:
    config = site_config(gov_site, tmp_path)
    db_path = tmp_path / "archive.db"
    result = communique(
        "crawl", "--config", str(config), "--db", str(db_path), "--source", "mss-atom"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert {r["source_id"] for r in rows(db_path, "select source_id from statements")} == {
        "mss-atom"
    }


def test_unknown_source_id_exits_2(gov_site: SiteServer, tmp_path: Path) -> None:
    config = site_config(gov_site, tmp_path)
    result = communique(
        "crawl", "--config", str(config), "--db", str(tmp_path / "a.db"), "--source", "nope"
    )
    assert result.returncode == 2
    assert "no source with id nope" in result.stderr
    assert not (tmp_path / "a.db").exists()


def test_bad_config_exits_2_and_leaves_the_archive_untouched(crawled: Any, tmp_path: Path) -> None:
    _, db_path, _, _ = crawled
    copy = tmp_path / "archive.db"
    shutil.copy(db_path, copy)
    before = copy.read_bytes()
    config = tmp_path / "bad.yaml"
    config.write_text("sources:\n  - id: x\n    name: X\n    kind: feed\n", encoding="utf-8")
    result = communique("crawl", "--config", str(config), "--db", str(copy))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {config}: sources[0] (x): issuer: required key is missing (line 2)"
    ]
    assert copy.read_bytes() == before


@pytest.mark.parametrize("kind", ["garbage", "foreign"])
def test_unusable_database_exits_2_and_is_untouched(
    gov_site: SiteServer, tmp_path: Path, kind: str
) -> None:
    db_path = tmp_path / "other.db"
    if kind == "garbage":
        db_path.write_bytes(b"not sqlite at all\n" * 500)
    else:
        conn = sqlite3.connect(db_path)
        conn.execute("create table accounts (id integer primary key)")
        conn.commit()
        conn.close()
    before = db_path.read_bytes()
    result = communique(
        "crawl", "--config", str(site_config(gov_site, tmp_path)), "--db", str(db_path)
    )
    assert result.returncode == 2
    assert str(db_path) in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert db_path.read_bytes() == before


def test_unreachable_start_url_empty_feed_and_broken_feed_are_errors_not_crashes(
    gov_site: SiteServer, tmp_path: Path
) -> None:
    with SiteServer(tmp_path) as closed:
        dead_url = closed.url("/rss.xml")  # the server stops when the block ends
    extra = [
        {
            "id": source_id,
            "name": source_id,
            "issuer": "Nobody",
            "kind": "feed",
            "start_urls": [url],
        }
        for source_id, url in [
            ("dead", dead_url),
            ("empty-feed", gov_site.url("/empty/rss.xml")),
            ("broken-feed", gov_site.url("/broken/feed.xml")),
        ]
    ]
    config = site_config(gov_site, tmp_path, extra_sources=extra)
    db_path = tmp_path / "archive.db"
    result = communique(
        "crawl",
        "--config",
        str(config),
        "--db",
        str(db_path),
        "--source",
        "dead",
        "--source",
        "empty-feed",
        "--source",
        "broken-feed",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    errors = {r["source_id"]: r for r in rows(db_path, "select * from crawl_errors")}
    assert errors["dead"]["url"] == dead_url
    assert "refused" in errors["dead"]["reason"].lower()
    assert errors["empty-feed"]["reason"] == "feed has no items"
    assert errors["broken-feed"]["reason"].startswith("not a valid feed")
    assert rows(db_path, "select count(*) n from statements")[0]["n"] == 0


def test_crawl_that_reaches_nothing_exits_1_and_keeps_the_archive(
    gov_site: SiteServer, tmp_path: Path
) -> None:
    db_path = tmp_path / "archive.db"
    config = write_sources(gov_site.base_url, tmp_path / "sources.yaml", "mfa-en")
    assert communique("crawl", "--config", str(config), "--db", str(db_path)).returncode == 0
    archived = rows(db_path, "select id, text from statements order by id")
    with SiteServer(tmp_path) as closed:
        dead_base = closed.base_url  # the server stops when the block ends: "network down"
    dead = write_sources(dead_base, tmp_path / "dead.yaml", "mfa-en", crawl={"retries": 0})
    result = communique("crawl", "--config", str(dead), "--db", str(db_path))
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.splitlines()[-1].startswith(
        "Error: no page could be fetched from any source (1 error(s))"
    )
    # Scrapy's own lines (retries given up, download errors) name the source like ours.
    logged = [
        line for line in result.stderr.splitlines() if " ERROR " in line or " WARNING " in line
    ]
    assert any("Gave up retrying" in line for line in logged)
    assert all(
        line.split(" ERROR " if " ERROR " in line else " WARNING ", 1)[1].startswith("mfa-en: ")
        and "mfa-en: mfa-en:" not in line
        for line in logged
    ), logged
    assert rows(db_path, "select id, text from statements order by id") == archived


def test_scrapy_list_and_crawl_work_from_the_project(gov_site: SiteServer, tmp_path: Path) -> None:
    scrapy = str(Path(sys.executable).parent / "scrapy")
    listed = subprocess.run([scrapy, "list"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert listed.returncode == 0, listed.stderr[-2000:]
    default_ids = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    assert len(default_ids) >= 6
    config = site_config(gov_site, tmp_path)
    db_path = tmp_path / "scrapy.db"
    crawl = subprocess.run(
        [
            scrapy,
            "crawl",
            "mfa-en",
            "-s",
            f"COMMUNIQUE_CONFIG={config}",
            "-s",
            f"COMMUNIQUE_DB={db_path}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=240,
    )
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    assert rows(db_path, "select count(*) n from statements")[0]["n"] == 5


def test_served_archive_shows_the_crawl_as_json_and_csv(crawled: Any) -> None:
    _, db_path, _, _ = crawled
    with served_archive(db_path) as base:
        statements = get(base, "/archive/statements.json?_shape=array&_size=max").json()
        assert len(statements) == sum(EXPECTED_STATEMENTS.values())
        table = list(
            csv.DictReader(io.StringIO(get(base, "/archive/statements.csv?_stream=on").text))
        )
        assert len(table) == len(statements)
        assert any("镕" in row["title"] + row["text"] for row in table)
        found = get(base, "/archive/statements.json?_search=spokesperson&_shape=array").json()
        assert found and all(row["language"] == "en" for row in found)


def test_export_writes_a_dated_snapshot_of_the_crawl(crawled: Any, tmp_path: Path) -> None:
    _, db_path, _, _ = crawled
    result = communique("export", "--db", str(db_path), "--out", str(tmp_path / "snapshots"))
    assert result.returncode == 0, result.stderr
    [snapshot] = (tmp_path / "snapshots").glob("statements-*.csv")
    assert re.fullmatch(r"statements-\d{4}-\d{2}-\d{2}\.csv", snapshot.name)
    with snapshot.open(encoding="utf-8-sig", newline="") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == sum(EXPECTED_STATEMENTS.values())
    assert {"source_id", "url", "title", "issuer", "published", "language", "text"} <= set(
        exported[0]
    )
    assert {row["language"] for row in exported} == {"en", "zh"}


def test_extract_gives_what_the_crawler_stored(crawled: Any, gov_site: SiteServer) -> None:
    config, db_path, _, _ = crawled
    stored = rows(
        db_path,
        "select url, title, text, published, language from statements "
        "where source_id = 'mfa-zh' order by url limit 1",
    )[0]
    path = stored["url"].removeprefix(gov_site.base_url)
    saved = ROOT / "tests" / "sites" / "gov" / path.lstrip("/")
    result = communique(
        "extract",
        str(saved),
        "--url",
        stored["url"],
        "--format",
        "json",
        "--source",
        "mfa-zh",
        "--config",
        str(config),
    )
    assert result.returncode == 0, result.stderr
    extracted = json.loads(result.stdout)
    for key in ("title", "text", "published", "language"):
        assert extracted[key] == stored[key], key
    assert stored["published"].endswith("+08:00")  # the source's time zone was applied


def test_crawled_statements_are_searchable_in_chinese_by_two_characters(crawled: Any) -> None:
    from archive.search import SEARCH_TABLE, search_terms

    _, db_path, _, _ = crawled
    found = rows(
        db_path,
        f"select s.source_id from {SEARCH_TABLE} join statements s "
        f"on s.id = {SEARCH_TABLE}.statement_id where {SEARCH_TABLE} match ?",
        [search_terms("外交")],
    )
    expected = rows(db_path, "select source_id from statements where (title || text) like '%外交%'")
    assert len(found) == len(expected) > 0
