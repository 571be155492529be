"""Cross-language links in the archive: statements to the linker, its links into `related`.

The linker (`archive.links.crosslang`) keeps its own tables; `xlang_links` is the source of
truth. `related` holds the same links as rows from the original to its translation or
report (`relation` translation or report, `similarity` the linker's score, `evidence` its
reasons), which the statement page, its JSON and SQL queries read. Linking one statement
can re-decide the links of English statements other than itself (a later Chinese
statement can take an English one from an older original): every English statement the
linker re-decided gets its `related` rows rewritten from `xlang_links`.

Called by the store (archive/store.py), inside its transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlite_utils

from archive.schema import RELATED, REPORT, TRANSLATION, XLANG_DOCS, XLANG_LINKS, XLANG_QUEUE

if TYPE_CHECKING:
    from archive.links.crosslang import Doc
    from archive.links.features import Features

RELATIONS = (TRANSLATION, REPORT)
_RELATIONS_SQL = f"('{TRANSLATION}', '{REPORT}')"


def doc(
    statement_id: str,
    language: str | None,
    title: str | None,
    text: str | None,
    published: str | None,
    first_seen: str | None,
) -> Doc:
    """The statement as the linker takes it. Without a publication date, the day it was
    first fetched stands in (the linker skips a statement without a day)."""
    from archive.links.crosslang import Doc

    return Doc(statement_id, language, title or "", text or "", published or first_seen)


def link(
    db: sqlite_utils.Database, statement: Doc, found: Features | None, now: str
) -> frozenset[str]:
    """Index and link one statement (a no-op if it is indexed already), then bring the
    `related` rows of every English statement whose link was decided again in step;
    returns those statements."""
    from archive.links.crosslang import link_statement

    decided = link_statement(db.conn, statement, found).decided
    mirror(db, decided, now)
    return decided


def mirror(db: sqlite_utils.Database, english_ids: Iterable[str], now: str) -> None:
    """Make the translation and report rows of `related` that lead to these English
    statements what `xlang_links` says; a link already there keeps when it was found."""
    for english_id in sorted(set(english_ids)):
        db.execute(
            f"delete from {RELATED} where related_id = ? and relation in {_RELATIONS_SQL} "
            f"and statement_id not in (select original_id from {XLANG_LINKS} where other_id = ?)",
            [english_id, english_id],
        )
        db.execute(
            f"insert into {RELATED} (statement_id, related_id, similarity, relation, found_at, "
            f"evidence) select original_id, other_id, score, relation, ?, evidence "
            f"from {XLANG_LINKS} where other_id = ? "
            "on conflict (statement_id, related_id) do update set "
            "similarity = excluded.similarity, relation = excluded.relation, "
            "evidence = excluded.evidence",
            [now, english_id],
        )


# -- linking beside a writer (archive/linker.py) ---------------------------------------------


class IndexDiverged(RuntimeError):
    """The linker's copy of the index no longer matches the archive's."""


@dataclass(frozen=True)
class Written:
    """What linking one statement wrote to the linker's copy of the index, to be written
    to the archive's as it was: each SQL write with its parameters (`many`: executemany),
    and for a new statement of the index the number it took there."""

    statement_id: str | None  # None: the term counts written at the end of a batch
    at: str  # when the statement was stored: its links' `found_at`
    writes: tuple[tuple[str, Any, bool, int | None], ...]
    decided: frozenset[str]  # English statements whose link was decided again


def queue(db: sqlite_utils.Database, statement_id: str, at: str) -> None:
    """Leave the statement for the linker beside the writer (linked once: a statement
    queued already keeps its place)."""
    db.execute(
        f"insert or ignore into {XLANG_QUEUE} (statement_id, at) values (?, ?)",
        [statement_id, at],
    )


def queued(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """The statements waiting for the linker, in the order they were stored: (id, at)."""
    rows = db.execute(f"select statement_id, at from {XLANG_QUEUE} order by seq").fetchall()
    return [(statement_id, at) for statement_id, at in rows]


def apply(db: sqlite_utils.Database, linked: Iterable[Written]) -> None:
    """Write what the linker wrote to its copy of the index, statement by statement, each
    followed by its `related` rows (as linking it here would have), and take the linked
    statements off the queue. Raises IndexDiverged when a statement would take another
    number in the archive's index than in the linker's copy."""
    for item in linked:
        for sql, parameters, many, number in item.writes:
            if many:
                db.conn.executemany(sql, parameters)
                continue
            cursor = db.conn.execute(sql, parameters)
            if number is not None and cursor.lastrowid != number:
                raise IndexDiverged(
                    f"{item.statement_id}: numbered {cursor.lastrowid} in the archive's "
                    f"{XLANG_DOCS}, {number} in the linker's copy"
                )
        mirror(db, item.decided, item.at)
        if item.statement_id is not None:
            db.execute(f"delete from {XLANG_QUEUE} where statement_id = ?", [item.statement_id])


def forget(db: sqlite_utils.Database) -> None:
    """Forget every cross-language link and the linker's index (before a rebuild)."""
    from archive.links.crosslang import reset

    reset(db.conn)
    db.execute(f"delete from {RELATED} where relation in {_RELATIONS_SQL}")


def indexed_count(db: sqlite_utils.Database) -> int:
    """How many statements the linker has indexed."""
    from archive.links.crosslang import ensure_tables

    ensure_tables(db.conn)
    return int(db.execute("select count(*) from xlang_docs").fetchone()[0])


def linkable(language: str | None) -> bool:
    """Whether statements in this language are linked (Chinese and English ones)."""
    from archive.links.features import language_of

    return language_of(language) is not None


def linkable_count(db: sqlite_utils.Database) -> int:
    """How many statements are in Chinese or English (linked or not); read from the
    language index, so it costs little on a large archive."""
    from archive.links.features import language_of

    rows = db.execute("select language, count(*) from statements group by language")
    return sum(count for language, count in rows.fetchall() if language_of(language))


def flush(db: sqlite_utils.Database) -> None:
    """Write the term counts the linker still holds in memory."""
    from archive.links.crosslang import flush as flush_counts

    flush_counts(db.conn)


def unlinked(db: sqlite_utils.Database, since: str | None = None) -> list[str]:
    """Statements in Chinese or English the linker has not indexed yet, in date order (the
    order a crawl would have brought them in): all, or those dated on or after `since`
    (YYYY-MM-DD; the publication date, else the day first seen)."""
    from archive.links.crosslang import ensure_tables
    from archive.links.features import language_of

    ensure_tables(db.conn)
    day = "substr(coalesce(s.published, s.first_seen), 1, 10)"
    rows = db.execute(
        f"select s.id, s.language from statements s where {day} >= ? and s.text is not null "
        "and not exists (select 1 from xlang_docs d where d.statement_id = s.id) "
        f"order by {day}, s.id",
        [since or ""],
    ).fetchall()
    return [statement_id for statement_id, language in rows if language_of(language)]
