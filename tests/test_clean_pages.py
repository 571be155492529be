"""clean_page on saved government pages: text kept, boilerplate gone, metadata right."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest

from archive.clean import STATUS_EMPTY, STATUS_NOT_HTML, STATUS_OK, Cleaned, Hints, clean_page
from archive.clean.boilerplate import prune, unwrap_layout_tables
from archive.clean.extract import parse_html

PAGES = Path(__file__).parent / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def english() -> Cleaned:
    return clean_page(
        page("en_ministry_statement.html"),
        "https://mfa.example.gov/eng/spokesperson/statements/202408/t20240802_001.html",
        "text/html; charset=utf-8",
        Hints(timezone="Asia/Shanghai"),
    )


def test_english_statement_keeps_every_paragraph(english: Cleaned) -> None:
    assert english.status == STATUS_OK
    assert english.text is not None
    assert english.text.startswith("Since late July, torrential rains have caused severe flooding")
    assert "emergency humanitarian assistance worth 20 million dollars" in english.text
    assert english.text.endswith("rebuild their homes at an early date.")
    # A sentence that mentions copyright is statement text, not a footer.
    assert "continue talks on copyright and the protection of traditional crafts" in english.text


def test_english_statement_drops_menus_bars_and_footer(english: Cleaned) -> None:
    text = english.text or ""
    for boilerplate in (
        "Русский",
        "Français",
        "日本語",
        "Current location",
        "Share to",
        "【Print】",
        "【Close】",
        "Font size",
        "Previous:",
        "Next:",
        "Northern Corridor",
        "Related",
        "Phone Call with Veridian Counterpart",
        "Copyright",
        "All rights reserved",
        "Time: 2024-08-02",
    ):
        assert boilerplate not in text, boilerplate
    # The title is metadata; repeated as the body's first line it is dropped.
    assert "Spokesperson's Statement on the Flood Relief" not in text


def test_english_statement_metadata(english: Cleaned) -> None:
    assert english.title == (
        "Foreign Ministry Spokesperson's Statement on the Flood Relief Assistance"
        " to the Republic of Veridia"
    )
    assert english.published == "2024-08-02T10:15:00+08:00"
    assert english.issuer == "Ministry of Foreign Affairs"
    assert english.language == "en"
    assert english.encoding == "utf-8"


def test_english_page_rules_fire_on_the_tree() -> None:
    # trafilatura drops some of these on its own; our rules must not depend on that.
    root = parse_html(page("en_ministry_statement.html").decode("utf-8"))
    assert root is not None
    unwrap_layout_tables(root)
    notes = prune(root)
    for rule in ("language_menu", "breadcrumb", "toolbar", "prev_next", "related", "footer"):
        assert notes.removed.get(rule), rule
    remaining = root.text_content()
    assert "한어Русский языкEnglish" not in remaining
    assert "Current location" not in remaining
    assert "Since late July, torrential rains" in remaining


@pytest.fixture(scope="module")
def chinese() -> Cleaned:
    return clean_page(
        page("zh_ministry_gb2312.html"),
        "https://mfa.example.gov/fyrbt/dhdw/202407/t20240723_010.html",
        "text/html; charset=GB2312",
        Hints(issuer="外交部", language="zh", timezone="Asia/Shanghai"),
    )


def test_gb2312_declared_page_with_gbk_characters_decodes_cleanly(chinese: Cleaned) -> None:
    assert chinese.status == STATUS_OK
    assert chinese.encoding == "gb18030"
    text = chinese.text or ""
    assert "\ufffd" not in text
    assert "李镕喆部长将于7月25日至26日出席在万象举行的第九次澜湄合作外长会" in text
    assert "共同打造更为紧密的澜湄国家命运共同体" in text


def test_chinese_layout_table_page_loses_its_boilerplate(chinese: Cleaned) -> None:
    text = chinese.text or ""
    for boilerplate in (
        "您现在的位置",
        "首页",
        "【打印本页】",
        "关闭窗口",
        "字体",
        "上一篇",
        "下一篇",
        "近期地区局势",
        "相关新闻",
        "澜湄合作第八次外长会在京举行",
        "版权所有",
        "京ICP备",
        "网站标识码",
        "发布时间",
        "Français",
        "|",
    ):
        assert boilerplate not in text, boilerplate
    # The body starts with the question, not with the repeated title.
    assert text.startswith("问：据报道，李镕喆部长将出席第九次澜沧江－湄公河合作外长会。")
    # Paragraphs stay apart.
    assert "\n\n答：应湄公河国家邀请" in text


def test_chinese_metadata(chinese: Cleaned) -> None:
    assert chinese.title == "外交部发言人就李镕喆部长出席澜湄合作外长会答记者问"
    assert chinese.published == "2024-07-23T15:30:00+08:00"
    assert chinese.issuer == "外交部"
    assert chinese.language == "zh"


def test_gbk_page_without_charset_is_detected() -> None:
    cleaned = clean_page(
        page("zh_notice_gbk_undeclared.html"),
        "https://jiangchuan.example.gov/zwgk/tzgg/202406/t20240605_77.html",
        "text/html",
    )
    assert cleaned.status == STATUS_OK
    assert cleaned.encoding == "gb18030"
    text = cleaned.text or ""
    assert "\ufffd" not in text
    assert text.startswith("各区县人民政府，市政府各部门：")
    assert "二、加强隐患排查。各地要对水库、堤防、山洪灾害危险区和城市易涝点开展拉网式排查" in text
    # The signature block closing the notice is part of it.
    assert text.endswith("江川市人民政府\n\n2024年6月5日")
    for boilerplate in ("当前位置", "政务公开", "主办单位", "技术支持", "版权所有"):
        assert boilerplate not in text, boilerplate
    assert cleaned.title == "市政府关于做好防汛抗旱工作的通知"
    assert cleaned.published == "2024-06-05"
    assert cleaned.language == "zh"


@pytest.fixture(scope="module")
def reprint() -> Cleaned:
    return clean_page(
        page("wp_reprint_with_comments.html"),
        "https://example.org/2024/05/14/joint-statement/",
        "text/html; charset=UTF-8",
    )


def test_wordpress_reprint_keeps_the_statement(reprint: Cleaned) -> None:
    assert reprint.status == STATUS_OK
    text = reprint.text or ""
    assert text.startswith("The Ministry of Marine Resources and the Department of Fisheries")
    assert "joint scientific working group on fish stock assessment" in text
    assert "on a date to be agreed through diplomatic channels." in text


def test_wire_credit_closing_the_reprint_is_kept_but_the_site_footer_is_not(
    reprint: Cleaned,
) -> None:
    # The agency's rights notice is part of the story as reprinted (who may reuse it);
    # the blog's own copyright lines are its footer.
    text = reprint.text or ""
    assert text.endswith(
        "© 2024 Island Press Agency. All Rights Reserved. This material may not be"
        " published, broadcast, rewritten, or redistributed."
    )
    assert "Harbour Policy Watch" not in text


def test_wordpress_comments_and_comment_form_never_appear(reprint: Cleaned) -> None:
    text = reprint.text or ""
    for comment_text in (
        "my father fished those waters for thirty years",
        "vessel monitoring data will be published for researchers",
        "Two weeks is not nearly enough",
        "Mara Ellison",
        "thoughts on",
        "Leave a Reply",
        "Your email address will not be published",
        "Required fields are marked",
        "Post Comment",
        "Share this",
        "Previous Post",
        "Recent Posts",
        "Proudly powered by WordPress",
    ):
        assert comment_text not in text, comment_text


def test_wordpress_reprint_metadata(reprint: Cleaned) -> None:
    assert reprint.title == "Joint Statement on Coastal Fisheries Cooperation"
    assert reprint.published == "2024-05-14T09:30:00+00:00"
    assert reprint.issuer == "Ministry of Marine Resources"
    assert reprint.language == "en"


def test_pdf_served_as_html_is_not_html() -> None:
    cleaned = clean_page(
        page("statement_attachment.pdf"),
        "https://transport.example.gov/art/2024/art_5512.html",
        "text/html; charset=utf-8",
    )
    assert cleaned.status == STATUS_NOT_HTML
    assert cleaned.reason == "not an HTML page (application/pdf)"
    assert cleaned.text is None


def test_near_empty_index_page_is_empty() -> None:
    cleaned = clean_page(
        page("index_near_empty.html"),
        "https://jiangchuan.example.gov/zwgk/tzgg/",
        "text/html; charset=utf-8",
    )
    assert cleaned.status == STATUS_EMPTY
    assert cleaned.text is None
    assert cleaned.reason and "no statement text" in cleaned.reason


def test_results_pickle_for_the_process_pool(english: Cleaned) -> None:
    assert pickle.loads(pickle.dumps(english)) == english
    assert pickle.loads(pickle.dumps(Hints(issuer="外交部"))) == Hints(issuer="外交部")


def test_cleaning_does_not_import_scrapy() -> None:
    code = "import sys, archive.clean, archive.extract; print('scrapy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.fixture(scope="module")
def portal() -> Cleaned:
    return clean_page(
        page("zh_portal_summary_and_ads.html"),
        "https://news.example.com/gov/2024/11/20/8812.html",
    )


def test_summary_box_above_the_body_opens_the_text(portal: Cleaned) -> None:
    # trafilatura takes `art_content` as the body; the editors' 核心提示 sits just above it.
    text = portal.text or ""
    assert text.startswith("核心提示：应急管理厅要求各地在十二月底前完成重点行业领域安全隐患排查")
    assert text.endswith("整改情况按月报送省应急管理厅。")
    assert text.count("核心提示") == 1


def test_ads_placed_between_paragraphs_are_dropped(portal: Cleaned) -> None:
    text = portal.text or ""
    for advert in ("冬季取暖器限时特惠", "月入过万", "×"):
        assert advert not in text, advert
    assert not any(line.strip() == "广告" for line in text.splitlines())
    # A paragraph that merely starts with the word is statement text.
    assert "广告牌、户外招牌等设施要在大风天气来临前完成加固" in text


def test_portal_page_loses_its_menus_related_list_and_footer(portal: Cleaned) -> None:
    text = portal.text or ""
    for boilerplate in ("栏目关注", "相关新闻", "全省开展燃气安全专项整治", "版权所有", "ICP备"):
        assert boilerplate not in text, boilerplate
    assert portal.title == "省应急管理厅部署冬季安全生产工作"
    assert portal.issuer == "省应急管理厅"


def test_damaged_pages_give_a_result_never_an_exception() -> None:
    # Truncated downloads and flipped bytes, as a flaky network or disk makes them.
    rng = random.Random(20261123)
    for path in sorted(PAGES.glob("*.html")) + sorted((PAGES / "wechat").glob("*.html")):
        body = path.read_bytes()
        for _ in range(8):
            damaged = bytearray(body[: rng.randrange(1, len(body))])
            for _ in range(12):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            for url in ("https://www.example.gov/a.html", "https://mp.weixin.qq.com/s/x"):
                cleaned = clean_page(bytes(damaged), url)
                assert cleaned.status, (path.name, url)
