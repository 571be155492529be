"""Search that finds Chinese from one character (archive/search.py), and why this method.

`measure` compares four ways to index with SQLite FTS5 on the same texts and queries,
against the truth (does the text contain the query?): the default unicode61 tokenizer,
trigram, jieba word segmentation (when installed), and the bigram rewrite we use.
Run `python -m tests.test_search [archive.db]` to print the comparison as a table.
"""

from __future__ import annotations

import random
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlite_utils

from archive.schema import open_archive
from archive.search import (
    SEARCH_SQL,
    SEARCH_TABLE,
    ensure_search_index,
    index_text,
    match_or_nothing,
    rebuild_search_index,
    reindex,
    search_terms,
    snippet_html,
)

CORPUS = [
    "中华人民共和国外交部发言人答记者问：我们坚决反对，并表示严重关切。",
    "驻卡尔维拉共和国大使馆提醒在卡中国公民防范洪涝灾害，请密切关注天气预报。",
    "国家互联网信息办公室有关负责人就移动互联网应用程序备案管理办法答记者问。",
    "外交部举办数字海关与跨境贸易便利化国际研讨会，来自二十余个国家的使节出席。",
    "国家安全机关提示：警惕以兼职调研为名窃取敏感信息。",
    "关于无人机在重要设施周边飞行拍摄的安全提示。",
    "何镕副部长会见卡尔维拉共和国驻华大使阿尔梅达。",
    "The Ministry of Foreign Affairs announced sanctions on trade-war profiteers.",
    "Consular reminder: safety advice for Chinese citizens travelling abroad this summer.",
    "Foreign Ministry Spokesperson's remarks on the flood disaster in Calvera.",
]
CJK = re.compile(r"[\u4e00-\u9fff]+")


# --- Units --------------------------------------------------------------------------------


def test_index_text_rewrites_cjk_runs_only() -> None:
    assert index_text("外交部") == " 外交 交部 部 "
    assert index_text("G20峰会 in Hangzhou") == "G20 峰会 会  in Hangzhou"
    assert index_text("中") == " 中 "
    assert index_text(None) == ""
    assert index_text("plain English.") == "plain English."


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("外", '"外"*'),
        ("外交", '"外交"'),
        ("外交部", '"外交 交部"'),
        ("Sanctions", '"sanctions"'),
        ("trade-war", '"trade" AND "war"'),
        ("G20峰会", '"g20" AND "峰会"'),
        ("外交部 sanctions", '"外交 交部" AND "sanctions"'),
        ('" OR * NEAR(', '"or" AND "near"'),
        ("", ""),
        ("  ，。！ ", ""),
        ("外交 外交", '"外交"'),
    ],
)
def test_search_terms(query: str, expected: str) -> None:
    assert search_terms(query) == expected


def test_empty_query_matches_nothing_without_error() -> None:
    db = indexed(CORPUS)
    assert run(db, match_or_nothing("")) == set()
    assert run(db, match_or_nothing("!!!")) == set()


def test_snippet_is_escaped_and_marked() -> None:
    text = "Before <script>alert(1)</script> the sanctions & more."
    html = snippet_html(text, "sanctions")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<mark>sanctions</mark>" in html
    assert "&amp; more" in html
    long = "。".join(["无关的句子"] * 60) + "。防范洪涝灾害。" + "。".join(["其他"] * 60)
    cut = snippet_html(long, "洪")
    assert cut.startswith("…") and cut.endswith("…")
    assert "<mark>洪</mark>" in cut
    assert len(cut) < 250
    assert snippet_html(None, "x") == ""


# --- The index in an archive --------------------------------------------------------------


def archive_with(tmp_path: Path, texts: list[str]) -> sqlite_utils.Database:
    db = open_archive(str(tmp_path / "archive.db"))
    db.table("sources").insert({"id": "s", "name": "S"})
    db.table("statements").insert_all(
        {"id": f"s{n}", "source_id": "s", "title": f"T{n}", "text": text}
        for n, text in enumerate(texts)
    )
    return db


def found(db: sqlite_utils.Database, query: str) -> list[str]:
    db.conn.create_function("communique_match", 1, match_or_nothing)
    db.conn.create_function("communique_snippet", 2, lambda t, q: snippet_html(t, q))
    return [row[0] for row in db.execute(SEARCH_SQL, {"q": query}).fetchall()]


