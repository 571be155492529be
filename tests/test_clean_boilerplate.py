"""Our boilerplate rules: whole short lines and elements go, statement sentences stay."""

from __future__ import annotations

import pytest

from archive.clean import STATUS_OK, clean_page
from archive.clean.boilerplate import classify, clean_lines

BODY_EN = (
    "The Cabinet today approved the national plan for disaster preparedness, which sets out "
    "the responsibilities of ministries and provincial governments during floods and storms."
)


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("한어Русский языкEnglishFrançaisIndonesianDeutsch日本語العربية", "language_menu"),
        ("中文 | English | Français | Español | Русский", "language_menu"),
        ("Language: 简体中文 繁體中文 English", "language_menu"),
        ("Current location: Home > News > Statements", "breadcrumb"),
        ("当前位置：首页 > 新闻发布 > 发言人表态", "breadcrumb"),
        ("您现在的位置：首页 >> 政务公开", "breadcrumb"),
        ("Home > Press Room > Statements", "breadcrumb"),
        ("上一篇：外交部发言人答记者问", "prev_next"),
        ("下一篇：没有了", "prev_next"),
        ("Previous: Statement on the Northern Corridor", "prev_next"),
        ("Next", "prev_next"),
        ("Next Post: Advisory on Whale Migration", "prev_next"),
        ("Related", "related"),
        ("相关文章", "related"),
        ("相关新闻：", "related"),
        ("推荐阅读", "related"),
        ("Leave a Reply", "comment_form"),
        ("Leave a Reply Cancel reply", "comment_form"),
        ("Your email address will not be published. Required fields are marked *", "comment_form"),
        ("Required fields are marked *", "comment_form"),
        ("3 thoughts on “Joint Statement on Fisheries”", "comment_form"),
        ("发表评论", "comment_form"),
        ("写留言", "comment_form"),
        ("Share to:", "toolbar"),
        ("【打印】", "toolbar"),
        ("【关闭窗口】", "toolbar"),
        ("【字体：大 中 小】", "toolbar"),
        ("打印本页", "toolbar"),
        ("关闭窗口", "toolbar"),
        ("【打印本页】【关闭窗口】", "toolbar"),
        ("Print | Close | Font size: A+ A-", "toolbar"),
        ("版权所有：中华人民共和国外交部", "footer"),
        ("Copyright © 2024 Ministry of Foreign Affairs", "footer"),
        ("京ICP备06029696号 京公网安备 11010502034511号", "footer"),
        ("网站标识码bm01000001", "footer"),
        ("Ministry of Health. All rights reserved.", "footer"),
        ("主办单位：江川市人民政府办公室 技术支持：江川市大数据中心", "footer"),
        ("查看更多", "navigation"),
        ("展开剩余85%", "navigation"),
        ("Load more", "navigation"),
        ("[Related: Salesforce Keynote: AI and Integration]", "related"),
        ("【延伸阅读：国务院关于防汛工作的通知】", "related"),
        ("Filed under: Statements |", "navigation"),
        ("Tags: economy, trade", "navigation"),
        ("Reading time: 3 min", "navigation"),
        ("Tempo de leitura: 1 minuto", "navigation"),
        ("DON'T MISS", "related"),
        ("You may also like...", "related"),
        ("Most read in world news", "related"),
        ("SEE MORE: Hong Kong protests: 800 students under siege", "related"),
        ("分享让更多人看到", "toolbar"),
        ("Like this story? Share it with a friend!", "toolbar"),
        ("很抱歉，当前视频播放失败", "player"),
        ("错误代码：QVS.4100", "player"),
        ("举报邮箱：jubao@example.com", "footer"),
        ("特别声明：以上内容为自媒体平台用户上传并发布，本平台仅提供信息存储服务。", "footer"),
    ],
)
def test_boilerplate_lines_are_recognised(line: str, rule: str) -> None:
    assert classify(line) == rule


