"""Crawls on several machines: `communique crawl --frontier` (seeder and writer) and
`communique worker`s sharing a real redis-server, against the fixture government web.

What a user would notice: the archive two workers and a writer leave is the one a single
machine leaves; each page is fetched once; killing a worker or the writer loses nothing
and records nothing twice; a dead Redis is one line and an intact archive; a stranger with
access to Redis cannot make the writer rewrite a source's record or a worker run code.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import re
import signal
import sqlite3
import subprocess
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import redis

from archive.cleaned import Cleaned
from archive.fetched import Fetched
from archive.links.features import features
from archive.statuses import DELIVERED_BEFORE, NEW
from communique.config import Source
from crawler import frontier
from crawler.results import BadResult, Result, decode, encode
from tests.builders import crawl as build_crawl
from tests.conftest import write_sources
from tests.helpers import COMMUNIQUE, communique, rows
from tests.redis_server import RedisServer, closed_port_url
from tests.sites.server import SiteServer

# No retry waits: the fixture site answers at once, and errors should be recorded at once.
CRAWL = {"retries": 0, "timeout": 10}
TIMEOUT_S = 150.0


# Three of the demo sources: a paginated listing, a sitemap index, URLs seeded directly.
SOME = ("mfa-zh", "embassy-sitemap", "cac-urls")


def config_file(base_url: str, path: Path, *ids: str, **crawl: Any) -> Path:
    return write_sources(base_url, path, *ids, crawl={**CRAWL, **crawl})


# -- what an archive holds, in terms that do not depend on the order pages arrived in -------


def snapshot(db: Path, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the archive holds; with `only`, of those sources alone."""
    captures = rows(
        db, "select source_id, canonical_url, http_status, status, outcome from captures"
    )
    kept = {
        name: [
            row
            for row in value
            if not only
            or {row.get("source_id", row.get("id")), row.get("other_source")} <= {*only, None}
        ]
        if name not in ("captures", "outcomes")
        else [item for item in value if not only or item[0][0] in only]
        for name, value in _snapshot(db, captures).items()
    }
    return kept


def _snapshot(db: Path, captures: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "statements": rows(
            db,
            "select source_id, title, text_hash, status, status_reason, version_count, "
            "capture_count, published, issuer, language from statements order by 1, 3, 2",
        ),
        "urls": rows(
            db,
            "select u.url, u.source_id, s.text_hash from statement_urls u "
            "join statements s on s.id = u.statement_id order by 1",
        ),
        "versions": rows(
            db,
            "select s.source_id, s.text_hash, v.version, v.title, v.text_hash as version_hash "
            "from versions v join statements s on s.id = v.statement_id order by 1, 2, 3",
        ),
        # A page listed twice with the same body is new at one URL and unchanged at the
        # other, whichever came first: outcomes are compared per source, not per URL.
        "captures": sorted(Counter(tuple(c[k] for k in list(c)[:4]) for c in captures).items()),
        "outcomes": sorted(Counter((c["source_id"], c["outcome"]) for c in captures).items()),
        "errors": rows(
            db, "select source_id, url, reason, http_status from crawl_errors order by 1, 2, 3"
        ),
        "health": rows(db, "select id, health, health_reason from sources order by 1"),
        # Linked across languages as one machine links them, whatever order results came in.
        "links": rows(
            db,
            "select o.source_id, o.text_hash, t.source_id as other_source, t.text_hash as other, "
            "r.relation, r.similarity, "
            "r.evidence from related r join statements o on o.id = r.statement_id "
            "join statements t on t.id = r.related_id "
            "where r.relation in ('translation', 'report') order by 1, 2, 3",
        ),
        # Each page kept as it came: its stored gzip (a worker's own bytes) inflates to it.
        "bodies": [
            {**row, "body_gz": None, "intact": _inflates_to(row["body_gz"], row["sha256"])}
            for row in rows(
                db,
                "select c.source_id, c.canonical_url, b.sha256, b.size, b.body_gz "
                "from captures c join bodies b on b.sha256 = c.body_sha256 order by 1, 2, 3",
            )
        ],
    }


def _inflates_to(packed: bytes, digest: str) -> bool:
    return hashlib.sha256(gzip.decompress(packed)).hexdigest() == digest


