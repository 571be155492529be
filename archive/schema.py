"""The archive's tables, indexes and full-text index: the one place the schema is declared."""

from __future__ import annotations

import sqlite3

import sqlite_utils

SCHEMA_VERSION = 1

SOURCES = "sources"
STATEMENTS = "statements"
STATEMENT_URLS = "statement_urls"
VERSIONS = "versions"
CAPTURES = "captures"
BODIES = "bodies"
CRAWLS = "crawls"
CRAWL_ERRORS = "crawl_errors"


class UnusableDatabase(Exception):
    """The file given as the archive is not one we can use (corrupt, foreign, unwritable)."""


def _create_tables(db: sqlite_utils.Database) -> None:
    db.table(SOURCES).create(
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
        },
        pk="id",
        if_not_exists=True,
    )
    db.table(STATEMENTS).create(
        {
            "id": str,  # stable: hash of source id + first canonical URL
            "source_id": str,
            "url": str,  # canonical URL it was first found at
            "title": str,
            "issuer": str,
            "published": str,  # ISO 8601
            "year": int,  # derived from published, for faceting
            "language": str,
            "text": str,
            "text_hash": str,  # fingerprint of the normalised text, for dedup
            "status": str,  # live for now; later issues add deleted/blocked
            "first_seen": str,
            "last_seen": str,
            "version_count": int,
            "capture_count": int,
        },
        pk="id",
        foreign_keys=[("source_id", SOURCES, "id")],
        if_not_exists=True,
    )
    db.table(STATEMENT_URLS).create(
        {
            "url": str,  # canonical URL
            "statement_id": str,
            "source_id": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk="url",
        foreign_keys=[("statement_id", STATEMENTS, "id"), ("source_id", SOURCES, "id")],
        if_not_exists=True,
    )
    db.table(VERSIONS).create(
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
        },
        pk="id",
        foreign_keys=[("statement_id", STATEMENTS, "id")],
        if_not_exists=True,
    )
    db.table(BODIES).create(
        {"sha256": str, "size": int, "body_gz": bytes},
        pk="sha256",
        if_not_exists=True,
    )
    db.table(CRAWLS).create(
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
        },
        pk="id",
        foreign_keys=[("source_id", SOURCES, "id")],
        if_not_exists=True,
    )
    db.table(CAPTURES).create(
        {
            "id": int,
            "crawl_id": int,
            "source_id": str,
            "url": str,  # as requested
            "canonical_url": str,
            "fetched_at": str,
            "http_status": int,
            "content_type": str,
            "headers": str,  # JSON object
            "body_sha256": str,
            "body_size": int,
            "status": str,  # clean status: ok, not_html, empty, http_error, …
            "reason": str,
            "encoding": str,
            "statement_id": str,
            "outcome": str,  # new | changed | unchanged | not_statement | error
        },
        pk="id",
        foreign_keys=[
            ("crawl_id", CRAWLS, "id"),
            ("source_id", SOURCES, "id"),
            ("body_sha256", BODIES, "sha256"),
            ("statement_id", STATEMENTS, "id"),
        ],
        if_not_exists=True,
    )
    db.table(CRAWL_ERRORS).create(
        {
            "id": int,
            "crawl_id": int,
            "source_id": str,
            "url": str,
            "reason": str,
            "http_status": int,
            "at": str,
        },
        pk="id",
        foreign_keys=[("crawl_id", CRAWLS, "id"), ("source_id", SOURCES, "id")],
        if_not_exists=True,
    )


def _create_indexes(db: sqlite_utils.Database) -> None:
    indexes = {
        STATEMENTS: [["source_id"], ["text_hash"], ["published"], ["language"], ["issuer"]],
        STATEMENT_URLS: [["statement_id"]],
        VERSIONS: [["statement_id", "version"]],
        CAPTURES: [["canonical_url"], ["statement_id"], ["crawl_id"], ["fetched_at"]],
        CRAWLS: [["source_id", "started"]],
        CRAWL_ERRORS: [["crawl_id"], ["source_id"]],
    }
    for table, column_sets in indexes.items():
        for columns in column_sets:
            db.table(table).create_index(columns, if_not_exists=True)


def _enable_search(db: sqlite_utils.Database) -> None:
    if not db.table(STATEMENTS).detect_fts():
        # Triggers keep the index in step with every write, including ones made by hand.
        db.table(STATEMENTS).enable_fts(["title", "text"], create_triggers=True)


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
                _create_tables(db)
                _create_indexes(db)
                _enable_search(db)
                db.execute(f"pragma user_version = {SCHEMA_VERSION}")
    except sqlite3.DatabaseError as error:
        conn.close()
        raise UnusableDatabase(f"{path}: cannot set up the archive ({error})") from error
    return db
