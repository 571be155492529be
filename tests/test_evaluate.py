"""`make eval` (bench/evaluate.py) scoring on a tiny synthetic evaluation folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bench.evaluate import (
    Expectation,
    Output,
    PageScore,
    aggregate,
    boilerplate_left,
    cjk_tokens,
    communique_extract,
    evaluate,
    format_report,
    real_failures,
    score_page,
    shingles,
    string_failures,
    trafilatura_extract,
    wechat_failures,
    word_tokens,
)

ARTICLE = (
    "The ministry announced new measures to support farmers affected by the drought. "
    "Grants will be paid from next month to every registered cooperative in the region. "
    "Applications can be made online or at district offices until the end of the year."
)


def html(title: str, body: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><div class='nav'><a href='/'>Home</a>"
        f"</div><article><h1>{title}</h1><p>Time: 2024-08-02 10:15</p>{body}</article>"
        "<div class='footer'>Copyright © 2024 Ministry. All rights reserved.</div></body></html>"
    ).encode()


def paragraphs(text: str) -> str:
    return "".join(f"<p>{sentence.strip()}.</p>" for sentence in text.split(".") if sentence)


def test_tokenizers() -> None:
    assert word_tokens("It's 2024, ok?") == ["It", "s", "2024", "ok"]
    assert cjk_tokens("新华社北京7月23日电 COVID-19疫情") == [
        *"新华社北京",
        "7",
        "月",
        "23",
        "日",
        "电",
        "COVID",
        "19",
        *"疫情",
    ]
    assert shingles(["a", "b"]) == {("a", "b"): 1}  # shorter than 4: one shingle
    assert sum(shingles(list("abcdef")).values()) == 3


def test_page_scores_and_aggregate() -> None:
    gold = "one two three four five six"
    assert score_page(gold, gold, word_tokens) == PageScore(1.0, 0.0, 0.0, True)
    assert score_page(gold, "", word_tokens) == PageScore(0.0, 0.0, 1.0, False)
    half = score_page(gold, "one two three four", word_tokens)  # 1 of 3 shingles
    assert (half.tp, half.fp, half.fn) == pytest.approx((1 / 3, 0.0, 2 / 3))
    total = aggregate([score_page(gold, gold, word_tokens), score_page(gold, "", word_tokens)])
    assert total.precision == pytest.approx(1.0)
    assert total.recall == pytest.approx(0.5)
    assert total.f1 == pytest.approx(2 / 3)
    assert total.accuracy == pytest.approx(0.5)


def test_real_checks_name_each_failure() -> None:
    gold = {"first": "Alpha begins", "last": "omega ends", "title": "T", "date": "2024-08-02"}
    good = Output("ok", "Alpha begins here.\n\nThen omega ends.", "T", "2024-08-02T10:15:00")
    assert real_failures(gold, good) == []
    bad = Output(
        "ok", "T\n\nAlpha begins.\n\nShare to: WeChat\n\n相关文章", "T - Site", "2023-01-01"
    )
    failures = real_failures(gold, bad)
    assert failures[0] == "body lost (last)"
    assert failures[1].startswith("boilerplate: ")
    assert "share/print bar" in failures[1]
    assert "related list" in failures[1]
    assert "title repeated" in failures[1]
    assert failures[2].startswith("title ")
    assert failures[3].startswith("date ")


def test_boilerplate_signs() -> None:
    assert boilerplate_left("Leave a Reply\n\nYour email address will not be published.")
    assert boilerplate_left("当前位置：首页 > 新闻") == ["breadcrumb"]
    assert boilerplate_left("京ICP备12345678号") == ["copyright footer"]
    assert boilerplate_left("微信扫一扫\n关注该公众号") == ["wechat prompt"]
    assert boilerplate_left("English | Français | Español | Русский") == ["language menu"]
    assert boilerplate_left("The court ruled that copyright had been infringed.") == []


def test_wechat_checks() -> None:
    gold = {"status": "ok", "title": "T", "issuer": "A", "published": "2025-11-10T12:00:10+08:00"}
    assert wechat_failures(gold, Output("ok", "x", "T", "2025-11-10T12:00:10+08:00", "A")) == []
    wrong = wechat_failures(gold, Output("ok", "x", "T", "2025-11-10", "B"))
    assert [failure.split()[0] for failure in wrong] == ["issuer", "published"]
    gone = {"status": "deleted"}
    assert wechat_failures(gone, Output("deleted", "")) == []
    assert len(wechat_failures(gone, Output("ok", "some text"))) == 2


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    aeb = tmp_path / "aeb"
    (aeb / "html").mkdir(parents=True)
    (aeb / "html" / "p1.html.gz").write_bytes(
        gzip.compress(html("Drought aid", paragraphs(ARTICLE)))
    )
    (aeb / "ground-truth.json").write_text(
        json.dumps({"p1": {"url": "https://agri.example.gov/a/1", "articleBody": ARTICLE}})
    )
    real = tmp_path / "real"
    real.mkdir()
    (real / "r1.html").write_bytes(html("Drought aid", paragraphs(ARTICLE)))
    (real / "gold.json").write_text(
        json.dumps(
            {
                "r1": {
                    "first": "The ministry announced new measures",
                    "last": "until the end of the year",
                    "title": "Drought aid",
                    "date": "2024-08-02",
                }
            }
        )
    )
    return tmp_path


def test_evaluate_scores_present_subsets_and_skips_missing(eval_dir: Path) -> None:
    report = evaluate(eval_dir)
    ours = report.run("aeb")
    assert ours is not None and ours.shingle is not None
    assert ours.shingle.f1 == pytest.approx(1.0)
    assert report.run("aeb", "trafilatura") is not None
    real = report.run("real")
    assert real is not None
    assert real.checks == {
        "body kept": (1, 1),
        "no boilerplate": (1, 1),
        "title": (1, 1),
        "date": (1, 1),
    }
    assert any(line.startswith("cjk/: skipped") for line in report.skipped)
    assert any(line.startswith("wechat/: skipped") for line in report.skipped)

    table = format_report(report)
    assert "communique" in table and "trafilatura" in table
    assert "F1" in table and "1.000" in table
    assert "pages/s per core" in table
    assert "body kept" in table and "1/1" in table
    assert "cjk/: skipped" in table


def test_evaluate_names_failures_in_the_table(eval_dir: Path) -> None:
    gold_path = eval_dir / "real" / "gold.json"
    gold = json.loads(gold_path.read_text())
    gold["r1"]["date"] = "1999-01-01"
    gold_path.write_text(json.dumps(gold))
    table = format_report(evaluate(eval_dir))
    assert "real: communique failures" in table
    assert "r1: date '2024-08-02T10:15:00'" in table


def test_evaluate_shows_which_gold_lines_a_lower_recall_page_lost(eval_dir: Path) -> None:
    # The gold counts the date line as text; the cleaner takes it as metadata.
    truth_path = eval_dir / "aeb" / "ground-truth.json"
    truth = json.loads(truth_path.read_text())
    truth["p1"]["articleBody"] = "Time: 2024-08-02 10:15\n" + ARTICLE
    truth_path.write_text(json.dumps(truth))
    table = format_report(evaluate(eval_dir))
    assert "aeb: pages whose recall is more than 0.05 below" in table
    assert "  p1: recall " in table
    assert "    gold line not kept: Time: 2024-08-02 10:15" in table
    assert f"gold line not kept: {ARTICLE[:40]}" not in table


COMMENTED = (
    "<html><head><title>Ferry timetable</title></head><body><article><h1>Ferry timetable</h1>"
    + paragraphs(ARTICLE)
    + "</article><div id='comments' class='comments'><ol class='comment-list'>"
    "<li class='comment'><p>Will the night ferry also run on Sundays in the winter?</p></li>"
    "</ol></div><div class='footer'>Impressum and contact details of the ministry</div>"
    "</body></html>"
)


@pytest.fixture
def realworld_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "realworld"
    (folder / "pages").mkdir(parents=True)
    (folder / "pages" / "ferry.html").write_text(COMMENTED)
    (folder / "pages" / "drought.html").write_bytes(html("Drought aid", paragraphs(ARTICLE)))
    cases = [
        {
            "id": "ferry",
            "file": "pages/ferry.html",
            "url": "https://ferry.example.gov/t",
            "include": ["Grants will be paid from next month", "night ferry also run on Sundays"],
            "exclude": ["Impressum"],
            "tags": {"night ferry also run on Sundays": ["comment"]},
        },
        {
            "id": "drought",
            "file": "pages/drought.html",
            "url": "https://agri.example.gov/a/1",
            "include": ["Applications can be made online"],
            "exclude": ["All rights reserved"],
            "tags": {},
        },
    ]
    (folder / "expectations.json").write_text(json.dumps({"cases": cases}))
    return tmp_path


def test_realworld_counts_pages_with_and_without_comment_strings(realworld_dir: Path) -> None:
    report = evaluate(realworld_dir)
    for name in ("communique", "trafilatura"):
        run = report.run("realworld", name)
        assert run is not None and run.pages == 2
        # The comment string is asked for only in the second figure: nobody keeps it.
        assert run.checks == {"pages, comments aside": (2, 2), "pages, with comments": (1, 2)}
    table = format_report(report)
    assert "realworld" in table
    assert "pages, comments aside" in table and "2/2" in table
    assert "pages, with comments" in table and "1/2" in table
    assert "lost vs trafilatura" in table


def test_realworld_names_the_pages_lost_where_trafilatura_passes(realworld_dir: Path) -> None:
    def lossy(body: bytes, url: str) -> Output:
        # A cleaner that drops the last paragraph of every page.
        out = communique_extract(body, url)
        return Output(out.status, out.text.split("Applications can be made")[0])

    report = evaluate(realworld_dir, {"communique": lossy, "trafilatura": trafilatura_extract})
    subsets = {subset.name: subset for subset in report.subsets}
    assert subsets["realworld"].lost == ["drought"]
    table = format_report(report)
    assert "drought: missing 'Applications can be made online'" in table
    assert "pages communique fails where trafilatura passes (comments aside): drought" in table


def test_string_failures_say_which_string_and_which_way() -> None:
    case = Expectation(
        name="p",
        file="p.html",
        url="",
        include=("kept words", "a reader's comment"),
        exclude=("Impressum",),
        comments=frozenset({"a reader's comment"}),
    )
    assert string_failures(case, "kept words", comments=False) == []
    assert string_failures(case, "kept words", comments=True) == ['missing "a reader\'s comment"']
    assert string_failures(case, "Impressum", comments=False) == [
        "missing 'kept words'",
        "kept 'Impressum'",
    ]
