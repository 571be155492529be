"""Boilerplate and metadata rules added for WeChat, Chinese news pages and teaser streams."""

from __future__ import annotations

from datetime import date

import pytest

from archive.clean import extract
from archive.clean.boilerplate import classify, clean_lines, prune
from archive.clean.extract import Extracted, block_lines, parse_html
from archive.clean.metadata import find_title, meta_map

BODY = "部门负责人表示，将继续加强监测预警，及时发布信息，确保群众生命财产安全。"


def test_wechat_prompts_share_hints_and_player_controls_are_boilerplate() -> None:
    for line in ("微信扫一扫", "关注该公众号", "使用小程序", "预览时标签不可点", "阅读原文"):
        assert classify(line) == "wechat_prompt", line
    assert classify("喜欢此内容的人还喜欢") == "related"
    assert classify("推荐阅读：江城市开展夏季臭氧污染防治专项行动") == "related"
    assert classify("点击右上角微信好友") == "toolbar"
    assert classify("请使用浏览器分享功能进行分享") == "toolbar"
    for line in ("倍速", "- 1.5X", "00:00 / 01:45", "时长：01:45 来源：电影网"):
        assert classify(line) == "player", line
    # Sentences that merely use the words stay.
    assert classify("市民可在微信扫一扫办理业务，也可到窗口现场办理，工作人员将提供帮助。") is None


def test_qr_promos_go_only_when_they_close_the_text() -> None:
    promo = "如你觉得文章不错，请识别图中二维码关注，并推荐给你的朋友"
    assert clean_lines([BODY, promo]) == [BODY]
    notice = "办事群众可长按识别二维码进入预约系统，选择办理时间。"
    assert clean_lines([notice, BODY]) == [notice, BODY]


def test_signing_date_after_short_sentences_is_kept() -> None:
    lines = ["近日，我市进入主汛期。", "江城市生态环境局", "2024年7月23日"]
    assert clean_lines(lines) == lines


def test_teaser_stream_is_removed_but_article_sections_are_not() -> None:
    cards = "".join(
        f"<li><div><h4><a href='/n/{n}'>另一篇新闻标题第{n}条</a></h4><p>摘要内容{n}</p></div></li>"
        for n in range(5)
    )
    long_section = "<p>" + "段落内容很长。" * 400 + "</p>"
    sections = "".join(
        f"<section><h2><a href='#s{n}'>第{n}部分</a></h2>{long_section}</section>" for n in range(3)
    )
    root = parse_html(
        f"<html><body><div id='a'>{sections}</div><ul class='stream'>{cards}</ul></body></html>"
    )
    assert root is not None
    notes = prune(root)
    assert notes.removed.get("related") == 1
    assert root.find(".//ul") is None
    assert len(root.findall(".//section")) == 3


def test_title_keeps_the_pages_typographic_quotes() -> None:
    root = parse_html(
        "<html><head><title>A fix for Facebook’s mobile app by Parse.ly</title>"
        "<meta property='og:title' content=\"A fix for Facebook's mobile app\"></head>"
        "<body><p>x</p></body></html>"
    )
    assert root is not None
    assert find_title(meta_map(root), root, None) == "A fix for Facebook’s mobile app"


def test_block_lines_keep_hidden_span_bodies_and_skip_display_none() -> None:
    root = parse_html(
        "<html><body><div id='c' style='visibility: hidden'>"
        "<section><span>第一段</span><span>继续。</span></section>"
        "<section><span style='display:none'>隐藏</span><span>第二段</span><br>第三段</section>"
        "</div></body></html>"
    )
    assert root is not None
    assert block_lines(root.get_element_by_id("c")) == ["第一段继续。", "第二段", "第三段"]


def test_precision_mode_losing_the_article_falls_back_to_the_default_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notice = ["This copy is for your personal, non-commercial use only."]
    article = [
        f"Paragraph {n} of the statement. " + "Words of the statement. " * 10 for n in range(3)
    ]
    teasers = [f"Another story {n}, a short teaser line" for n in range(30)]

    def fake(default_lines: list[str]) -> object:
        def _bare(root: object, url: object, today: object, precision: bool) -> Extracted:
            return Extracted(lines=notice if precision else notice + default_lines)

        return _bare

    root = parse_html("<html><body><p>x</p></body></html>")
    assert root is not None
    monkeypatch.setattr(extract, "_bare", fake(article))
    assert extract.run_trafilatura(root, None, date(2024, 1, 1)).lines == notice + article
    # More text, but only teasers: the precise answer stands.
    monkeypatch.setattr(extract, "_bare", fake(teasers))
    assert extract.run_trafilatura(root, None, date(2024, 1, 1)).lines == notice


def test_language_is_always_a_two_letter_code_even_for_chinese_varieties(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import py3langid

    from archive.clean import language

    monkeypatch.setattr(py3langid, "classify", lambda text: ("wuu", -10.0))
    assert language.detect_language("上海话里头讲个闲话交关多，老早辰光大家侪讲吴语。" * 3) == "zh"
    monkeypatch.setattr(py3langid, "classify", lambda text: ("ast", -10.0))
    assert language.detect_language("Esto ye un testu llargu n'asturianu pa la prueba." * 3) is None


def test_rights_notice_is_the_storys_only_among_its_paragraphs() -> None:
    story = "<p>" + "The agency reported that the talks would resume next month. " * 3 + "</p>"
    credit = "© 2024 Island Press Agency. All Rights Reserved. This material may not be published."
    footer = "© 2024 Harbour Policy Watch. All rights reserved. Content may not be reproduced."
    root = parse_html(
        f"<html><body><article>{story}<p>{credit}</p></article>"
        f"<footer><p>{footer}</p><p>Contact us</p></footer></body></html>"
    )
    assert root is not None
    notes = prune(root)
    assert credit in root.text_content()
    assert footer not in root.text_content()
    assert notes.credits == {credit}
    # In the lines after trafilatura, only the notice the tree pass saw in the story stays.
    assert clean_lines([credit, footer], credits=notes.credits) == [credit]


def test_a_related_label_is_a_whole_word_not_a_prefix() -> None:
    # "More" and "Also" open related lists; "Moreover" and "Alsop" open sentences.
    linked = "<a href='/n/1'>the full text of the regulation on river basins</a>"
    root = parse_html(
        "<html><body><div>"
        f"<div>Moreover, see {linked}.</div>"
        f"<div>More: {linked}</div>"
        "</div></body></html>"
    )
    assert root is not None
    prune(root)
    text = root.text_content()
    assert "Moreover, see the full text" in text
    assert "More:" not in text
