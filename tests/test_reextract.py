"""Re-extraction: stored raw bodies cleaned again by today's cleaner, new versions only on change."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils
from pytest_socket import socket_allow_hosts

from archive.clean import Cleaned, Hints, clean_page
from archive.cleaned import hints_for
from archive.fetched import Fetched
from archive.ingest import IngestSettings
from archive.reextract import reextract
from archive.store import Archive, HistorySettings
from archive.workers import WorkerDied, map_in_workers
from communique.config import load_config
from tests.conftest import GOV_ROOT, write_sources
from tests.helpers import COMMUNIQUE

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://127.0.0.1:8780"  # the demo config's URLs; nothing is fetched

EN_PATH = "mfa-en/xw/fyrbt/202407/t20240726_11100075.html"
ZH_PATH = "mfa-zh/content/202407/t20240705_11200001.html"
EN_TYPE = "text/html"
ZH_TYPE = "text/html; charset=gb2312"  # as the fixture server sends it (GB18030 bytes)
STALE_TEXT = (
    "What an older cleaner kept of this page: the statement, and the share bar and\n\n"
    "the footer that today's cleaner removes."
)


def communique(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMUNIQUE, *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


SETTINGS = IngestSettings(HistorySettings(), ("mp.weixin.qq.com",))


@pytest.fixture
def unix_sockets() -> None:
    """Let multiprocessing's forkserver use its Unix socket; TCP stays limited to 127.0.0.1."""
    socket_allow_hosts(["127.0.0.1", "localhost"], allow_unix_socket=True)


def fetched(source_id: str, path: str, content_type: str) -> Fetched:
    body = (GOV_ROOT / path).read_bytes()
    return Fetched(
        source_id,
        f"{BASE}/{path}",
        200,
        body,
        {"Content-Type": content_type},
        fetched_at="2024-07-26T08:00:00+00:00",
    )


def rows_of(db_path: Path, sql: str) -> list[tuple[str, str]]:
    db = sqlite_utils.Database(db_path)
    try:
        return [tuple(row) for row in db.execute(sql).fetchall()]
    finally:
        db.close()


@pytest.fixture
def archive_with_stale_text(tmp_path: Path) -> tuple[Path, Path, dict[str, Cleaned]]:
    """An archive of two real pages: the English one stored with an outdated text.

    Returns the config, the archive and what the current cleaner makes of each page.
    """
    config_path = write_sources(BASE, tmp_path / "sources.yaml", "mfa-en", "mfa-zh")
    sources = {source.id: source for source in load_config(config_path).sources}
    db_path = tmp_path / "archive.db"
    archive = Archive(db_path)
    archive.sync_sources([source.model_dump() for source in sources.values()])
    current: dict[str, Cleaned] = {}
    for source_id, path, content_type in (
        ("mfa-en", EN_PATH, EN_TYPE),
        ("mfa-zh", ZH_PATH, ZH_TYPE),
    ):
        page = fetched(source_id, path, content_type)
        cleaned = clean_page(page.body, page.url, content_type, hints_for(sources[source_id]))
        assert cleaned.status == "ok" and cleaned.text
        current[source_id] = cleaned
        stored = replace(cleaned, text=STALE_TEXT) if source_id == "mfa-en" else cleaned
        crawl_id = archive.start_crawl(source_id)
        assert archive.record_page(crawl_id, page, stored) == "new"
        archive.finish_crawl(crawl_id, "finished")
    archive.close()
    return config_path, db_path, current


@pytest.mark.slow
def test_reextract_makes_a_version_where_the_cleaner_now_differs_and_nothing_on_a_rerun(
    archive_with_stale_text: tuple[Path, Path, dict[str, Cleaned]],
) -> None:
    config_path, db_path, current = archive_with_stale_text
    args = ("reextract", "--config", str(config_path), "--db", str(db_path))

    first = communique(*args)

    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.strip() == ("2 statement(s) re-extracted: 1 changed, 1 unchanged, 0 failed")
    db = sqlite_utils.Database(db_path)
    statements = {row["source_id"]: row for row in db["statements"].rows}
    english = statements["mfa-en"]
    assert english["text"] == current["mfa-en"].text
    assert english["version_count"] == 2
    versions = list(
        db["versions"].rows_where("statement_id = ?", [english["id"]], order_by="version")
    )
    assert [v["text"] for v in versions] == [STALE_TEXT, current["mfa-en"].text]
    capture_id = db.execute(
        "select id from captures where statement_id = ?", [english["id"]]
    ).fetchone()[0]
    assert versions[1]["capture_id"] == capture_id  # the text came from the stored capture
    assert versions[1]["diff"] and versions[1]["chars_removed"]
    assert statements["mfa-zh"]["version_count"] == 1
    assert statements["mfa-zh"]["text"] == current["mfa-zh"].text
    db.close()

    second = communique(*args, "--progress")

    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.strip() == (
        "2 statement(s) re-extracted: 0 changed, 2 unchanged, 0 failed"
    )
    # Asked for (a terminal by default), the count ends where the summary begins.
    assert second.stderr.rsplit("\x1b[K", 1)[-1].startswith("reextract: 2/2 statements (100%), ")
    assert first.stderr == ""  # not a terminal, and under a minute: nothing to say
    db = sqlite_utils.Database(db_path)
    assert db["versions"].count == 3
    db.close()


