"""Link statements across languages: a Chinese original to its English translations and reports.

How a statement is linked, in order:

1. Features (`archive.links.features`): numbers and dates as language-neutral tokens, and
   English terms: an English text's stemmed words, a Chinese text's words mapped through
   CC-CEDICT (names CC-CEDICT lacks as run-together pinyin). Both become one weighted
   vector in English term space: tf × idf, the idf counted over this archive's statements
   of both languages (`xlang_df`, so it follows the archive). A statement keeps its
   `VECTOR_TERMS` heaviest terms (`xlang_docs.vector`), which bounds the cost of scoring.
2. Candidates come from an inverted index (`xlang_postings`): each statement posts its
   heaviest terms and numbers with its day; a new statement looks its own up among
   statements of the other language within ±`POOL_DAYS` and keeps the `CANDIDATES` sharing
   the most weight. Nothing compares all pairs.
3. Score: the cosine of the two vectors. An English statement has at most one original:
   the best-scoring Chinese statement dated from `REPORT_DAYS` days before it to one day
   after. It is linked when that score is at least `MIN_SCORE`, the cosine over words
   alone at least `MIN_WORD_SCORE` (shared numbers alone never make a link), and the score
   clearly above the next best Chinese statement of the pool (`MARGIN` times it;
   near-identical copies of the best, such as one statement from a ministry's website and
   its WeChat account, do not count as next best). `CHANCE` stands for the next best when
   the pool has no other: unrelated statements of one field score about that much.
4. Relation: `translation` when the two are one text in two languages: dated within a day,
   the same number of paragraphs (±1 or ±10%), an English/Chinese length ratio in
   `TRANSLATION_RATIO` (English takes 3-4 characters per Chinese one), at least half the
   numbers in common, and the English not written as a news report (few "said", "told",
   "according to"). A translation, confirmed by its shape, needs a smaller lead over the
   next best than a report. `report` when the English one is dated on or after the
   original (within `REPORT_DAYS`) and written as news (`REPORT_STYLE`). Anything else
   (say, another day's full transcript) is not linked.

Direction: the original is always the Chinese statement; the English one is its translation
or a report about it. (Chinese translations of English originals are not handled.) Only
`zh` and `en` statements are linked; others are ignored.

When a Chinese statement arrives after the English ones that translate or report it, the
English statements it scores best for are re-decided; an English statement can so move
from an older original to the new one. `index_and_link` returns the links of the statement
it indexed; `links_of` reads any statement's links from `xlang_links`. `link_statement` also
says which English statements had their link decided again (the new one's, or those a new
Chinese statement was offered to), so that a copy of the links elsewhere (the archive's
`related` table) can be kept in step; it takes the statement's features when a cleaning
worker already computed them.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from operator import mul
from typing import Any

from archive.links.features import Features, features, language_of
from archive.schema import SQL_TABLES

POOL_DAYS = 365  # the pool for the margin: other-language statements within this many days
REPORT_DAYS = 7  # a report comes up to a week after its statement
TRANSLATION_DAYS = 1  # a translation is published within a day of the original
CANDIDATES = 12  # statements taken from the index for scoring
POSTED_TERMS = 40  # rarest terms a statement posts in the index (numbers besides)
POSTED_NUMBERS = 24
VECTOR_TERMS = 256  # heaviest terms kept in a statement's stored vector (numbers included)
MIN_SCORE = 0.08
MIN_WORD_SCORE = 0.05  # the same cosine over words alone: numbers alone never make a link
# A translation is confirmed by its shape too (paragraphs, length, numbers): a smaller lead
# over the next best suffices than for a report, which has only its score.
MARGIN = {"translation": 1.3, "report": 1.5}
CHANCE = 0.05
DUPLICATE = 0.8  # cosine above which two same-language statements are copies of one
TRANSLATION_RATIO = (2.5, 5.5)
# Attributions ("said", "told", "according to") per 1,000 characters: a news report has at
# least REPORT_STYLE[0] (it quotes or paraphrases someone), a translation fewer than [1].
REPORT_STYLE = (1.0, 2.0)
MIN_ARCHIVE = 50  # idf is computed as if the archive had at least this many statements
FLUSH_EVERY = 100  # statements whose term counts are written to xlang_df together
# Statements whose parsed vectors stay in memory between linking calls (some 30 KB each, twice):
# the same originals come up as candidates for statement after statement.
CACHED_VECTORS = 2048

_ATTRIBUTION = re.compile(r"\b(?:said|says|told|according to)\b")

# Declared with the archive's other tables (archive/schema.py); created here too, so that
# the linker works on any SQLite connection.
TABLES = tuple(statement for statements in SQL_TABLES.values() for statement in statements)


@dataclass(frozen=True)
class Doc:
    """A statement as the linker needs it."""

    id: str
    language: str | None
    title: str
    text: str
    published: str | None  # ISO date or datetime; the day is what counts


@dataclass(frozen=True)
class Link:
    """`original_id` (Chinese) → `other_id` (English), with why."""

    original_id: str
    other_id: str
    relation: str  # "translation" | "report"
    score: float
    evidence: str


@dataclass
class _Indexed:
    doc: int
    statement_id: str
    language: str
    day: int
    length: int
    paragraphs: int
    attribution: float
    raw: dict[str, float]  # term → tf weight before idf
    best_id: str | None = None
    best: float | None = None
    second: float | None = None


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create the linker's tables if missing (all named `xlang_*`)."""
    for statement in TABLES:
        conn.execute(statement)


