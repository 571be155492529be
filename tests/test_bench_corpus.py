"""The benchmark corpus: the same statements for the same seed, in the promised proportions."""

from __future__ import annotations

from bench import corpus


def test_same_seed_same_statements_other_seed_others() -> None:
    first = [(r["id"], r["title"], r["text"]) for r in corpus.statements(200, seed=5)]
    assert first == [(r["id"], r["title"], r["text"]) for r in corpus.statements(200, seed=5)]
    assert first != [(r["id"], r["title"], r["text"]) for r in corpus.statements(200, seed=6)]


def test_proportions_dates_and_vocabulary() -> None:
    rows = list(corpus.statements(3_000, seed=7))
    chinese = [r for r in rows if r["language"] == "zh"]
    assert 0.28 < len(chinese) / len(rows) < 0.39  # one in three, as the default sources
    assert all(any("\u4e00" <= c <= "\u9fff" for c in r["text"]) for r in chinese)
    assert 0.07 < sum(bool(r["reprint_of"]) for r in rows) / len(rows) < 0.13
    assert 0.03 < sum(r["version_count"] > 1 for r in rows) / len(rows) < 0.07
    assert 0.01 < sum(r["status"] != "live" for r in rows) / len(rows) < 0.05
    years = {r["year"] for r in rows}
    assert min(years) == corpus.START.year and max(years) == corpus.START.year + corpus.YEARS - 1
    assert 20 <= len({r["source_id"] for r in rows}) <= 200
    assert len(corpus.vocabulary("en").words) >= 50_000
    assert len(corpus.vocabulary("zh").words) >= 20_000
