"""Unattended crawls: `crawl --due`, one crawl at a time, resuming, source health, schedules."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from croniter import croniter

from archive.lock import archive_lock, lock_path
from tests.conftest import GOV_ROOT, write_sources
from tests.helpers import COMMUNIQUE, ROOT, communique
from tests.sites.server import SiteServer

pytestmark = pytest.mark.slow

LISTING = "mfa-zh/list/index.html"


def count(db_path: Path, sql: str) -> Any:
    db = sqlite_utils.Database(db_path)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SiteServer]:
    """A private copy of the fixture web that a test may change between crawls."""
    root = tmp_path / "site"
    shutil.copytree(GOV_ROOT, root)
    with SiteServer(root) as server:
        yield server


def config(site: SiteServer, tmp_path: Path, *ids: str, every: str = "6h", **crawl: Any) -> Path:
    path = write_sources(site.base_url, tmp_path / "sources.yaml", *ids, crawl=crawl or None)
    data = path.read_text(encoding="utf-8")
    # every source gets the same schedule
    data = data.replace("  kind: ", f"  every: {every}\n  kind: ")
    path.write_text(data, encoding="utf-8")
    return path


def requested(site: SiteServer, since: int) -> list[str]:
    return [p for p in site.requests[since:] if p != "/robots.txt"]


def test_second_due_run_fetches_only_what_is_due(site: SiteServer, tmp_path: Path) -> None:
    cfg = config(site, tmp_path, "mfa-en", "mss-atom")
    db = tmp_path / "archive.db"
    first = communique("crawl", "--due", "--config", str(cfg), "--db", str(db))
    assert first.returncode == 0, first.stderr[-2000:]
    assert count(db, "select count(*) from statements") == 9
    mark = len(site.requests)
    second = communique("crawl", "--due", "--config", str(cfg), "--db", str(db))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Nothing is due." in second.stdout
    assert requested(site, mark) == []
    # One statement due for a recheck: only that page is fetched, not its source's feed.
    sqlite_utils.Database(db).execute(
        "update statements set next_check = '2000-01-01' where id = "
        "(select id from statements where source_id = 'mss-atom' limit 1)"
    ).connection.commit()
    third = communique("crawl", "--due", "--config", str(cfg), "--db", str(db))
    assert third.returncode == 0, third.stderr[-2000:]
    fetched = requested(site, mark)
    assert len(fetched) == 1 and fetched[0].startswith("/mss/") and not fetched[0].endswith(".xml")


def test_listing_change_is_picked_up_and_unchanged_entry_pages_are_not_followed(
    site: SiteServer, tmp_path: Path
) -> None:
    cfg = config(site, tmp_path, "mfa-zh", every="1s")
    db = tmp_path / "archive.db"
    assert communique("crawl", "--due", "--config", str(cfg), "--db", str(db)).returncode == 0
    assert count(db, "select count(*) from statements") == 6
    time.sleep(1.1)
    mark = len(site.requests)
    assert communique("crawl", "--due", "--config", str(cfg), "--db", str(db)).returncode == 0
    assert requested(site, mark) == ["/mfa-zh/list/index.html"]  # unchanged: not followed
    # The ministry publishes a new statement at the top of its listing.
    root = Path(site.root)
    article = root / "mfa-zh/content/202407/t20240725_11200031.html"
    new_page = root / "mfa-zh/content/202408/t20240801_11300001.html"
    new_page.parent.mkdir(parents=True)
    text = article.read_bytes().replace(
        "埃斯特马克".encode("gb18030"), "北河流域".encode("gb18030")
    )
    text = text.replace("瓦尔加".encode("gb18030"), "新任外长".encode("gb18030"))
    new_page.write_bytes(text + "<!-- 新文章 -->".encode("gb18030"))
    listing = root / LISTING
    listing.write_bytes(
        listing.read_bytes().replace(
            b'<ul class="list">',
            b'<ul class="list">\n      <li><a href="../content/202408/t20240801_11300001.html">'
            + "新声明".encode("gb18030")
            + b"</a></li>",
        )
    )
    time.sleep(1.1)
    mark = len(site.requests)
    result = communique("crawl", "--due", "--config", str(cfg), "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "/mfa-zh/content/202408/t20240801_11300001.html" in requested(site, mark)
    assert count(db, "select count(*) from statements") == 7


def test_overlapping_run_is_refused_and_a_dead_runs_lock_is_taken_over(
    site: SiteServer, tmp_path: Path
) -> None:
    cfg = config(site, tmp_path, "mfa-en")
    db = tmp_path / "archive.db"
    with archive_lock(db):
        busy = communique("crawl", "--config", str(cfg), "--db", str(db))
    assert busy.returncode == 75
    assert busy.stderr.startswith(
        f"Error: {db}: another crawl is running (pid {os.getpid()}, started "
    )
    assert len(busy.stderr.strip().splitlines()) == 1
    assert count(db, "select count(*) from statements") == 0
    # A lock file left by a killed run holds no lock: the next crawl just takes it.
    lock_path(db).write_text("pid 999999, started 2020-01-01T00:00:00+00:00")
    result = communique("crawl", "--config", str(cfg), "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert count(db, "select count(*) from statements") == 5


def test_every_writer_refuses_while_another_process_holds_the_lock(
    site: SiteServer, tmp_path: Path
) -> None:
    cfg = config(site, tmp_path, "mfa-en")
    db = tmp_path / "archive.db"
    assert communique("crawl", "--config", str(cfg), "--db", str(db)).returncode == 0
    warc = tmp_path / "mfa-en.warc.gz"
    assert communique("warc", "export", "--db", str(db), "--out", str(warc)).returncode == 0
    before = count(db, "select count(*) from captures")
    with archive_lock(db):
        writers = {
            "warc import": communique(
                "warc",
                "import",
                str(warc),
                "--source",
                "mfa-en",
                "--config",
                str(cfg),
                "--db",
                str(db),
            ),
            "reextract": communique("reextract", "--config", str(cfg), "--db", str(db)),
            "add": communique(
                "add", f"{site.base_url}/mfa-en/index.html", "--config", str(cfg), "--db", str(db)
            ),
        }
        env = {**os.environ, "COMMUNIQUE_CONFIG": str(cfg), "COMMUNIQUE_DB": str(db)}
        scrapy = subprocess.run(
            [str(Path(sys.executable).parent / "scrapy"), "crawl", "mfa-en"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    for name, result in writers.items():
        assert result.returncode == 75, (name, result.stderr)
        assert "another crawl is running" in result.stderr, name
    # A Scrapy job (scrapy crawl, Scrapyd) closes without writing.
    assert "'finish_reason': 'archive_busy'" in scrapy.stderr, scrapy.stderr[-3000:]
    assert count(db, "select count(*) from captures") == before
    assert count(db, "select count(*) from crawls") == 1


def test_killed_crawl_resumes_with_nothing_lost_or_duplicated(
    site: SiteServer, tmp_path: Path
) -> None:
    # Slow enough that the kill lands mid-crawl even when a loaded machine starts the
    # cleaning pool late and its results arrive in a burst.
    cfg = config(site, tmp_path, download_delay=1.0, concurrent_requests_per_domain=1)
    db = tmp_path / "archive.db"
    process = subprocess.Popen(
        [COMMUNIQUE, "crawl", "--config", str(cfg), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its cleaning workers share the group, for cleanup
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            if db.exists() and count(db, "select count(*) from statements") >= 3:
                break
        except sqlite3.OperationalError:
            pass  # the crawl has created the file but not yet its tables
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # orphaned workers of the killed crawl
    partial = count(db, "select count(*) from statements")
    assert 3 <= partial < 23
    jobs = db.parent / "jobs" / "archive"
    assert any(jobs.iterdir())  # pending requests were saved
    result = communique("crawl", "--config", str(cfg), "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert count(db, "select count(*) from statements") == 23
    assert (
        count(
            db,
            "select count(*) from (select url from statement_urls group by url having count(*) > 1)",
        )
        == 0
    )
    assert count(db, "select count(distinct text_hash) from statements") == 23
    assert sqlite3.connect(db).execute("pragma integrity_check").fetchone()[0] == "ok"
    assert not any(jobs.iterdir())  # a finished crawl leaves no queue behind
    statuses = [r["status"] for r in sqlite_utils.Database(db).query("select status from crawls")]
    assert "interrupted" in statuses and "running" not in statuses


def test_changed_markup_flags_the_source_and_notifies(site: SiteServer, tmp_path: Path) -> None:
    cfg = config(site, tmp_path, "mfa-zh", every="1s")
    db = tmp_path / "archive.db"
    assert communique("crawl", "--config", str(cfg), "--db", str(db)).returncode == 0
    status = communique("sources", "status", "--config", str(cfg), "--db", str(db))
    assert status.returncode == 0 and "mfa-zh" in status.stdout and " ok " in status.stdout
    listing = Path(site.root) / LISTING
    listing.write_bytes(
        listing.read_bytes().replace(b'<ul class="list">', b'<ul class="news-items">')
    )
    notified = tmp_path / "notified.json"
    result = communique(
        "crawl",
        "--config",
        str(cfg),
        "--db",
        str(db),
        "--notify-command",
        f"cat > {notified}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "unhealthy: mfa-zh: " in result.stderr
    problem = json.loads(notified.read_text(encoding="utf-8"))
    assert problem["source_id"] == "mfa-zh"
    assert (
        "matched nothing" in problem["problem"] and "found no statement links" in problem["problem"]
    )
    status = communique("sources", "status", "--config", str(cfg), "--db", str(db))
    assert status.returncode == 1
    assert "unhealthy" in status.stdout and "matched nothing" in status.stdout


def test_systemd_units_and_cron_line_are_valid(tmp_path: Path) -> None:
    units = tmp_path / "units"
    result = communique(
        "schedule",
        "install",
        "--systemd",
        "--unit-dir",
        str(units),
        "--config",
        "config/demo/sources.yaml",
        "--db",
        str(tmp_path / "demo.db"),
    )
    assert result.returncode == 0, result.stderr
    service, timer = units / "communique-crawl-demo.service", units / "communique-crawl-demo.timer"
    assert "crawl --due" in service.read_text() and "OnCalendar=minutely" in timer.read_text()
    analyze = shutil.which("systemd-analyze")
    if analyze:
        verify = subprocess.run(
            [analyze, "verify", "--user", str(service), str(timer)],
            capture_output=True,
            text=True,
            check=False,
        )
        problems = [
            line
            for line in verify.stderr.splitlines()
            if str(units) in line or "communique" in line
        ]
        assert problems == [], verify.stderr
    line = communique("schedule", "install", "--cron", "--print").stdout.strip()
    fields = line.split()
    assert croniter.is_valid(" ".join(fields[:5]))
    assert "crawl --due" in line and "--log-file" in line and line.count("# communique") == 1
