"""trafilatura's favor_precision mode, and what it must not take with the boilerplate."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from archive.clean import STATUS_OK, Cleaned, clean_page, extract
from archive.clean.boilerplate import prune
from archive.clean.extract import parse_html
from archive.clean.keep import join_split_bodies, keep_for_precision

PAGES = Path(__file__).parent / "pages"


@pytest.fixture(scope="module")
def cleaned() -> Cleaned:
    body = (PAGES / "en_precision_losses.html").read_bytes()
    return clean_page(body, "https://water.example.gov/news/2024/08/relief.html")


def test_text_after_an_empty_element_is_kept(cleaned: Cleaned) -> None:
    # WordPress's <span id="more-N"></span> opens the paragraph after the teaser.
    assert cleaned.status == STATUS_OK
    assert cleaned.text is not None
    assert "The package also covers temporary housing for families" in cleaned.text


def test_heading_with_a_permalink_icon_and_its_paragraph_are_kept(cleaned: Cleaned) -> None:
    assert cleaned.text is not None
    assert "Repairs before the autumn rains" in cleaned.text
    assert "must be completed before the autumn rains, the ministry said" in cleaned.text


def test_one_paragraph_per_card_layout_keeps_every_paragraph(cleaned: Cleaned) -> None:
    assert cleaned.text is not None
    assert "keep water levels below the flood limit" in cleaned.text
    assert "The weather service expects heavier rain than usual" in cleaned.text
    assert "Residents can report damage through the hotline" in cleaned.text


def test_a_lone_link_paragraph_is_kept_but_a_run_of_them_is_not(cleaned: Cleaned) -> None:
    assert cleaned.text is not None
    assert "Read the full relief plan published today" in cleaned.text
    assert "Dam inspections begin in the southern provinces" not in cleaned.text
    assert "Drought plan adopted for the western region" not in cleaned.text
    assert "All rights reserved" not in cleaned.text


def test_a_heading_that_is_one_link_among_the_paragraphs_is_kept(cleaned: Cleaned) -> None:
    # favor_precision drops every heading whose link is over 10 characters.
    assert cleaned.text is not None
    assert "Annex: the counties eligible for emergency repair funding this year" in cleaned.text


def test_keep_for_precision_rewrites_only_those_patterns() -> None:
    root = parse_html(
        "<html><body><div>"
        '<p><span id="more-1"></span>After the fold.</p>'
        '<p><span class="icon"></span></p>'
        '<h2>Section<a href="#s"></a></h2>'
        "<p>Text and <b></b></p>"
        "</div></body></html>"
    )
    assert root is not None
    keep_for_precision(root)
    assert root.find(".//span[@id]") is None  # it carried text after it: gone, text kept
    assert root.find(".//span[@class]") is not None  # nothing after it: left to trafilatura
    assert root.find(".//h2/a") is None
    assert "After the fold." in root.text_content()


def test_long_blocks_are_squashed_once_not_once_per_ancestor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paragraph = "<p>" + "A sentence of the statement that goes on for a while. " * 60 + "</p>"
    html = "<html><body>" + "<div>" * 12 + paragraph * 3 + "</div>" * 12 + "</body></html>"
    root = parse_html(html)
    assert root is not None
    page_chars = len(root.text_content())
    squashed: list[int] = []
    real = prune.__globals__["squash"]

    def counting(text: str) -> str:
        squashed.append(len(text))
        return str(real(text))

    monkeypatch.setitem(prune.__globals__, "squash", counting)
    prune(root)
    # Each paragraph, then the first wrapper that is too long to judge; never the 11 above.
    assert sum(squashed) < 3 * page_chars


def test_metadata_is_read_once_and_not_by_both_extraction_modes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bool] = []
    real = extract.bare_extraction

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(bool(kwargs.get("with_metadata")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(extract, "bare_extraction", spy)
    root = parse_html(
        "<html><head><title>Short notice | Example Ministry</title>"
        '<meta property="og:site_name" content="Example Ministry">'
        '<meta property="article:published_time" content="2024-03-05"></head>'
        "<body><article><p>A short notice, shorter than five hundred characters.</p>"
        "</article></body></html>"
    )
    assert root is not None
    result = extract.run_trafilatura(root, "https://example.gov/n/1.html", date(2025, 1, 1))
    assert calls == [False, False]  # precision mode, then the default mode's second opinion
    assert result.date_guess is not None and result.date_guess() == "2024-03-05"
    assert result.sitename == "Example Ministry"
    assert result.title is not None and result.title.startswith("Short notice")


def test_a_lone_link_paragraph_after_a_line_break_is_kept() -> None:
    # `<p><br><a>…</a></p>`: the editor's break does not make the link less alone.
    body = (
        b"<html><head><title>Tariff review</title></head><body><article><h1>Tariff review</h1>"
        b"<p>The ministry has published its review of import tariffs on building materials, "
        b"proposing lower rates for insulation and timber from the first of January.</p>"
        b'<p><br>\n<a href="/docs/tariff-review.pdf">The full review and its annexes</a></p>'
        b"<p>Comments on the proposal can be sent to the ministry until the end of November, "
        b"after which the final rates will be set by decree.</p>"
        b"</article></body></html>"
    )
    cleaned = clean_page(body, "https://trade.example.gov/news/tariffs.html")
    assert "The full review and its annexes" in (cleaned.text or "")


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        (
            "en_split_body.html",
            "Flying a drone over any of the country's fourteen national parks",
            "how many permits they issued and refused.",
        ),
        ("zh_split_body.html", "市公安局、市交通运输局日前联合印发", "根据实施情况修改完善。"),
    ],
)
def test_a_body_split_into_several_containers_is_kept_whole(
    name: str, first: str, last: str
) -> None:
    # One article cut into two same-class cells, each beside an ad rail.
    cleaned = clean_page((PAGES / name).read_bytes(), "https://example.gov/news/drones.html")
    text = cleaned.text or ""
    assert text.startswith(first)
    assert text.endswith(last)
    assert text.count(first) == 1
    assert "Advertisement" not in text and "广告" not in text


def test_a_list_of_posts_is_not_joined_into_one_body() -> None:
    # A blog index: every post has its own linked heading and the same content class.
    posts = "".join(
        f'<div class="cell"><h2><a href="/p/{n}">Post number {n} of the press office</a></h2>'
        f'<div class="post-content"><p>{"First paragraph of the post, long enough. " * 3}</p>'
        f"<p>{'Second paragraph of the post, long enough too. ' * 3}</p>"
        f"<p>{'Third paragraph, which readers see in full on the index. ' * 3}</p></div></div>"
        for n in range(3)
    )
    root = parse_html(f"<html><body><main>{posts}</main></body></html>")
    assert root is not None
    join_split_bodies(root)
    assert len(root.find_class("post-content")) == 3
