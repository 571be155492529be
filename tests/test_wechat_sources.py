"""WeChat sources in the config, and the link handling the WeChat spider relies on."""

from __future__ import annotations

import re

import pytest

from communique.config import ConfigError, parse_config
from crawler.middlewares import is_verify_url, sogou_target, wall_page
from crawler.spiders.wechat import album_json_url, article_key, article_url, read_links
from tests.sites.wechat.site import FILES

BIZ = "MzkxMjM0NTY3OA=="
SOURCE = "sources:\n  - {id: jc, name: JC, issuer: I, kind: wechat, account: 江城国家安全%s}\n"


def test_a_wechat_source_with_routes_loads() -> None:
    text = (
        "crawl: {wechat_delay: 8}\n"
        + SOURCE
        % ", biz: 'MzA=', routes: [{feed: 'http://127.0.0.1:1200/wechat/mp/x'}, "
        "{album: 'https://mp.weixin.qq.com/mp/appmsgalbum?__biz=MzA=&album_id=1'}, "
        "{urls: ['https://mp.weixin.qq.com/s/AbC']}, {file: links.txt}]"
    )
    config = parse_config(text, "s.yaml")
    [source] = config.sources
    assert [route.kind for route in source.routes] == ["feed", "album", "urls", "urls"]
    assert source.domains == ["127.0.0.1", "mp.weixin.qq.com"]
    assert config.crawl.wechat_delay == 8
    assert config.crawl.wechat_hosts == ["mp.weixin.qq.com", "weixin.sogou.com"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "sources[0] (jc): routes: a wechat source needs at least one route"),
        (
            ", routes: [{feed: 'http://a/f', album: 'http://a/b'}]",
            "sources[0] (jc): routes: a route has exactly one of feed, album, urls, file",
        ),
        (", routes: [{feed: 'ftp://a/f'}]", "not an http(s) URL: 'ftp://a/f'"),
        (", routes: [{rss: 'http://a/f'}]", "sources[0] (jc): routes.rss: unknown key"),
    ],
)
def test_bad_wechat_sources_are_one_line_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(SOURCE % extra, "s.yaml")


def test_only_wechat_sources_name_an_account() -> None:
    text = "sources:\n  - {id: a, name: A, issuer: I, kind: feed, start_urls: ['http://a/'], "
    with pytest.raises(ConfigError, match=r"account: only a source of kind wechat has account"):
        parse_config(text + "account: X}\n", "s.yaml")
    with pytest.raises(ConfigError, match=r"account: a wechat source needs the account's name"):
        parse_config(
            text.replace("feed", "wechat") + "routes: [{urls: ['http://a/s/x']}]}\n", "s.yaml"
        )


def test_article_links_reduce_to_the_stable_id() -> None:
    long = (
        f"https://mp.weixin.qq.com/s?__biz={BIZ}&amp;mid=2247480001&amp;idx=1&amp;sn=abc"
        "&amp;chksm=97b3&amp;scene=27#rd"
    )
    url = article_url(long)
    assert (
        url == "https://mp.weixin.qq.com/s?__biz=MzkxMjM0NTY3OA%3D%3D&mid=2247480001&idx=1&sn=abc"
    )
    assert article_key(url) == f"wechat:{BIZ}/2247480001/1"
    assert (
        article_key("https://mp.weixin.qq.com/s/AbC_d-12") == "https://mp.weixin.qq.com/s/AbC_d-12"
    )


def test_album_links_ask_for_json() -> None:
    url = album_json_url(f"https://mp.weixin.qq.com/mp/appmsgalbum?__biz={BIZ}&album_id=7#wechat")
    assert "action=getalbum" in url and "f=json" in url and "count=10" in url
    assert "#" not in url


def test_walls_and_redirects_are_recognised() -> None:
    assert wall_page((FILES / "captcha.html").read_bytes())
    assert wall_page((FILES / "article-2247480001-1.html").read_bytes()) is None
    assert is_verify_url("https://mp.weixin.qq.com/mp/verifycode?cert=1")
    assert is_verify_url("https://mp.weixin.qq.com/mp/wappoc_appmsgcaptcha?poc_token=x")
    assert not is_verify_url("https://mp.weixin.qq.com/s/AbC")
    page = b"<script>var url = '';\nurl += 'https://mp.';\nurl += 'weixin.qq.co@m/s?src=11';\n"
    assert sogou_target(page) == "https://mp.weixin.qq.com/s?src=11"
    assert sogou_target(b"<html>no script</html>") is None


def test_link_files_skip_comments_and_blank_lines() -> None:
    assert read_links("# mine\nhttp://a/s/1\n\n  http://a/s/2  \n") == [
        "http://a/s/1",
        "http://a/s/2",
    ]
