"""The fault matrix, operator side: kills, full disks, bad archives, serving while crawling,
bad configs, and a cleaning worker that dies. Crawls run the real `communique` CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from archive.clean import Cleaned, Hints, clean_page
from archive.fetched import Fetched
from archive.store import HistorySettings
from communique.config import Source
from tests.helpers import COMMUNIQUE, communique, free_port, get, wait_until_up
from tests.sites.faulty import FaultyServer, page, slow, statement_html

pytestmark = pytest.mark.slow

CRAWL = {
    "download_delay": 0,
    "retry_backoff": 0.1,
    "timeout": 2,
    "retries": 1,
    "concurrent_requests_per_domain": 1,
}
STABLE = (
    "id, source_id, url, title, issuer, published, language, text, text_hash, status, "
    "first_seen, version_count"
)
CRASH_MARKER = b"CRASH-THE-CLEANER"


def words(seed: int, count: int) -> str:
    """Text that is different for every seed and does not compress away."""
    vocabulary = [
        "flood",
        "relief",
        "ministry",
        "river",
        "province",
        "statement",
        "council",
        "water",
        "notice",
        "aid",
    ]
    state = seed * 2654435761 % 2**32
    out = []
    for _ in range(count):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(vocabulary[state % len(vocabulary)] + str(state % 997))
    return " ".join(out)


def statement(source: str, n: int, size: int = 40) -> bytes:
    return statement_html(
        f"{source} statement {n}", words(zlib.crc32(f"{source}/{n}".encode()), size)
    ).encode()


def add_source(
    server: FaultyServer, source: str, count: int, *, delay: float = 0.0, size: int = 40
) -> list[str]:
    """`count` statement pages under /source/; slow by `delay` s while the server is faulty."""
    urls = []
    for n in range(count):
        path = f"/{source}/{n}.html"
        body = statement(source, n, size)
        server.route(path, page(body), slow(delay, page(body)) if delay else None)
        urls.append(server.url(path))
    return urls


def write_config(path: Path, sources: dict[str, list[str]], **crawl: Any) -> Path:
    entries = [
        {"id": source, "name": source, "issuer": "Ministry of Tests", "kind": "urls", "urls": urls}
        for source, urls in sources.items()
    ]
    data = {"crawl": {**CRAWL, **crawl}, "sources": entries}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def query(db: Path, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return list(c.execute(sql, params))


def statements(db: Path) -> dict[str, tuple[Any, ...]]:
    return {row[2]: row for row in query(db, f"select {STABLE} from statements")}


def integrity(db: Path) -> str:
    return str(query(db, "pragma integrity_check")[0][0])


@pytest.fixture
def server() -> Iterator[FaultyServer]:
    with FaultyServer() as running:
        yield running


# -- SIGKILL mid-crawl ----------------------------------------------------------------------


def test_sigkill_mid_crawl_loses_nothing_and_rerun_duplicates_nothing(
    server: FaultyServer, tmp_path: Path
) -> None:
    # Fails if a page were not written in one transaction (a statement without its
    # version or URL row after the kill), or if the rerun made duplicates.
    urls = add_source(server, "slow", 10, delay=0.3)
    config = write_config(tmp_path / "sources.yaml", {"slow": urls})
    db = tmp_path / "archive.db"
    server.faulty = True
    process = subprocess.Popen(
        [COMMUNIQUE, "crawl", "--config", str(config), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its cleaning workers share the group, for cleanup
    )
    try:
        deadline = time.monotonic() + 60
        archived = 0
        while archived < 3 and time.monotonic() < deadline:
            assert process.poll() is None, "the crawl finished before it could be killed"
            time.sleep(0.05)
            with contextlib.suppress(sqlite3.Error):
                archived = query(db, "select count(*) from statements")[0][0]
        assert archived >= 3
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # orphaned workers of the killed crawl
    assert integrity(db) == "ok"
    survived = statements(db)
    assert 3 <= len(survived) < 10
    # Every statement that made it is whole: its version and its URL were committed with it.
    assert query(db, "select count(*) from versions")[0][0] == len(survived)
    assert query(db, "select count(*) from statement_urls")[0][0] == len(survived)

    server.faulty = False
    rerun = communique("crawl", "--config", str(config), "--db", str(db))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert integrity(db) == "ok"
    after = statements(db)
    assert sorted(after) == sorted(urls)  # all ten, each once
    assert query(db, "select count(*) from statements")[0][0] == 10
    assert query(db, "select count(*) from versions")[0][0] == 10
    assert {url: after[url] for url in survived} == survived  # nothing lost or changed


# -- disk full ------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path`: a disk that really fills up (needs root).

    PRAGMA max_page_count cannot stand in for it: it is a per-connection setting, not
    stored in the file, so the crawl's own connection would never see it.
    """
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a small tmpfs as a full disk")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Fill the disk until only about `leave` bytes are free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with (disk / "filler").open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def test_disk_full_is_one_clear_error_and_the_archive_stays_intact(
    server: FaultyServer, tmp_path: Path
) -> None:
    first = add_source(server, "first", 2)
    # Pages of ~20 KB of text each: versions, FTS and bodies soon fill the last 100 KB.
    more = add_source(server, "more", 30, size=2500)
    config = write_config(tmp_path / "sources.yaml", {"first": first, "more": more})
    with small_disk(tmp_path / "disk", "8m") as disk:
        db = disk / "archive.db"
        clean = communique("crawl", "--config", str(config), "--db", str(db), "--source", "first")
        assert clean.returncode == 0, clean.stderr[-3000:]
        before = statements(db)
        fill(disk, leave=100_000)
        full = communique("crawl", "--config", str(config), "--db", str(db), "--source", "more")
        (disk / "filler").unlink()
        assert integrity(db) == "ok"
        assert {url: row for url, row in statements(db).items() if url in before} == before
        assert "Traceback" not in full.stderr, full.stderr[-3000:]
        errors = [line for line in full.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "full" in errors[0], full.stderr[-3000:]
        assert full.returncode != 0


# -- unusable archives ----------------------------------------------------------------------


def test_truncated_archive_exits_2_and_is_untouched(server: FaultyServer, tmp_path: Path) -> None:
    # The garbage and foreign-database cases are in tests/test_crawl.py.
    urls = add_source(server, "trunc", 6, size=300)
    config = write_config(tmp_path / "sources.yaml", {"trunc": urls})
    db = tmp_path / "archive.db"
    assert communique("crawl", "--config", str(config), "--db", str(db)).returncode == 0
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    before = db.read_bytes()
    result = communique("crawl", "--config", str(config), "--db", str(db))
    assert db.read_bytes() == before
    assert result.returncode == 2, result.stderr[-3000:]
    assert str(db) in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- serve while a crawl writes -------------------------------------------------------------


def test_serve_keeps_answering_while_a_crawl_writes(server: FaultyServer, tmp_path: Path) -> None:
    # Fails if serving locked the archive (the crawl's writes would time out) or if the
    # server held a stale snapshot (new statements missing after the crawl).
    first = add_source(server, "first", 2)
    later = add_source(server, "later", 6, delay=0.3)
    config = write_config(tmp_path / "sources.yaml", {"first": first, "later": later})
    db = tmp_path / "archive.db"
    clean = communique("crawl", "--config", str(config), "--db", str(db), "--source", "first")
    assert clean.returncode == 0, clean.stderr[-3000:]
    port = free_port()
    serving = subprocess.Popen(
        [COMMUNIQUE, "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    path = "/archive/statements.json?_shape=array&_size=max"
    try:
        wait_until_up(base, serving)
        server.faulty = True
        crawling = subprocess.Popen(
            [COMMUNIQUE, "crawl", "--config", str(config), "--db", str(db), "--source", "later"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen_during = []
        while crawling.poll() is None:
            response = get(base, path)
            assert response.status == 200
            seen_during.append(len(response.json()))
            time.sleep(0.2)
        _, stderr = crawling.communicate()
        assert crawling.returncode == 0, stderr[-3000:]
        assert len(seen_during) >= 3 and min(seen_during) >= 2
        after = get(base, path)
        assert after.status == 200
        assert {row["url"] for row in after.json()} == set(first + later)
        assert serving.poll() is None
    finally:
        serving.terminate()
        serving.wait(timeout=30)


# -- config faults at the CLI ---------------------------------------------------------------


GOOD_SOURCE = """  - id: a
    name: A
    issuer: Ministry
    kind: urls
    urls: [http://127.0.0.1:9/a.html]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - id: a\n\tname: A\n", "line 3: invalid YAML"),
        (
            f"sources:\n{GOOD_SOURCE}    colour: red\n",
            "sources[0] (a): colour: unknown key (line 7)",
        ),
        (f"sources:\n{GOOD_SOURCE}{GOOD_SOURCE}", "sources[1] (a): id: duplicate of sources[0]"),
        (
            "sources:\n  - id: l\n    name: L\n    issuer: M\n    kind: listing\n"
            "    start_urls: [http://127.0.0.1:9/]\n    article_links: 'ul >> a'\n",
            "sources[0] (l): article_links: not a valid CSS selector",
        ),
    ],
    ids=["bad-yaml", "unknown-key", "duplicate-id", "invalid-selector"],
)
def test_config_fault_is_one_line_exit_2_before_any_crawl(
    tmp_path: Path, text: str, expected: str
) -> None:
    # Fails if `crawl` let a ConfigError escape as a traceback or started crawling.
    config = tmp_path / "sources.yaml"
    config.write_text(text, encoding="utf-8")
    db = tmp_path / "archive.db"
    result = communique("crawl", "--config", str(config), "--db", str(db))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {config}: ") and expected in line, line
    assert not db.exists()


# -- a cleaning worker that dies ------------------------------------------------------------


def crash_or_clean(
    body: bytes, url: str, content_type: str | None = None, hints: Hints | None = None
) -> Cleaned:
    """Run in the cleaning worker in place of clean_page: dies on the marker page."""
    if CRASH_MARKER in body:
        os._exit(70)  # what a segfault in lxml would look like to the pool
    return clean_page(body, url, content_type, hints)


@pytest.mark.enable_socket  # the process pool's forkserver talks over a Unix socket
def test_a_dead_cleaning_worker_is_recorded_and_the_crawl_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-process: no page makes the real cleaner crash, so the worker's function is
    # swapped for one that exits on a marker (workers import it by name from this module).
    from crawler import pipelines

    monkeypatch.setattr(pipelines, "clean_page", crash_or_clean)
    monkeypatch.setattr(pipelines, "_pool", None)
    source = Source(id="crash", name="Crash", issuer="M", kind="urls", urls=["http://127.0.0.1:9/"])
    stats: dict[str, Any] = {}
    settings = {"COMMUNIQUE_DB": str(tmp_path / "archive.db")}
    crawler = SimpleNamespace(
        settings=SimpleNamespace(
            get=settings.get, getint=lambda key: 1, getlist=lambda key: ["mp.weixin.qq.com"]
        ),
        spider=SimpleNamespace(name="crash", source=source, history=HistorySettings()),
        stats=SimpleNamespace(
            set_value=stats.__setitem__,
            inc_value=lambda key: stats.__setitem__(key, stats.get(key, 0) + 1),
            get_value=stats.get,
        ),
    )
    pipeline = pipelines.ArchivePipeline(crawler)  # type: ignore[arg-type]
    pipeline.open_spider()

    def item(name: str, body: bytes) -> Any:
        url = f"http://127.0.0.1:9/{name}.html"
        return Fetched("crash", url, 200, body, {"Content-Type": "text/html"})

    async def run() -> None:
        await pipeline.process_item(item("dies", statement("crash", 0) + CRASH_MARKER))
        await pipeline.process_item(item("lives", statement("crash", 1)))

    try:
        asyncio.run(run())
    finally:
        pipeline.spider_closed(crawler.spider, "finished")
        if pipelines._pool is not None:
            pipelines._pool.shutdown(cancel_futures=True)
    db = tmp_path / "archive.db"
    errors = query(db, "select url, reason from crawl_errors")
    assert [url for url, _ in errors] == ["http://127.0.0.1:9/dies.html"]
    assert "clean" in errors[0][1].lower()
    assert [row[0] for row in query(db, "select url from statements")] == [
        "http://127.0.0.1:9/lives.html"
    ]
