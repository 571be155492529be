"""The fault matrix, web side: every way a site can misbehave, crawled with the real CLI.

One faulty server (tests/sites/faulty.py) serves one small source per row: two good
statement pages beside one (or two) faulty URLs. A first crawl sees every page healthy;
then the server turns faulty and a second crawl runs into the archive the first one
made. Each test reads its own row from those two crawls and checks that

* the crawl exited 0,
* the fault is a `crawl_errors` row with the URL and a reason (where it is a fault),
* the good pages of the source were archived again in the faulty crawl,
* no statement stored by the clean crawl changed (`STABLE` columns compared),
* and whatever the row is really about (retries, back-off, bytes streamed, …).

All sources run in the same two crawls so the whole matrix costs two process starts.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
import yaml

from crawler.spiders.sitemap import MAX_SITEMAPS
from tests.helpers import COMMUNIQUE
from tests.sites.faulty import (
    Behaviour,
    FaultyServer,
    huge,
    never_ends,
    page,
    redirect,
    reset_mid_body,
    statement_html,
    status,
    truncated,
)

pytestmark = pytest.mark.slow

# Small limits so that every fault resolves in seconds: one retry after 0.5 s, 2 s timeout.
# (A backoff well above AutoThrottle's delay, so that a retry without it is told apart.)
CRAWL = {
    "download_delay": 0,
    "retry_backoff": 0.5,
    "timeout": 2,
    "retries": 1,
    "max_page_bytes": 2_000_000,
}
HUGE_PAGE = 50 * 1024 * 1024
# Statement columns a later crawl must never change unless the statement changed.
STABLE = (
    "id, source_id, url, title, issuer, published, language, text, text_hash, status, "
    "first_seen, version_count"
)

WAF_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>访问验证</title></head>
<body><div class="container"><h2>环境异常</h2>
<p>当前环境异常，完成验证后即可继续访问。</p>
<p>您的访问请求可能存在风险，为保障网站安全，请点击下方按钮完成安全验证。如果您是正常用户，验证通过后将自动跳转到您要访问的页面。</p>
<button>去验证</button></div></body></html>"""

