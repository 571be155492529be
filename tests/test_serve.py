"""Tests for serving an archive with Datasette (archive/serve.py), against a real process."""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.schema import UnusableDatabase, open_archive
from archive.search import rebuild_search_index
from archive.serve import (
    PUBLIC_SETTINGS,
    SETTINGS,
    ArchiveNotFound,
    database_metadata,
    datasette_args,
    prepare_search,
    serve,
)
from tests.helpers import OPENER, answers, free_port, get, running_datasette, wait_until_up

TABLES = [
    "sources",
    "statements",
    "statement_urls",
    "versions",
    "status_changes",
    "related",
    "captures",
    "bodies",
    "crawls",
    "crawl_errors",
]
FACETS = ["source_id", "issuer", "language", "year", "status", "wechat_account"]
BULK = 1_250  # more than Datasette's 1,000-row page, so CSV must stream past it
UNDATED = 5  # statements without a date must not break paging
CHINESE_TEXT = "中华人民共和国外交部发言人答记者问：“我们坚决反对”，并表示严重关切。\n第二段。"


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
        "text": f"Routine text of {id_}.",
        "status": "live",
        "first_seen": "2024-03-01T10:00:00Z",
        "last_seen": "2024-03-08T10:00:00Z",
        "version_count": 1,
        "capture_count": 1,
    }
    row.update(fields)
    return row


NAMED = [
    statement(
        "en-sanctions",
        "2024-05-01",
        title="New sanctions announced",
        text="The government today announced sanctions on trade-war profiteers.\nMore.",
    ),
    statement(
        "zh-fmprc",
        "2024-06-01T09:30:00+08:00",
        source_id="fmprc",
        url="https://www.mfa.gov.cn/fyrbt/1.html",
        title="外交部发言人答记者问",
        issuer="外交部",
        language="zh",
        text=CHINESE_TEXT,
    ),
]


def bulk_statements() -> list[dict[str, Any]]:
    rows = []
    for n in range(BULK):
        published = None if n < UNDATED else f"{2019 + n % 5}-{1 + n % 12:02d}-{1 + n % 28:02d}"
        rows.append(
            statement(
                f"bulk-{n:05d}",
                published,
                source_id="bulk",
                issuer="Bulk Office",
                language="zh" if n % 2 else "en",
                text=f"{CHINESE_TEXT} #{n}" if n % 2 else f"Bulk text {n}, with a comma.",
            )
        )
    return rows


def build_archive(path: Path, bulk: bool = True) -> int:
    """Create a real archive with a row in every table; return the statement count."""
    db = open_archive(str(path))
    db.table("sources").insert_all(
        [
            {"id": "gov-uk", "name": "GOV.UK", "issuer": "UK Government", "language": "en"},
            {"id": "fmprc", "name": "中华人民共和国外交部", "issuer": "外交部", "language": "zh"},
            {"id": "bulk", "name": "Bulk source", "issuer": "Bulk Office", "language": "en"},
        ]
    )
    statements = NAMED + (bulk_statements() if bulk else [])
    db.table("statements").insert_all(statements, batch_size=500)
    body = b"<html>sanctions</html>"
    sha = hashlib.sha256(body).hexdigest()
    db.table("crawls").insert({"id": 1, "source_id": "gov-uk", "started": "2024-05-01T00:00:00Z"})
    db.table("bodies").insert({"sha256": sha, "size": len(body), "body_gz": gzip.compress(body)})
    db.table("captures").insert(
        {
            "id": 1,
            "crawl_id": 1,
            "source_id": "gov-uk",
            "url": NAMED[0]["url"],
            "canonical_url": NAMED[0]["url"],
            "http_status": 200,
            "body_sha256": sha,
            "statement_id": "en-sanctions",
            "outcome": "new",
        }
    )
    db.table("versions").insert(
        {"id": 1, "statement_id": "en-sanctions", "version": 1, "title": "v1", "capture_id": 1}
    )
    db.table("statement_urls").insert(
        {"url": NAMED[0]["url"], "statement_id": "en-sanctions", "source_id": "gov-uk"}
    )
    db.table("crawl_errors").insert(
        {"id": 1, "crawl_id": 1, "source_id": "gov-uk", "url": "https://x/", "reason": "timeout"}
    )
    db.table("status_changes").insert(
        {"id": 1, "statement_id": "en-sanctions", "status": "deleted", "reason": "HTTP 404"}
    )
    db.table("related").insert(
        {"statement_id": "en-sanctions", "related_id": statements[1]["id"], "similarity": 0.9}
    )
    # Written by hand, not through the store: index them as the store would have.
    rebuild_search_index(db)
    db.conn.close()
    return len(statements)