@pytest.mark.parametrize(
    "sentence",
    [
        "The ministry will strengthen copyright protection for traditional crafts and music.",
        "Copyright protection is a priority for the government, the minister said.",
        "Next, the two sides exchanged views on regional and international issues.",
        "Close cooperation between the two agencies made the rescue possible.",
        "The documents are available in English, French and Spanish on request.",
        "Related measures will be announced by the State Council next week.",
        "You are here today because your communities trusted you with their future.",
        "上一篇章已经翻过，双方关系进入新的发展阶段。",
        "当前位置偏远的村庄也将纳入供水工程。",
        "发言人说，中方将依法保护著作权人的版权所有权益，这一立场是一贯的。",
        "The treaty leaves all rights reserved to the coastal states untouched, he said.",
        "Share prices of state-owned enterprises rose after the announcement.",
        "打印机和复印机的采购将按照政府采购法进行。",
        "主办单位：国务院新闻办公室、商务部",
        "English",
        "中文 English",
        "查看更多信息请访问市政府门户网站。",
        "(see also: Annex 2 of the regulation)",
        "More cooperation is needed between the two agencies.",
        "Also present were the ministers of finance and trade.",
        "特别声明称，以上措施自即日起施行。",
        "Tags on imported goods must show the country of origin, the ministry said.",
    ],
)
def test_statement_sentences_are_not_boilerplate(sentence: str) -> None:
    assert classify(sentence) is None


def test_long_paragraph_is_never_judged() -> None:
    paragraph = "版权所有 " + "这是一段很长的正文内容。" * 60
    assert classify(paragraph) is None


def test_clean_lines_drops_title_info_bar_and_related_list() -> None:
    lines = [
        "Statement on Disaster Preparedness",
        "Time: 2024-03-01 09:00 Source: Cabinet Office",
        BODY_EN,
        "Time: 14:00 on 3 March, in the main hall of the Cabinet Office.",
        "Related",
        "- Cabinet Approves Budget",
        "- Minister Visits Flood Zone",
        "【Print】【Close】",
    ]
    kept = clean_lines(lines, titles=["Statement on Disaster Preparedness"])
    # The info bar above the body goes; a "Time:" line inside the body is content.
    assert kept == [BODY_EN, "Time: 14:00 on 3 March, in the main hall of the Cabinet Office."]


def test_a_dated_info_bar_opening_the_text_goes_even_when_long() -> None:
    line = "2012-09-26 11:09:00 | Source：People's Daily Online, Beijing bureau"
    assert clean_lines([line, BODY_EN]) == [BODY_EN]
    # A sentence that starts with a date is the statement's.
    assert clean_lines(["2005年8月25日（来源：上海证券报）", BODY_EN]) == [BODY_EN]
    dated = "2024-03-01: the Cabinet approved the plan after a debate of three hours."
    assert clean_lines([dated, BODY_EN]) == [dated, BODY_EN]


def test_a_call_to_share_closing_the_text_goes_but_not_inside_it() -> None:
    closing = "欢迎分享到朋友圈~"
    body = "市政府今天发布了防汛应急预案，要求各区县做好准备工作。"
    assert clean_lines([body, closing]) == [body]
    assert clean_lines([closing, body]) == [closing, body]


def test_follow_and_subscribe_promos_closing_the_text_go() -> None:
    promos = [
        "Follow the Ministry on Facebook, Twitter and YouTube.",
        "Subscribe to the Morning Review newsletter",
    ]
    assert clean_lines([BODY_EN, *promos]) == [BODY_EN]


def test_title_repeated_later_in_the_body_is_dropped_too() -> None:
    lines = [BODY_EN, "Statement on Disaster Preparedness"]
    assert clean_lines(lines, titles=["Statement on Disaster Preparedness"]) == [BODY_EN]


def test_clean_lines_drops_runs_of_link_texts_but_not_a_single_link() -> None:
    links = {"首页", "政务公开", "互动交流", "关于印发防汛应急预案的通知"}
    lines = ["首页", "政务公开", "互动交流", "各区县人民政府：", "关于印发防汛应急预案的通知"]
    assert clean_lines(lines, link_texts=links) == [
        "各区县人民政府：",
        "关于印发防汛应急预案的通知",
    ]


def test_sentence_mentioning_copyright_survives_a_full_page() -> None:
    sentence = "The agreement includes a chapter on copyright and neighbouring rights."
    page = (
        "<html><head><title>Agreement signed - Ministry of Trade</title></head><body>"
        "<div class='main'><h1>Agreement signed</h1>"
        f"<p>{BODY_EN}</p><p>{sentence}</p>"
        "<p>The agreement will enter into force once both parliaments have ratified it.</p>"
        "</div><div class='foot'>Copyright © 2024 Ministry of Trade</div></body></html>"
    )
    cleaned = clean_page(page.encode(), "https://trade.example.gov/news/1")
    assert cleaned.status == STATUS_OK
    assert sentence in (cleaned.text or "")
    assert "Copyright ©" not in (cleaned.text or "")
    assert cleaned.title == "Agreement signed"