class _Df:
    """Document frequencies, read once per connection and kept in step as we index.

    Writing a statement's ~1,000-3,000 term counts to SQLite one by one would cost more than
    the rest of linking it, so new counts are kept in memory and written every
    `FLUSH_EVERY` statements (and by `flush`). A process that dies loses its unwritten
    counts: that only shifts weights a little, and links are unaffected until a later
    statement is scored. A statement rolled back leaves no count behind (`_df`), but a
    rolled-back transaction that wrote counts loses them, as a process that dies does.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.n: Counter[str] = Counter(dict(conn.execute("SELECT term, n FROM xlang_df")))
        # The statements counted in `n` but not yet in xlang_df: doc → (statement, terms).
        self.unwritten: dict[int, tuple[str, list[str]]] = {}
        # idf values, kept while the archive grows by less than 1% (they barely move).
        self._idf: dict[str, float] = {}
        self._idf_total = 0
        # Stored vectors as parsed (by doc), and weighted with the idf values above.
        self.parsed: dict[int, dict[str, float]] = {}
        self.weighted: dict[int, tuple[dict[str, float], float]] = {}
        self.total, self.last = conn.execute(
            "SELECT count(*), coalesce(max(doc), 0) FROM xlang_docs"
        ).fetchone()

    def idf(self, term: str) -> float:
        return self.idfs([term])[term]

    def _renew(self) -> None:
        """Forget the idf values (and vectors weighted with them) once they are stale."""
        if self.total > self._idf_total * 1.01 or self.total < MIN_ARCHIVE:
            self._idf.clear()
            self.weighted.clear()
            self._idf_total = self.total

    def idfs(self, terms: Iterable[str]) -> dict[str, float]:
        """The cache of idf values, holding at least `terms`."""
        self._renew()
        cache, counts, log = self._idf, self.n, math.log
        total = max(self._idf_total, MIN_ARCHIVE)
        for term in terms:
            if term not in cache:
                n = counts.get(term, 0)
                cache[term] = log(1 + (total - n + 0.5) / (n + 0.5))
        return cache

    def vector(self, item: _Indexed) -> tuple[dict[str, float], float]:
        """The statement's weighted vector and its norm, with the current idf values."""
        self._renew()
        found = self.weighted.get(item.doc)
        if found is None:
            found = _weighted(item.raw, self)
            _remember(self.weighted, item.doc, found)
        return found

    def parse(self, doc: int, stored: str) -> dict[str, float]:
        found = self.parsed.get(doc)
        if found is None:
            found = json.loads(stored)
            _remember(self.parsed, doc, found)
        return found


def _remember(cache: dict[int, Any], key: int, value: Any) -> None:
    if len(cache) >= CACHED_VECTORS:
        del cache[next(iter(cache))]  # the oldest entry
    cache[key] = value


class _Scorer:
    """Weighted vectors with the current idf (cached across calls in `_Df`)."""

    def __init__(self, df: _Df) -> None:
        self.df = df
        self.decided: set[str] = set()  # English statements whose link was decided again

    def vector(self, item: _Indexed) -> tuple[dict[str, float], float]:
        return self.df.vector(item)

    def cosine(self, a: _Indexed, b: _Indexed) -> float:
        return _cosine(self.vector(a), self.vector(b))


