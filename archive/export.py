"""Export the archive's statements as a dated CSV snapshot."""

from __future__ import annotations

import csv
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

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

# Rows fetched from SQLite per batch: bounds memory however large the archive grows.
BATCH_SIZE = 500


@dataclass(frozen=True)
class ExportResult:
    """Where a snapshot was written and how many statements it holds."""

    path: Path
    row_count: int


def snapshot_name(day: date) -> str:
    """The file name of the snapshot taken on day."""
    return f"statements-{day.isoformat()}.csv"


def export_statements(db_path: Path, out_dir: Path, today: date | None = None) -> ExportResult:
    """Write every statement to out_dir/statements-YYYY-MM-DD.csv and return where.

    The file is UTF-8 with a BOM (so Excel reads Chinese correctly) and RFC 4180 quoting,
    ordered by published then id. It appears under its final name only when complete.
    `today` defaults to the current UTC date, matching the archive's UTC timestamps.
    """
    check_archive(db_path)
    day = today or datetime.now(UTC).date()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / snapshot_name(day)
    # Hidden, unique name in the same directory, so the rename is atomic and two
    # exports running at once never write into the same file.
    tmp = out_dir / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        # Explicit mode bits (not mkstemp's 0600) so the snapshot is as readable as any
        # file the user creates.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, dialect="excel")  # CRLF rows, minimal RFC 4180 quoting
            writer.writerow(COLUMNS)
            # One SELECT is one read transaction: a consistent snapshot even mid-crawl.
            cursor = conn.execute(
                f"select {', '.join(COLUMNS)} from statements order by published, id"
            )
            row_count = 0
            while batch := cursor.fetchmany(BATCH_SIZE):
                writer.writerows(batch)
                row_count += len(batch)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    _fsync_dir(out_dir)
    return ExportResult(path=final, row_count=row_count)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable, so a power cut cannot lose the finished snapshot."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the data itself is already synced
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
