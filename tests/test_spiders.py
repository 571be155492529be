"""In-process spider tests: each source's saved entry page (tests/files/<source>.*) through
its spider's callbacks, no server, asserting the requests and items it yields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scrapy
from scrapy.utils.test import get_crawler

from archive.fetched import INDEX, Fetched, FetchFailed
from communique.config import ArchiveSettings, Config, CrawlSettings
from crawler.spiders import spider_for
from tests.builders import file_response, source


def make_spider(configured: Any, tmp_path: Path) -> Any:
    config = Config(
        path=str(tmp_path / "sources.yaml"),
        crawl=CrawlSettings(),
        archive=ArchiveSettings(),
        sources=[configured],
    )
    spidercls = spider_for(configured, config)
    crawler = get_crawler(spidercls, {"COMMUNIQUE_DB": str(tmp_path / "none.db")})
    spider = spidercls.from_crawler(crawler)
    spider.load_archive_state()
    return spider


def split(results: Any) -> tuple[list[str], list[Any]]:
    """(URLs requested, items) of a callback's output."""
    requests, items = [], []
    for result in results:
        (requests if isinstance(result, scrapy.Request) else items).append(result)
    return [r.url for r in requests], items


def test_mfa_en_feed(tmp_path: Path) -> None:
    spider = make_spider(
        source("mfa-en", kind="feed", start_urls=["https://www.mfa.example/en/rss.xml"]), tmp_path
    )
    urls, items = split(
        spider.parse_entry(file_response("mfa-en.rss", "https://www.mfa.example/en/rss.xml"))
    )
    # Tracking parameters and fragments go; other hosts, file: and metadata links are not followed.
    assert urls == [
        "https://www.mfa.example/en/xw/2024/t1.html",
        "https://www.mfa.example/en/xw/2024/t2.html",
        "https://www.mfa.example/en/xw/2024/t3.html",
    ]
    [page] = items
    assert isinstance(page, Fetched) and page.role == INDEX and page.source_id == "mfa-en"


def test_mss_atom_feed(tmp_path: Path) -> None:
    spider = make_spider(
        source("mss-atom", kind="feed", start_urls=["https://www.mss.example/atom.xml"]), tmp_path
    )
    urls, _ = split(
        spider.parse_entry(file_response("mss-atom.atom", "https://www.mss.example/atom.xml"))
    )
    assert urls == [
        "https://www.mss.example/en/notice-1.html",
        "https://www.mss.example/zh/notice-1.html",
    ]


def test_mfa_zh_listing(tmp_path: Path) -> None:
    configured = source(
        "mfa-zh",
        kind="listing",
        start_urls=["https://www.mfa.example/zh/list/index.html"],
        article_links="ul.list li a",
        next_page="a.next",
    )
    spider = make_spider(configured, tmp_path)
    url = "https://www.mfa.example/zh/list/index.html"
    urls, items = split(spider.parse_entry(file_response("mfa-zh.html", url)))
    assert urls == [
        "https://www.mfa.example/zh/content/202408/t1.html",
        "https://www.mfa.example/zh/content/202407/t2.html",
        "https://www.mfa.example/zh/list/index_1.html",  # the next page, an entry page
    ]
    assert [type(item) for item in items] == [Fetched]


def test_mfa_zh_listing_whose_selector_matches_nothing_is_an_error(tmp_path: Path) -> None:
    configured = source(
        "mfa-zh",
        kind="listing",
        start_urls=["https://www.mfa.example/zh/list/index.html"],
        article_links="ul.list li a",
    )
    spider = make_spider(configured, tmp_path)
    url = "https://www.mfa.example/zh/list/index_9.html"
    urls, items = split(spider.parse_entry(file_response("mfa-zh-last.html", url)))
    assert urls == []
    [_, error] = items
    assert isinstance(error, FetchFailed) and "matched nothing" in error.reason and error.url == url


def test_embassy_sitemap_index_and_urlset(tmp_path: Path) -> None:
    configured = source(
        "embassy-sitemap",
        kind="sitemap",
        start_urls=["https://www.embassy.example/sitemap.xml"],
        url_pattern=r"/(\d{4}/\d{2}/[^/]+/|p/\d+\.html)$",
    )
    spider = make_spider(configured, tmp_path)
    urls, _ = split(
        spider.parse_entry(
            file_response("embassy-sitemap.xml", "https://www.embassy.example/sitemap.xml")
        )
    )
    # An index's sitemaps are entry pages; one on another host is not followed.
    assert urls == [
        "https://www.embassy.example/sitemap-posts.xml",
        "https://www.embassy.example/sitemap-pages.xml",
    ]
    urls, _ = split(spider.parse_entry(file_response("embassy-sitemap-posts.xml", urls[0])))
    assert urls == [
        "https://www.embassy.example/2024/08/consular-notice/",
        "https://www.embassy.example/2024/07/ambassador-article/",
        "https://www.embassy.example/p/123.html",
    ]


def test_cac_urls_are_the_statements(tmp_path: Path) -> None:
    links = ["https://www.cac.example/a.html", "https://www.cac.example/b.html?utm_source=x"]
    spider = make_spider(source("cac-urls", urls=links), tmp_path)
    urls, _ = split(spider.entry_requests())
    assert urls == ["https://www.cac.example/a.html", "https://www.cac.example/b.html"]


def test_jc_wechat_album(tmp_path: Path) -> None:
    album = (
        "https://mp.weixin.qq.com/mp/appmsgalbum?__biz=MzkxMjM0NTY3OA==&action=getalbum&album_id=1"
    )
    configured = source(
        "jc-wechat", kind="wechat", urls=[], account="江城国家安全", routes=[{"album": album}]
    )
    spider = make_spider(configured, tmp_path)
    [entry] = list(spider.entry_requests())
    response = file_response("jc-album.json", entry.url, meta=entry.meta)
    urls, items = split(spider.parse_entry(response))
    # Each article by its long link without tracking parameters; then the album's next page.
    assert urls[:2] == [
        "https://mp.weixin.qq.com/s?__biz=MzkxMjM0NTY3OA%3D%3D&idx=1&mid=2247480001&sn=aaaa",
        "https://mp.weixin.qq.com/s?__biz=MzkxMjM0NTY3OA%3D%3D&idx=1&mid=2247480002&sn=bbbb",
    ]
    assert "begin_msgid=2247480002" in urls[2]
    assert [type(item) for item in items] == [Fetched]
