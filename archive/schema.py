"""The archive's tables, indexes and full-text index: the one place the schema is declared.

Tables are declared as data; opening an archive creates what is missing and adds new
columns to existing tables, so an archive made by an older release upgrades in place.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from archive import search

SCHEMA_VERSION = 13

SOURCES = "sources"
STATEMENTS = "statements"
STATEMENT_URLS = "statement_urls"
VERSIONS = "versions"
STATUS_CHANGES = "status_changes"
RELATED = "related"
CAPTURES = "captures"
BODIES = "bodies"
CRAWLS = "crawls"
CRAWL_ERRORS = "crawl_errors"
DELIVERIES = "deliveries"
MINHASHES = "minhashes"
MINHASH_BANDS = "minhash_bands"
XLANG_DOCS = "xlang_docs"
XLANG_POSTINGS = "xlang_postings"
XLANG_DF = "xlang_df"
XLANG_LINKS = "xlang_links"
XLANG_QUEUE = "xlang_queue"

# Relations in `related`: a reprint (both directions), and from an original to its
# translation or to a report about it in another language (one row, original first).
REPRINT = "reprint"
TRANSLATION = "translation"
REPORT = "report"


class UnusableDatabase(Exception):
    """The file given as the archive is not one we can use (corrupt, foreign, unwritable)."""


@dataclass(frozen=True)
class Table:
    columns: dict[str, Any]
    pk: str | tuple[str, ...] | None = "id"  # None: SQLite's own rowid
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)
    indexes: list[list[str]] = field(default_factory=list)


TABLES: dict[str, Table] = {
    SOURCES: Table(
        {
            "id": str,
            "name": str,
            "issuer": str,
            "kind": str,
            "language": str,
            "start_urls": str,  # JSON list
            "allowed_domains": str,  # JSON list
            "added": str,
            "last_crawl_id": int,
            "health": str,  # ok | unhealthy, judged after each crawl
            "health_reason": str,
            "health_checked": str,
        },
    ),
    STATEMENTS: Table(
        {
            "id": str,  # stable: hash of source id + first canonical URL
            "source_id": str,
            "url": str,  # canonical URL it was first found at
            "identity": str,  # a key other than the URL, e.g. wechat:<biz>/<mid>/<idx>
            "title": str,
            "issuer": str,
            "published": str,  # ISO 8601
            "year": int,  # derived from published, for faceting
            "language": str,
            "text": str,  # the current version's text
            "text_hash": str,  # fingerprint of the normalised text, for dedup
            "status": str,  # live, or a gone status (archive/statuses.py)
            "status_reason": str,  # the page's own words, or the HTTP status
            "gone_since": str,  # first definitive sign of the current non-live status
            "first_seen": str,
            "last_seen": str,
            "version_count": int,
            "capture_count": int,
            "next_check": str,  # when a recheck of this statement is due
            # WeChat articles: the account and the ids in the article's link.
            "wechat_account": str,
            "wechat_biz": str,
            "wechat_mid": str,
            "wechat_idx": str,
            "wechat_sn": str,
            "original_url": str,  # "阅读原文" (msg_source_url): the article's own source link
            "modified": str,  # the page's own edit marker (WeChat modify_time), ISO 8601
        },
        foreign_keys=[("source_id", SOURCES, "id")],
        indexes=[
            ["source_id"],
            ["text_hash"],
            ["published"],
            ["year"],  # the year facet, which scans the matches of a search
            ["language"],
            ["issuer"],
            ["status"],
            ["next_check"],
            ["last_seen"],  # "last checked" on the home page
            ["identity"],
            ["wechat_account"],
        ],
    ),
    STATEMENT_URLS: Table(
        {
            "url": str,  # canonical URL
            "statement_id": str,
            "source_id": str,
            "first_seen": str,
            "last_seen": str,
            # own: the statement's URL (or one it moved to); copy: the same text found at
            # another URL of the source. Only own URLs may change the statement.
            "relation": str,
        },
        pk="url",
        foreign_keys=[("statement_id", STATEMENTS, "id"), ("source_id", SOURCES, "id")],
        indexes=[["statement_id"]],
    ),
    VERSIONS: Table(
        {
            "id": int,
            "statement_id": str,
            "version": int,  # 1, 2, … in order of first sighting
            "title": str,
            "text": str,
            "text_hash": str,
            "first_seen": str,
            "last_seen": str,
            "capture_id": int,  # the capture this text first came from
            # Against the previous version, as JSON ops over its title+"\n\n"+text:
            # [0, n] keep n characters, [-1, "s"] delete s, [1, "s"] insert s.
            "diff": str,
            "chars_added": int,
            "chars_removed": int,
            "origin": str,  # crawl: the page changed; reextract: the cleaner changed
        },
        foreign_keys=[("statement_id", STATEMENTS, "id")],
        indexes=[["statement_id", "version"], ["first_seen"]],
    ),
    STATUS_CHANGES: Table(
        {
            "id": int,
            "statement_id": str,
            "status": str,  # the new status: live, deleted, blocked, …
            "reason": str,
            "at": str,
            "capture_id": int,
        },
        foreign_keys=[("statement_id", STATEMENTS, "id")],
        indexes=[["statement_id", "at"]],
    ),
    RELATED: Table(
        {
            "statement_id": str,
            "related_id": str,
            # reprint: estimated Jaccard similarity of character shingles; translation and
            # report: the cross-language score (a cosine, archive/links/crosslang.py)
            "similarity": float,
            "relation": str,  # reprint | translation | report
            "found_at": str,
            "evidence": str,  # translation, report: why, in words (shared numbers, terms…)
        },
        pk=("statement_id", "related_id"),
        foreign_keys=[("statement_id", STATEMENTS, "id"), ("related_id", STATEMENTS, "id")],
        indexes=[["related_id"]],
    ),
    BODIES: Table({"sha256": str, "size": int, "body_gz": bytes}, pk="sha256"),
    # Reprint detection (archive/links/reprints.py): each statement's MinHash signature, and its
    # LSH bucket in every band, looked up by (band, bucket).
    MINHASHES: Table({"statement_id": str, "signature": bytes}, pk="statement_id"),
    MINHASH_BANDS: Table(
        {"band": int, "bucket": str, "statement_id": str},
        pk=None,
        indexes=[["band", "bucket"], ["statement_id"]],
    ),
    CRAWLS: Table(
        {
            "id": int,
            "source_id": str,
            "started": str,
            "finished": str,
            "status": str,  # running | finished | failed
            "pages_fetched": int,
            "statements_new": int,
            "statements_changed": int,
            "statements_unchanged": int,
            "errors": int,
            "finish_reason": str,
            "links_found": int,  # statement links on entry pages, followed or not
        },
        foreign_keys=[("source_id", SOURCES, "id")],
        indexes=[["source_id", "started"]],
    ),
    CAPTURES: Table(
        {
            "id": int,
            "crawl_id": int,
            "source_id": str,
            "url": str,  # where the body came from (after redirects)
            "requested_url": str,  # the URL the source gave, when redirects led elsewhere
            "canonical_url": str,
            "fetched_at": str,
            "http_status": int,
            "content_type": str,
            "headers": str,  # JSON object
            "body_sha256": str,
            "body_size": int,
            "status": str,  # clean status (archive/statuses.py): ok, not_html, deleted, …
            "reason": str,
            "encoding": str,
            "statement_id": str,
            "outcome": str,  # new | changed | unchanged | not_statement | error | index | gone
        },
        foreign_keys=[
            ("crawl_id", CRAWLS, "id"),
            ("source_id", SOURCES, "id"),
            ("body_sha256", BODIES, "sha256"),
            ("statement_id", STATEMENTS, "id"),
        ],
        indexes=[["canonical_url"], ["statement_id"], ["crawl_id"], ["fetched_at"]],
    ),
    CRAWL_ERRORS: Table(
        {
            "id": int,
            "crawl_id": int,
            "source_id": str,
            "url": str,
            "reason": str,
            "http_status": int,
            "role": str,  # index: a feed, sitemap or listing page; statement: a statement's
            "at": str,
        },
        foreign_keys=[("crawl_id", CRAWLS, "id"), ("source_id", SOURCES, "id")],
        indexes=[["crawl_id"], ["source_id"]],
    ),
    # Results other crawl machines delivered through Redis, by id (crawler/results.py): a
    # result delivered again, after a writer restarted, is not recorded twice.
    DELIVERIES: Table(
        {"id": str, "crawl_id": int, "at": str},
        foreign_keys=[("crawl_id", CRAWLS, "id")],
    ),
}


# The cross-language linker's tables (archive/links/crosslang.py), as SQL: sqlite-utils
# cannot declare WITHOUT ROWID tables, and the linker creates them itself on a bare
# connection too (its benchmark). `xlang_links` is the source of truth for the
# translation and report rows of `related`, which copy it.
SQL_TABLES: dict[str, tuple[str, ...]] = {
    XLANG_DOCS: (
        """CREATE TABLE IF NOT EXISTS xlang_docs (
            doc INTEGER PRIMARY KEY,
            statement_id TEXT NOT NULL UNIQUE,
            language TEXT NOT NULL,
            day INTEGER NOT NULL,
            length INTEGER NOT NULL,
            paragraphs INTEGER NOT NULL,
            attribution REAL NOT NULL,
            vector TEXT NOT NULL,
            best_id TEXT,
            best REAL,
            second REAL
        )""",
    ),
    XLANG_POSTINGS: (
        """CREATE TABLE IF NOT EXISTS xlang_postings (
            term TEXT NOT NULL,
            language TEXT NOT NULL,
            day INTEGER NOT NULL,
            doc INTEGER NOT NULL,
            PRIMARY KEY (term, language, day, doc)
        ) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS xlang_postings_doc ON xlang_postings (doc)",
    ),
    XLANG_DF: (
        """CREATE TABLE IF NOT EXISTS xlang_df (
            term TEXT PRIMARY KEY,
            n INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    XLANG_LINKS: (
        """CREATE TABLE IF NOT EXISTS xlang_links (
            original_id TEXT NOT NULL,
            other_id TEXT NOT NULL,
            relation TEXT NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL,
            PRIMARY KEY (original_id, other_id)
        )""",
        "CREATE INDEX IF NOT EXISTS xlang_links_other ON xlang_links (other_id)",
    ),
    # Statements a writer stored for the linker beside it to link (archive/linker.py), in
    # the order stored, with when they were stored (their links' `found_at`). A row leaves
    # in the transaction that writes the statement's links.
    XLANG_QUEUE: (
        """CREATE TABLE IF NOT EXISTS xlang_queue (
            seq INTEGER PRIMARY KEY,
            statement_id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL
        )""",
    ),
}


def _ensure_tables(db: sqlite_utils.Database) -> None:
    for name, spec in TABLES.items():
        table = db.table(name)
        if not table.exists():
            table.create(spec.columns, pk=spec.pk, foreign_keys=spec.foreign_keys)
        else:
            present = set(table.columns_dict)
            for column, column_type in spec.columns.items():
                if column not in present:
                    table.add_column(column, column_type)
        for columns in spec.indexes:
            table.create_index(columns, if_not_exists=True)
    for statements in SQL_TABLES.values():
        for statement in statements:
            db.execute(statement)


def _backfill(db: sqlite_utils.Database, version: int) -> None:
    """Fill columns an older archive lacks, from what it holds."""
    if version < 8:
        # Before relations were kept, a URL other than the one a statement was first found
        # at was a copy (or a move, which cannot be told apart now): a copy is safe.
        db.execute(
            "update statement_urls set relation = case when url = "
            "(select s.url from statements s where s.id = statement_id) "
            "then 'own' else 'copy' end where relation is null"
        )


def _enable_search(db: sqlite_utils.Database) -> None:
    # One full-text index, statements_search (archive/search.py), serves every search,
    # Datasette's own search box included. The unicode61 index older releases kept beside
    # it (statements_fts, with triggers) could not find Chinese words: dropped.
    if db.table(STATEMENTS).detect_fts():
        db.table(STATEMENTS).disable_fts()


# The page cache of a connection that writes statements (SQLite's default is 2 MB). Every
# new statement updates pages all over a large archive's indexes (the search index, the
# cross-language postings): at 100k statements 64 MB made linking one a third faster.
WRITER_CACHE_KB = 65_536


def cache_for_writing(conn: sqlite3.Connection) -> None:
    """Give a connection the writer's page cache (bounded: memory stays flat with size)."""
    conn.execute(f"pragma cache_size = -{WRITER_CACHE_KB}")


def open_archive(path: str) -> sqlite_utils.Database:
    """Open (creating if needed) an archive file, in WAL mode, with the schema in place.

    Raises UnusableDatabase, naming the file, when it is not a SQLite file or is another
    program's database; such a file is never written to.
    """
    try:
        conn = sqlite3.connect(path, timeout=30)
        existing = {row[0] for row in conn.execute("select name from sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise UnusableDatabase(f"{path}: not a usable SQLite database ({error})") from error
    if existing and STATEMENTS not in existing:
        conn.close()
        raise UnusableDatabase(
            f"{path}: a SQLite database of another program (no '{STATEMENTS}' table); "
            "refusing to write to it"
        )
    db = sqlite_utils.Database(conn)
    try:
        db.enable_wal()
        db.execute("pragma foreign_keys = on")
        db.execute("pragma busy_timeout = 30000")
        version = db.execute("pragma user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            with db.atomic():
                _ensure_tables(db)
                _backfill(db, version)
                _enable_search(db)
                search.ensure_search_index(db)
                db.execute(f"pragma user_version = {SCHEMA_VERSION}")
    except sqlite3.DatabaseError as error:
        conn.close()
        raise UnusableDatabase(f"{path}: cannot set up the archive ({error})") from error
    return db
