"""Export the archive as dated CSV snapshots with a manifest, whole or since a date.

`export_snapshot` writes statements-, versions- and statement_urls-YYYY-MM-DD.csv and a
manifest.json naming each file with its row count, size and SHA-256, so a snapshot can
be cited and checked. With `since`, only what is new or changed since that date.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from archive.atomic import atomic_open
from archive.csvsafe import RecordWriter
from archive.serve import check_archive

COLUMNS = (
    "id",
    "source_id",
    "url",
    "title",
    "issuer",
    "published",
    "language",
    "status",
    "first_seen",
    "last_seen",
    "text",
)

VERSION_COLUMNS = (
    "id",
    "statement_id",
    "version",
    "title",
    "text",
    "text_hash",
    "first_seen",
    "last_seen",
    "capture_id",
    "diff",
    "chars_added",
    "chars_removed",
)

URL_COLUMNS = ("url", "statement_id", "source_id", "first_seen", "last_seen")

MANIFEST = "manifest.json"

# Rows fetched from SQLite per batch: bounds memory however large the archive grows.
BATCH_SIZE = 500


@dataclass(frozen=True)
class ExportResult:
    """Where a snapshot was written and how many statements it holds."""

    path: Path
    row_count: int


def snapshot_name(day: date, table: str = "statements") -> str:
    """The file name of the snapshot of table taken on day."""
    return f"{table}-{day.isoformat()}.csv"


def export_statements(db_path: Path, out_dir: Path, today: date | None = None) -> ExportResult:
    """Write every statement to out_dir/statements-YYYY-MM-DD.csv and return where.

    The file is UTF-8 with a BOM (so Excel reads Chinese correctly) and RFC 4180 quoting,
    ordered by published then id. It appears under its final name only when complete.
    `today` defaults to the current UTC date, matching the archive's UTC timestamps.
    """
    check_archive(db_path)
    day = today or datetime.now(UTC).date()
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = _connect(db_path)
    try:
        cursor = conn.execute(f"select {', '.join(COLUMNS)} from statements order by published, id")
        result = _write_csv(out_dir / snapshot_name(day), COLUMNS, cursor)
    finally:
        conn.close()
    return result


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a snapshot, as listed in its manifest."""

    path: Path
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class SnapshotResult:
    """The files of a snapshot and its manifest."""

    manifest: Path
    files: tuple[SnapshotFile, ...]
    since: str | None


def _since_where(table: str, available: set[str], present: set[str]) -> str:
    """The WHERE clause selecting table's rows new or changed since :since.

    Timestamps are ISO 8601 text in UTC, so comparing with a date compares by time. Parts
    that need columns or tables an older archive lacks are left out.
    """
    if table != "statements":
        return "where first_seen >= :since"
    parts = ["first_seen >= :since"]
    if "gone_since" in available:
        parts.append("gone_since >= :since")
    if "versions" in present:
        parts.append("id in (select statement_id from versions where first_seen >= :since)")
    if "status_changes" in present:
        parts.append("id in (select statement_id from status_changes where at >= :since)")
    return "where " + " or ".join(parts)


def export_snapshot(
    db_path: Path,
    out_dir: Path,
    today: date | None = None,
    since: date | None = None,
) -> SnapshotResult:
    """Write the statements, versions and statement URLs of the archive, and a manifest.

    Files: statements-, versions-, statement_urls-YYYY-MM-DD.csv (formatted as
    export_statements) and manifest.json with the date, the archive's path, `since`, and
    per file its name, rows, bytes and SHA-256. With `since`, statements first seen or
    changed (new version, status change) on or after that date, versions and URLs first
    seen on or after it. All files come from one read transaction, so they agree with each
    other even while a crawl writes; the manifest is written last.
    """
    check_archive(db_path)
    day = today or datetime.now(UTC).date()
    since_text = since.isoformat() if since else None
    out_dir.mkdir(parents=True, exist_ok=True)
    tables: list[tuple[str, tuple[str, ...], str]] = [
        ("statements", COLUMNS, "published, id"),
        ("versions", VERSION_COLUMNS, "statement_id, version"),
        ("statement_urls", URL_COLUMNS, "statement_id, first_seen, url"),
    ]
    conn = _connect(db_path)
    files = []
    try:
        conn.execute("begin")  # one snapshot of the database for every file
        present = {row[0] for row in conn.execute("select name from sqlite_master")}
        for table, columns, order in tables:
            path = out_dir / snapshot_name(day, table)
            if table not in present:
                result = _write_csv(path, columns, [])
            else:
                available = {row[1] for row in conn.execute(f"pragma table_info({table})")}
                select = ", ".join(c if c in available else f"null as {c}" for c in columns)
                where = _since_where(table, available, present) if since_text else ""
                cursor = conn.execute(
                    f"select {select} from {table} {where} order by {order}",
                    {"since": since_text} if since_text else {},
                )
                result = _write_csv(path, columns, cursor)
            files.append(SnapshotFile(path, result.row_count, path.stat().st_size, _sha256(path)))
        conn.execute("commit")
    finally:
        conn.close()
    manifest = {
        "date": day.isoformat(),
        "archive": str(db_path.resolve()),
        "since": since_text,
        "files": [
            {"name": f.path.name, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256}
            for f in files
        ],
    }
    manifest_path = out_dir / MANIFEST
    with atomic_open(manifest_path, "w", encoding="utf-8") as out:
        out.write(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return SnapshotResult(manifest_path, tuple(files), since_text)


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    conn.isolation_level = None  # explicit transactions only
    return conn


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_csv(final: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> ExportResult:
    """Write a CSV (UTF-8 with BOM, CRLF, RFC 4180) under its final name only when complete;
    cells that a spreadsheet would run as formulas are made inert (archive/csvsafe.py)."""
    count = 0
    with atomic_open(final, "w", encoding="utf-8-sig", newline="") as out:
        writer = RecordWriter(out)  # CRLF rows, minimal RFC 4180 quoting, inert cells
        writer.writerow(columns)
        fetchmany = getattr(rows, "fetchmany", None)
        if fetchmany is None:
            for row in rows:
                writer.writerow(row)
                count += 1
        else:
            while batch := fetchmany(BATCH_SIZE):
                writer.writerows(batch)
                count += len(batch)
    return ExportResult(path=final, row_count=count)
