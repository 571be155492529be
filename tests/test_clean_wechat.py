"""WeChat official-account pages: the whole hidden body, script metadata, gone pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.clean import (
    GONE_STATUSES,
    STATUS_BLOCKED,
    STATUS_CAPTCHA,
    STATUS_DELETED,
    STATUS_EXPIRED,
    STATUS_OK,
    STATUS_UNAVAILABLE,
    Cleaned,
    clean_page,
)
from archive.clean.wechat import script_variables, wechat_identity_from_url

PAGES = Path(__file__).parent / "pages" / "wechat"
SHORT_URL = "https://mp.weixin.qq.com/s/Qx7Lm2Vb9TzKcR4aWn1dPe"
LONG_URL = (
    "https://mp.weixin.qq.com/s?__biz=MzA5NzQ2MTIzNA==&mid=2651234567&idx=2"
    "&sn=7c1e0a9b3f2d4e5a6b7c8d9e0f1a2b3c&chksm=abc&scene=21#wechat_redirect"
)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def article() -> Cleaned:
    return clean_page(page("article_sections.html"), SHORT_URL, "text/html; charset=utf-8")


def test_article_body_built_from_sections_and_spans_is_kept_whole(article: Cleaned) -> None:
    assert article.status == STATUS_OK
    text = article.text or ""
    assert text.startswith("近日，我市进入主汛期，强降雨天气频繁")
    for sentence in (
        "市生态环境局提示各排污单位：",
        "一、全面排查厂区雨水排口",
        "二、危险废物贮存场所须落实防雨、防渗、防流失措施",
        "三、遇突发环境事件，应立即启动应急预案",
        "江城市生态环境局",
        "2024年7月23日",
    ):
        assert sentence in text


def test_article_prompts_and_recommendations_never_reach_text(article: Cleaned) -> None:
    text = article.text or ""
    for prompt in (
        "微信扫一扫",
        "关注该公众号",
        "使用小程序",
        "预览时标签不可点",
        "阅读原文",
        "喜欢此内容的人还喜欢",
        "上半年生态环境质量状况",
        "推荐阅读",
        "二维码",
        "在看",
    ):
        assert prompt not in text, prompt
    # The title is metadata, not the first line of the body.
    assert not text.startswith("市生态环境局关于汛期环境安全的提示")


def test_article_metadata_comes_from_the_page_scripts(article: Cleaned) -> None:
    assert article.title == "市生态环境局关于汛期环境安全的提示"
    assert article.published == "2024-07-23T10:15:00+08:00"  # var ct, China time
    assert article.issuer == "江城生态环境"  # the account's nickname
    assert article.language == "zh"
    assert article.wechat == {
        "biz": "MzA5NzQ2MTIzNA==",
        "mid": "2651234567",
        "idx": "2",
        "sn": "7c1e0a9b3f2d4e5a6b7c8d9e0f1a2b3c",
        "account": "江城生态环境",
        "modify_time": "2024-07-23T11:15:00+08:00",
    }


def test_short_and_long_links_give_one_identity(article: Cleaned) -> None:
    assert article.identity == "wechat:MzA5NzQ2MTIzNA==/2651234567/2"
    assert wechat_identity_from_url(LONG_URL) == article.identity
    long_page = clean_page(page("article_sections.html"), LONG_URL)
    assert long_page.identity == article.identity


def test_identity_from_url_needs_the_three_parameters() -> None:
    assert wechat_identity_from_url(SHORT_URL) is None
    assert wechat_identity_from_url("https://mp.weixin.qq.com/s?__biz=MzA5&mid=1") is None
    assert wechat_identity_from_url("https://example.org/s?__biz=MzA5&mid=1&idx=1") is None
    # The long form with the percent-encoded "==" of base64, and the old appmsg form.
    assert (
        wechat_identity_from_url("http://mp.weixin.qq.com/s?__biz=MzA5%3D%3D&mid=7&idx=1")
        == "wechat:MzA5==/7/1"
    )
    assert (
        wechat_identity_from_url(
            "https://mp.weixin.qq.com/mp/appmsg/show?__biz=MzA5==&appmsgid=7&itemidx=3"
        )
        == "wechat:MzA5==/7/3"
    )


def test_article_is_recognised_by_its_markup_under_any_url() -> None:
    saved = clean_page(page("article_sections.html"), "file:///tmp/saved.html")
    assert saved.status == STATUS_OK
    assert saved.published == "2024-07-23T10:15:00+08:00"
    assert saved.issuer == "江城生态环境"


def test_script_variables_take_the_first_non_empty_literal() -> None:
    found = script_variables(
        [
            'var mid = "" || ""|| "2650934104"; var idx = permanentListeners.indexOf(cb);',
            "window.ct = '1759817591' || ''; var nickname = htmlDecode(\"A\\x26B\");",
            "d.nick_name = (xml ? getXmlValue('nick_name.DATA') : 'ignored').html(false);",
            'var idx = "" || "" || "1";',
        ]
    )
    assert found["mid"] == "2650934104"
    assert found["idx"] == "1"
    assert found["ct"] == "1759817591"
    assert found["nickname"] == "A&B"


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("deleted_zh.html", STATUS_DELETED, "该内容已被发布者删除"),
        ("deleted_en.html", STATUS_DELETED, "The content has been deleted by the author."),
        (
            "blocked.html",
            STATUS_BLOCKED,
            "此内容因违规无法查看 (由用户投诉并经平台审核，涉嫌侵犯他人名誉)",
        ),
        ("unavailable.html", STATUS_UNAVAILABLE, "该内容暂时无法查看"),
        ("expired.html", STATUS_EXPIRED, "链接已过期"),
        ("captcha.html", STATUS_CAPTCHA, "环境异常 (当前环境异常，完成验证后即可继续访问)"),
    ],
)
def test_unavailable_pages_get_a_status_and_no_text(name: str, status: str, reason: str) -> None:
    for url in (SHORT_URL, "file:///tmp/saved.html"):
        cleaned = clean_page(page(name), url)
        assert cleaned.status == status
        assert cleaned.reason == reason
        assert cleaned.text is None
        assert cleaned.title is None


def test_gone_statuses_are_definitive_and_captcha_is_not() -> None:
    assert {STATUS_DELETED, STATUS_BLOCKED, STATUS_UNAVAILABLE, STATUS_EXPIRED} < GONE_STATUSES
    assert "not_found" in GONE_STATUSES
    assert STATUS_CAPTCHA not in GONE_STATUSES
    assert STATUS_OK not in GONE_STATUSES


def test_gone_page_on_a_long_link_keeps_the_identity() -> None:
    cleaned = clean_page(page("deleted_zh.html"), LONG_URL)
    assert cleaned.status == STATUS_DELETED
    assert cleaned.identity == "wechat:MzA5NzQ2MTIzNA==/2651234567/2"


def test_an_article_that_quotes_a_gone_phrase_is_still_an_article() -> None:
    body = page("article_sections.html").replace(
        "近日，我市进入主汛期".encode(),
        "有读者反映“该内容已被发布者删除”的提示。近日，我市进入主汛期".encode(),
    )
    cleaned = clean_page(body, SHORT_URL)
    assert cleaned.status == STATUS_OK
    assert "该内容已被发布者删除" in (cleaned.text or "")


def test_a_notice_written_right_after_a_script_is_still_read() -> None:
    # lxml makes text after </script> the script's tail: it is visible, and here it is the
    # whole page. Read as an article, the deletion notice would become a new version.
    body = (
        "<html><head><title>微信公众平台</title></head><body>"
        "<script>var biz = 'MzA5NzQ2MTIzNA==';</script>该内容已被发布者删除"
        "</body></html>"
    ).encode()
    cleaned = clean_page(body, SHORT_URL)
    assert cleaned.status == STATUS_DELETED
    assert cleaned.text is None