# Per connection (sqlite3 connections take no weak references: keyed by id and file, and
# checked against the statement count, so a stale or reused entry is read afresh).
_DF: dict[tuple[int, str], _Df] = {}


def _df(conn: sqlite3.Connection) -> _Df:
    key = (id(conn), str(conn.execute("PRAGMA database_list").fetchone()[2]))
    stats = _DF.get(key)
    # The newest statement's number (a cheap look-up, unlike a count) tells whether another
    # writer was here, or a transaction of ours was rolled back: then read afresh.
    last = conn.execute("SELECT coalesce(max(doc), 0) FROM xlang_docs").fetchone()[0]
    if stats is None or stats.last != last:
        if stats is not None:
            _write_pending(conn, stats, _still_indexed(conn, stats.unwritten))
        if len(_DF) > 8:
            _DF.clear()
        stats = _DF[key] = _Df(conn)
    return stats


def _still_indexed(
    conn: sqlite3.Connection, unwritten: dict[int, tuple[str, list[str]]]
) -> set[int]:
    """Which of these statements the index still holds (the others were rolled back)."""
    rows = conn.execute(
        "SELECT doc, statement_id FROM xlang_docs WHERE doc IN (SELECT value FROM json_each(?))",
        (json.dumps(list(unwritten)),),
    )
    return {doc for doc, statement_id in rows if unwritten[doc][0] == statement_id}


def _write_pending(conn: sqlite3.Connection, df: _Df, docs: Iterable[int] | None = None) -> None:
    """Add the unwritten statements' term counts (only `docs`' when given) to xlang_df."""
    counts: Counter[str] = Counter()
    for doc in df.unwritten if docs is None else docs:
        counts.update(df.unwritten[doc][1])
    conn.executemany(
        "INSERT INTO xlang_df (term, n) VALUES (?, ?) "
        "ON CONFLICT (term) DO UPDATE SET n = n + excluded.n",
        sorted(counts.items()),  # in key order: the B-tree pages are visited once each
    )
    df.unwritten.clear()


def flush(conn: sqlite3.Connection) -> None:
    """Write the term counts still held in memory (call before closing a long session)."""
    ensure_tables(conn)
    _write_pending(conn, _df(conn))


def _day(published: str | None) -> int | None:
    if not published:
        return None
    try:
        return date.fromisoformat(published[:10]).toordinal()
    except ValueError:
        return None


def _raw_vector(found: Features) -> dict[str, float]:
    """Term weights before idf: 1 per English term; a Chinese word spreads 1 over its glosses.

    Built in sorted order: sets iterate in an order that changes from one process to the
    next (string hashing), and the order of additions and of ties would change the links.
    """
    raw: dict[str, float] = {}
    if found.language == "en":
        raw = dict.fromkeys(sorted(found.terms), 1.0)
    else:
        for word in sorted(found.concepts):
            glosses = found.concepts[word]
            share = 1.0 / len(glosses)
            for term in sorted(glosses):
                raw[term] = raw.get(term, 0.0) + share
    for number in sorted(found.numbers):
        raw["#" + number] = 1.0
    return raw


def _weighted(raw: dict[str, float], df: _Df) -> tuple[dict[str, float], float]:
    idf = df.idfs(raw)
    # map/zip rather than comprehensions: the same arithmetic, looped in C.
    weights = dict(zip(raw, map(mul, raw.values(), map(idf.__getitem__, raw)), strict=True))
    values = list(weights.values())
    return weights, math.sqrt(sum(map(mul, values, values))) or 1.0


def _cosine(a: tuple[dict[str, float], float], b: tuple[dict[str, float], float]) -> float:
    (small, small_norm), (large, large_norm) = sorted((a, b), key=lambda v: len(v[0]))
    dot = sum(w * large[t] for t, w in small.items() if t in large)
    return dot / (small_norm * large_norm)


def _words(item: _Indexed, df: _Df) -> tuple[dict[str, float], float]:
    return _weighted({t: w for t, w in item.raw.items() if not t.startswith("#")}, df)


def _paragraphs(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _load(row: tuple[Any, ...], df: _Df) -> _Indexed:
    doc, statement_id, language, day, length, paragraphs, attribution, vector, *scores = row
    return _Indexed(
        doc,
        statement_id,
        language,
        day,
        length,
        paragraphs,
        attribution,
        df.parse(doc, vector),
        *scores,
    )


_COLUMNS = (
    "doc, statement_id, language, day, length, paragraphs, attribution, vector, "
    "best_id, best, second"
)


def _get(conn: sqlite3.Connection, statement_id: str, df: _Df) -> _Indexed | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM xlang_docs WHERE statement_id = ?", (statement_id,)
    ).fetchone()
    return _load(row, df) if row else None


