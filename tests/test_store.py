"""What the archive file holds after pages are recorded: one statement per statement."""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from pathlib import Path

import pytest

from archive.clean import STATUS_OK, Cleaned
from archive.fetched import Fetched
from archive.schema import UnusableDatabase, open_archive
from archive.search import SEARCH_TABLE, search_terms
from archive.statuses import CHANGED, ERROR, NEW, NOT_STATEMENT, UNCHANGED
from archive.store import Archive

SOURCE = {"id": "mfa-en", "name": "MFA", "issuer": "Ministry", "kind": "feed"}
TEXT = "The Ministry of Foreign Affairs issued the following statement today.\n\nSecond paragraph."


def page(url: str, body: bytes = b"<html>statement</html>", status: int = 200) -> Fetched:
    return Fetched(source_id="mfa-en", url=url, http_status=status, body=body)


def cleaned(url: str, text: str = TEXT, title: str = "Statement on the situation") -> Cleaned:
    return Cleaned(
        status=STATUS_OK,
        url=url,
        title=title,
        text=text,
        published="2024-08-02",
        issuer="Ministry",
        language="en",
    )


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    archive = Archive(tmp_path / "archive.db")
    archive.sync_sources([SOURCE])
    return archive


def record(archive: Archive, url: str, **kwargs: str) -> str:
    crawl = archive.start_crawl("mfa-en")
    return archive.record_page(crawl, page(url), cleaned(url, **kwargs))


