"""Title, date, issuer and language as a reader of the archive would expect them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from archive.clean import Hints, clean_page
from archive.clean.boilerplate import IN_LINK, IN_LIST
from archive.clean.language import choose_language, normalise_tag
from archive.clean.metadata import find_issuer, find_published, parse_date, strip_site_suffix

TODAY = date(2024, 9, 1)
PARAGRAPH_EN = (
    "The Ministry of Agriculture announced new support measures for farmers affected by the "
    "drought, including subsidised seed, fuel and irrigation equipment for the next season."
)
PARAGRAPH_ZH = (
    "农业农村部今天宣布，将对受旱灾影响的农户给予种子、燃油和灌溉设备补贴，"
    "并组织农技人员深入田间地头，指导群众抓好秋冬种生产。"
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("外交部发言人答记者问_中华人民共和国外交部", "外交部发言人答记者问"),
        (
            "国务院关于加强防汛工作的通知_政府信息公开专栏_中国政府网",
            "国务院关于加强防汛工作的通知",
        ),
        ("Statement on Rail Safety - Ministry of Foreign Affairs", "Statement on Rail Safety"),
        ("Statement on Rail Safety | Department of Transport", "Statement on Rail Safety"),
        ("Harbour Policy Watch | Joint Statement on Fisheries", "Joint Statement on Fisheries"),
        ("Agreement on Trade - Annex I", "Agreement on Trade - Annex I"),
        ("Press Release", "Press Release"),
    ],
)
def test_site_suffix_is_stripped_from_titles(raw: str, expected: str) -> None:
    assert strip_site_suffix(raw, ["Harbour Policy Watch"]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年07月23日", "2024-07-23"),
        ("2024年7月3日 15:30", "2024-07-03T15:30:00"),
        ("2024-08-02 10:15", "2024-08-02T10:15:00"),
        ("2024/08/02", "2024-08-02"),
        ("August 2, 2024", "2024-08-02"),
        ("2 August 2024", "2024-08-02"),
        ("May 14, 2024 at 12:04 pm", "2024-05-14T12:04:00"),
        ("2024-05-14T09:30:00Z", "2024-05-14T09:30:00+00:00"),
        ("2024-05-14T09:30:00+08:00", "2024-05-14T09:30:00+08:00"),
        ("Copyright © 1998-2024", None),
        ("© 2024 Ministry of Trade", None),
        ("2031-01-01", None),  # later than today: a typo or a deadline, not publication
        ("2024-02-30", None),
    ],
)
def test_parse_date(text: str, expected: str | None) -> None:
    assert parse_date(text, today=TODAY) == expected


def test_page_time_gets_the_source_timezone() -> None:
    assert parse_date("2024-07-23 15:30", "Asia/Shanghai", TODAY) == "2024-07-23T15:30:00+08:00"


def test_published_prefers_meta_then_labelled_line_then_bare_date() -> None:
    blocks = [("2024年06月01日", ""), ("发布时间：2024-07-23 来源：外交部", "")]
    assert find_published({"pubdate": "2024-07-20"}, blocks, today=TODAY) == "2024-07-20"
    assert find_published({}, blocks, today=TODAY) == "2024-07-23"
    assert find_published({}, blocks[:1], today=TODAY) == "2024-06-01"


def test_bare_date_below_the_body_ranks_after_trafilatura_guess() -> None:
    # A sidebar's "2023-11-03" after the article is another story's date...
    blocks = [
        ("Anchor: After heavy downpours on Monday, the morning was cold.", ""),
        ("2023-11-03", ""),
    ]
    assert find_published({}, blocks, today=TODAY, body_start=1, guess="2023-11-07") == "2023-11-07"
    # ...but with nothing better it is the notice's signing date.
    assert find_published({}, blocks, today=TODAY, body_start=1) == "2023-11-03"


def test_written_and_updated_labels() -> None:
    blocks = [("Written: 2023-11-07 15:03:30 / Updated: 2023-11-08 09:00:00", "")]
    assert find_published({}, blocks, today=TODAY) == "2023-11-07T15:03:30"
    blocks = [("Updated: 2023-11-08", "")]
    assert find_published({}, blocks, today=TODAY) == "2023-11-08"


def test_labelled_date_in_a_list_counts_but_not_in_a_link() -> None:
    # <ul class="info"><li>发布时间：…</li><li>来源：…</li></ul> is common on government sites.
    blocks = [("发布时间：2024-07-18", IN_LINK), ("发布时间：2024-07-23", IN_LIST)]
    assert find_published({}, blocks, today=TODAY) == "2024-07-23"


def test_meeting_time_in_the_body_is_not_the_publication_date() -> None:
    blocks = [("会议时间：2024年8月1日上午9时", ""), ("2024年07月25日", "")]
    assert find_published({}, blocks, today=TODAY) == "2024-07-25"


def test_published_ignores_dates_in_link_lists_and_copyright_lines() -> None:
    blocks = [
        ("2024-07-28", IN_LIST),  # next to a related link
        ("Copyright © 2024 Ministry of Trade. Updated 2024-01-05", ""),
    ]
    assert find_published({}, blocks, today=TODAY) is None


def test_copyright_year_never_becomes_the_publication_date() -> None:
    page = (
        "<html><head><title>Drought support - Ministry of Agriculture</title></head><body>"
        f"<div class='text'><p>{PARAGRAPH_EN}</p></div>"
        "<div class='footer'>Copyright © 2024 Ministry of Agriculture</div></body></html>"
    )
    cleaned = clean_page(page.encode(), "https://agri.example.gov/news/drought", today=TODAY)
    assert cleaned.published is None
    assert cleaned.title == "Drought support"


def test_date_line_in_the_page_gives_the_date() -> None:
    page = (
        "<html><head><title>关于旱灾补贴的通知_农业农村部</title></head><body>"
        "<h1>关于旱灾补贴的通知</h1><div class='info'>发布时间：2024-07-23　来源：农业农村部</div>"
        f"<div class='text'><p>{PARAGRAPH_ZH}</p></div></body></html>"
    )
    cleaned = clean_page(page.encode(), "https://agri.example.gov/tz/1", "text/html", today=TODAY)
    assert cleaned.published == "2024-07-23"
    assert cleaned.issuer == "农业农村部"
    assert cleaned.title == "关于旱灾补贴的通知"
    assert cleaned.text == PARAGRAPH_ZH


def test_issuer_from_meta_then_source_line_then_hint() -> None:
    assert find_issuer({"contentsource": "外交部"}, [("来源：新华社", "")]) == "外交部"
    assert find_issuer({"source": "来源：人民网"}, []) == "人民网"
    blocks = [("时间：2024-07-23　来源：新华社　作者：张三", "")]
    assert find_issuer({}, blocks) == "新华社"
    blocks = [("Time: 2024-08-02 10:15 Source: Ministry of Foreign Affairs | Views: 1200", "")]
    assert find_issuer({}, blocks) == "Ministry of Foreign Affairs"
    # The time in the next <span>, run together with the source: not part of its name.
    assert find_issuer({}, [("来源：人民日报2024-05-13 08:49", "")]) == "人民日报"
    assert find_issuer({}, [("来源：2024年第3期《求是》", "")]) == "2024年第3期《求是》"
    page = f"<html><body><div><p>{PARAGRAPH_EN}</p></div></body></html>".encode()
    cleaned = clean_page(page, "https://agri.example.gov/1", hints=Hints(issuer="MoA"))
    assert cleaned.issuer == "MoA"


def test_language_is_detected_from_the_text_not_the_markup() -> None:
    page = f'<html lang="en"><body><div><p>{PARAGRAPH_ZH}</p></div></body></html>'
    cleaned = clean_page(page.encode(), "https://agri.example.gov/zh/1")
    assert cleaned.language == "zh"


def test_language_falls_back_to_html_lang_then_hint() -> None:
    assert choose_language("短", "zh-CN", "en") == "zh"
    assert choose_language("", None, "fr") == "fr"
    assert choose_language(PARAGRAPH_EN, "zh-CN", "fr") == "en"
    assert normalise_tag("en_US") == "en"
    assert normalise_tag("x-default") is None


PAGES = Path(__file__).parent / "pages"


@pytest.mark.parametrize(
    ("name", "issuer", "published", "label"),
    [
        ("en_glued_labels.html", "Ministry of Inland Waterways", "2023-11-08T16:30:00", "Time:"),
        ("zh_glued_labels.html", "市水利局", "2023-11-08T16:30:00", "发布时间："),
    ],
)
def test_a_label_run_into_the_value_before_it_splits_the_fields(
    name: str, issuer: str, published: str, label: str
) -> None:
    # "Source: Ministry of Inland WaterwaysTime: 2023-11-08 16:30": spans with no space.
    cleaned = clean_page((PAGES / name).read_bytes(), "https://example.gov/a/1.html")
    assert cleaned.issuer == issuer
    assert cleaned.published == published
    text = cleaned.text or ""
    assert label not in text
    assert issuer not in text.split("\n\n")[0]  # the info line is not the first paragraph


@pytest.mark.parametrize(
    ("text", "issuer"),
    [
        ("Source: Ministry of National SecurityTime: 2023-11-08", "Ministry of National Security"),
        (
            "Source：Ministry of National SecurityUpdated：2023-11-08",
            "Ministry of National Security",
        ),
        ("来源：国家安全部发布时间：2023-11-08", "国家安全部"),
        ("来源：国家安全部　作者：张明", "国家安全部"),
        ("信息来源：市统计局浏览次数：120", "市统计局"),
        ("Source: Lifetime Learning Institute", "Lifetime Learning Institute"),
    ],
)
def test_issuer_stops_at_the_next_label(text: str, issuer: str) -> None:
    assert find_issuer({}, [(text, "")]) == issuer


@pytest.mark.parametrize(
    ("name", "issuer", "published", "line"),
    [
        (
            "zh_dateline_source.html",
            "市市场监督管理局",
            "2023-11-08T16:30:00",
            "2023-11-08 16:30",
        ),
        ("zh_published_label.html", None, "2023-11-08", "发布时间"),
        ("en_updated_line.html", None, "2023-11-08", "Updated"),
    ],
)
def test_metadata_is_read_from_visible_lines_and_the_line_is_stripped(
    name: str, issuer: str | None, published: str, line: str
) -> None:
    # None of these pages has a meta tag: the date and issuer sit in a line of text.
    body = (PAGES / name).read_bytes()
    assert b"<meta name=" not in body and b"<meta property=" not in body
    cleaned = clean_page(body, "https://example.gov/a/1.html", today=TODAY)
    assert cleaned.issuer == issuer
    assert cleaned.published == published
    assert line not in (cleaned.text or "")
    assert len(cleaned.text or "") > 80


def test_a_dated_line_in_a_list_of_other_pages_is_not_the_date() -> None:
    # A "related" list whose entries carry their own date and source line tries to pass
    # its date off as the statement's; the statement's own line above the body wins.
    body = (PAGES / "zh_dateline_source.html").read_text(encoding="utf-8")
    body = body.replace(
        '<div class="menu">',
        '<ul class="latest"><li><a href="/old">2019-01-01 09:00 来源：别的单位</a></li></ul>'
        '<div class="menu">',
    )
    cleaned = clean_page(body.encode(), "https://example.gov/a/1.html", today=TODAY)
    assert cleaned.published == "2023-11-08T16:30:00"
    assert cleaned.issuer == "市市场监督管理局"


def test_a_date_in_the_middle_of_the_text_is_not_stripped() -> None:
    body = (PAGES / "en_updated_line.html").read_text(encoding="utf-8")
    body = body.replace(
        "<p>Buses will run",
        "<p>Updated: the closure was moved from the first weekend of November.</p><p>Buses will run",
    )
    text = clean_page(body.encode(), "https://example.gov/a/1.html", today=TODAY).text or ""
    assert "Updated: the closure was moved from the first weekend of November." in text
