"""What the archive remembers: edits as versions with diffs, deletions, returns, reprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.clean import STATUS_OK, Cleaned
from archive.diff import apply_ops, version_document
from archive.fetched import Fetched
from archive.statuses import CHANGED, NEW, UNCHANGED
from archive.statuses import GONE_OUTCOME as GONE
from archive.store import Archive

TEXT = (
    "The Ministry of Foreign Affairs firmly opposes the decision announced on Monday and "
    "urges the parties concerned to return to dialogue.\n\nWe will continue to follow the "
    "situation closely and protect the lawful rights of our citizens abroad."
)
URL = "https://www.example.gov/statements/2024/0802.html"


def fetched(
    url: str = URL, status: int = 200, body: bytes | None = None, source: str = "mfa"
) -> Fetched:
    return Fetched(
        source_id=source, url=url, http_status=status, body=body or f"<p>{url}</p>".encode()
    )


def cleaned(text: str = TEXT, title: str = "Statement on the decision", **extra: object) -> Cleaned:
    return Cleaned(
        status=STATUS_OK, url=URL, title=title, text=text, published="2024-08-02", **extra
    )  # type: ignore[arg-type]


def gone_page(status: str, reason: str) -> Cleaned:
    return Cleaned(status=status, url=URL, reason=reason)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    archive = Archive(tmp_path / "archive.db")
    archive.sync_sources(
        [
            {"id": "mfa", "name": "MFA", "issuer": "MFA", "kind": "feed"},
            {"id": "news", "name": "News", "issuer": "Agency", "kind": "feed"},
        ]
    )
    return archive


def crawl(archive: Archive, page: Fetched, result: Cleaned) -> str:
    crawl_id = archive.start_crawl(page.source_id)
    return archive.record_page(crawl_id, page, result)


def statement(archive: Archive) -> dict:
    return next(archive.db["statements"].rows)


def test_edit_keeps_old_version_with_a_diff_that_rebuilds_the_new_text(archive: Archive) -> None:
    assert crawl(archive, fetched(), cleaned()) == NEW
    edited = TEXT.replace("firmly opposes", "strongly deplores")
    assert crawl(archive, fetched(body=b"v2"), cleaned(edited)) == CHANGED
    versions = list(archive.db["versions"].rows_where(order_by="version"))
    assert [v["text"] for v in versions] == [TEXT, edited]
    assert versions[0]["diff"] is None
    ops = json.loads(versions[1]["diff"])
    old = version_document("Statement on the decision", TEXT)
    assert apply_ops(old, ops) == version_document("Statement on the decision", edited)
    assert [op for op in ops if op[0] != 0] == [
        [-1, "firmly"],
        [1, "strongly"],
        [-1, "opposes"],
        [1, "deplores"],
    ]
    assert (versions[1]["chars_added"], versions[1]["chars_removed"]) == (16, 13)
    assert statement(archive)["version_count"] == 2


def test_whitespace_or_width_only_change_is_no_version(archive: Archive) -> None:
    crawl(archive, fetched(), cleaned())
    respaced = TEXT.replace(" ", "  ").replace("\n\n", "\n \n")
    assert crawl(archive, fetched(body=b"v2"), cleaned(respaced)) == UNCHANGED
    assert archive.db["versions"].count == 1


def test_404_twice_marks_deleted_keeping_the_last_text(archive: Archive) -> None:
    crawl(archive, fetched(), cleaned())
    assert (
        crawl(archive, fetched(status=404, body=b"not found"), gone_page("http_error", "")) == GONE
    )
    assert statement(archive)["status"] == "live"  # one answer can be a fluke
    assert (
        crawl(archive, fetched(status=404, body=b"not found"), gone_page("http_error", "")) == GONE
    )
    row = statement(archive)
    assert (row["status"], row["status_reason"]) == ("deleted", "HTTP 404")
    assert row["gone_since"] and row["text"] == TEXT
    assert archive.db["versions"].count == 1
    assert [(r["status"], r["reason"]) for r in archive.db["status_changes"].rows] == [
        ("deleted", "HTTP 404")
    ]


def test_deleted_by_author_page_is_a_status_not_a_version(archive: Archive) -> None:
    crawl(archive, fetched(), cleaned())
    reason = "该内容已被发布者删除"
    for _ in range(2):
        assert crawl(archive, fetched(body=reason.encode()), gone_page("deleted", reason)) == GONE
    row = statement(archive)
    assert (row["status"], row["status_reason"], row["text"]) == ("deleted", reason, TEXT)
    assert archive.db["versions"].count == 1


def test_transient_failures_never_mark_deleted(archive: Archive) -> None:
    crawl(archive, fetched(), cleaned())
    for _ in range(3):
        crawl(archive, fetched(status=503, body=b"busy"), gone_page("http_error", ""))
        crawl(archive, fetched(body=b"wall"), gone_page("captcha", "环境异常"))
    assert statement(archive)["status"] == "live"
    assert archive.db["status_changes"].count == 0


def test_return_after_deletion_is_live_again_with_the_gap_recorded(archive: Archive) -> None:
    crawl(archive, fetched(), cleaned())
    crawl(archive, fetched(status=410, body=b"gone"), gone_page("http_error", ""))
    crawl(archive, fetched(status=410, body=b"gone"), gone_page("http_error", ""))
    assert crawl(archive, fetched(), cleaned()) == UNCHANGED
    row = statement(archive)
    assert (row["status"], row["gone_since"]) == ("live", None)
    changes = list(archive.db["status_changes"].rows_where(order_by="id"))
    assert [c["status"] for c in changes] == ["deleted", "live"]
    assert changes[1]["reason"].startswith("back after being deleted since ")


def test_wechat_identity_joins_short_and_long_links(archive: Archive) -> None:
    identity = "wechat:MzA3/2650/1"
    short = "https://mp.weixin.qq.com/s/AbCdEf"
    long = "https://mp.weixin.qq.com/s?__biz=MzA3&mid=2650&idx=1&sn=ff&chksm=1"
    assert crawl(archive, fetched(short), cleaned(identity=identity)) == NEW
    assert (
        crawl(archive, fetched(long), cleaned(identity=identity, title="Edited title")) == CHANGED
    )
    assert archive.db["statements"].count == 1
    assert archive.db["statement_urls"].count == 2


def test_reprint_on_another_source_is_linked_not_merged(archive: Archive) -> None:
    crawl(archive, fetched(), cleaned())
    reprint = "Agency report, 3 August.\n\n" + TEXT + "\n\nEditor: Li Ming"
    crawl(archive, fetched("https://news.example.com/a.html", source="news"), cleaned(reprint))
    unrelated = "The weather bureau forecasts heavy rain in the south over the weekend. " * 3
    crawl(archive, fetched("https://news.example.com/b.html", source="news"), cleaned(unrelated))
    assert archive.db["statements"].count == 3
    links = list(archive.db["related"].rows)
    assert len(links) == 2  # both directions
    assert all(link["similarity"] >= 0.6 for link in links)
    ids = {link["statement_id"] for link in links}
    sources = {
        r["source_id"] for r in archive.db["statements"].rows_where("id in (?, ?)", list(ids))
    }
    assert sources == {"mfa", "news"}


def test_unchanged_body_is_a_sighting_without_cleaning(archive: Archive) -> None:
    body = b"<html>the same bytes</html>"
    crawl(archive, fetched(body=body), cleaned())
    crawl_id = archive.start_crawl("mfa")
    assert archive.record_if_unchanged(crawl_id, fetched(body=body)) == UNCHANGED
    assert archive.record_if_unchanged(crawl_id, fetched(body=b"other")) is None
    assert archive.record_if_unchanged(crawl_id, fetched(status=304, body=b"")) == UNCHANGED
    assert statement(archive)["capture_count"] == 3


def test_recheck_plan_lists_due_urls_with_validators(archive: Archive) -> None:
    page = Fetched(
        source_id="mfa",
        url=URL,
        http_status=200,
        body=b"x",
        headers={"ETag": '"abc"', "Last-Modified": "Fri, 02 Aug 2024 10:00:00 GMT"},
    )
    crawl(archive, page, cleaned())
    plan = archive.crawl_plan("mfa")
    assert (plan.rechecks, plan.fresh) == ([], {URL})
    plan = archive.crawl_plan("mfa", now="2999-01-01T00:00:00+00:00")
    assert [(r.url, r.etag, r.last_modified) for r in plan.rechecks] == [
        (URL, '"abc"', "Fri, 02 Aug 2024 10:00:00 GMT")
    ]
