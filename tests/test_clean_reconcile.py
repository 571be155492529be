"""Precision without losses: what trafilatura's default mode keeps, the cleaner keeps too."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from archive.clean import STATUS_OK, clean_page, extract
from archive.clean.extract import Extracted, parse_html
from archive.clean.reconcile import reconcile

PAGES = Path(__file__).parent / "pages"
TODAY = date(2025, 1, 1)


def clean(name: str) -> str:
    cleaned = clean_page((PAGES / name).read_bytes(), "https://example.gov/news/1.html")
    assert cleaned.status == STATUS_OK
    return cleaned.text or ""


def test_precision_mode_alone_loses_these_lines() -> None:
    # Proves the tests below test the reconciliation, not trafilatura's precision mode.
    root = parse_html((PAGES / "en_precision_reconcile.html").read_text())
    assert root is not None
    precise = "\n".join(extract._bare(root, None, TODAY, precision=True).lines)
    assert "the auction rules published on Friday" not in precise
    assert "Reporting by Anna Berg" not in precise
    assert "0800 555 0100" not in precise


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        (
            "en_precision_reconcile.html",
            (
                # A link's words inside a sentence: the sentence is taken whole.
                "adding that the auction rules published on Friday cap the amount",
                # A short block with a link in it, below the body.
                "Grain hotline: 0800 555 0100",
                # The wire's credit line, grouped with a short linked line.
                "Reporting by Anna Berg; Editing by Tom Hale",
            ),
        ),
        (
            "zh_precision_reconcile.html",
            ("供热服务热线：96069", "（通讯员 赵青 实习生 孙悦）", "相关文件：冬季供暖保障方案"),
        ),
    ],
)
def test_lines_only_the_default_mode_keeps_are_restored(name: str, kept: tuple[str, ...]) -> None:
    text = clean(name)
    for line in kept:
        assert line in text, line
    # In their place: after the body, in the page's order.
    positions = [text.index(line) for line in kept]
    assert positions == sorted(positions)
    assert text.index(kept[-1]) > len(text) // 2


def test_a_shortened_sentence_is_not_kept_twice() -> None:
    text = clean("en_precision_reconcile.html")
    assert "adding that cap the amount" not in text
    assert text.count("Millers will be able to bid") == 1


def test_a_promo_that_is_all_link_stays_out() -> None:
    # The default mode keeps it; it is another page's headline, set between paragraphs.
    text = clean("en_precision_reconcile.html")
    assert "EXPORT BAN ON RICE" not in text
    assert "read more" not in text
    assert "Council backs new cycle lanes" not in text


TEASERS_AND_STORY = """<html><body>
<div class="ticker">
  <p class="standfirst">Morning briefing of the water authority.</p>
  <div class="teaser"><p>Council backs new cycle lanes along the river...</p></div>
  <div class="teaser"><p>Harbour dredging finished two weeks early...</p></div>
  <div class="teaser"><p>School meals get more vegetables from January...</p></div>
</div>
<div class="story">
  <p>The water authority lifted the hosepipe ban for the whole region on Monday.</p>
  <p>Reservoirs are back above eighty per cent after three weeks of steady rain.</p>
  <p>Households are still asked to report leaks on the authority's hotline.</p>
</div>
<div class="sidebar"><p>Opening hours of the visitor centre</p><p>Guided walks on Sundays</p></div>
</body></html>"""
STORY = [
    "The water authority lifted the hosepipe ban for the whole region on Monday.",
    "Reservoirs are back above eighty per cent after three weeks of steady rain.",
    "Households are still asked to report leaks on the authority's hotline.",
]
TEASERS = [
    "Council backs new cycle lanes along the river...",
    "Harbour dredging finished two weeks early...",
    "School meals get more vegetables from January...",
]
SIDEBAR = ["Opening hours of the visitor centre", "Guided walks on Sundays"]


def test_blocks_precision_mode_brought_in_from_elsewhere_are_dropped() -> None:
    root = parse_html(TEASERS_AND_STORY)
    assert root is not None
    merged = reconcile(root, TEASERS + STORY + SIDEBAR, STORY)
    assert merged.lines == STORY
    assert merged.dropped


def test_one_line_above_the_body_is_its_standfirst_and_stays() -> None:
    root = parse_html(TEASERS_AND_STORY)
    assert root is not None
    standfirst = "Morning briefing of the water authority."
    assert reconcile(root, [standfirst, *STORY], STORY).lines == [standfirst, *STORY]


def test_a_default_line_outside_the_body_at_either_end_is_not_restored() -> None:
    root = parse_html(TEASERS_AND_STORY)
    assert root is not None
    assert reconcile(root, STORY, [*TEASERS, *STORY, *SIDEBAR]).lines == STORY


def test_without_shared_lines_precision_mode_stands() -> None:
    root = parse_html(TEASERS_AND_STORY)
    assert root is not None
    assert reconcile(root, STORY, SIDEBAR).lines == STORY


def test_dropping_precision_lines_needs_the_full_default_mode_to_agree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The quick default mode (no readability, no jusText) picked the teasers; the full one
    # finds the story: the story is kept and the teasers go, not the other way round.
    answers = {True: TEASERS + STORY, "quick": TEASERS, "full": STORY}

    def bare(root: object, url: object, today: object, precision: bool, fast: bool = False):
        key: bool | str = True if precision else ("quick" if fast else "full")
        return Extracted(lines=list(answers[key]))

    monkeypatch.setattr(extract, "_bare", bare)
    root = parse_html(TEASERS_AND_STORY)
    assert root is not None
    assert extract.run_trafilatura(root, None, TODAY).lines == STORY


def test_a_chinese_sentence_with_a_link_cut_out_is_taken_whole() -> None:
    # Chinese has no spaces: the comparison is by characters.
    whole = "各供热企业已完成管网检修和试压，全市两百一十二座换热站和配套管网均已具备供热条件。"
    root = parse_html(
        f'<html><body><div class="txt"><p>今冬集中供暖将于11月10日提前启动，比往年早五天。</p>'
        f"<p>{whole.replace('全市两百一十二座换热站和配套管网', '<a href=/z>全市两百一十二座换热站和配套管网</a>')}"
        "</p><p>居民如遇室温不达标，可通过12345热线反映。</p></div></body></html>"
    )
    assert root is not None
    first, last = (
        "今冬集中供暖将于11月10日提前启动，比往年早五天。",
        "居民如遇室温不达标，可通过12345热线反映。",
    )
    cut = whole.replace("全市两百一十二座换热站和配套管网", "")
    assert reconcile(root, [first, cut, last], [first, whole, last]).lines == [first, whole, last]