def _known(conn: sqlite3.Connection, statement_id: str) -> bool:
    found = conn.execute("SELECT 1 FROM xlang_docs WHERE statement_id = ?", (statement_id,))
    return found.fetchone() is not None


def _candidates(
    conn: sqlite3.Connection, new: _Indexed, scorer: _Scorer, low: int, high: int
) -> list[_Indexed]:
    """The other-language statements dated in [low, high] sharing most weight of rare terms."""
    weights = scorer.vector(new)[0]
    query = _posted(weights, list(weights))
    if not query:
        return []
    other = "en" if new.language == "zh" else "zh"
    # Summed in SQLite: at 100k statements a year's postings of 64 terms are many rows.
    best = [
        doc
        for (doc,) in conn.execute(
            "SELECT p.doc FROM json_each(?) AS q JOIN xlang_postings AS p "
            "ON p.term = q.key AND p.language = ? AND p.day BETWEEN ? AND ? "
            "GROUP BY p.doc ORDER BY sum(q.value) DESC, p.doc LIMIT ?",
            (json.dumps({t: weights[t] for t in query}), other, low, high, CANDIDATES),
        )
    ]
    if not best:
        return []
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM xlang_docs WHERE doc IN ({','.join('?' * len(best))})", best
    ).fetchall()
    return [_load(row, scorer.df) for row in rows]


def _posted(weights: dict[str, float], terms: list[str]) -> list[str]:
    """The terms a statement posts in (and looks up from) the index: its heaviest."""
    ranked = sorted(terms, key=weights.__getitem__, reverse=True)
    numbers = [t for t in ranked if t.startswith("#")][:POSTED_NUMBERS]
    return numbers + [t for t in ranked if not t.startswith("#")][:POSTED_TERMS]


def _numbers_agree(original: _Indexed, other: _Indexed) -> bool:
    """A translation carries the original's numbers: at least half of the fewer, if 4 or more."""
    ours = {t for t in original.raw if t.startswith("#")}
    theirs = {t for t in other.raw if t.startswith("#")}
    fewer = min(len(ours), len(theirs))
    return fewer < 4 or len(ours & theirs) >= fewer / 2


def _relation(original: _Indexed, other: _Indexed) -> str:
    ratio = other.length / max(original.length, 1)
    aligned = abs(original.paragraphs - other.paragraphs) <= max(1, 0.1 * original.paragraphs)
    if (
        abs(other.day - original.day) <= TRANSLATION_DAYS
        and aligned
        and TRANSLATION_RATIO[0] <= ratio <= TRANSLATION_RATIO[1]
        and other.attribution < REPORT_STYLE[1]
        and _numbers_agree(original, other)
    ):
        return "translation"
    # A report comes after its statement, and is written as one.
    if 0 <= other.day - original.day <= REPORT_DAYS and other.attribution >= REPORT_STYLE[0]:
        return "report"
    return ""


def _in_link_window(original: _Indexed, other: _Indexed) -> bool:
    return -TRANSLATION_DAYS <= other.day - original.day <= REPORT_DAYS


def _show_number(token: str) -> str:
    if token.startswith("@-"):
        return f"day {token[2:]}"
    if token.startswith("@"):
        month, day = token[1:].split("-")
        return f"{date(2000, int(month), int(day)):%b} {day}"
    value = float(token)
    if value != int(value):
        return token
    # Years and small counts as written (2024, not 2,024); large counts with separators.
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.0f}"


def _evidence(
    original: _Indexed,
    other: _Indexed,
    relation: str,
    score: float,
    runner_up: float,
    df: _Df,
) -> str:
    shared = original.raw.keys() & other.raw.keys()
    # Rarest first; ties in a fixed order, so the same link always reads the same.
    numbers = sorted(
        (t[1:] for t in shared if t.startswith("#")), key=lambda t: (-df.idf("#" + t), t)
    )
    terms = sorted((t for t in shared if not t.startswith("#")), key=lambda t: (-df.idf(t), t))
    gap = other.day - original.day
    when = (
        "same day"
        if gap == 0
        else f"{abs(gap)} day{'s' * (abs(gap) != 1)} " + ("later" if gap > 0 else "earlier")
    )
    parts = [
        f"{relation} (score {score:.2f}, next best {runner_up:.2f})",
        f"{len(numbers)} shared numbers/dates"
        + (f" ({', '.join(_show_number(n) for n in numbers[:6])})" if numbers else ""),
        f"{len(terms)} dictionary-matched terms ({', '.join(terms[:8])})",
        when,
        f"length ratio {other.length / max(original.length, 1):.1f}",
        f"paragraphs {original.paragraphs}/{other.paragraphs}",
    ]
    return "; ".join(parts)


