"""Real crawls of the fixture WeChat: bridge feeds, album pages, links, walls and throttle."""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import wechat_source, write_wechat_config
from tests.helpers import communique, get, rows, served_archive
from tests.sites.wechat.site import BIZ, SHORT_IDS, WechatSite

pytestmark = pytest.mark.slow

DELAY = 0.3  # wechat_delay in the test config
BACKOFF = 0.5  # wechat_backoff
SLACK = 0.03  # timer and scheduling jitter allowed on the server's clock
A1, A2, A3, A4, A5 = (
    f"wechat:{BIZ}/2247480001/1",
    f"wechat:{BIZ}/2247480001/2",
    f"wechat:{BIZ}/2247480002/1",
    f"wechat:{BIZ}/2247480003/1",
    f"wechat:{BIZ}/2247480004/1",
)


def article_mid(target: str) -> str | None:
    """The message id of the article a request target asks for, in either link form."""
    if target.startswith("/s/"):
        short = SHORT_IDS.get(target[3:])
        return short[0] if short else None
    found = re.search(r"[?&]mid=(\d+)", target)
    return found.group(1) if found and target.startswith("/s?") else None


@pytest.fixture(scope="module")
def site() -> Iterator[WechatSite]:
    with WechatSite() as served:
        yield served


@pytest.fixture(scope="module")
def crawled(
    site: WechatSite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str], int]:
    """Two WeChat sources of one account crawled side by side, with three walls on the way."""
    directory = tmp_path_factory.mktemp("wechat")
    w, b = site.wechat, site.bridge
    sources = [
        wechat_source(
            "jc-rsshub",
            [
                {"feed": f"{b}/feeds/rsshub.xml"},
                {"album": f"{w}/mp/appmsgalbum?__biz={BIZ}&action=getalbum&album_id=3567"},
                {"urls": [f"{w}/link?url=dn9a_-gY295K0Rci_xozVXfdMkSQTLW6cw&type=2&k=Dk4aTu"]},
            ],
            BIZ,
        ),
        wechat_source(
            "jc-wewe", [{"feed": f"{b}/feeds/wewe.atom"}, {"feed": f"{b}/feeds/wewe.json"}], BIZ
        ),
    ]
    config = write_wechat_config(directory / "sources.yaml", sources, delay=DELAY, backoff=BACKOFF)
    site.walls.update(
        {
            "article:2247480002-1": ["captcha"],  # a captcha page mid-crawl
            "article:2247480003-1": ["429"],  # Too Many Requests, Retry-After: 1
            "article:2247480004-1": ["verify"],  # a redirect to /mp/verifycode
        }
    )
    first = len(site.hits)
    db_path = directory / "archive.db"
    result = communique("crawl", "--config", str(config), "--db", str(db_path), "--no-progress")
    return db_path, result, first


def test_each_article_archived_once_from_every_route(crawled: Any) -> None:
    db_path, result, _ = crawled
    assert result.returncode == 0, result.stderr[-3000:]
    statements = rows(db_path, "select * from statements")
    assert sorted(s["identity"] for s in statements) == [A1, A2, A3, A4, A5]
    assert all(s["status"] == "live" for s in statements)
    assert all(s["issuer"] == "江城国家安全" for s in statements)
    texts = "\n".join(s["text"] for s in statements)
    assert "NEVER-ARCHIVE-BRIDGE-TEXT" not in texts
    assert "bridge copy" not in texts


def test_bridge_copies_are_never_fetched(crawled: Any, site: WechatSite) -> None:
    _, _, first = crawled
    assert not [hit for hit in site.hits[first:] if hit.target.startswith("/bridge/")]


def test_wechat_fields_are_columns(crawled: Any) -> None:
    db_path, _, _ = crawled
    [row] = rows(db_path, "select * from statements where identity = ?", [A1])
    assert row["wechat_account"] == "江城国家安全"
    assert (row["wechat_biz"], row["wechat_mid"], row["wechat_idx"]) == (BIZ, "2247480001", "1")
    assert row["wechat_sn"] == "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert row["original_url"] == "https://www.example.gov/notice/20240723.html"
    assert row["modified"] == "2024-07-23T11:15:00+08:00"
    assert row["published"] == "2024-07-23T10:15:00+08:00"


