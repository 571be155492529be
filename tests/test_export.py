"""Tests for the dated CSV snapshot of statements (archive/export.py)."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from archive.export import (
    COLUMNS,
    URL_COLUMNS,
    VERSION_COLUMNS,
    ExportResult,
    export_snapshot,
    export_statements,
)
from archive.schema import UnusableDatabase, open_archive

DAY = date(2024, 3, 9)

TRICKY_TEXT = 'Line one, with a comma\nLine two with "quotes"\r\nLine three'
CHINESE_TEXT = "中华人民共和国外交部发言人：“我们坚决反对”，并表示关切。"


def statement(id_: str, published: str | None, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id_,
        "source_id": "gov-uk",
        "url": f"https://www.gov.uk/news/{id_}",
        "title": f"Statement {id_}",
        "issuer": "Foreign Office",
        "published": published,
        "year": int(published[:4]) if published else None,
        "language": "en",
        "text": f"Text of {id_}.",
        "status": "live",
        "first_seen": "2024-03-01T10:00:00Z",
        "last_seen": "2024-03-08T10:00:00Z",
    }
    row.update(fields)
    return row


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    path = tmp_path / "archive.db"
    db = open_archive(str(path))
    db.table("sources").insert_all(
        [
            {"id": "gov-uk", "name": "GOV.UK", "issuer": "UK Government", "language": "en"},
            {"id": "fmprc", "name": "外交部", "issuer": "外交部", "language": "zh"},
        ]
    )
    db.table("statements").insert_all(
        [
            statement("c", "2024-02-01", text=TRICKY_TEXT),
            statement(
                "a",
                "2023-07-15",
                source_id="fmprc",
                title="外交部发言人答记者问",
                issuer="外交部",
                language="zh",
                text=CHINESE_TEXT,
            ),
            statement("b", "2024-02-01"),  # same day as "c": id breaks the tie
            statement("d", "2022-01-01"),
        ]
    )
    db.conn.close()
    return path


def read_snapshot(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_writes_dated_file_with_every_statement(archive_path: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "exports"
    result = export_statements(archive_path, out_dir, today=DAY)
    assert result == ExportResult(path=out_dir / "statements-2024-03-09.csv", row_count=4)
    assert len(read_snapshot(result.path)) == 4


def test_starts_with_bom_and_header_in_order(archive_path: Path, tmp_path: Path) -> None:
    result = export_statements(archive_path, tmp_path, today=DAY)
    raw = result.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n", 1)[0].decode()
    assert header == ",".join(COLUMNS)
    assert COLUMNS == (
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


def test_rows_ordered_by_published_then_id(archive_path: Path, tmp_path: Path) -> None:
    rows = read_snapshot(export_statements(archive_path, tmp_path, today=DAY).path)
    assert [r["id"] for r in rows] == ["d", "a", "b", "c"]


def test_chinese_text_round_trips(archive_path: Path, tmp_path: Path) -> None:
    rows = read_snapshot(export_statements(archive_path, tmp_path, today=DAY).path)
    chinese = next(r for r in rows if r["id"] == "a")
    assert chinese["text"] == CHINESE_TEXT
    assert chinese["title"] == "外交部发言人答记者问"
    assert chinese["issuer"] == "外交部"
    assert chinese["language"] == "zh"


def test_newline_comma_and_quote_survive(archive_path: Path, tmp_path: Path) -> None:
    path = export_statements(archive_path, tmp_path, today=DAY).path
    rows = read_snapshot(path)
    assert next(r for r in rows if r["id"] == "c")["text"] == TRICKY_TEXT
    # RFC 4180: the field is quoted and inner quotes are doubled.
    assert '"Line one, with a comma\nLine two with ""quotes""\r\nLine three"' in (
        path.read_bytes().decode("utf-8-sig")
    )


def test_all_columns_carried_over(archive_path: Path, tmp_path: Path) -> None:
    rows = read_snapshot(export_statements(archive_path, tmp_path, today=DAY).path)
    expected = statement("d", "2022-01-01")
    assert rows[0] == {column: str(expected[column]) for column in COLUMNS}


def test_no_temp_file_left_and_rerun_replaces(archive_path: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "exports"
    export_statements(archive_path, out_dir, today=DAY)
    result = export_statements(archive_path, out_dir, today=DAY)
    assert [p.name for p in out_dir.iterdir()] == ["statements-2024-03-09.csv"]
    assert result.row_count == 4


def test_failure_leaves_no_partial_snapshot(
    archive_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "exports"
    export_statements(archive_path, out_dir, today=DAY)
    before = (out_dir / "statements-2024-03-09.csv").read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    # Fails once every row is written but before the rename, as a full disk would.
    monkeypatch.setattr("archive.atomic.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        export_statements(archive_path, out_dir, today=DAY)
    assert [p.name for p in out_dir.iterdir()] == ["statements-2024-03-09.csv"]
    assert (out_dir / "statements-2024-03-09.csv").read_bytes() == before


def test_streams_in_batches(
    archive_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("archive.export.BATCH_SIZE", 3)
    result = export_statements(archive_path, tmp_path, today=DAY)
    assert result.row_count == 4
    assert [r["id"] for r in read_snapshot(result.path)] == ["d", "a", "b", "c"]


def test_default_day_is_today(archive_path: Path, tmp_path: Path) -> None:
    result = export_statements(archive_path, tmp_path)
    assert result.path.name.startswith("statements-20")
    date.fromisoformat(result.path.name.removeprefix("statements-").removesuffix(".csv"))


def test_missing_archive_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(FileNotFoundError) as info:
        export_statements(missing, tmp_path / "out", today=DAY)
    message = str(info.value)
    assert str(missing) in message
    assert "\n" not in message
    assert not missing.exists()
    assert not (tmp_path / "out").exists()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)").connection.close()
    with pytest.raises(UnusableDatabase, match=r"other\.db"):
        export_statements(other, tmp_path / "out", today=DAY)


# --- Snapshots with versions, URLs and a manifest ----------------------------------------


@pytest.fixture
def history_path(archive_path: Path) -> Path:
    """The archive above, with versions, URLs and a status change spread over time."""
    db = open_archive(str(archive_path))
    db.table("versions").insert_all(
        [
            {
                "id": 1,
                "statement_id": "a",
                "version": 1,
                "title": "t",
                "text": "old",
                "first_seen": "2024-02-01T00:00:00Z",
            },
            {
                "id": 2,
                "statement_id": "a",
                "version": 2,
                "title": "t",
                "text": "new",
                "first_seen": "2024-03-05T08:00:00Z",
                "diff": '[[0,3],[-1,"old"],[1,"new"]]',
                "chars_added": 3,
                "chars_removed": 3,
            },
            {
                "id": 3,
                "statement_id": "b",
                "version": 1,
                "title": "t",
                "text": CHINESE_TEXT,
                "first_seen": "2024-03-01T10:00:00Z",
            },
        ]
    )
    db.table("statement_urls").insert_all(
        [
            {
                "url": "https://x/a",
                "statement_id": "a",
                "source_id": "fmprc",
                "first_seen": "2024-02-01T00:00:00Z",
            },
            {
                "url": "https://x/a2",
                "statement_id": "a",
                "source_id": "fmprc",
                "first_seen": "2024-03-06T00:00:00Z",
            },
        ]
    )
    db.table("statements").update(
        "d",
        {
            "first_seen": "2022-01-01T00:00:00Z",
            "status": "deleted",
            "gone_since": "2024-03-07T00:00:00Z",
        },
    )
    db.table("statements").update("a", {"first_seen": "2024-01-01T00:00:00Z"})
    db.table("statements").update("b", {"first_seen": "2024-01-01T00:00:00Z"})
    db.table("statements").update("c", {"first_seen": "2024-03-02T00:00:00Z"})
    db.conn.close()
    return archive_path


def test_snapshot_writes_three_files_and_a_manifest(history_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    result = export_snapshot(history_path, out, today=DAY)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "manifest.json",
        "statement_urls-2024-03-09.csv",
        "statements-2024-03-09.csv",
        "versions-2024-03-09.csv",
    ]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["date"] == "2024-03-09"
    assert manifest["since"] is None
    assert manifest["archive"] == str(history_path.resolve())
    listed = {f["name"]: f for f in manifest["files"]}
    for name, entry in listed.items():
        data = (out / name).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["rows"] == len(read_snapshot(out / name))
    assert listed["statements-2024-03-09.csv"]["rows"] == 4
    assert listed["versions-2024-03-09.csv"]["rows"] == 3
    assert listed["statement_urls-2024-03-09.csv"]["rows"] == 2
    versions = read_snapshot(out / "versions-2024-03-09.csv")
    assert tuple(versions[0]) == VERSION_COLUMNS
    assert versions[2]["text"] == CHINESE_TEXT
    assert json.loads(versions[1]["diff"]) == [[0, 3], [-1, "old"], [1, "new"]]
    assert tuple(read_snapshot(out / "statement_urls-2024-03-09.csv")[0]) == URL_COLUMNS
    assert [f.rows for f in result.files] == [4, 3, 2]


def test_incremental_snapshot_since_a_date(history_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "inc"
    result = export_snapshot(history_path, out, today=DAY, since=date(2024, 3, 2))
    assert result.since == "2024-03-02"
    statements = {r["id"] for r in read_snapshot(out / "statements-2024-03-09.csv")}
    # c: first seen on the day; a: a new version since; d: deleted since. b: nothing new.
    assert statements == {"a", "c", "d"}
    versions = read_snapshot(out / "versions-2024-03-09.csv")
    assert [(v["statement_id"], v["version"]) for v in versions] == [("a", "2")]
    urls = read_snapshot(out / "statement_urls-2024-03-09.csv")
    assert [u["url"] for u in urls] == ["https://x/a2"]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["since"] == "2024-03-02"
    assert [f["rows"] for f in manifest["files"]] == [3, 1, 1]


def test_cli_export_since(history_path: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from communique.cli import main

    out = tmp_path / "cli"
    runner = CliRunner()
    result = runner.invoke(
        main, ["export", "--db", str(history_path), "--out", str(out), "--since", "2024-03-02"]
    )
    assert result.exit_code == 0, result.output
    assert "manifest.json" in result.output
    assert json.loads((out / "manifest.json").read_text("utf-8"))["since"] == "2024-03-02"
    bad = runner.invoke(
        main, ["export", "--db", str(history_path), "--out", str(out), "--since", "March"]
    )
    assert bad.exit_code == 2