def _decide(conn: sqlite3.Connection, english: _Indexed, scorer: _Scorer) -> None:
    """Replace the English statement's link by what its stored best/second scores say."""
    scorer.decided.add(english.statement_id)
    conn.execute("DELETE FROM xlang_links WHERE other_id = ?", (english.statement_id,))
    if english.best_id is None or english.best is None or english.best < MIN_SCORE:
        return
    original = _get(conn, english.best_id, scorer.df)
    if original is None:
        return
    relation = _relation(original, english)
    if not relation or english.best < MARGIN[relation] * max(english.second or 0.0, CHANCE):
        return
    if _cosine(_words(original, scorer.df), _words(english, scorer.df)) < MIN_WORD_SCORE:
        return
    evidence = _evidence(
        original, english, relation, english.best, english.second or 0.0, scorer.df
    )
    conn.execute(
        "INSERT OR REPLACE INTO xlang_links VALUES (?, ?, ?, ?, ?)",
        (original.statement_id, english.statement_id, relation, round(english.best, 4), evidence),
    )


def _save_scores(conn: sqlite3.Connection, english: _Indexed) -> None:
    conn.execute(
        "UPDATE xlang_docs SET best_id = ?, best = ?, second = ? WHERE doc = ?",
        (english.best_id, english.best, english.second, english.doc),
    )


def _link_english(conn: sqlite3.Connection, english: _Indexed, scorer: _Scorer) -> None:
    """Find the new English statement's best original in its pool, and the next best."""
    pool = _candidates(conn, english, scorer, english.day - POOL_DAYS, english.day + POOL_DAYS)
    scored = sorted(((scorer.cosine(english, c), c) for c in pool), key=lambda p: -p[0])
    linkable = [(score, c) for score, c in scored if _in_link_window(c, english)]
    english.best_id, english.best, english.second = None, None, None
    if linkable:
        english.best, best = linkable[0]
        english.best_id, english.second = best.statement_id, 0.0
        for score, candidate in scored:
            # The next best that is not a copy of the best (the same statement elsewhere).
            if candidate.doc != best.doc and scorer.cosine(best, candidate) < DUPLICATE:
                english.second = score
                break
    _save_scores(conn, english)
    _decide(conn, english, scorer)


def _link_chinese(conn: sqlite3.Connection, chinese: _Indexed, scorer: _Scorer) -> None:
    """Offer the new Chinese statement to the English ones near it as their best or next best."""
    pool = _candidates(conn, chinese, scorer, chinese.day - POOL_DAYS, chinese.day + POOL_DAYS)
    for english in pool:
        score = scorer.cosine(chinese, english)
        if score <= (english.second or 0.0):
            continue  # changes nothing for this English statement
        best = _get(conn, english.best_id, scorer.df) if english.best_id else None
        copy_of_best = best is not None and scorer.cosine(chinese, best) >= DUPLICATE
        if _in_link_window(chinese, english) and (english.best is None or score > english.best):
            if english.best is not None and not copy_of_best:
                english.second = max(english.second or 0.0, english.best)
            english.best_id, english.best = chinese.statement_id, score
        elif not copy_of_best:
            english.second = score
        else:
            continue
        _save_scores(conn, english)
        _decide(conn, english, scorer)