@pytest.mark.slow
@pytest.mark.usefixtures("unix_sockets")
def test_reextract_of_one_source_leaves_the_others_alone(
    archive_with_stale_text: tuple[Path, Path, dict[str, Cleaned]],
) -> None:
    config_path, db_path, _ = archive_with_stale_text
    hints = {source.id: hints_for(source) for source in load_config(config_path).sources}

    result = reextract(db_path, SETTINGS, ["mfa-zh"], hints)

    assert (result.statements, result.changed, result.unchanged, result.failed) == (1, 0, 1, 0)
    db = sqlite_utils.Database(db_path)
    english = db.execute("select text from statements where source_id = 'mfa-en'").fetchone()
    assert english[0] == STALE_TEXT
    db.close()


@pytest.mark.slow
def test_reextract_on_a_missing_archive_is_a_usage_error(tmp_path: Path) -> None:
    config_path = write_sources(BASE, tmp_path / "sources.yaml", "mfa-en")
    result = communique(
        "reextract", "--config", str(config_path), "--db", str(tmp_path / "none.db")
    )
    assert result.returncode == 2
    assert "none.db" in result.stderr
    assert not (tmp_path / "none.db").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("unix_sockets")
def test_a_page_the_cleaner_fails_on_counts_as_failed_and_the_rest_goes_on(
    archive_with_stale_text: tuple[Path, Path, dict[str, Cleaned]],
) -> None:
    config_path, db_path, current = archive_with_stale_text
    hints = {source.id: hints_for(source) for source in load_config(config_path).sources}
    # A selector lxml cannot compile: the cleaner raises on every page of mfa-zh.
    hints["mfa-zh"] = Hints(issuer="外交部", body="div[[[")

    result = reextract(db_path, SETTINGS, [], hints)

    assert (result.statements, result.changed, result.unchanged, result.failed) == (2, 1, 0, 1)
    db = sqlite_utils.Database(db_path)
    texts = dict(db.execute("select source_id, text from statements").fetchall())
    assert texts == {"mfa-en": current["mfa-en"].text, "mfa-zh": current["mfa-zh"].text}
    db.close()


@pytest.mark.slow
@pytest.mark.usefixtures("unix_sockets")
def test_worker_death_fails_only_its_own_job_and_results_stay_in_order() -> None:
    # eval, a builtin, needs nothing imported in the workers: "os._exit" kills the worker
    # process as a crash in C code would, "int('x')" raises, the rest are values.
    kill, bad = "__import__('os')._exit(1)", "int('x')"
    jobs: list[tuple[int, tuple[str] | None]] = [
        (n, (kill if n == 3 else bad if n == 5 else f"{n} * 10",)) for n in range(8)
    ]
    jobs.append((99, None))

    results = list(map_in_workers(eval, jobs, workers=2))

    assert [key for key, _ in results] == [*range(8), 99]
    by_key = dict(results)
    assert isinstance(by_key[3], WorkerDied)
    assert isinstance(by_key[5], ValueError)
    assert by_key[99] is None
    assert {k: v for k, v in by_key.items() if k not in (3, 5, 99)} == {
        n: n * 10 for n in (0, 1, 2, 4, 6, 7)
    }


@pytest.mark.slow
@pytest.mark.usefixtures("unix_sockets")
def test_reextraction_does_not_count_as_seeing_the_statement_again(
    archive_with_stale_text: tuple[Path, Path, dict[str, Cleaned]],
) -> None:
    config_path, db_path, _ = archive_with_stale_text
    hints = {source.id: hints_for(source) for source in load_config(config_path).sources}
    sql = "select id, last_seen from statements order by id"
    before = rows_of(db_path, sql)

    assert reextract(db_path, SETTINGS, ["mfa-en"], hints).changed == 1

    assert rows_of(db_path, sql) == before
