"""Cross-language links (archive/links/crosslang.py) on statements written for these tests.

A Chinese statement of our own invention, its English translation, an English news report
about it, and same-day statements on neighbouring subjects, in a real SQLite file; and the
same statements stored in an archive by a writer that leaves linking to the linker beside
it (archive/linker.py), which must end as linking each as it was stored would have.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.cleaned import Cleaned
from archive.fetched import Fetched
from archive.ingest import Session, apply_links, ingest
from archive.linker import AHEAD, Linker, LinkerFailed
from archive.links import languages
from archive.links.crosslang import (
    Doc,
    Link,
    ensure_tables,
    flush,
    index_and_link,
    links_of,
    rebuild,
)
from archive.links.features import features
from archive.statuses import STATUS_OK
from archive.store import Archive
from tests.builders import SETTINGS, Crawl, source

DAY = "2031-11-03"
NEXT_DAY = "2031-11-04"

ORIGINAL = Doc(
    id="zh-ship",
    language="zh",
    title="外交部发言人就中国船员遇险事答记者问",
    published=DAY,
    text=(
        "问：据报道，11月3日，一艘载有27名中国船员的货轮在南太平洋沉没。中方有何回应？\n"
        "答：中方对此高度关注。事故发生后，中国驻斐济使馆立即启动应急机制，协调当地救援力量"
        "开展搜救。截至目前，已有19名船员获救，8人仍下落不明。\n"
        "我们向遇难者家属表示深切慰问，并要求有关船运公司全力配合调查，妥善处理善后事宜。"
        "中方感谢斐济政府和新西兰海军提供的帮助。"
    ),
)
TRANSLATION = Doc(
    id="en-ship-translation",
    language="en",
    title="Foreign Ministry Spokesperson's Remarks on the Chinese Crew in Distress",
    published=DAY,
    text=(
        "Q: It is reported that on November 3, a cargo ship carrying 27 Chinese crew members "
        "sank in the South Pacific. What is China's response?\n"
        "A: China is highly concerned about this. After the accident, the Chinese Embassy in "
        "Fiji immediately activated its emergency mechanism and coordinated local rescue "
        "forces in the search and rescue operation. So far, 19 crew members have been rescued "
        "and 8 remain missing.\n"
        "We express our deep condolences to the families of the victims, and ask the shipping "
        "company concerned to fully cooperate with the investigation and properly handle the "
        "aftermath. China thanks the government of Fiji and the New Zealand navy for their help."
    ),
)
REPORT = Doc(
    id="en-ship-report",
    language="en",
    title="China urges shipping firm to cooperate after cargo ship sinks off Fiji",
    published=NEXT_DAY,
    text=(
        "BEIJING, Nov. 4 -- China's foreign ministry said it was highly concerned about the "
        "sinking of a cargo ship carrying 27 Chinese crew members in the South Pacific.\n"
        "Nineteen crew members have been rescued and eight remain missing, a ministry "
        "spokesperson told reporters, adding that the Chinese embassy in Fiji had activated "
        "its emergency mechanism.\n"
        "The spokesperson said China thanked Fiji and the New Zealand navy for their help and "
        "asked the shipping company to cooperate with the investigation, according to a "
        "transcript.\n"
        "Maritime officials said search operations would continue, and insurers said the "
        "vessel had passed an inspection earlier this year."
    ),
)
# Same day, neighbouring subjects: a Chinese statement on fisheries talks and its English
# translation, and an English statement on a typhoon.
OTHER_ORIGINAL = Doc(
    id="zh-fish",
    language="zh",
    title="外交部发言人就中日渔业谈判答记者问",
    published=DAY,
    text=(
        "问：中日渔业联合委员会第12轮会议今天在东京结束。你能否介绍有关情况？\n"
        "答：双方就东海渔业资源养护、渔船作业秩序等问题深入交换意见，同意继续加强海上执法合作。"
        "中方愿同日方一道，维护东海渔业生产秩序。\n"
        "我们希望双方渔民遵守有关协定，共同保护海洋环境。"
    ),
)
OTHER_TRANSLATION = Doc(
    id="en-fish-translation",
    language="en",
    title="Foreign Ministry Spokesperson's Remarks on China-Japan Fisheries Talks",
    published=DAY,
    text=(
        "Q: The 12th meeting of the China-Japan Joint Fisheries Commission concluded in Tokyo "
        "today. Could you share more details?\n"
        "A: The two sides had an in-depth exchange of views on the conservation of fishery "
        "resources in the East China Sea and the operating order of fishing boats, and agreed "
        "to continue to strengthen cooperation on maritime law enforcement. China is ready to "
        "work with Japan to maintain the order of fishery production in the East China Sea.\n"
        "We hope fishermen of both sides will abide by the relevant agreements and jointly "
        "protect the marine environment."
    ),
)
TYPHOON = Doc(
    id="en-typhoon",
    language="en",
    title="Typhoon disrupts shipping in the South China Sea",
    published=DAY,
    text=(
        "Q: A typhoon is expected to make landfall in southern China this week. Are Chinese "
        "ships and ports prepared?\n"
        "A: The relevant authorities have issued warnings and ordered vessels to return to "
        "port. Ferry services between the mainland and the islands have been suspended.\n"
        "We call on the public to follow the guidance of local governments and stay away "
        "from the coast until the storm has passed."
    ),
)
# Hostile: an unrelated text dressed as the translation: the same numbers and dates, as
# many paragraphs, about the length of a translation, published the same day.
NUMBER_STUFFED = Doc(
    id="en-stuffed",
    language="en",
    title="Quarterly port statistics",
    published=DAY,
    text=(
        "Q: The port authority published figures on November 3: 27 berths, 19 cranes and 8 "
        "new warehouses. Could you give us the numbers for 27 terminals and 19 routes?\n"
        "A: Container throughput rose as 8 carriers added 27 weekly services to 19 "
        "destinations; the November 3 figures show 8 records broken over the quarter, and "
        "volumes at 27 terminals grew for the 19th month in a row.\n"
        "Revenue from 8 toll roads, 27 parking areas and 19 logistics parks also increased, "
        "the figures of November 3 show, with 8 further projects planned for next year."
    ),
)
SAME_DAY = [ORIGINAL, OTHER_ORIGINAL, OTHER_TRANSLATION, TYPHOON, NUMBER_STUFFED]


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(tmp_path / "archive.db")
    ensure_tables(connection)
    yield connection
    connection.close()


def index_all(conn: sqlite3.Connection, docs: list[Doc]) -> None:
    for doc in docs:
        index_and_link(conn, doc)
        conn.commit()


def all_links(conn: sqlite3.Connection) -> set[tuple[str, str, str]]:
    return set(conn.execute("SELECT original_id, other_id, relation FROM xlang_links"))


def test_translation_and_report_are_linked_from_the_original(conn: sqlite3.Connection) -> None:
    index_all(conn, [*SAME_DAY, TRANSLATION, REPORT])

    assert all_links(conn) == {
        ("zh-ship", "en-ship-translation", "translation"),
        ("zh-ship", "en-ship-report", "report"),
        ("zh-fish", "en-fish-translation", "translation"),
    }
    by_other = {link.other_id: link for link in links_of(conn, "zh-ship")}
    translation = by_other["en-ship-translation"]
    assert translation.original_id == "zh-ship"
    # The evidence names what an archivist can check: numbers, matched terms, dates, shape.
    assert translation.evidence.startswith("translation (score ")
    for part in ("5 shared numbers/dates", "Nov 3", "27", "same day", "paragraphs 3/3"):
        assert part in translation.evidence
    assert re.search(r"\d+ dictionary-matched terms \(\w+", translation.evidence)
    assert re.search(r"length ratio [345]\.\d", translation.evidence)
    report = by_other["en-ship-report"]
    assert "1 day later" in report.evidence
    assert report.score > 0
    # Seen from the English side, the same link.
    assert [(x.original_id, x.relation) for x in links_of(conn, "en-ship-report")] == [
        ("zh-ship", "report")
    ]


def test_original_arriving_after_its_translation_and_report(conn: sqlite3.Connection) -> None:
    """English versions often come first: the Chinese statement claims them when it arrives."""
    index_all(conn, [TRANSLATION, REPORT, TYPHOON, NUMBER_STUFFED, OTHER_TRANSLATION])
    assert all_links(conn) == set()

    links = index_and_link(conn, ORIGINAL)

    assert {(x.other_id, x.relation) for x in links} == {
        ("en-ship-translation", "translation"),
        ("en-ship-report", "report"),
    }


def test_numbers_alone_make_no_translation(conn: sqlite3.Connection) -> None:
    """A text stuffed with the original's numbers and dates, shaped like a translation."""
    index_all(conn, SAME_DAY)

    assert not any(other == "en-stuffed" for _, other, _ in all_links(conn))
    assert links_of(conn, "en-stuffed") == []


