"""Failed requests are retried with growing pauses, honouring Retry-After, then recorded."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils

from crawler.middlewares import retry_after_seconds
from tests.helpers import COMMUNIQUE

PAGE = (
    "<html><head><title>Notice on flood relief</title></head><body><article>"
    + "<p>The ministry announces emergency flood relief for the northern provinces.</p>" * 8
    + "</article></body></html>"
).encode()


class FlakyServer:
    """Answers /flaky.html with 503 (Retry-After: 1) twice, then the page; /down.html 500."""

    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                times = outer.hits.setdefault(self.path, [])
                times.append(time.monotonic())
                if self.path == "/flaky.html" and len(times) <= 2:
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.end_headers()
                elif self.path == "/down.html":
                    self.send_response(500)
                    self.end_headers()
                elif self.path == "/flaky.html":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.end_headers()
                    self.wfile.write(PAGE)
                else:
                    self.send_response(404)
                    self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    server = FlakyServer()
    yield server
    server.httpd.shutdown()


@pytest.mark.slow
def test_server_errors_are_retried_with_backoff_then_recorded(
    flaky: FlakyServer, tmp_path: Path
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        f"""crawl: {{download_delay: 0, retries: 2, retry_backoff: 0.2}}
sources:
  - id: flaky
    name: Flaky ministry
    issuer: Ministry of Water Resources
    kind: urls
    urls: [{flaky.base}/flaky.html, {flaky.base}/down.html]
""",
        encoding="utf-8",
    )
    db_path = tmp_path / "archive.db"
    result = subprocess.run(
        [COMMUNIQUE, "crawl", "--config", str(config), "--db", str(db_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    flaky_hits = flaky.hits["/flaky.html"]
    assert len(flaky_hits) == 3
    # Retry-After: 1 outweighs the 0.2 s backoff.
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(flaky_hits))
    down_hits = flaky.hits["/down.html"]
    assert len(down_hits) == 3  # first try + 2 retries
    assert down_hits[2] - down_hits[1] >= 0.35  # 0.2 then 0.4: the pause grows
    db = sqlite_utils.Database(db_path)
    assert [row["title"] for row in db["statements"].rows] == ["Notice on flood relief"]
    [error] = list(db["crawl_errors"].rows)
    assert (error["url"], error["reason"], error["http_status"]) == (
        f"{flaky.base}/down.html",
        "HTTP 500",
        500,
    )


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    later = format_datetime(now + timedelta(seconds=30), usegmt=True).encode()
    assert retry_after_seconds(later, now=now) == 30
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None