def test_ensure_creates_and_fills_once(tmp_path: Path) -> None:
    db = archive_with(tmp_path, CORPUS)
    ensure_search_index(db)
    count = db.execute(f"select count(*) from {SEARCH_TABLE}").fetchone()[0]
    assert count == len(CORPUS)
    ensure_search_index(db)  # already filled: nothing added
    assert db.execute(f"select count(*) from {SEARCH_TABLE}").fetchone()[0] == count
    assert found(db, "洪") == ["s1"]
    assert set(found(db, "答记者问")) == {"s0", "s2"}


def test_update_follows_edits_inserts_and_deletes(tmp_path: Path) -> None:
    db = archive_with(tmp_path, CORPUS[:3])
    ensure_search_index(db)
    with db.atomic():  # inside the store's transaction, as the store calls it
        db.table("statements").update("s0", {"text": "内容已更新：防范台风。"})
        reindex(db, ["s0"])
    assert found(db, "台风") == ["s0"]
    assert "s0" not in found(db, "外交部")
    db.table("statements").insert({"id": "new", "source_id": "s", "title": "新", "text": "台风"})
    reindex(db, ["new"])
    assert set(found(db, "台风")) == {"s0", "new"}
    db.execute("delete from statements where id = 'new'")
    reindex(db, ["new"])
    assert found(db, "台风") == ["s0"]
    assert not db.conn.in_transaction


def test_update_after_rowids_moved_rebuilds(tmp_path: Path) -> None:
    db = archive_with(tmp_path, CORPUS[:3])
    ensure_search_index(db)
    # What a VACUUM may do to a table without an integer key: rowids change hands.
    db.execute("update statements set rowid = rowid + 100")
    db.execute("update statements set rowid = 1 where id = 's2'")
    db.table("statements").update("s2", {"text": "台风"})
    reindex(db, ["s2"])
    assert found(db, "台风") == ["s2"]
    assert set(found(db, "答记者问")) == {"s0"}


def test_rebuild_matches_a_fresh_index(tmp_path: Path) -> None:
    db = archive_with(tmp_path, CORPUS)
    ensure_search_index(db)
    db.execute(f"delete from {SEARCH_TABLE}")
    assert found(db, "洪") == []
    rebuild_search_index(db)
    assert found(db, "洪") == ["s1"]


def test_ranks_title_matches_first(tmp_path: Path) -> None:
    filler = [f"unrelated text {n}" for n in range(8)]  # so the term is rare enough to rank
    db = archive_with(tmp_path, ["sanctions sanctions in the text", "nothing", *filler])
    db.table("statements").update("s1", {"title": "Sanctions"})
    ensure_search_index(db)
    assert found(db, "sanctions") == ["s1", "s0"]


# --- Why bigrams: the measurement ---------------------------------------------------------


def _plain(text: str) -> str:
    return text


Method = tuple[str, Callable[[str], str], Callable[[str], str]]


def methods() -> list[Method]:
    """(tokenizer, how a text is indexed, how a query becomes a MATCH expression)."""

    def quoted(query: str) -> str:
        return '"' + query.replace('"', '""') + '"'

    found_methods: list[Method] = [
        ("unicode61", _plain, quoted),
        ("trigram", _plain, quoted),
        ("bigram", index_text, search_terms),
    ]
    try:
        import jieba
    except ImportError:
        return found_methods
    jieba.setLogLevel(60)

    def segment(text: str) -> str:
        return " ".join(jieba.cut_for_search(text))

    def jieba_query(query: str) -> str:
        words = [w for w in jieba.cut(query) if w.strip()]
        return " AND ".join(quoted(w) for w in words) or '""'

    return [*found_methods[:2], ("unicode61 + jieba", segment, jieba_query), found_methods[2]]


def indexed(texts: list[str], method: Method | None = None) -> sqlite3.Connection:
    name, prepare, _ = method or methods()[-1]
    tokenizer = "trigram" if name == "trigram" else "unicode61"
    conn = sqlite3.connect(":memory:")
    conn.execute(f"create virtual table f using fts5(text, tokenize = '{tokenizer}')")
    conn.executemany(
        "insert into f (rowid, text) values (?, ?)",
        [(n, prepare(t)) for n, t in enumerate(texts)],
    )
    return conn