def last_crawls(db: Path, only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    found = rows(
        db,
        "select source_id, status, pages_fetched, statements_new, statements_changed, "
        "statements_unchanged, errors, links_found from crawls "
        "where id in (select max(id) from crawls group by source_id) order by 1",
    )
    return [row for row in found if not only or row["source_id"] in only]


def page_hits(site: SiteServer) -> Counter[str]:
    return Counter(path for path in site.requests if path != "/robots.txt")


@dataclass
class Baseline:
    snapshot: dict[str, Any]
    crawls: list[dict[str, Any]]
    hits: Counter[str]
    db: Path


def snapshot_of(baseline: Baseline, only: tuple[str, ...]) -> dict[str, Any]:
    return snapshot(baseline.db, only)


@pytest.fixture(scope="module")
def baseline(gov_site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """The demo sources crawled on one machine, as `communique crawl` does."""
    folder = tmp_path_factory.mktemp("one-machine")
    config = config_file(gov_site.base_url, folder / "sources.yaml")
    gov_site.clear_requests()
    result = communique("crawl", "--config", str(config), "--db", str(folder / "one.db"))
    assert result.returncode == 0, result.stderr
    db = folder / "one.db"
    return Baseline(snapshot(db), last_crawls(db), page_hits(gov_site), db)


# -- running the machines ---------------------------------------------------------------------


class Machines:
    """The processes of a crawl on several machines, all on this one, logs in a folder."""

    def __init__(self, folder: Path, url: str, config: Path) -> None:
        self.folder = folder
        self.url = url
        self.config = config
        self.redis = redis.Redis.from_url(url)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen([COMMUNIQUE, *args], stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def writer(self, db: Path, name: str = "writer", *extra: str) -> subprocess.Popen[bytes]:
        args = ["crawl", "--frontier", self.url, "--config", str(self.config), "--db", str(db)]
        return self.start(name, *args, *extra)

    def worker(
        self, name: str, until_idle: float = 1.5, reclaim_after: float = 2
    ) -> subprocess.Popen[bytes]:
        return self.start(
            name,
            "worker",
            "--frontier", self.url,
            "--config", str(self.config),
            "--name", name,
            "--until-idle", str(until_idle),
            "--reclaim-after", str(reclaim_after),
        )  # fmt: skip

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-4000:]}" for name in self.processes)

    def wait(self, name: str, timeout: float = TIMEOUT_S) -> int:
        try:
            return self.processes[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} did not exit in {timeout}s\n{self.logs()}") from None

    def until(self, what: str, condition: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            for name, process in self.processes.items():
                if process.poll() not in (None, 0, -9):
                    raise AssertionError(f"{name} failed while waiting for {what}\n{self.logs()}")
            time.sleep(0.05)

    def seeded(self) -> bool:
        return self.redis.hget(frontier.RUN, "seeded") == b"1"

    def held_by(self, worker: str) -> int:
        return frontier.status(self.redis, self.url).held_by.get(worker, 0)

    def paths_held_by(self, worker: str) -> set[str]:
        """The pages (path and query, as the site logs them) a worker's requests ask for."""
        run = frontier.current_run(self.redis)
        paths = set()
        for source in run.sources if run else ():
            key = frontier.requests_key(source)
            pending: Any = self.redis.xpending_range(
                key, frontier.WORKERS_GROUP, "-", "+", 10_000, consumername=worker
            )
            for held in pending:
                for _, fields in self.redis.xrange(key, held["message_id"], held["message_id"]):
                    parts = urlsplit(json.loads(fields[b"request"])["url"])
                    paths.add(parts.path + (f"?{parts.query}" if parts.query else ""))
        return paths

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@contextmanager
def machines(folder: Path, url: str, config: Path) -> Iterator[Machines]:
    running = Machines(folder, url, config)
    try:
        yield running
    finally:
        running.stop_all()


def captures(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return int(rows(db, "select count(*) as n from captures")[0]["n"])
    except Exception:  # the writer is creating it
        return 0


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_workers_and_a_writer_archive_what_one_machine_does(
    baseline: Baseline, gov_site: SiteServer, frontier_url: str, tmp_path: Path
) -> None:
    config = config_file(gov_site.base_url, tmp_path / "sources.yaml")
    db = tmp_path / "many.db"
    gov_site.clear_requests()
    with machines(tmp_path, frontier_url, config) as m:
        m.writer(db)
        m.until("the seeding", m.seeded)
        m.worker("a")
        m.worker("b")
        assert m.wait("writer") == 0, m.logs()
        assert m.wait("a") == 0, m.logs()
        assert m.wait("b") == 0, m.logs()
        summary = m.log("writer")
    assert snapshot(db) == baseline.snapshot
    assert last_crawls(db) == baseline.crawls
    # Every page once, across both workers (robots.txt is each crawler's own).
    hits = page_hits(gov_site)
    assert {path: n for path, n in hits.items() if n > 1} == {}
    assert set(hits) == set(baseline.hits)
    assert "/private/secret.html" not in hits
    # The worker's fetch errors reached the archive as crawl_errors rows.
    reasons = {row["reason"] for row in rows(db, "select reason from crawl_errors")}
    assert {"HTTP 404", "Forbidden by robots.txt"} <= reasons
    assert "5 source(s) crawled into" in summary
    assert "linked across languages again, in date order" in summary  # a first run (relink.py)
    # The run is gone from Redis: nothing of it carries into the next one.
    assert redis.Redis.from_url(frontier_url).keys(f"{frontier.PREFIX}:*:requests") == []
    assert not redis.Redis.from_url(frontier_url).exists(frontier.RUN)


@pytest.mark.slow
def test_workers_killed_or_stopped_mid_crawl_lose_nothing(
    baseline: Baseline, gov_site: SiteServer, frontier_url: str, tmp_path: Path
) -> None:
    # Spaced requests (the shared per-host throttle) keep the crawl going for seconds.
    config = config_file(gov_site.base_url, tmp_path / "sources.yaml", *SOME, download_delay=0.3)
    db = tmp_path / "many.db"
    gov_site.clear_requests()
    with machines(tmp_path, frontier_url, config) as m:
        m.writer(db)
        m.until("the seeding", m.seeded)
        a = m.worker("a")
        m.until("worker a to hold requests", lambda: m.held_by("a") > 0)
        a.send_signal(signal.SIGKILL)
        assert m.wait("a") == -signal.SIGKILL
        assert m.held_by("a") > 0  # left pending in the frontier, not lost
        held_by_a = m.paths_held_by("a")
        b = m.worker("b")
        m.until("worker b to hold requests", lambda: m.held_by("b") > 0)
        b.send_signal(signal.SIGTERM)
        assert m.wait("b") == 0, m.log("b")  # finished what it held, then stopped
        assert m.held_by("b") == 0
        assert "finishing the requests in flight" in m.log("b")
        m.worker("c")
        assert m.wait("writer") == 0, m.logs()
        assert m.wait("c") == 0, m.logs()
        assert "a stopped worker held" in m.log("b") + m.log("c")  # a's, taken over
    assert snapshot(db) == snapshot_of(baseline, SOME)
    assert last_crawls(db) == [row for row in baseline.crawls if row["source_id"] in SOME]
    # Each page fetched once across the three workers; only what the killed worker held
    # (and may have fetched before it died) a second time, by the worker that took it over.
    hits = page_hits(gov_site)
    assert set(hits) <= set(baseline.hits)
    twice = {path: n for path, n in hits.items() if n > 1}
    assert set(twice) <= held_by_a, (twice, held_by_a)
    assert max(hits.values()) <= 2, hits


@pytest.mark.slow
def test_the_writer_killed_mid_crawl_loses_nothing_and_records_nothing_twice(
    baseline: Baseline, gov_site: SiteServer, frontier_url: str, tmp_path: Path
) -> None:
    config = config_file(gov_site.base_url, tmp_path / "sources.yaml", *SOME, download_delay=0.2)
    db = tmp_path / "many.db"
    gov_site.clear_requests()
    with machines(tmp_path, frontier_url, config) as m:
        writer = m.writer(db, "writer-1")
        m.until("the seeding", m.seeded)
        m.worker("a", until_idle=30)
        m.until("a few pages in the archive", lambda: captures(db) >= 4)
        writer.send_signal(signal.SIGKILL)
        assert m.wait("writer-1") == -signal.SIGKILL
        m.writer(db, "writer-2")
        assert m.wait("writer-2") == 0, m.logs()
        assert "resuming run" in m.log("writer-2")
    assert snapshot(db) == snapshot_of(baseline, SOME)
    interrupted = rows(db, "select count(*) as n from crawls where status = 'interrupted'")
    assert interrupted[0]["n"] == len(SOME)  # the killed writer's crawl rows, one per source
    # The restarted writer's seeding fetched nothing again: every page once in the run.
    hits = page_hits(gov_site)
    assert {path: n for path, n in hits.items() if n > 1} == {}
    assert set(hits) <= set(baseline.hits)


def test_redis_unreachable_is_one_line_and_leaves_the_archive_alone(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    db = tmp_path / "archive.db"
    with build_crawl(db) as c:
        c.statement("https://gov-en.example/a", "A statement", "Its text.")
    before = db.read_bytes()
    config = str(make_config("mfa-en"))
    url = closed_port_url()
    commands = [
        ["crawl", "--frontier", url, "--config", config, "--db", str(db)],
        ["worker", "--frontier", url, "--config", config],
        ["frontier", "status", "--frontier", url],
        ["frontier", "clear", "--frontier", url, "--yes"],
    ]
    for command in commands:
        result = communique(*command, timeout=60)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1, (command, result.stderr)
        assert len(lines) == 1, (command, result.stderr)
        assert url in lines[0] and "does not answer" in lines[0], lines[0]
    assert db.read_bytes() == before
    result = communique(
        "crawl", "--frontier", "http://127.0.0.1:1/", "--config", config, "--db", str(db)
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: http://127.0.0.1:1/: not a Redis URL (expected redis://HOST:PORT/DB, "
        "rediss://… or unix://PATH)"
    ]
    assert db.read_bytes() == before


def test_frontier_status_and_clear(frontier_url: str) -> None:
    result = communique("frontier", "status", "--frontier", frontier_url)
    assert result.returncode == 0, result.stderr
    assert "no run in progress" in result.stdout
    server = redis.Redis.from_url(frontier_url)
    run, resumed = frontier.open_run(server, "/somewhere/archive.db", ["mfa-en", "mfa-zh"])
    assert not resumed
    server.xadd(frontier.requests_key("mfa-en"), {"request": b"{}", "run": run.id})
    server.sadd(frontier.dupefilter_key("mfa-en"), "f1", "f2")
    server.xreadgroup(frontier.WORKERS_GROUP, "worker-x", {frontier.requests_key("mfa-en"): ">"})
    server.xadd(frontier.requests_key("mfa-zh"), {"request": b"{}", "run": run.id})
    frontier.heartbeat(server, "worker-x")
    result = communique("frontier", "status", "--frontier", frontier_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"run {run.id}" in lines[0] and "/somewhere/archive.db" in lines[0]
    table = {line.split()[0]: line.split()[1:] for line in lines[2:4]}
    assert table == {"mfa-en": ["0", "1", "2", "0"], "mfa-zh": ["1", "0", "0", "0"]}
    assert "held by worker-x: 1" in result.stdout
    assert "results waiting for the writer: 0" in result.stdout
    assert "workers seen in the last minute: 1: worker-x" in result.stdout
    result = communique("frontier", "clear", "--frontier", frontier_url, "--yes")
    assert result.returncode == 0, result.stderr
    assert server.keys(f"{frontier.PREFIX}:*") == []
    # Another archive's writer will not take over a run it did not start.
    frontier.open_run(server, "/somewhere/archive.db", ["mfa-en"])
    with pytest.raises(frontier.FrontierError, match="another archive"):
        frontier.open_run(server, "/elsewhere/other.db", ["mfa-en"])


# -- hostile input: results and requests pushed by anyone with access to Redis ----------------


def _result(run: str, source: str, url: str, text: str, key: str, links: int = 0) -> dict[str, Any]:
    page = Fetched(
        source, url, 200, f"<h1>{text}</h1><p>{text}</p>".encode(), {"Content-Type": "text/html"}
    )
    cleaned = Cleaned(status="ok", url=url, title=text, text=f"{text} " * 20, language="en")
    return encode(Result(f"{run}/{source}:{key}/0", run, page, cleaned, None, links, "intruder"))


@pytest.mark.slow
def test_hostile_results_and_requests_rewrite_nothing_and_run_nothing(
    gov_site: SiteServer, frontier_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    base = gov_site.base_url
    local = base.replace("127.0.0.1", "localhost")
    beta_url = f"{base}/cac/2024-07/30/c_1723905478218641.htm"
    alpha_urls = [
        f"{local}/cac/2024-07/12/c_1722483160718842.htm",
        f"{local}/mss/en/notices/202408/t20240801_3001.html",
    ]
    sources = [
        {"id": "alpha", "name": "Alpha", "issuer": "Alpha", "kind": "urls",
         "urls": alpha_urls[:1], "allowed_domains": ["localhost"]},
        {"id": "beta", "name": "Beta", "issuer": "Beta", "kind": "urls",
         "urls": [beta_url], "allowed_domains": ["127.0.0.1"]},
    ]  # fmt: skip
    config = tmp_path / "sources.yaml"
    config.write_text(json.dumps({"crawl": {**CRAWL, "download_delay": 0}, "sources": sources}))
    db = tmp_path / "archive.db"
    # Beta's statement is in the archive already.
    with build_crawl(db, Source.model_validate(sources[1])) as c:
        c.statement(beta_url, "Beta's statement", "What beta said. " * 20)
    beta_before = rows(db, "select * from statements where source_id = 'beta'")
    assert len(beta_before) == 1
    marker = tmp_path / "pwned"
    gov_site.clear_requests()
    with machines(tmp_path, frontier_url, config) as m:
        m.writer(db, "writer", "--source", "alpha")
        m.until("the seeding", m.seeded)
        run = m.redis.hget(frontier.RUN, "id").decode()
        push = lambda fields: m.redis.xadd(frontier.RESULTS, fields)  # noqa: E731
        # Alpha claiming beta's page; beta (not in this run) claiming its own page.
        push(_result(run, "alpha", beta_url, "HOSTILE ALPHA", "1-0"))
        push(_result(run, "beta", beta_url, "HOSTILE BETA", "2-0"))
        # Not a result at all; an unknown source; a body that inflates past max_page_bytes.
        push({"meta": b"\x80not json", "body": b"", "signature": b""})
        push(_result(run, "nosuch", alpha_urls[0], "HOSTILE", "3-0"))
        bomb = _result(run, "alpha", alpha_urls[1], "BOMB", "4-0")
        bomb["body"] = gzip.compress(b"\0" * 20_000_000, 9)
        push(bomb)
        # A result delivered twice (a writer restarted before acknowledging it): one capture.
        # (It says it found 2 statement links, counted once.)
        twice = _result(run, "alpha", alpha_urls[1], "DELIVERED TWICE", "5-0", links=2)
        push(twice)
        push(twice)
        # Requests a stranger slips into alpha's queue: a pickle that would run a command,
        # a request class and a callback of their choosing, a page off alpha's domains.
        queue = frontier.requests_key("alpha")
        evil = pickle.dumps(_Touch(str(marker)))
        m.redis.xadd(queue, {"request": evil, "run": run})
        m.redis.xadd(
            queue,
            {
                "request": json.dumps(
                    {"url": alpha_urls[0], "_class": "subprocess.Popen", "callback": "closed"}
                ),
                "run": run,
            },
        )
        off_site = {
            "url": beta_url,
            "callback": "parse_statement",
            "errback": "on_error",
            "meta": {},
        }
        m.redis.xadd(queue, {"request": json.dumps(off_site), "run": run})
        # …and alpha's own page, through a proxy of their choosing.
        proxied = {**off_site, "url": alpha_urls[0], "meta": {"proxy": "http://127.0.0.1:9"}}
        m.redis.xadd(queue, {"request": json.dumps(proxied), "run": run})
        m.worker("a")
        assert m.wait("writer") == 0, m.logs()
        assert m.wait("a") == 0, m.logs()
        logs = m.logs()
    assert not marker.exists()
    assert "dropped frontier entry" in logs
    # Beta's record is as it was; nothing was fetched from beta's host for alpha.
    assert rows(db, "select * from statements where source_id = 'beta'") == beta_before
    assert rows(db, "select count(*) as n from captures where source_id = 'beta'")[0]["n"] == 1
    assert not any("c_1723905478218641" in path for path in gov_site.requests)
    # Alpha got its page, the result delivered twice once, and the rejections as errors.
    alpha = rows(
        db,
        "select title, version_count, capture_count from statements where source_id = 'alpha' order by title",
    )
    assert [row["version_count"] for row in alpha] == [1, 1]
    assert "DELIVERED TWICE" in [row["title"] for row in alpha]
    # 1 link: alpha's URL, counted at seeding; 2: the result delivered twice, counted once.
    assert last_crawls(db, ("alpha",))[0]["links_found"] == 3
    errors = [
        row["reason"]
        for row in rows(db, "select reason from crawl_errors where source_id = 'alpha'")
    ]
    assert any(
        "rejected a result from intruder" in e and "outside alpha's allowed domains" in e
        for e in errors
    ), errors
    assert any("larger than max_page_bytes" in e for e in errors), errors
    assert not any("refused" in e.lower() for e in errors), errors  # the proxy was not used
    assert not rows(db, "select * from statements where title like 'HOSTILE%' or title = 'BOMB'")
    assert "source 'nosuch' is not crawled in this run" in logs
    assert "source 'beta' is not crawled in this run" in logs


class _Touch:
    """Unpickling this runs `touch PATH`: what a pickled request from a stranger could do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


# -- the parts, in this process -----------------------------------------------------------------


def test_a_result_delivered_again_is_recorded_once(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    page = Fetched(
        "gov-en", "https://gov-en.example/a", 200, b"<h1>A</h1>", {"Content-Type": "text/html"}
    )
    cleaned = Cleaned(status="ok", url=page.url, title="A", text="The text of A. " * 10)
    from archive.ingest import ingest

    with build_crawl(db) as c:
        assert ingest(c.session, page, cleaned, delivery="run/gov-en:1-0/0") == NEW
        assert ingest(c.session, page, cleaned, delivery="run/gov-en:1-0/0") == DELIVERED_BEFORE
    assert rows(db, "select count(*) as n from captures")[0]["n"] == 1


def test_results_are_read_back_strictly() -> None:
    page = Fetched("alpha", "https://a.example/1", 200, b"<p>hi</p>", {"Content-Type": "text/html"})
    good = encode(Result("r/alpha:1-0/0", "r", page, None, None, 3, "w"))
    message = {
        key.encode(): value.encode() if isinstance(value, str) else value
        for key, value in good.items()
    }
    back = decode(message, 1000)
    assert back.item == page and back.links == 3
    broken = [
        ({**message, b"body": gzip.compress(b"x" * 1001)}, "larger than max_page_bytes"),
        ({**message, b"body": b"not gzip"}, "not gzip"),
        # Stored as sent, a body must inflate to exactly the page the writer checked.
        ({**message, b"body": message[b"body"][:-4]}, "not one whole gzip member"),
        ({**message, b"body": message[b"body"] + gzip.compress(b"<p>more</p>")}, "one whole"),
        ({**message, b"body": zlib.compress(b"<p>hi</p>")}, "not gzip"),
        ({**message, b"signature": b"short"}, "signature"),
        (
            {**message, b"meta": message[b"meta"].replace(b'"status": 200', b'"status": 999')},
            "out of range",
        ),
        (
            {
                **message,
                b"meta": message[b"meta"].replace(b'"role": "statement"', b'"role": "boss"'),
            },
            "role",
        ),
        ({**message, b"meta": b"[]"}, "version"),
    ]
    for fields, problem in broken:
        with pytest.raises(BadResult, match=problem):
            decode(fields, 1000)


def test_the_shared_throttle_spaces_and_limits_requests_across_workers(
    redis_server: RedisServer,
) -> None:
    from crawler.throttle import HostLimiter

    server = redis_server.client(1)
    server.flushdb()
    one, two = HostLimiter(server), HostLimiter(server)
    # Departures 0.5 s apart, whichever worker asks.
    waits = []
    for limiter in (one, two, one):
        got = limiter.try_acquire("gov.example", delay=0.5, limit=3, lease_s=60)
        assert got is not None
        waits.append(round(got[1] * 2) / 2)
    assert waits == [0.0, 0.5, 1.0]
    # Three requests in flight was the limit, counted over both workers; per host.
    assert two.try_acquire("gov.example", delay=0.5, limit=3, lease_s=60) is None
    assert two.try_acquire("other.example", delay=0.5, limit=3, lease_s=60) is not None
    server.flushdb()
    first = one.try_acquire("gov.example", 0, 1, 60)
    assert first is not None
    assert two.try_acquire("gov.example", 0, 1, 60) is None
    one.release("gov.example", first[0])  # the response came back
    assert two.try_acquire("gov.example", 0, 1, 60) is not None


# -- rechecks: `crawl --due --frontier` and conditional requests, as on one machine -----------


_PARAGRAPHS = (
    "The Ministry of Water Resources today set out the measures it will take this season "
    "to protect the river basins of the northern provinces from flooding.",
    "Local governments will inspect every embankment before the end of the month, and the "
    "results of those inspections will be published on their own websites.",
    "The ministry reminded residents of low-lying districts to follow the instructions of "
    "the emergency services and to keep their mobile telephones switched on.",
    "Funds set aside for repairs will be released to the provinces within ten days, and "
    "the ministry will report on their use at the end of the flood season.",
)


def _statement_page(title: str) -> bytes:
    body = "".join(f"<p>{title}: {paragraph}</p>" for paragraph in _PARAGRAPHS)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><article><h1>{title}</h1><p class='date'>2024-08-01</p>{body}"
        "</article></body></html>"
    ).encode()


class _ValidatingSite:
    """A site whose pages have an ETag and answer 304 to a request that sends it back; it
    logs each page request with the If-None-Match it carried."""

    PAGES: ClassVar[dict[str, bytes]] = {
        "/floods.html": _statement_page("Flood season measures"),
        "/repairs.html": _statement_page("Embankment repairs funded"),
    }

    def __init__(self) -> None:
        self.log: list[tuple[str, str | None]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = site.PAGES.get(self.path)
                if self.path != "/robots.txt":
                    site.log.append((self.path, self.headers.get("If-None-Match")))
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"{hashlib.sha256(page).hexdigest()[:16]}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def validating_site() -> Iterator[_ValidatingSite]:
    site = _ValidatingSite()
    try:
        yield site
    finally:
        site.close()


@pytest.mark.slow
def test_due_rechecks_send_validators_and_record_what_one_machine_does(
    validating_site: _ValidatingSite, frontier_url: str, tmp_path: Path
) -> None:
    site = validating_site
    source = {
        "id": "water",
        "name": "Ministry of Water Resources",
        "issuer": "Ministry of Water Resources",
        "kind": "urls",
        "every": "6h",
        "urls": [f"{site.base_url}{path}" for path in site.PAGES],
        "allowed_domains": ["127.0.0.1"],
    }
    config = tmp_path / "sources.yaml"
    config.write_text(json.dumps({"crawl": {**CRAWL, "download_delay": 0}, "sources": [source]}))
    db = tmp_path / "many.db"

    def frontier_crawl(name: str) -> str:
        with machines(tmp_path, frontier_url, config) as m:
            m.writer(db, name, "--due")
            m.worker(f"{name}-worker")
            assert m.wait(name) == 0, m.logs()
            assert m.wait(f"{name}-worker") == 0, m.logs()
            return m.log(name)

    frontier_crawl("first")
    assert sorted(site.log) == [("/floods.html", None), ("/repairs.html", None)]
    assert rows(db, "select count(*) as n from statements")[0]["n"] == 2
    # Nothing due: nothing seeded, nothing fetched.
    site.log.clear()
    result = communique(
        "crawl", "--due", "--frontier", frontier_url, "--config", str(config), "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    assert "Nothing is due." in result.stdout
    assert site.log == []
    # One statement due for a recheck: only its page is asked for, with its ETag (304).
    one = tmp_path / "one.db"
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.execute(
                "update statements set next_check = '2000-01-01' where id in "
                "(select statement_id from statement_urls where url like '%/floods.html')"
            )
        copy = sqlite3.connect(one)
        connection.backup(copy)  # the archive as it is, WAL included
        copy.close()
    finally:
        connection.close()
    frontier_crawl("recheck")
    assert len(site.log) == 1 and site.log[0][0] == "/floods.html"
    assert site.log[0][1] is not None  # the validator went out
    # The same recheck on one machine leaves the same archive.
    site.log.clear()
    result = communique("crawl", "--due", "--config", str(config), "--db", str(one))
    assert result.returncode == 0, result.stderr
    assert len(site.log) == 1 and site.log[0][0] == "/floods.html" and site.log[0][1]
    assert snapshot(db) == snapshot(one)
    assert last_crawls(db) == last_crawls(one)
    assert rows(db, "select http_status from captures order by id desc limit 1") == [
        {"http_status": 304}
    ]


# -- WeChat routes through the frontier ----------------------------------------------------------


@pytest.mark.slow
def test_wechat_routes_on_two_workers_archive_what_one_machine_does(
    frontier_url: str, tmp_path: Path
) -> None:
    from tests.builders import wechat_source, write_wechat_config
    from tests.sites.wechat.site import BIZ, SHORT_IDS, WechatSite

    def article_mid(target: str) -> str | None:
        """The message id of the article a request target asks for, in either link form."""
        if target.startswith("/s/"):
            short = SHORT_IDS.get(target[3:])
            return short[0] if short else None
        found = re.search(r"[?&]mid=(\d+)", target)
        return found.group(1) if found and target.startswith("/s?") else None

    with WechatSite() as site:
        w, b = site.wechat, site.bridge
        sources = [
            wechat_source(
                "jc-rsshub",
                [
                    {"feed": f"{b}/feeds/rsshub.xml"},
                    {"album": f"{w}/mp/appmsgalbum?__biz={BIZ}&action=getalbum&album_id=3567"},
                    {"urls": [f"{w}/link?url=dn9a_-gY295K0Rci_xozVXfdMkSQTLW6cw&type=2&k=Dk4aTu"]},
                ],
                BIZ,
            ),
        ]  # one source: two of one account share articles, whichever finds one first
        config = write_wechat_config(tmp_path / "sources.yaml", sources, delay=0.1)

        def articles(since: int) -> Counter[str | None]:
            return Counter(
                article_mid(hit.target) for hit in site.hits[since:] if article_mid(hit.target)
            )

        one = tmp_path / "one.db"
        mark = len(site.hits)
        result = communique("crawl", "--config", str(config), "--db", str(one), "--no-progress")
        assert result.returncode == 0, result.stderr[-2000:]
        one_machine = articles(mark)
        many = tmp_path / "many.db"
        mark = len(site.hits)
        with machines(tmp_path, frontier_url, config) as m:
            m.writer(many)
            m.until("the seeding", m.seeded)
            m.worker("a")
            m.worker("b")
            assert m.wait("writer") == 0, m.logs()
            assert m.wait("a") == 0, m.logs()
            assert m.wait("b") == 0, m.logs()
        two_workers = articles(mark)
    assert snapshot(many) == snapshot(one)
    assert last_crawls(many) == last_crawls(one)
    assert rows(many, "select count(*) as n from statements")[0]["n"] >= 4
    # Each article fetched as often as on one machine, whichever worker found which link
    # form (one link form that only its page resolves is fetched on one machine too).
    assert two_workers == one_machine


def test_a_workers_features_travel_with_its_cleaning_and_cannot_be_another_texts() -> None:
    text = "The ministry said on 3 May that 12 vessels were inspected. " * 3
    cleaned = Cleaned(status="ok", url="https://gov-en.example/a", text=text, language="en")
    page = Fetched("gov-en", cleaned.url, 200, b"<p>a</p>", {"Content-Type": "text/html"})
    found = features("en", text)
    assert found is not None

    def sent(result: Result) -> dict[bytes, bytes]:
        fields = encode(result)
        return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}

    result = Result("run/1-0/0", "run", page, cleaned, None, 0, "w", found)
    assert decode(sent(result), 1_000_000).features == found  # the writer need not redo them
    # Features of another text (its length), of another language, or swollen (too many
    # terms, a word too long), are refused.
    for forged in (
        replace(found, length=found.length + 1),
        replace(found, language="zh"),
        replace(found, terms=frozenset(f"t{n}" for n in range(30_000))),
        replace(found, concepts={"词" * 300: frozenset({"word"})}),
    ):
        with pytest.raises(BadResult):
            decode(sent(replace(result, features=forged)), 1_000_000)