def test_no_link_to_itself_or_within_one_language(conn: sqlite3.Connection) -> None:
    twin = Doc("zh-ship-copy", "zh", ORIGINAL.title, ORIGINAL.text, DAY)
    english_twin = Doc("en-ship-copy", "en", TRANSLATION.title, TRANSLATION.text, DAY)
    index_all(conn, [ORIGINAL, twin, TRANSLATION, english_twin])

    for original, other, _ in all_links(conn):
        assert original != other
        assert original.startswith("zh-") and other.startswith("en-")
    # Each English statement has at most one original, even when the Chinese one is there twice.
    others = [other for _, other, _ in all_links(conn)]
    assert sorted(others) == sorted(set(others))
    assert set(others) == {"en-ship-translation", "en-ship-copy"}


def test_linking_is_idempotent(conn: sqlite3.Connection) -> None:
    index_all(conn, [*SAME_DAY, TRANSLATION, REPORT])
    before = set(conn.execute("SELECT * FROM xlang_links"))
    docs_before = conn.execute("SELECT count(*) FROM xlang_docs").fetchone()[0]

    again = index_and_link(conn, TRANSLATION)
    index_all(conn, [*SAME_DAY, TRANSLATION, REPORT])

    assert set(conn.execute("SELECT * FROM xlang_links")) == before
    assert conn.execute("SELECT count(*) FROM xlang_docs").fetchone()[0] == docs_before
    assert [(x.original_id, x.relation) for x in again] == [("zh-ship", "translation")]


