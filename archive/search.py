"""Full-text search that works for Chinese (and Japanese, Korean) as well as English.

SQLite's FTS5 tokenizers cannot find a one- or two-character Chinese word: `unicode61`
makes a whole run of Chinese characters one token, and `trigram` needs three characters.
So the index holds a rewritten copy of each title and text in which every run of CJK
characters becomes its overlapping character bigrams followed by its last character
("外交部" → "外交 交部 部"), and queries are rewritten the same way by `search_terms`:

* two or more CJK characters → the phrase of their bigrams (`"外交 交部"`), which matches
  exactly where the characters stand next to each other;
* one CJK character → a prefix query (`外*`): every character of a run starts a token
  (a bigram, or the run's last character), so this finds every occurrence;
* other words → quoted terms, stemmed by the Porter tokenizer (`sanction` finds
  `sanctions`); FTS5 syntax typed by a user is never interpreted.

`tests/test_search.py` measures this against the default tokenizer, trigram and jieba
segmentation; `docs/search.md` has the figures.

The index is `statements_search`, an FTS5 table whose rowid is the statement's rowid and
which also holds the statement id, so a search joins on both. It is kept in step by
`reindex` after statement writes (the store calls it once, before a transaction's
commit); `rebuild_search_index` redoes it all.
It also keeps an index of one-character prefixes (`prefix='1'`): without it a query for
one common character merges the lists of every bigram starting with it (hundreds of
thousands of entries in a large archive) before returning the first row.

A common word matches a large share of a large archive, and scoring every match costs
seconds; so `SEARCH_SQL` ranks only the CANDIDATES most recently archived matches (all
of them when there are fewer), read newest first from the index, which stops there.
It is the only index: Datasette's own search box on the statements table uses it too
(`archive/web/plugin.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from operator import add

import sqlite_utils
from markupsafe import Markup, escape

SEARCH_TABLE = "statements_search"
TOKENIZE = "porter unicode61 remove_diacritics 2"
# Bumped whenever what the index holds changes (benchmarks key their cached archives on it).
INDEX_VERSION = 2
PREFIX = "prefix='1'"
# How many of the newest matches SEARCH_SQL ranks; and up to where matches are counted.
CANDIDATES = 10_000

# Han (with extensions and compatibility ideographs), kana, Hangul syllables.
_CJK_CHARS = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
)
_CJK_SPLIT = re.compile(f"([{_CJK_CHARS}]+)")
# What unicode61 keeps in a token: letters and digits (not the underscore).
_WORD = re.compile(r"[^\W_]+")
_CJK_OR_OTHER = re.compile(f"([{_CJK_CHARS}]+)|([^{_CJK_CHARS}]+)")

SNIPPET_CHARS = 160


def _grams(run: str) -> list[str]:
    """A CJK run as indexed: its overlapping bigrams, then its last character."""
    return [*map(add, run, run[1:]), run[-1]]


def index_text(text: str | None) -> str:
    """The text as stored in the index: CJK runs replaced by their bigrams."""
    if not text:
        return ""
    # Split, not a substitution with a callback: Chinese text is many short runs between
    # punctuation marks, and a call each cost a sixth more.
    pieces = _CJK_SPLIT.split(text)  # other text, a CJK run, other text, …
    for n in range(1, len(pieces), 2):
        pieces[n] = " " + " ".join(_grams(pieces[n])) + " "
    return "".join(pieces)


def query_words(query: str) -> list[tuple[str, bool]]:
    """The query's search units: (text, is_cjk), in order, without duplicates."""
    units: list[tuple[str, bool]] = []
    for word in _WORD.findall(query or ""):
        for cjk, other in _CJK_OR_OTHER.findall(word):
            unit = (cjk, True) if cjk else (other.lower(), False)
            if unit not in units:
                units.append(unit)
    return units


def search_terms(query: str) -> str:
    """The FTS5 MATCH expression for what a user typed; "" when there is nothing to find.

    Every word must match (AND). Punctuation and FTS5 operators are never passed on, so no
    query can cause a syntax error.
    """
    terms = []
    for unit, cjk in query_words(query):
        if not cjk:
            terms.append(f'"{unit}"')
        elif len(unit) == 1:
            terms.append(f'"{unit}"*')
        else:
            terms.append('"' + " ".join(_grams(unit)[:-1]) + '"')
    return " AND ".join(terms)


def _needles(query: str) -> list[str]:
    return sorted((unit for unit, _ in query_words(query)), key=len, reverse=True)