def test_new_statement_has_row_url_version_capture_and_raw_body(archive: Archive) -> None:
    body = "<html><p>原文 statement</p></html>".encode()
    crawl = archive.start_crawl("mfa-en")
    url = "https://example.gov/a.html"
    assert archive.record_page(crawl, page(url, body), cleaned(url)) == NEW
    db = archive.db
    statement = next(db["statements"].rows)
    assert statement["title"] == "Statement on the situation"
    assert statement["year"] == 2024
    assert statement["status"] == "live"
    assert [r["url"] for r in db["statement_urls"].rows] == [url]
    assert db["versions"].count == 1
    capture = next(db["captures"].rows)
    assert capture["statement_id"] == statement["id"]
    stored = db["bodies"].get(capture["body_sha256"])
    assert gzip.decompress(stored["body_gz"]) == body
    assert capture["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_recrawl_and_tracking_parameters_and_fragment_are_one_statement(archive: Archive) -> None:
    assert record(archive, "https://example.gov/a.html?utm_source=rss&utm_medium=feed") == NEW
    assert record(archive, "https://example.gov/a.html#top") == UNCHANGED
    assert record(archive, "https://example.gov/a.html") == UNCHANGED
    db = archive.db
    assert db["statements"].count == 1
    assert db["captures"].count == 3
    assert next(db["statements"].rows)["capture_count"] == 3
    assert [r["url"] for r in db["statement_urls"].rows] == ["https://example.gov/a.html"]


def test_same_text_at_another_url_of_the_source_is_one_statement_with_both_urls(
    archive: Archive,
) -> None:
    assert record(archive, "https://example.gov/2024/08/statement/") == NEW
    assert record(archive, "https://example.gov/?p=123") == UNCHANGED
    db = archive.db
    assert db["statements"].count == 1
    assert {r["url"] for r in db["statement_urls"].rows} == {
        "https://example.gov/2024/08/statement/",
        "https://example.gov/?p=123",
    }


def test_whitespace_and_full_width_differences_are_not_an_edit(archive: Archive) -> None:
    record(archive, "https://example.gov/a.html", text="外交部发言人答记者问：ABC 123。")
    again = record(
        archive, "https://example.gov/a.html", text="外交部发言人答记者问： ＡＢＣ　１２３。"
    )
    assert again == UNCHANGED


def test_an_edit_is_a_new_version_and_the_old_text_is_kept(archive: Archive) -> None:
    record(archive, "https://example.gov/a.html")
    edited = TEXT.replace("today", "on Friday")
    assert record(archive, "https://example.gov/a.html", text=edited) == CHANGED
    db = archive.db
    statement = next(db["statements"].rows)
    assert statement["text"] == edited
    assert statement["version_count"] == 2
    texts = [r["text"] for r in db["versions"].rows_where(order_by="version")]
    assert texts == [TEXT, edited]


def test_different_statements_stay_apart(archive: Archive) -> None:
    record(archive, "https://example.gov/a.html")
    assert record(archive, "https://example.gov/b.html", text=TEXT + " Another.") == NEW
    assert archive.db["statements"].count == 2


def test_http_error_and_non_statement_pages_are_recorded_not_archived(archive: Archive) -> None:
    crawl = archive.start_crawl("mfa-en")
    gone = page("https://example.gov/gone.html", status=404)
    assert archive.record_page(crawl, gone, Cleaned(status="http_error", url=gone.url)) == ERROR
    pdf = page("https://example.gov/a.pdf", body=b"%PDF-1.4")
    not_html = Cleaned(status="not_html", url=pdf.url, reason="not an HTML page (application/pdf)")
    assert archive.record_page(crawl, pdf, not_html) == NOT_STATEMENT
    db = archive.db
    assert db["statements"].count == 0
    errors = {r["url"]: (r["reason"], r["http_status"]) for r in db["crawl_errors"].rows}
    assert errors == {
        "https://example.gov/gone.html": ("HTTP 404", 404),
        "https://example.gov/a.pdf": ("not an HTML page (application/pdf)", 200),
    }
    summary = archive.finish_crawl(crawl, "finished")
    assert (summary.pages_fetched, summary.statements_new, summary.errors) == (2, 0, 2)


def test_crawl_summary_counts_outcomes(archive: Archive) -> None:
    crawl = archive.start_crawl("mfa-en")
    for url in ["https://example.gov/a.html", "https://example.gov/a.html?utm_source=x"]:
        archive.record_page(crawl, page(url), cleaned(url))
    archive.record_error(crawl, "mfa-en", "https://example.gov/x", "TimeoutError: took too long")
    summary = archive.finish_crawl(crawl, "finished")
    assert summary.status == "finished"
    assert (summary.pages_fetched, summary.statements_new, summary.statements_unchanged) == (
        2,
        1,
        1,
    )
    assert summary.errors == 1


def test_full_text_search_finds_statements(archive: Archive) -> None:
    record(archive, "https://example.gov/a.html")
    # The one full-text index (archive/search.py), kept by the store after each write.
    rows = archive.db.execute(
        f"select s.title from {SEARCH_TABLE} f join statements s on s.rowid = f.rowid "
        f"where {SEARCH_TABLE} match ?",
        [search_terms("Foreign")],
    ).fetchall()
    assert [title for (title,) in rows] == ["Statement on the situation"]
    assert not archive.db["statements"].detect_fts()  # no second, unicode61 index


def _found(archive: Archive, words: str) -> list[str]:
    rows = archive.db.execute(
        f"select s.url from {SEARCH_TABLE} f join statements s on s.rowid = f.rowid "
        f"where {SEARCH_TABLE} match ? order by s.url",
        [search_terms(words)],
    ).fetchall()
    return [url for (url,) in rows]


def test_search_follows_every_write_of_a_batch(archive: Archive) -> None:
    """A writer records results in batches (one transaction, a savepoint each); the index
    is brought up to date at the commit, for the batch's last word on each statement."""
    a, b, c = (f"https://example.gov/{name}.html" for name in "abc")
    ran: list[str] = []
    archive.db.conn.set_trace_callback(ran.append)
    with archive.transaction():
        record(archive, a, text="Original wording about fisheries.\n\nSecond paragraph.")
        record(archive, b, text="A statement about tariffs.\n\nSecond paragraph.")
        record(archive, a, text="Edited wording about shipping.\n\nSecond paragraph.")
        with pytest.raises(RuntimeError), archive.transaction():
            record(archive, c, text="Withdrawn words about satellites.\n\nSecond paragraph.")
            raise RuntimeError("this result fails: its savepoint is rolled back")
    assert _found(archive, "shipping") == [a]
    assert _found(archive, "fisheries") == []  # the edit replaced it
    assert _found(archive, "tariffs") == [b]
    assert _found(archive, "satellites") == []  # rolled back with its savepoint
    # Nothing looked for it in the index either: that is a scan of the whole index (the
    # statement id is not indexed there), minutes at a million statements.
    assert not [
        sql for sql in ran if sql.startswith(f"delete from {SEARCH_TABLE} where statement_id")
    ]
    archive.db.conn.set_trace_callback(None)
    indexed = archive.db.execute(f"select count(*) from {SEARCH_TABLE}").fetchone()[0]
    assert indexed == archive.db["statements"].count == 2
    with pytest.raises(RuntimeError), archive.transaction():
        record(archive, c, text="Withdrawn words about satellites.\n\nSecond paragraph.")
        raise RuntimeError("the whole batch fails")
    record(archive, b, text="A statement about fishing quotas.\n\nSecond paragraph.")
    assert _found(archive, "satellites") == [] and _found(archive, "quotas") == [b]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a database, just some text" * 100, "not a usable SQLite database"),
        (None, "another program"),
    ],
)
def test_unusable_file_is_refused_and_left_untouched(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "other.db"
    if content is None:
        conn = sqlite3.connect(path)
        conn.execute("create table invoices (id integer primary key, amount real)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(UnusableDatabase, match=expected) as raised:
        open_archive(str(path))
    assert str(path) in str(raised.value)
    assert path.read_bytes() == before