ZH_TEXT = (
    "外交部发言人就北方河流域洪水救灾工作答记者问，表示政府将全力保障受灾群众的基本生活，镕喆堃昇。"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"
BINARY = bytes((i * 37 + 11) % 256 for i in range(20_000))


def good_page(row: str, name: str) -> bytes:
    return statement_html(
        f"{row} {name}: statement of the ministry",
        f"The ministry of {row} announces measures for {name} on the northern rivers.",
    ).encode()


@dataclass
class Row:
    """One source of the matrix: its id, its good URLs and its faulty URLs."""

    id: str
    good: list[str]
    bad: list[str]
    source: dict[str, Any] = field(default_factory=dict)


@dataclass
class Matrix:
    server: FaultyServer
    elsewhere: FaultyServer  # "another domain": reached as localhost, never allowed
    rows: dict[str, Row]
    db: Path
    clean: subprocess.CompletedProcess[str]
    faulty: subprocess.CompletedProcess[str]
    before: dict[str, dict[str, Any]]  # statement rows after the clean crawl, by URL
    fault_crawls: dict[str, int]  # crawl id of the faulty crawl, by source id
    fault_started: float  # monotonic time the faulty crawl started

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        db = sqlite_utils.Database(self.db)
        try:
            return list(db.query(sql, params))
        finally:
            db.close()

    def errors(self, row_id: str) -> dict[str, dict[str, Any]]:
        """crawl_errors of the faulty crawl of a row, by URL."""
        return {
            error["url"]: error
            for error in self.query(
                "select * from crawl_errors where crawl_id = ?", [self.fault_crawls[row_id]]
            )
        }

    def statements(self) -> dict[str, dict[str, Any]]:
        return {row["url"]: row for row in self.query(f"select {STABLE} from statements")}


def _add_row(
    server: FaultyServer,
    rows: dict[str, Row],
    row_id: str,
    faults: list[Behaviour],
    *,
    normal: list[Behaviour] | None = None,
    **source: Any,
) -> Row:
    """Two good pages and one faulty URL per fault, healthy until the server turns faulty."""
    good = []
    for name in ("good1", "good2"):
        path = f"/{row_id}/{name}.html"
        server.route(path, page(good_page(row_id, name)))
        good.append(server.url(path))
    bad = []
    for index, fault in enumerate(faults, start=1):
        path = f"/{row_id}/bad{index}.html"
        healthy = normal[index - 1] if normal else page(good_page(row_id, f"bad{index}"))
        server.route(path, healthy, fault)
        bad.append(server.url(path))
    row = Row(row_id, good, bad, source)
    rows[row_id] = row
    return row


def _build(server: FaultyServer, elsewhere: FaultyServer, gone: FaultyServer) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    # Connection refused: the page's server is stopped before the faulty crawl.
    row = _add_row(server, rows, "refused", [])
    gone.route("/refused/bad1.html", page(good_page("refused", "bad1")))
    row.bad = [gone.url("/refused/bad1.html")]
    for code in (500, 502, 503):
        _add_row(server, rows, f"http-{code}", [status(code)])
    _add_row(server, rows, "http-429", [status(429, headers={"Retry-After": "1"})])
    _add_row(server, rows, "reset", [reset_mid_body(good_page("reset", "bad1")[:300], 2000)])
    full = good_page("truncated", "bad1")
    _add_row(server, rows, "truncated", [truncated(full[: len(full) // 2], len(full))])
    _add_row(server, rows, "timeout", [never_ends()])
    _add_row(server, rows, "huge", [huge(HUGE_PAGE), huge(HUGE_PAGE, declare_length=False)])
    _add_row(server, rows, "redirect-loop", [redirect("/redirect-loop/a.html")])
    server.route("/redirect-loop/a.html", redirect("/redirect-loop/b.html"))
    server.route("/redirect-loop/b.html", redirect("/redirect-loop/a.html"))
    # 127.0.0.1 → localhost: another host name, so another domain.
    moved = elsewhere.url("/moved/offsite.html", host="localhost")
    elsewhere.route("/moved/offsite.html", page(good_page("redirect-offsite", "bad1")))
    _add_row(server, rows, "redirect-offsite", [redirect(moved)])
    allowed = elsewhere.url("/moved/allowed.html", host="localhost")
    elsewhere.route("/moved/allowed.html", page(good_page("redirect-allowed", "bad1")))
    _add_row(
        server,
        rows,
        "redirect-allowed",
        [redirect(allowed)],
        allowed_domains=["127.0.0.1", "localhost"],
    )
    _add_row(server, rows, "not-html", [page(PDF), page(BINARY)])
    # The same statement, first served correctly declared, then with a wrong charset.
    zh = statement_html("外交部声明", ZH_TEXT, lang="zh")
    other = statement_html("外交部公告", "国家安全部" + ZH_TEXT, lang="zh")
    latin1 = other.replace('charset="utf-8"', 'charset="iso-8859-1"').encode("utf-8")
    wrong_utf8 = zh.replace('charset="utf-8"', 'charset="gbk"').encode("gbk")
    _add_row(
        server,
        rows,
        "charset",
        [
            page(wrong_utf8.replace(b'charset="gbk"', b'charset="utf-8"')),
            page(latin1, "text/html; charset=iso-8859-1"),
        ],
        normal=[page(wrong_utf8, "text/html; charset=gbk"), page(other)],
    )
    nested = (
        "<html><body><article>"
        + "<div>" * 100_000
        + "<p>Deep inside.</p>"
        + "</div>" * 100_000
        + "</article></body></html>"
    )
    _add_row(server, rows, "nested", [page(nested)])
    _add_row(server, rows, "captcha", [page(WAF_PAGE)])
    _add_feed_rows(server, elsewhere, rows)
    return rows


def _feed(server: FaultyServer, urls: list[str]) -> bytes:
    items = "".join(f"<item><title>Item</title><link>{url}</link></item>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Press</title>'
        f"<link>{server.base_url}/</link>{items}</channel></rss>"
    ).encode()


def _sitemap(urls: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


def _sitemap_index(urls: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}'
        "</sitemapindex>"
    ).encode()


def _add_feed_rows(server: FaultyServer, elsewhere: FaultyServer, rows: dict[str, Row]) -> None:
    xml = "application/xml"
    # A feed turned to invalid XML, beside a good feed of the same source.
    row = _add_row(server, rows, "bad-feed", [])
    third = server.url("/bad-feed/good3.html")
    server.route("/bad-feed/good3.html", page(good_page("bad-feed", "good3")))
    server.route("/bad-feed/ok.xml", page(_feed(server, row.good), xml))
    broken = (
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Press & '
        b"Statements</title><description>not</descrption><item><title>Statement on the"
    )
    server.route("/bad-feed/broken.xml", page(_feed(server, [third]), xml), page(broken, xml))
    row.bad = [server.url("/bad-feed/broken.xml")]
    row.source = {
        "kind": "feed",
        "start_urls": [server.url("/bad-feed/ok.xml"), server.url("/bad-feed/broken.xml")],
    }

    # A sitemap index naming 1,000 sitemaps (each listing the good pages).
    row = _add_row(server, rows, "sitemap-flood", [])
    index = "/sitemap-flood/index.xml"
    flood = [server.url(f"/sitemap-flood/s-{n}.xml") for n in range(1, 1001)]
    server.route(
        index,
        page(_sitemap_index([server.url("/sitemap-flood/s-1.xml")]), xml),
        page(_sitemap_index(flood), xml),
    )
    server.route("/sitemap-flood/s-*", page(_sitemap(row.good), xml))
    row.bad = [server.url(index)]
    row.source = {"kind": "sitemap", "start_urls": [server.url(index)]}

    # Off-site links in a listing, a feed and a sitemap index: never requested.
    offsite = [elsewhere.url(f"/offsite/{n}.html", host="localhost") for n in range(3)]
    for n in range(3):
        elsewhere.route(f"/offsite/{n}.html", page(good_page("offsite", str(n))))
    row = _add_row(server, rows, "offsite-listing", [])
    links = "".join(f'<li><a href="{url}">x</a></li>' for url in row.good + offsite)
    nxt = elsewhere.url("/offsite/next.html", host="localhost")
    server.route(
        "/offsite-listing/list.html",
        page(f'<html><body><ul class="list">{links}</ul><a class="next" href="{nxt}">下一页</a>'),
    )
    row.source = {
        "kind": "listing",
        "start_urls": [server.url("/offsite-listing/list.html")],
        "article_links": "ul.list a",
        "next_page": "a.next",
    }
    row = _add_row(server, rows, "offsite-feed", [])
    server.route("/offsite-feed/rss.xml", page(_feed(server, row.good + offsite), xml))
    row.source = {"kind": "feed", "start_urls": [server.url("/offsite-feed/rss.xml")]}
    row = _add_row(server, rows, "offsite-sitemap", [])
    server.route("/offsite-sitemap/posts.xml", page(_sitemap(row.good + offsite), xml))
    off_map = elsewhere.url("/offsite/sitemap.xml", host="localhost")
    elsewhere.route("/offsite/sitemap.xml", page(_sitemap(offsite), xml))
    server.route(
        "/offsite-sitemap/index.xml",
        page(_sitemap_index([server.url("/offsite-sitemap/posts.xml"), off_map]), xml),
    )
    row.source = {"kind": "sitemap", "start_urls": [server.url("/offsite-sitemap/index.xml")]}


def _config(rows: dict[str, Row], path: Path) -> Path:
    sources = []
    for row in rows.values():
        entry: dict[str, Any] = {
            "id": row.id,
            "name": f"Fault row {row.id}",
            "issuer": "Ministry of Faults",
        }
        if "kind" not in row.source:
            entry.update(kind="urls", urls=[row.good[0], *row.bad, row.good[1]])
        entry.update(row.source)
        sources.append(entry)
    path.write_text(
        yaml.safe_dump({"crawl": CRAWL, "sources": sources}, allow_unicode=True), encoding="utf-8"
    )
    return path


def crawl(
    config: Path, db: Path, *sources: str, refetch: bool = False
) -> subprocess.CompletedProcess[str]:
    """`communique crawl`; `refetch` fetches known statements again even if not due."""
    selected = [arg for source in sources for arg in ("--source", source)]
    selected += ["--refetch"] if refetch else []
    return subprocess.run(
        [COMMUNIQUE, "crawl", "--config", str(config), "--db", str(db), *selected],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    import time

    directory = tmp_path_factory.mktemp("faults")
    gone = FaultyServer().start()
    with FaultyServer() as server, FaultyServer() as elsewhere:
        rows = _build(server, elsewhere, gone)
        config = _config(rows, directory / "sources.yaml")
        db = directory / "archive.db"
        clean = crawl(config, db)
        assert clean.returncode == 0, clean.stderr[-3000:]
        probe = Matrix(server, elsewhere, rows, db, clean, clean, {}, {}, 0.0)
        before = probe.statements()
        server.faulty = True
        gone.stop()
        started = time.monotonic()
        faulty = crawl(config, db, refetch=True)
        crawls = {
            row["source_id"]: row["id"]
            for row in probe.query("select source_id, max(id) id from crawls group by source_id")
        }
        yield Matrix(server, elsewhere, rows, db, clean, faulty, before, crawls, started)


def check_row(matrix: Matrix, row_id: str, reason: str | None = None) -> dict[str, Any] | None:
    """The checks every row shares; returns the error recorded for its first faulty URL."""
    assert matrix.faulty.returncode == 0, matrix.faulty.stderr[-3000:]
    row = matrix.rows[row_id]
    # The clean crawl archived every page of the row, the faulty ones included.
    for url in row.good + ([] if row.source.get("kind") else row.bad):
        assert url in matrix.before, (url, sorted(matrix.before))
    # The good pages were fetched and archived again, unchanged, despite the fault.
    outcomes = {
        capture["url"]: capture["outcome"]
        for capture in matrix.query(
            "select url, outcome from captures where crawl_id = ?", [matrix.fault_crawls[row_id]]
        )
    }
    for url in row.good:
        assert outcomes.get(url) == "unchanged", (url, outcomes)
    # Nothing archived changed, for this row or any other.
    after = matrix.statements()
    mine = [url for url in matrix.before if f"/{row_id}/" in url]
    assert {url: after.get(url) for url in mine} == {url: matrix.before[url] for url in mine}
    assert set(after) >= set(matrix.before)
    if reason is None:
        return None
    errors = matrix.errors(row_id)
    for url in row.bad:
        assert url in errors, (url, errors)
        assert reason.lower() in errors[url]["reason"].lower(), errors[url]
    return errors[row.bad[0]]


# -- rows -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503])
def test_server_error_is_retried_with_backoff_then_recorded(matrix: Matrix, code: int) -> None:
    # Fails without BackoffRetryMiddleware (Scrapy's own retry comes back at once) or
    # without 5xx reaching parse_statement (nothing recorded).
    error = check_row(matrix, f"http-{code}", f"HTTP {code}")
    assert error is not None and error["http_status"] == code
    hits = matrix.server.hits(f"/http-{code}/bad1.html", since=matrix.fault_started)
    assert len(hits) == 2  # the first try and retries: 1
    assert hits[1] - hits[0] >= 0.45  # retry_backoff: 0.5


def test_429_waits_as_long_as_retry_after_says(matrix: Matrix) -> None:
    # Fails if Retry-After is ignored: the retry would come after the 0.5 s backoff.
    error = check_row(matrix, "http-429", "HTTP 429")
    assert error is not None and error["http_status"] == 429
    hits = matrix.server.hits("/http-429/bad1.html", since=matrix.fault_started)
    assert len(hits) == 2
    assert hits[1] - hits[0] >= 0.9


def test_connection_refused_is_retried_then_recorded(matrix: Matrix) -> None:
    # Fails if network errors were not turned into crawl_errors rows by on_error.
    check_row(matrix, "refused", "refused")


def test_connection_reset_mid_body_is_retried_then_recorded(matrix: Matrix) -> None:
    # Fails if a reset were taken for a complete page (a half page archived as a change).
    check_row(matrix, "reset", "cut short")
    hits = matrix.server.hits("/reset/bad1.html", since=matrix.fault_started)
    assert len(hits) == 2


def test_body_shorter_than_content_length_is_not_archived(matrix: Matrix) -> None:
    # Fails with DOWNLOAD_FAIL_ON_DATALOSS off: the half page would be archived as a change.
    error = check_row(matrix, "truncated", "cut short")
    assert error is not None and error["http_status"] is None


def test_response_that_never_ends_times_out(matrix: Matrix) -> None:
    # Fails without the configured `timeout:` reaching DOWNLOAD_TIMEOUT (Scrapy's 180 s
    # default would outlast the test) or without timeouts becoming errors.
    check_row(matrix, "timeout", "timeout")
    hits = matrix.server.hits("/timeout/bad1.html", since=matrix.fault_started)
    assert len(hits) == 2


def test_page_over_max_page_bytes_is_skipped_unread_and_recorded(matrix: Matrix) -> None:
    # Fails without `max_page_bytes` reaching DOWNLOAD_MAXSIZE: 50 MB would be read (and
    # archived as not_statement or worse) instead of a recorded error.
    check_row(matrix, "huge", "max_page_bytes")
    # Streamed and dropped: far less than two 50 MB bodies left the server.
    assert matrix.server.bytes_sent < 20 * 1024 * 1024
    crawl_id = matrix.fault_crawls["huge"]
    for url in matrix.rows["huge"].bad:
        assert not matrix.query(
            "select 1 from captures where url = ? and crawl_id = ?", [url, crawl_id]
        )


def test_redirect_loop_is_recorded_against_the_listed_url(matrix: Matrix) -> None:
    # Fails without redirects being followed on statement pages (the 302 itself was
    # archived as an empty page) or without the original URL being what is recorded.
    check_row(matrix, "redirect-loop", "redirect loop")
    hits = matrix.server.hits("/redirect-loop/a.html", since=matrix.fault_started)
    assert 1 <= len(hits) <= 5  # REDIRECT_MAX_TIMES bounds it


def test_redirect_to_another_domain_is_not_followed(matrix: Matrix) -> None:
    # Fails without the offsite check on redirects: localhost would be asked for the page.
    check_row(matrix, "redirect-offsite", "allowed domains")
    assert not [hit for hit in matrix.elsewhere.log if hit.target == "/moved/offsite.html"]


def test_redirect_to_an_allowed_domain_is_followed(matrix: Matrix) -> None:
    # Fails if redirects on statement pages are not followed (handle_httpstatus_all).
    check_row(matrix, "redirect-allowed")
    assert [hit for hit in matrix.elsewhere.log if hit.target == "/moved/allowed.html"]
    [bad] = matrix.rows["redirect-allowed"].bad
    assert bad not in matrix.errors("redirect-allowed")
    urls = {row["url"] for row in matrix.query("select url from statement_urls")}
    assert matrix.elsewhere.url("/moved/allowed.html", host="localhost") in urls


def test_pdf_and_binary_served_as_html_are_recorded(matrix: Matrix) -> None:
    # Fails without the cleaner's byte sniffing: binary would become statement text.
    check_row(matrix, "not-html", "not an HTML page")


def test_wrong_declared_charset_changes_nothing(matrix: Matrix) -> None:
    # Not an error when the bytes can be read: fails if the declared charset were
    # trusted (mojibake would be archived as a changed version).
    check_row(matrix, "charset")
    assert not matrix.errors("charset")
    outcomes = {
        row["url"]: row["outcome"]
        for row in matrix.query(
            "select url, outcome from captures where crawl_id = ?", [matrix.fault_crawls["charset"]]
        )
    }
    assert {outcomes[url] for url in matrix.rows["charset"].bad} == {"unchanged"}


def test_deeply_nested_page_is_recorded_not_fatal(matrix: Matrix) -> None:
    # Fails if the cleaner crashed on it (worker lost, page unrecorded) or archived it.
    check_row(matrix, "nested", "no statement text")


def test_waf_captcha_page_is_recorded_and_statement_untouched(matrix: Matrix) -> None:
    # Fails without the cleaner's captcha detection: the verification page has enough
    # text to be archived as a new version of the statement.
    check_row(matrix, "captcha", "")
    [bad] = matrix.rows["captcha"].bad
    [capture] = matrix.query(
        "select status from captures where url = ? and crawl_id = ?",
        [bad, matrix.fault_crawls["captcha"]],
    )
    assert capture["status"] == "captcha"


def test_invalid_feed_xml_is_recorded_and_the_other_feed_still_crawled(matrix: Matrix) -> None:
    # Fails if a feed parse error were fatal to the source or silently ignored.
    check_row(matrix, "bad-feed", "not a valid feed")


def test_sitemap_index_of_1000_sitemaps_is_bounded_and_truncation_recorded(
    matrix: Matrix,
) -> None:
    # Fails without MAX_SITEMAPS: all 1,000 sitemaps would be fetched.
    check_row(matrix, "sitemap-flood", f"truncated at {MAX_SITEMAPS}")
    fetched = [
        hit
        for hit in matrix.server.log
        if hit.target.startswith("/sitemap-flood/s-") and hit.at >= matrix.fault_started
    ]
    assert 0 < len(fetched) <= MAX_SITEMAPS


def test_offsite_links_are_never_requested(matrix: Matrix) -> None:
    # Fails if off-site filtering were removed: the other server (same machine, other
    # host name) would see requests for /offsite/…. Two layers guard it, the spiders'
    # in_domains() checks and Scrapy's OffsiteMiddleware; either alone keeps this passing.
    for row_id in ("offsite-listing", "offsite-feed", "offsite-sitemap"):
        check_row(matrix, row_id)
    asked = [hit.target for hit in matrix.elsewhere.log if hit.target.startswith("/offsite/")]
    assert asked == []
