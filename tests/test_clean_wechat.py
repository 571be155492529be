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


@pytest.mark.parametrize(
    ("name", "first", "last", "prompts"),
    [
        (
            "closing_prompts_zh.html",
            "据市气象台预报，今年第9号台风“海燕”",
            "2024年9月12日",
            (
                "点击上方蓝字",
                "关注我们",
                "往期推荐",
                "暴雨天出行安全指南",
                "防台风Ⅳ级应急响应",
                "家庭应急物资储备清单来了",
                "阅读原文",
                "长按识别二维码",
                "分享、点赞、在看",
                "点个“在看”",
            ),
        ),
        (
            "closing_prompts_en.html",
            "From 1 October, all visa applications",
            "replies are given within three working days.",
            (
                "blue words",
                "Previous picks",
                "How to renew a passport abroad",
                "Holiday opening hours",
                "QR code",
                "tap Wow",
                "Read more",
            ),
        ),
    ],
)
def test_calls_to_follow_share_and_read_on_are_not_statement_text(
    name: str, first: str, last: str, prompts: tuple[str, ...]
) -> None:
    cleaned = clean_page(page(name), SHORT_URL)
    assert cleaned.status == STATUS_OK
    text = cleaned.text or ""
    assert text.startswith(first)
    assert text.endswith(last)
    for prompt in prompts:
        assert prompt not in text, prompt


def test_a_sentence_that_mentions_sharing_inside_the_text_stays() -> None:
    body = page("closing_prompts_zh.html").replace(
        "市应急管理局提醒广大市民".encode(),
        "请勿转发、分享未经核实的灾情信息。市应急管理局提醒广大市民".encode(),
    )
    text = clean_page(body, SHORT_URL).text or ""
    assert "请勿转发、分享未经核实的灾情信息。" in text


def test_a_text_share_is_archived_with_its_body() -> None:
    cleaned = clean_page(page("text_share.html"), SHORT_URL)
    assert cleaned.status == STATUS_OK
    assert cleaned.title == "关于延长图书馆夏季开放时间的说明"
    assert cleaned.issuer == "东湖区文化馆"
    assert cleaned.published == "2024-07-10T16:00:00+08:00"
    assert cleaned.identity == "wechat:MzkxMjM0NTY3OA==/2247500123/1"
    # The script's \x0a, \x22 and \x26 escapes come out as a new line, quotes and "&".
    assert cleaned.text == (
        "自7月15日至8月31日，区图书馆每天开放至晚上9点，周一照常闭馆。\n\n"
        '期间少儿阅览室增设"暑期共读"专区，家长可凭读者证陪同入馆&参加活动。\n\n'
        "请读者遵守馆内秩序，爱护公共设施。\n\n"
        "东湖区文化馆"
    )


def test_a_picture_share_keeps_its_caption_and_its_pictures() -> None:
    cleaned = clean_page(page("picture_share.html"), SHORT_URL)
    assert cleaned.status == STATUS_OK
    assert cleaned.issuer == "北岸水务"
    lines = (cleaned.text or "").split("\n\n")
    assert lines == [
        "7月31日，北岸河堤加固工程完成第一阶段施工，新建防渗墙1.2公里。",
        "图为施工人员在检查堤顶排水沟。",
        "https://mmbiz.qpic.cn/mmbiz_jpg/AbCdEf123/0?wx_fmt=jpeg",
        "https://mmbiz.qpic.cn/mmbiz_jpg/GhIjKl456/0?wx_fmt=jpeg&from=appmsg",
    ]


def test_a_picture_list_cannot_smuggle_in_scripts_or_other_addresses() -> None:
    text = clean_page(page("picture_share.html"), SHORT_URL).text or ""
    assert "javascript:" not in text
    assert "data:" not in text
    assert "not-a-picture-of-the-share" not in text  # the cover, outside the picture list


def test_an_article_script_cannot_replace_the_article_body() -> None:
    # Only shares take their words from the script: an ordinary article whose script
    # carries a `content_noencode` is still read from #js_content.
    forged = "<script>var cgiData = {content_noencode: JsDecode('伪造的正文\\x0a另一段')};</script>"
    body = page("article_sections.html").replace(b"</body>", forged.encode() + b"</body>")
    text = clean_page(body, SHORT_URL).text or ""
    assert "伪造的正文" not in text
    assert text.startswith("近日，我市进入主汛期")