def test_a_later_process_goes_on_where_the_first_stopped(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    """Term counts written by `flush` carry over: a second connection links as one would."""
    index_all(conn, [*SAME_DAY, TRANSLATION, REPORT])
    expected = all_links(conn)
    path = tmp_path / "split.db"
    first = sqlite3.connect(path)
    index_all(first, SAME_DAY)
    flush(first)
    first.commit()
    first.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM xlang_df").fetchone()[0] > 100

    second = sqlite3.connect(path)
    index_all(second, [TRANSLATION, REPORT])

    assert all_links(second) == expected
    second.close()


def test_a_rolled_back_statement_leaves_nothing_behind(
    conn: sqlite3.Connection, tmp_path: Path
) -> None:
    """The linker keeps statements' vectors and new term counts in memory between calls:
    after a rollback, the next statement takes the rolled-back one's number and is linked
    as itself, and the rolled-back statement's terms are counted nowhere, so the links,
    their scores and their evidence are those of a run without it."""
    first = [ORIGINAL, OTHER_ORIGINAL, OTHER_TRANSLATION, TYPHOON]
    index_all(conn, first)
    index_and_link(conn, TRANSLATION)
    conn.rollback()
    index_all(conn, [NUMBER_STUFFED, TRANSLATION, REPORT])

    fresh = sqlite3.connect(tmp_path / "fresh.db")
    index_all(fresh, [*first, NUMBER_STUFFED, TRANSLATION, REPORT])
    for db in (conn, fresh):
        flush(db)
    scored = "SELECT original_id, other_id, relation, score, evidence FROM xlang_links"
    assert sorted(conn.execute(scored)) == sorted(fresh.execute(scored))
    counts = "SELECT term, n FROM xlang_df ORDER BY term"
    assert conn.execute(counts).fetchall() == fresh.execute(counts).fetchall()
    assert {("zh-ship", "en-ship-translation"), ("zh-ship", "en-ship-report")} <= {
        (original, other) for original, other, _ in all_links(conn)
    }
    fresh.close()


def test_rebuild_gives_the_links_of_arrival_in_date_order(conn: sqlite3.Connection) -> None:
    index_all(conn, [*SAME_DAY, TRANSLATION, REPORT])
    incremental = all_links(conn)
    seen: list[int] = []

    # Given in any order, rebuilt in date order; the old tables are forgotten first.
    made = rebuild(conn, reversed([*SAME_DAY, TRANSLATION, REPORT]), progress=seen.append)
    conn.commit()

    assert all_links(conn) == incremental
    assert made == len(incremental)
    assert seen == list(range(1, len(SAME_DAY) + 3))


def test_links_do_not_depend_on_the_process(tmp_path: Path) -> None:
    """Python orders sets differently in each process (string hashing): the same statements
    must still give the same stored vectors and the same links, scores and evidence."""
    script = (
        "import sqlite3, sys\n"
        "from tests.test_crosslang import REPORT, SAME_DAY, TRANSLATION, index_all\n"
        "from archive.links.crosslang import ensure_tables, flush\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "ensure_tables(conn)\n"
        "index_all(conn, [*SAME_DAY, TRANSLATION, REPORT])\n"
        "flush(conn)\n"
        "conn.commit()\n"
    )
    tables = []
    for seed in ("1", "2"):
        path = tmp_path / f"seed-{seed}.db"
        subprocess.run(
            [sys.executable, "-c", script, str(path)],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        conn = sqlite3.connect(path)
        tables.append(
            (
                conn.execute("SELECT statement_id, vector FROM xlang_docs ORDER BY doc").fetchall(),
                conn.execute("SELECT * FROM xlang_links ORDER BY other_id").fetchall(),
            )
        )
        conn.close()
    assert tables[0][1], "nothing was linked"
    assert tables[0] == tables[1]


def test_statements_we_cannot_link_are_left_alone(conn: sqlite3.Connection) -> None:
    french = Doc("fr-1", "fr", "Déclaration", "Le ministère a publié 27 chiffres.", DAY)
    undated = Doc("en-undated", "en", "", TRANSLATION.text, None)
    index_all(conn, [ORIGINAL, french, undated])

    assert index_and_link(conn, french) == []
    assert index_and_link(conn, undated) == []
    assert conn.execute("SELECT statement_id FROM xlang_docs").fetchall() == [("zh-ship",)]
    assert all_links(conn) == set()


def test_link_fields() -> None:
    link = Link("zh-1", "en-1", "translation", 0.3, "why")
    assert (link.original_id, link.other_id, link.relation) == ("zh-1", "en-1", "translation")


def test_scorer_prints_goals_and_misses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m bench.crosslang DIR` on a measuring folder made of the statements above."""
    from bench.crosslang import main

    docs = [*SAME_DAY, TRANSLATION, REPORT]
    lines = [
        json.dumps(
            {"id": d.id, "lang": d.language, "title": d.title, "date": d.published, "text": d.text},
            ensure_ascii=False,
        )
        for d in docs
    ]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    gold = [
        {"zh": "zh-ship", "en": "en-ship-translation", "kind": "translation"},
        {"zh": "zh-ship", "en": "en-ship-report", "kind": "report"},
        {"zh": "zh-ship", "en": "en-typhoon", "kind": "report"},  # a link it must miss
    ]
    (tmp_path / "links.json").write_text(json.dumps(gold), encoding="utf-8")

    assert main([str(tmp_path)]) == 0

    out = capsys.readouterr().out
    assert re.search(r"translation precision\s+≥ 0.98\s+0.500\s", out)  # zh-fish is not gold
    assert re.search(r"report recall\s+≥ 0.70\s+0.500\s", out)
    assert "missed report: zh-ship → en-typhoon" in out
    assert "wrong translation: zh-fish → en-fish-translation (no such link)" in out


def test_scorer_refuses_a_folder_without_documents(tmp_path: Path) -> None:
    from bench.crosslang import main

    assert main([str(tmp_path)]) == 2


# -- linked beside a writer (archive/linker.py) ----------------------------------------------

SOURCES = {"zh": source("mfa-zh", language="zh"), "en": source("mfa-en", language="en")}
# Linked inline first (the copy the linker starts from is not empty), then the rest: the
# translation and report before their originals, so that a Chinese statement arriving
# later re-decides English ones already linked.
FIRST = [OTHER_ORIGINAL, OTHER_TRANSLATION]
THEN = [TRANSLATION, REPORT, *[doc for doc in SAME_DAY if doc not in FIRST]]


def store_docs(
    db: Path,
    docs: list[Any],
    linker: Linker | None = None,
    start: int = 0,
    link_later: bool | None = None,
) -> None:
    """Each statement through ingest as its source's crawl stores it, at a fixed time (the
    n-th second from `start`); with a linker, as the writer does: stored with link_later,
    handed on after each commit, what the linker found written with the next. With
    link_later and no linker, queued for one that never comes (a killed writer)."""
    queue = linker is not None if link_later is None else link_later
    for n, doc in enumerate(docs, start=start):
        language = doc.language
        with Session(db, SETTINGS, SOURCES[language], link_later=queue) as session:
            url = f"https://{language}.example/{doc.id}"
            cleaned = Cleaned(
                status=STATUS_OK, url=url, title=doc.title, text=doc.text,
                language=language, published=doc.published,
            )  # fmt: skip
            with session.batch():
                if linker is not None:
                    apply_links(session, linker.linked())
                Crawl(session).page(
                    url, "<p>x</p>", cleaned=cleaned, at=f"2031-11-05T00:00:{n:02}Z"
                )
            if linker is not None:
                linker.hand_on(session.store.queued_for_linking)


def finish_linking(db: Path, linker: Linker) -> int:
    """Wait for the linker, write what it found last; how many statements it linked."""
    found = linker.finish()
    with Session(db, SETTINGS) as session:
        apply_links(session, found)
    return linker.count


def link_tables(db: Path) -> dict[str, list[Any]]:
    conn = sqlite3.connect(db)
    try:
        by_url = "(select url from statements where id = {})"
        return {
            "docs": conn.execute(
                f"select {by_url.format('statement_id')}, language, day, length, paragraphs, "
                f"attribution, vector, {by_url.format('best_id')}, best, second "
                "from xlang_docs order by doc"
            ).fetchall(),
            "postings": conn.execute(
                "select term, language, day, doc from xlang_postings order by 1, 2, 3, 4"
            ).fetchall(),
            "df": conn.execute("select term, n from xlang_df order by term").fetchall(),
            "links": conn.execute(
                f"select {by_url.format('original_id')}, {by_url.format('other_id')}, relation, "
                "score, evidence from xlang_links order by 1, 2"
            ).fetchall(),
            "related": conn.execute(
                f"select {by_url.format('statement_id')}, {by_url.format('related_id')}, "
                "similarity, relation, found_at, evidence from related order by 1, 2"
            ).fetchall(),
            "queue": conn.execute("select statement_id from xlang_queue").fetchall(),
        }
    finally:
        conn.close()


def test_statements_linked_behind_the_writer_end_as_linked_when_stored(tmp_path: Path) -> None:
    inline, behind = tmp_path / "inline.db", tmp_path / "behind.db"
    store_docs(inline, FIRST + THEN)
    store_docs(behind, FIRST)
    with Linker(behind) as linker:
        store_docs(behind, THEN, linker, start=len(FIRST))
        assert finish_linking(behind, linker) == len(THEN)
    expected = link_tables(inline)
    assert {row[2] for row in expected["links"]} == {"translation", "report"}
    assert any(row[0].endswith("/zh-ship") for row in expected["related"])
    assert link_tables(behind) == expected
    assert not list(tmp_path.glob(".*linking*")), "the linker's copy of the index is left"


def test_a_queue_a_killed_writer_left_is_linked_by_the_next_linker(tmp_path: Path) -> None:
    inline, behind = tmp_path / "inline.db", tmp_path / "behind.db"
    store_docs(inline, FIRST + THEN)
    store_docs(behind, FIRST)
    # Stored for a linker that never ran (the writer was killed before handing them on).
    store_docs(behind, THEN, start=len(FIRST), link_later=True)
    assert len(link_tables(behind)["queue"]) == len(THEN)
    assert link_tables(behind)["links"] != link_tables(inline)["links"]
    with Linker(behind) as linker:
        assert finish_linking(behind, linker) == len(THEN)
    assert link_tables(behind) == link_tables(inline)


def test_a_copy_that_no_longer_matches_the_archive_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "behind.db"
    store_docs(db, FIRST)
    before = link_tables(db)
    store = Archive(db)
    try:
        numbered = languages.Written(
            ORIGINAL.id,
            "2031-11-05T00:00:00Z",
            (
                (
                    "INSERT INTO xlang_docs (statement_id, language, day, length, paragraphs, "
                    "attribution, vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ("zh-ship", "zh", 1, 1, 1, 0.0, "{}"),
                    False,
                    99,  # the number it took in the copy: not the archive's next
                ),
            ),
            frozenset(),
        )
        with pytest.raises(languages.IndexDiverged, match=r"numbered 3 .* 99 in the linker's"):
            store.apply_links([numbered])
    finally:
        store.close()
    assert link_tables(db) == before


def test_a_linker_killed_stops_the_writer_and_the_next_links_what_it_left(
    tmp_path: Path,
) -> None:
    inline, behind = tmp_path / "inline.db", tmp_path / "behind.db"
    store_docs(inline, FIRST + THEN)
    store_docs(behind, FIRST)
    with Linker(behind) as linker:
        store_docs(behind, THEN[:2], linker, start=len(FIRST))
        os.kill(linker.pid, signal.SIGKILL)
        with pytest.raises(LinkerFailed, match=r"behind\.db: the linker stopped .*stay queued"):
            store_docs(behind, THEN[2:], linker, start=len(FIRST) + 2)
            finish_linking(behind, linker)
    # The writer stopped before storing the rest (its results wait in Redis); the next one
    # links what was left, then what it stores.
    assert link_tables(behind)["queue"], "nothing was left for the next linker"
    with Linker(behind) as linker:
        store_docs(behind, THEN[2:], linker, start=len(FIRST) + 2)
        finish_linking(behind, linker)
    assert link_tables(behind) == link_tables(inline)


def test_large_batches_both_ways_do_not_wait_for_each_other(tmp_path: Path) -> None:
    """Batches handed on and answered are each larger than a pipe holds: the writer must
    not wait for the linker to read while the linker waits for it to read (a deadlock,
    which pytest-timeout ends)."""
    rng = random.Random(5)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(7)) for _ in range(3000)]
    db = tmp_path / "big.db"
    with Linker(db) as linker, Session(db, SETTINGS, SOURCES["en"], link_later=True) as s:
        for batch in range(AHEAD):
            with s.batch():
                for n in range(40):
                    number = batch * 40 + n
                    text = " ".join(words[(number * 7 + k) % 3000] for k in range(2500))
                    url = f"https://en.example/{number}"
                    cleaned = Cleaned(
                        status=STATUS_OK, url=url, title=f"Statement {number}", text=text,
                        language="en", published=DAY,
                    )  # fmt: skip
                    found = features("en", text)
                    fetched = Fetched("mfa-en", url, 200, b"<p>x</p>")
                    ingest(s, fetched, cleaned, None, found)
            linker.hand_on(s.store.queued_for_linking)
            s.store.queued_for_linking.clear()
        apply_links(s, linker.finish())
        assert linker.count == AHEAD * 40
    assert link_tables(db)["queue"] == []
    assert len(link_tables(db)["docs"]) == AHEAD * 40