def _index(
    conn: sqlite3.Connection,
    doc: Doc,
    language: str,
    day: int,
    df: _Df,
    found: Features | None = None,
) -> _Indexed | None:
    """Count the statement's terms, store its heaviest as its vector, post the rarest."""
    found = found or features(language, doc.text)
    if found is None:
        return None
    raw = _raw_vector(found)
    terms = list(raw)  # all of them: the vector stored keeps the heaviest
    df.n.update(terms)
    df.total += 1
    weights, _ = _weighted(raw, df)
    kept = sorted(raw, key=weights.__getitem__, reverse=True)[:VECTOR_TERMS]
    raw = {t: round(raw[t], 3) for t in kept}
    attribution = (
        1000 * len(_ATTRIBUTION.findall(doc.text)) / max(len(doc.text), 1)
        if language == "en"
        else 0.0
    )
    paragraphs = _paragraphs(doc.text)
    cursor = conn.execute(
        "INSERT INTO xlang_docs (statement_id, language, day, length, paragraphs, attribution, "
        "vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            doc.id,
            language,
            day,
            len(doc.text),
            paragraphs,
            attribution,
            json.dumps(raw, ensure_ascii=False, separators=(",", ":")),
        ),
    )
    # A number can come back after a rollback, but `_df` has then read everything afresh.
    df.last = cursor.lastrowid or 0
    _remember(df.parsed, df.last, raw)
    df.unwritten[df.last] = (doc.id, terms)
    if len(df.unwritten) >= FLUSH_EVERY:
        _write_pending(conn, df)
    indexed = _Indexed(
        cursor.lastrowid or 0, doc.id, language, day, len(doc.text), paragraphs, attribution, raw
    )
    conn.executemany(
        "INSERT OR IGNORE INTO xlang_postings VALUES (?, ?, ?, ?)",
        ((term, language, day, indexed.doc) for term in _posted(weights, kept)),
    )
    return indexed


def links_of(conn: sqlite3.Connection, statement_id: str) -> list[Link]:
    """The statement's cross-language links, as original or as translation/report."""
    ensure_tables(conn)
    rows = conn.execute(
        "SELECT original_id, other_id, relation, score, evidence FROM xlang_links "
        "WHERE original_id = ? OR other_id = ? ORDER BY score DESC",
        (statement_id, statement_id),
    )
    return [Link(*row) for row in rows]


@dataclass(frozen=True)
class Linked:
    """What linking one statement did."""

    links: list[Link]  # the statement's links, as `links_of` gives them
    # English statements whose link was decided again (it may be new, moved or gone):
    # the statement itself when English, the English statements a Chinese one was offered to.
    decided: frozenset[str]


def link_statement(conn: sqlite3.Connection, doc: Doc, found: Features | None = None) -> Linked:
    """Index one statement and link it (see `index_and_link`); `found` is its features when
    already computed (`features(doc.language, doc.text)`, e.g. in a cleaning worker)."""
    ensure_tables(conn)
    language = language_of(doc.language)
    day = _day(doc.published)
    if language is None or day is None:
        return Linked([], frozenset())
    if _known(conn, doc.id):
        return Linked(links_of(conn, doc.id), frozenset())
    if found is not None and found.language != language:
        found = None  # computed for another language than the statement now has
    df = _df(conn)
    indexed = _index(conn, doc, language, day, df, found)
    if indexed is None:
        return Linked([], frozenset())
    scorer = _Scorer(df)
    if language == "en":
        _link_english(conn, indexed, scorer)
    else:
        _link_chinese(conn, indexed, scorer)
    return Linked(links_of(conn, doc.id), frozenset(scorer.decided))


def index_and_link(conn: sqlite3.Connection, doc: Doc) -> list[Link]:
    """Index one statement and link it; return its links.

    Idempotent: a statement already indexed is not indexed again (its links are returned).
    A statement in another language than zh/en, or without a date, is not indexed.
    Runs in the caller's transaction; commit when it suits you.
    """
    return link_statement(conn, doc).links


def indexed(conn: sqlite3.Connection, statement_id: str) -> bool:
    """Whether the statement is in the linker's index already."""
    ensure_tables(conn)
    return _known(conn, statement_id)


def reset(conn: sqlite3.Connection) -> None:
    """Forget every statement and link of the linker's tables (and the counts held in memory)."""
    ensure_tables(conn)
    for table in ("xlang_links", "xlang_postings", "xlang_df", "xlang_docs"):
        conn.execute(f"DELETE FROM {table}")
    _DF.clear()


def rebuild(
    conn: sqlite3.Connection,
    docs: Iterable[Doc],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Forget the linker's tables and index `docs` again, in date order; return links made.

    `progress(n)` is called after each statement with how many are done.
    """
    reset(conn)
    ordered = sorted(docs, key=lambda d: (d.published or "", d.id))
    for done, doc in enumerate(ordered, start=1):
        index_and_link(conn, doc)
        if progress is not None:
            progress(done)
    flush(conn)
    return int(conn.execute("SELECT count(*) FROM xlang_links").fetchone()[0])