@pytest.fixture(scope="module")
def archive_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("served") / "archive.db"
    return path, build_archive(path)


@pytest.fixture(scope="module")
def server(
    archive_file: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with running_datasette(archive_file[0], tmp_path_factory.mktemp("metadata")) as base:
        yield base


# --- Without a server -------------------------------------------------------------------


def test_args_run_datasette_from_this_interpreter(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    args = datasette_args(db, host="0.0.0.0", port=9123, metadata_dir=tmp_path / "md")
    assert args[:5] == [sys.executable, "-m", "datasette", "serve", str(db)]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert args[args.index("--port") + 1] == "9123"
    settings = {args[i + 1]: args[i + 2] for i, arg in enumerate(args) if arg == "--setting"}
    assert settings == SETTINGS
    assert settings["max_csv_mb"] == "0"
    assert settings["allow_csv_stream"] == "on"


@pytest.mark.parametrize("stem", ["archive", "demo", "my archive"])
def test_metadata_file_is_keyed_by_the_database_stem(tmp_path: Path, stem: str) -> None:
    args = datasette_args(tmp_path / f"{stem}.db", metadata_dir=tmp_path / "md")
    metadata = json.loads(Path(args[args.index("--metadata") + 1]).read_text("utf-8"))
    assert list(metadata["databases"]) == [stem]
    statements = metadata["databases"][stem]["tables"]["statements"]
    assert statements["facets"] == FACETS
    assert metadata["title"] == "Communique"


def test_metadata_config_describes_every_table() -> None:
    metadata = database_metadata(Path("whatever.db"))
    tables = metadata["databases"]["whatever"]["tables"]
    for table in TABLES:
        assert tables[table]["title"], table
        assert tables[table]["description"], table
    statements = tables["statements"]
    # No fts_table: the search box is the plugin's, on the index that finds Chinese.
    assert "fts_table" not in statements
    assert statements["label_column"] == "title"
    assert tables["sources"]["label_column"] == "name"
    # Every column is described, and no description outlives its column.
    schema_columns = {c.name for c in open_archive(":memory:").table("statements").columns}
    assert set(statements["columns"]) == schema_columns


def test_serve_missing_archive_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "data" / "archive.db"
    with pytest.raises(FileNotFoundError) as info:
        serve(missing, port=free_port())
    assert isinstance(info.value, ArchiveNotFound)
    assert str(missing) in str(info.value)
    assert "\n" not in str(info.value)
    assert not missing.exists()


def test_serve_refuses_other_databases(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("create table t (x)")
    with pytest.raises(UnusableDatabase, match=r"other\.db"):
        serve(other, port=free_port())
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(UnusableDatabase, match=r"garbage\.db"):
        serve(garbage, port=free_port())


# --- Against a real Datasette -----------------------------------------------------------


@pytest.mark.slow
def test_statements_json_returns_rows(server: str) -> None:
    r = get(server, "/archive/statements.json?_shape=array&source_id__in=gov-uk,fmprc")
    assert r.status == 200
    rows = {row["id"]: row for row in r.json()}
    assert set(rows) == {"en-sanctions", "zh-fmprc"}
    assert rows["zh-fmprc"]["text"] == CHINESE_TEXT
    assert rows["en-sanctions"]["title"] == "New sanctions announced"


@pytest.mark.slow
def test_paging_the_default_view_yields_every_statement_once(
    server: str, archive_file: tuple[Path, int]
) -> None:
    # Many statements share a date; a default sort on it would repeat and skip rows.
    ids: list[str] = []
    path: str | None = "/archive/statements.json?_shape=objects&_size=50"
    while path:
        data = get(server, path).json()
        ids += [row["id"] for row in data["rows"]]
        next_url = urllib.parse.urlsplit(data["next_url"] or "")
        path = f"{next_url.path}?{next_url.query}" if data["next_url"] else None
    assert len(ids) == len(set(ids)) == archive_file[1]


@pytest.mark.slow
def test_table_page_has_title_and_facets(server: str) -> None:
    page = get(server, "/archive/statements")
    assert page.status == 200
    assert "<h1" in page.text
    assert "Statements</h1>" in page.text
    assert "One row per statement" in page.text  # the table description
    for facet in FACETS:
        assert f'id="facet-{facet}"' in page.text, facet
    data = get(server, "/archive/statements.json?_size=0").json()
    assert set(data["facet_results"]) == set(FACETS)
    languages = {f["value"]: f["count"] for f in data["facet_results"]["language"]["results"]}
    assert languages["zh"] == 1 + BULK // 2
    issuers = {f["value"] for f in data["facet_results"]["issuer"]["results"]}
    assert {"外交部", "Foreign Office", "Bulk Office"} <= issuers


@pytest.mark.slow
def test_source_ids_are_labelled_with_source_names(server: str) -> None:
    rows = get(server, "/archive/statements.json?_shape=array&_labels=on&id=zh-fmprc").json()
    assert rows[0]["source_id"] == {"value": "fmprc", "label": "中华人民共和国外交部"}


@pytest.mark.slow
@pytest.mark.parametrize("query", ["sanctions", "Sanctions announced", "trade-war"])
def test_search_finds_english_statement_by_word(server: str, query: str) -> None:
    r = get(server, f"/archive/statements.json?_shape=array&_search={urllib.parse.quote(query)}")
    assert r.status == 200
    assert [row["id"] for row in r.json()] == ["en-sanctions"]


@pytest.mark.slow
def test_search_finds_chinese_statement_by_whole_phrase(server: str) -> None:
    query = urllib.parse.quote("外交部发言人答记者问")
    rows = get(server, f"/archive/statements.json?_shape=array&_size=max&_search={query}").json()
    ids = [row["id"] for row in rows]
    assert "zh-fmprc" in ids and "en-sanctions" not in ids


@pytest.mark.slow
def test_csv_stream_returns_every_row(server: str, archive_file: tuple[Path, int]) -> None:
    r = get(server, "/archive/statements.csv?_stream=on&_size=max", timeout=120)
    assert r.status == 200
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert len(rows) == archive_file[1] > 1_000
    assert len({row["id"] for row in rows}) == len(rows)
    by_id = {row["id"]: row for row in rows}
    assert by_id["zh-fmprc"]["text"] == CHINESE_TEXT
    assert by_id[f"bulk-{BULK - 1:05d}"]["text"] == f"{CHINESE_TEXT} #{BULK - 1}"
    assert sum(1 for row in rows if row["published"] == "") == UNDATED


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_title_and_csv(server: str, table: str) -> None:
    title = database_metadata(Path("archive.db"))["databases"]["archive"]["tables"][table]["title"]
    page = get(server, f"/archive/{table}")
    assert page.status == 200
    assert f"<h1>{title}</h1>" in page.text
    assert f'href="/archive/{table}.csv?' in page.text
    r = get(server, f"/archive/{table}.csv?_stream=on")
    assert r.status == 200
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert len(rows) >= 2  # header plus at least the one row inserted


@pytest.mark.slow
def test_database_page_lists_titled_tables_and_hides_fts(server: str) -> None:
    tables = {t["name"]: t for t in get(server, "/archive.json").json()["tables"]}
    for table in TABLES:
        assert not tables[table]["hidden"], table
    machinery = ("statements_fts", "statements_search", "minhash", "deliveries", "xlang_")
    hidden = [name for name in tables if name.startswith(machinery)]
    assert len(hidden) >= 7
    assert all(tables[name]["hidden"] for name in hidden)
    page = get(server, "/archive").text
    assert "statements_fts" not in page
    assert "statements_search" not in page
    assert "minhash" not in page
    assert "xlang_" not in page
    assert f"{len(hidden)} hidden tables" in page


@pytest.mark.slow
def test_settings_applied(server: str) -> None:
    settings = get(server, "/-/settings.json").json()
    assert settings["max_csv_mb"] == 0
    assert settings["allow_csv_stream"] is True
    assert settings["sql_time_limit_ms"] == 3000
    assert get(server, "/-/metadata.json").json()["title"] == "Communique"


@pytest.mark.slow
def test_newest_canned_query(server: str) -> None:
    rows = get(server, "/archive/newest.json?_shape=array").json()
    assert len(rows) == 100
    assert [row["id"] for row in rows[:2]] == ["zh-fmprc", "en-sanctions"]


@pytest.mark.slow
def test_metadata_applies_whatever_the_file_is_called(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    build_archive(db, bulk=False)
    with running_datasette(db, tmp_path / "md") as base:
        assert get(base, "/archive/statements.json").status == 404
        data = get(base, "/demo/statements.json?_search=sanctions").json()
        assert [row[0] for row in data["rows"]] == ["en-sanctions"]
        assert set(get(base, "/demo/statements.json").json()["facet_results"]) == set(FACETS)
        assert "Statements</h1>" in get(base, "/demo/statements").text


SERVE_SCRIPT = """
import signal, sys
from pathlib import Path
from archive.serve import serve
# A shell may start background jobs with SIGINT ignored; behave as in a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.exit(serve(Path(sys.argv[1]), port=int(sys.argv[2])))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "whole_group"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, False)],
    ids=["ctrl-c-in-terminal", "sigint-to-parent-only", "sigterm-to-parent"],
)
def test_serve_runs_in_foreground_and_stops_on_signal(
    tmp_path: Path, sig: signal.Signals, whole_group: bool
) -> None:
    db = tmp_path / "archive.db"
    build_archive(db, bulk=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Its own process group, like a shell job, so Ctrl-C can be sent to the whole job.
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(db), str(port)],
        start_new_session=True,
        env={name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(base, process)
        # Datasette runs with few malloc arenas: its memory stays flat through a long CSV.
        [child] = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert b"MALLOC_ARENA_MAX=2" in Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        if whole_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        code = process.wait(timeout=30)
        assert not answers(base)
        # A clean stop, or the shell's 128 + N for death by signal N: never negative.
        assert code in (0, 128 + sig)
    finally:
        # Also ends a Datasette left behind, which shares the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- The plugin and --public ------------------------------------------------------------


def settings_of(args: list[str]) -> dict[str, str]:
    return {args[i + 1]: args[i + 2] for i, arg in enumerate(args) if arg == "--setting"}


def test_args_leave_the_plugin_to_its_entry_point(tmp_path: Path) -> None:
    args = datasette_args(tmp_path / "archive.db", metadata_dir=tmp_path / "md")
    # templates, CSS and hooks come with the installed package (tests/test_plugin_package.py)
    assert not {"--plugins-dir", "--template-dir", "--static"} & set(args)
    assert args[args.index("--host") + 1] == "127.0.0.1"  # never all interfaces by default


def test_public_args_and_metadata(tmp_path: Path) -> None:
    args = datasette_args(tmp_path / "archive.db", metadata_dir=tmp_path / "md", public=True)
    assert settings_of(args) == {**SETTINGS, **PUBLIC_SETTINGS}
    assert settings_of(args)["default_allow_sql"] == "off"
    assert args[args.index("--host") + 1] == "127.0.0.1"
    metadata = json.loads(Path(args[args.index("--metadata") + 1]).read_text("utf-8"))
    assert metadata["allow_sql"] is False
    assert metadata["databases"]["archive"]["allow_sql"] is False
    # The private run of the same file keeps its own metadata.
    private = datasette_args(tmp_path / "archive.db", metadata_dir=tmp_path / "md")
    assert private[private.index("--metadata") + 1] != args[args.index("--metadata") + 1]
    assert "allow_sql" not in json.loads(
        Path(private[private.index("--metadata") + 1]).read_text("utf-8")
    )


def test_prepare_search_builds_the_index_once(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_archive(db, bulk=False)
    assert prepare_search(db)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("select count(*) from statements_search").fetchone()[0] == len(NAMED)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    (read_only / "archive.db").write_bytes(db.read_bytes())
    read_only.chmod(0o555)
    try:
        if os.access(read_only, os.W_OK):  # root ignores file modes
            return
        assert prepare_search(read_only / "archive.db") in (True, False)  # never raises
    finally:
        read_only.chmod(0o755)


@pytest.mark.slow
def test_public_refuses_sql_and_writes(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    build_archive(db, bulk=False)
    prepare_search(db)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with running_datasette(db, tmp_path / "md", public=True) as base:
        assert get(base, "/archive?sql=select+1").status == 403
        assert get(base, "/archive.json?sql=select+1").status == 403
        assert get(base, "/archive/statements.json?_shape=array&_size=1").status == 200
        assert get(base, "/archive/newest.json").status == 200
        # Canned queries still run: their SQL is fixed, only their parameters vary.
        found = get(base, "/archive/search_statements.json?_shape=array&q=sanctions").json()
        assert [row["id"] for row in found] == ["en-sanctions"]
        page = get(base, "/archive")
        assert "Custom SQL query" not in page.text
        settings = get(base, "/-/settings.json").json()
        assert settings["sql_time_limit_ms"] == int(PUBLIC_SETTINGS["sql_time_limit_ms"])
        # No way to write: posting SQL or a canned query changes nothing.
        for path in ("/archive", "/archive/newest", "/archive/statements"):
            request = urllib.request.Request(
                base + path,
                data=urllib.parse.urlencode({"sql": "delete from statements"}).encode(),
                method="POST",
            )
            try:
                with OPENER.open(request, timeout=10) as r:
                    status = r.status
            except urllib.error.HTTPError as error:
                status = error.code
            assert status >= 400, path
        assert get(base, "/archive.db").status in (403, 404)
    assert get_count(db) == len(NAMED)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def get_count(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return int(c.execute("select count(*) from statements").fetchone()[0])
