"""Full-text search through Datasette against the same FTS5 query run with `sqlite3`.

A synthetic archive (statements of realistic English and Chinese text, bulk-inserted
through the archive's own schema, then `rebuild_search_index`) is served by a real
`datasette` process started with `archive.serve.datasette_args`. Each query is timed as
the `search_statements` canned query (JSON), the search page (HTML) and `?_q=` on the
statements table (JSON, with its facets), and as `SEARCH_SQL` run directly with sqlite3
and the same SQL functions; medians over REPEAT runs after one warm-up.
"""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from archive.schema import open_archive
from archive.search import SEARCH_SQL, match_or_nothing, rebuild_search_index, snippet_html
from archive.serve import datasette_args
from bench.site import EN_OPENINGS, EN_WORDS, ZH_OPENINGS, ZH_PHRASES

QUERIES = ("和", "援", "外交", "合作", "sovereignty", "climate")
REPEAT = 3
BATCH = 5_000


def _text(rng: Any, n: int) -> tuple[str, str, str]:
    """(language, title, text): two English statements in three, 1–3 KB of text."""
    if n % 3 == 2:
        title = f"第{n}号声明：" + "".join(rng.choice(ZH_PHRASES) for _ in range(5))
        sentences = [
            rng.choice(ZH_OPENINGS)
            + "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(6, 14)))
            + "。"
            for _ in range(rng.randint(8, 30))
        ]
        return "zh", title, "".join(sentences)
    title = f"Statement {n} on " + " ".join(rng.choice(EN_WORDS) for _ in range(6))
    sentences = [
        f"{rng.choice(EN_OPENINGS)} "
        + " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(10, 24)))
        + "."
        for _ in range(rng.randint(8, 24))
    ]
    return "en", title, " ".join(sentences)


def build(path: Path, count: int) -> float:
    """An archive of `count` statements with its search index; returns seconds taken."""
    import random

    started = time.perf_counter()
    rng = random.Random(count)
    db = open_archive(str(path))
    db.execute("insert into sources (id, name, issuer, kind) values ('bench', 'b', 'b', 'urls')")
    columns = (
        "id, source_id, url, title, issuer, published, year, language, text, status, "
        "first_seen, last_seen, version_count, capture_count"
    )
    sql = f"insert into statements ({columns}) values ({', '.join('?' * 14)})"
    with db.atomic():
        rows = []
        for n in range(count):
            language, title, text = _text(rng, n)
            year = 2015 + n % 10
            day = f"{year}-{1 + n % 12:02d}-{1 + n % 28:02d}"
            sid = hashlib.sha256(f"bench-{n}".encode()).hexdigest()[:16]
            rows.append(
                (
                    sid, "bench", f"https://example.gov/s/{n}.html", title,
                    "Ministry of Foreign Affairs", day, year, language, text, "live",
                    f"{day}T00:00:00+00:00", f"{day}T00:00:00+00:00", 1, 1,
                )
            )  # fmt: skip
            if len(rows) == BATCH:
                db.conn.executemany(sql, rows)
                rows.clear()
        db.conn.executemany(sql, rows)
    rebuild_search_index(db)
    db.close()
    return time.perf_counter() - started


def _median_ms(action: Any) -> tuple[float, Any]:
    result = action()  # warm-up
    timings = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings) * 1000, 1), result


def time_sqlite(path: Path, query: str) -> tuple[float, int]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.create_function("communique_match", 1, match_or_nothing, deterministic=True)
    conn.create_function(
        "communique_snippet", 2, lambda t, q: snippet_html(t, q or ""), deterministic=True
    )
    try:
        ms, rows = _median_ms(lambda: conn.execute(SEARCH_SQL, {"q": query}).fetchall())
        return ms, len(rows)
    finally:
        conn.close()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def time_url(url: str) -> tuple[float, int]:
    ms, (status, _) = _median_ms(lambda: _get(url))
    return ms, status


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(path: Path, metadata_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        datasette_args(path, port=port, metadata_dir=metadata_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if _get(base + "/-/versions.json")[0] == 200:
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("datasette did not start")


def run(work: Path, count: int) -> dict[str, Any]:
    path = work / f"search-{count}.db"
    results: dict[str, Any] = {"statements": count, "build_seconds": round(build(path, count), 1)}
    process, base = serve(path, work / "datasette-metadata")
    database = path.stem
    rows: list[dict[str, Any]] = []
    try:
        for query in QUERIES:
            sqlite_ms, found = time_sqlite(path, query)
            canned_ms, canned_status = time_url(
                f"{base}/{database}/search_statements.json?"
                + urlencode({"q": query, "_shape": "array"})
            )
            page_ms, page_status = time_url(f"{base}/{database}/search?" + urlencode({"q": query}))
            table_ms, table_status = time_url(
                f"{base}/{database}/statements.json?" + urlencode({"_q": query})
            )
            rows.append(
                {
                    "query": query,
                    "results": found,
                    "sqlite_ms": sqlite_ms,
                    "datasette_json_ms": canned_ms,
                    "search_page_ms": page_ms,
                    "table_q_ms": table_ms,
                    "http_status": sorted({canned_status, page_status, table_status}),
                }
            )
    finally:
        process.terminate()
        process.wait(timeout=20)
    results["queries"] = rows
    for column in ("sqlite_ms", "datasette_json_ms", "search_page_ms", "table_q_ms"):
        values: list[float] = [row[column] for row in rows]
        results[f"median_{column}"] = round(statistics.median(values), 1)
    results["json_over_sqlite"] = round(
        results["median_datasette_json_ms"] / max(results["median_sqlite_ms"], 0.1), 2
    )
    return results