def snippet_html(text: str | None, query: str, size: int = SNIPPET_CHARS) -> str:
    """An escaped excerpt of text around the first match, with matches in <mark>.

    Works on the original text, not the index's rewritten copy, so what is shown is what
    was published. Whitespace runs become single spaces.
    """
    plain = " ".join((text or "").split())
    needles = _needles(query)
    pattern = (
        re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE) if needles else None
    )
    first = pattern.search(plain) if pattern else None
    start = max(0, (first.start() if first else 0) - size // 4)
    if start:
        # Start at a word boundary where there is one close by.
        space = plain.find(" ", start, start + 15)
        start = space + 1 if space != -1 else start
    end = min(len(plain), start + size)
    window = plain[start:end]
    pieces: list[str] = ["…" if start else ""]
    position = 0
    for match in pattern.finditer(window) if pattern else ():
        pieces.append(str(escape(window[position : match.start()])))
        pieces.append(f"<mark>{escape(match.group())}</mark>")
        position = match.end()
    pieces.append(str(escape(window[position:])))
    pieces.append("…" if end < len(plain) else "")
    return str(Markup("".join(pieces)))


# --- The index --------------------------------------------------------------------------


def _create(db: sqlite_utils.Database) -> None:
    db.execute(
        f"create virtual table if not exists {SEARCH_TABLE} using fts5("
        f"statement_id unindexed, title, text, tokenize = '{TOKENIZE}', {PREFIX})"
    )


def _current(db: sqlite_utils.Database) -> bool:
    """Whether the index exists in its current form (made by this release)."""
    found = db.execute(
        "select sql from sqlite_master where name = ? and type = 'table'", [SEARCH_TABLE]
    ).fetchone()
    return found is not None and PREFIX in found[0]


def _rows(db: sqlite_utils.Database, where: str = "", params: Iterable[object] = ()) -> Iterable:
    cursor = db.execute(f"select rowid, id, title, text from statements {where}", list(params))
    while batch := cursor.fetchmany(500):
        yield from ((rowid, id_, index_text(t), index_text(x)) for rowid, id_, t, x in batch)


def _insert(db: sqlite_utils.Database, rows: Iterable) -> None:
    db.conn.executemany(
        f"insert into {SEARCH_TABLE} (rowid, statement_id, title, text) values (?, ?, ?, ?)",
        rows,
    )


def ensure_search_index(db: sqlite_utils.Database) -> None:
    """Create the search index if missing, and fill it from statements if it is empty.

    An index made by an older release (without the prefix index) is rebuilt.
    """
    exists = db.execute("select 1 from sqlite_master where name = ?", [SEARCH_TABLE]).fetchone()
    if exists and not _current(db):
        rebuild_search_index(db)
        return
    with db.atomic():
        _create(db)
        if db.execute(f"select 1 from {SEARCH_TABLE} limit 1").fetchone() is None:
            _insert(db, _rows(db))


def rebuild_search_index(db: sqlite_utils.Database) -> None:
    """Index every statement afresh (after a bulk change, a VACUUM or a tokenizer change)."""
    with db.atomic():
        db.execute(f"drop table if exists {SEARCH_TABLE}")
        _create(db)
        _insert(db, _rows(db))
        db.execute(f"insert into {SEARCH_TABLE} ({SEARCH_TABLE}) values ('optimize')")


def reindex(db: sqlite_utils.Database, statement_ids: Iterable[str]) -> None:
    """Re-index statements after they were written (those gone are removed from the index).

    Runs inside the caller's transaction when there is one, as one savepoint: FTS5 writes
    the terms it holds in memory out as a new segment at every savepoint, so a batch of
    statements indexed one savepoint each would leave a segment apiece to merge.
    """
    with db.atomic():
        _create(db)
        rowids = []
        for statement_id in dict.fromkeys(statement_ids):
            found = db.execute(
                "select rowid from statements where id = ?", [statement_id]
            ).fetchone()
            if found is None:
                db.execute(f"delete from {SEARCH_TABLE} where statement_id = ?", [statement_id])
                continue
            (rowid,) = found
            held = db.execute(
                f"select statement_id from {SEARCH_TABLE} where rowid = ?", [rowid]
            ).fetchone()
            if held is not None and held[0] != statement_id:
                # Rowids were renumbered (VACUUM of a table without an integer key): the
                # index no longer lines up with statements, so redo it rather than corrupt it.
                rebuild_search_index(db)
                return
            db.execute(f"delete from {SEARCH_TABLE} where rowid = ?", [rowid])
            rowids.append(rowid)
        if rowids:
            where = "where rowid in (select value from json_each(?)) order by rowid"
            _insert(db, _rows(db, where, [json.dumps(rowids)]))


# The search itself, as run by the canned query `search` and the search page. Title
# matches weigh more than text matches. Only the CANDIDATES newest matches are scored
# (the index hands them over newest first and stops); the statement id (stored with
# the indexed text) is read and the snippet made for the 100 shown only. The join on
# both keys skips stale index rows. `matches` counts the matching statements up to
# CANDIDATES + 1 ("more than CANDIDATES").
SEARCH_SQL = f"""
with candidates as materialized (
  select rowid, bm25({SEARCH_TABLE}, 0, 5.0, 1.0) as rank
  from {SEARCH_TABLE}
  where {SEARCH_TABLE} match communique_match(:q)
  order by rowid desc
  limit {CANDIDATES + 1}
),
best as (select rowid, rank from candidates order by rank, rowid desc limit 100)
select
  s.id,
  s.title,
  s.issuer,
  s.source_id,
  s.published,
  s.language,
  s.status,
  communique_snippet(s.text, :q) as snippet,
  round(best.rank, 3) as rank,
  (select count(*) from candidates) as matches
from best
join {SEARCH_TABLE} entry on entry.rowid = best.rowid
join statements s on s.rowid = best.rowid and s.id = entry.statement_id
order by best.rank, s.published desc
""".strip()


def match_or_nothing(query: str | None) -> str:
    """search_terms, but a MATCH expression that finds nothing for an empty query."""
    return search_terms(query or "") or '""'