def test_walls_are_recorded_and_never_deletions(crawled: Any) -> None:
    db_path, _, _ = crawled
    errors = [r["reason"] for r in rows(db_path, "select reason from crawl_errors")]
    captcha = [e for e in errors if e.startswith("captcha: ")]
    limited = [e for e in errors if e.startswith("rate_limited: ")]
    assert len(captcha) == 2, errors  # the captcha page and the verification redirect
    assert any("环境异常" in e for e in captcha), captcha
    assert any("verification page" in e and "verifycode" in e for e in captcha), captcha
    assert len(limited) == 1 and "HTTP 429" in limited[0], errors
    assert rows(db_path, "select * from status_changes") == []
    gone = rows(db_path, "select * from statements where status != 'live' or gone_since")
    assert gone == []


def test_feed_items_without_an_article_link_are_errors(crawled: Any) -> None:
    db_path, _, _ = crawled
    errors = [r["reason"] for r in rows(db_path, "select reason from crawl_errors")]
    missing = [e for e in errors if "feed item has no WeChat article link" in e]
    assert missing == ["route feed: feed item has no WeChat article link: 仅存于转发服务的条目"]


def test_album_is_paged(crawled: Any, site: WechatSite) -> None:
    _, _, first = crawled
    albums = [hit.target for hit in site.hits[first:] if hit.target.startswith("/mp/appmsgalbum")]
    assert len(albums) == 2, albums
    assert "f=json" in albums[0] and "begin_msgid=2247480003" in albums[1]


def test_each_route_is_reported(crawled: Any) -> None:
    _, result, _ = crawled
    log = result.stderr
    for line in (
        "jc-rsshub: route feed: ok",
        "jc-rsshub: route album: ok",
        "jc-rsshub: route urls: ok",
        "jc-wewe: route feed: ok",
        "jc-wewe: route feed#2: ok",
    ):
        assert line in log, log[-3000:]


def test_wechat_requests_are_throttled_and_paused_after_walls(
    crawled: Any, site: WechatSite
) -> None:
    _, _, first = crawled
    # robots.txt is fetched by Scrapy before WechatMiddleware's clock starts (it is spaced
    # by the download slot only, whose gap the server sees blurred by a loaded machine).
    hits = [
        hit for hit in site.hits[first:] if hit.host == "localhost" and hit.target != "/robots.txt"
    ]
    assert len(hits) >= 15
    # The first request for these articles, in whichever link form, met the wall.
    pauses = {"2247480002": BACKOFF, "2247480003": 1.0}  # the 429 said Retry-After: 1
    for before, after in itertools.pairwise(hits):
        gap = after.at - before.at
        assert gap >= DELAY - SLACK, (before, after, gap)
        mid = article_mid(before.target)
        if mid in pauses:
            assert gap >= pauses.pop(mid) - SLACK, (before, after, gap)
    assert not pauses
    bridge = [hit for hit in site.hits[first:] if hit.host == "127.0.0.1"]
    assert bridge, "the bridge feeds were fetched"


def test_walls_show_in_source_health(crawled: Any) -> None:
    db_path, _, _ = crawled
    health = rows(db_path, "select health, health_reason from sources")
    reasons = " ".join(row["health_reason"] or "" for row in health)
    assert "captcha" in reasons and "rate_limited" in reasons, health


def test_datasette_facets_statements_by_wechat_account(crawled: Any) -> None:
    db_path, _, _ = crawled
    with served_archive(db_path) as base:
        page = get(base, "/archive/statements.json").json()
        facet = page["facet_results"]["wechat_account"]
        assert [(r["value"], r["count"]) for r in facet["results"]] == [("江城国家安全", 5)]