def run(conn: sqlite3.Connection, match: str) -> set[int]:
    return {row[0] for row in conn.execute("select rowid from f where f match ?", [match])}


@dataclass
class Score:
    found: int = 0  # relevant results returned
    relevant: int = 0  # texts containing the query
    returned: int = 0  # results returned
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.found / self.relevant if self.relevant else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.returned if self.returned else 1.0


def sample_queries(texts: list[str], per_length: int, seed: int = 5) -> dict[int, list[str]]:
    """Substrings of the texts' Chinese runs: every length 1 and 2 one, and longer words."""
    rng = random.Random(seed)
    by_length: dict[int, set[str]] = {1: set(), 2: set(), 4: set()}
    for text in texts:
        for run_ in CJK.findall(text):
            for length in by_length:
                by_length[length].update(
                    run_[i : i + length] for i in range(len(run_) - length + 1)
                )
    return {
        length: rng.sample(sorted(queries), min(per_length, len(queries)))
        for length, queries in by_length.items()
    }


def measure(texts: list[str], per_length: int = 200) -> dict[str, dict[int, Score]]:
    queries = sample_queries(texts, per_length)
    results: dict[str, dict[int, Score]] = {}
    for method in methods():
        conn = indexed(texts, method)
        scores = results.setdefault(method[0], {})
        for length, group in queries.items():
            score = scores.setdefault(length, Score())
            for query in group:
                truth = {n for n, t in enumerate(texts) if query in t}
                start = time.perf_counter()
                got = run(conn, method[2](query))
                score.seconds += time.perf_counter() - start
                score.found += len(got & truth)
                score.relevant += len(truth)
                score.returned += len(got)
    return results


def test_measured_bigrams_find_every_chinese_query_and_others_do_not() -> None:
    results = measure(CORPUS)
    ours = results["bigram"]
    for length in (1, 2, 4):
        assert ours[length].recall == 1.0, length
        assert ours[length].precision == 1.0, length
    # The default tokenizer only finds a query that is a whole run between punctuation.
    assert results["unicode61"][1].recall < 0.1
    assert results["unicode61"][2].recall < 0.1
    # Trigram cannot match fewer than three characters at all.
    assert results["trigram"][1].recall == 0.0
    assert results["trigram"][2].recall == 0.0
    assert results["trigram"][4].recall == 1.0
    if "unicode61 + jieba" in results:
        jieba_scores = results["unicode61 + jieba"]
        # Segmentation misses characters and pairs inside longer words.
        assert jieba_scores[1].recall < 0.9
        assert jieba_scores[2].recall < 0.9


def main(argv: list[str]) -> int:
    texts = CORPUS
    if len(argv) > 1:
        conn = sqlite3.connect(f"file:{argv[1]}?mode=ro", uri=True)
        texts = [f"{t}\n\n{x}" for t, x in conn.execute("select title, text from statements")]
    per_length = 300
    results = measure(texts, per_length)
    print(f"{len(texts)} texts, {sum(len(t) for t in texts):,} characters")
    for name, scores in results.items():
        cells = [f"{scores[n].recall:.1%} / {scores[n].precision:.1%}" for n in (1, 2, 4)]
        queries = per_length * 3
        ms = 1000 * sum(s.seconds for s in scores.values()) / queries
        print(f"| {name} | {' | '.join(cells)} | {ms:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))


@pytest.mark.parametrize(
    ("snippet", "shown"),
    [
        ("a <mark>b</mark> c", "a <mark>b</mark> c"),
        ("&lt;script&gt;x&lt;/script&gt;", "&lt;script&gt;x&lt;/script&gt;"),
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ('<mark onclick="x">b</mark>', "&lt;mark onclick=&#34;x&#34;&gt;b</mark>"),
        ("<img src=x onerror=y>", "&lt;img src=x onerror=y&gt;"),
        ("a &amp; b", "a &amp; b"),
    ],
)
def test_snippets_pass_only_bare_marks(snippet: str, shown: str) -> None:
    from archive.web.plugin import marked_only

    assert str(marked_only(snippet)) == shown
