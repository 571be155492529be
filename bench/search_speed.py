"""Search at scale: raw SQLite, the Search page and the statements table's search box.

The archive is `bench.corpus`'s (realistic lengths and Zipf-like words, cached by seed).
Queries are drawn from its vocabularies and sorted by how many statements they match
into three classes, scaled to the archive's size (at 1M: rare ≤ 100, medium ~10k,
common ≥ 100k), English and Chinese, one- and two-character Chinese words included.
Each query is timed as `SEARCH_SQL` in sqlite3 (same SQL functions), as the Search page
through a real `datasette` process, and as the statements table page with `?_search=`
(rows, count and the default facets); one warm-up, then REPEAT runs; p95 over all runs.
"""

from __future__ import annotations

import math
import random
import socket
import sqlite3
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from archive.search import SEARCH_SQL, SEARCH_TABLE, match_or_nothing, snippet_html
from archive.serve import datasette_args, datasette_env
from bench import corpus

REPEAT = 5
PER_CLASS = {"en": 3, "zh": 3}
CLASSES = ("rare", "medium", "common")


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    kind: str  # "word", or for Chinese "1 char", "2 chars", "3+ chars"
    matches: int
    klass: str


def classify(matches: int, size: int) -> str | None:
    """rare ≤ size/10,000; medium within 2× of size/100; common ≥ size/10."""
    if matches == 0:
        return None
    if matches <= size / 10_000:
        return "rare"
    if size / 200 <= matches <= size / 50:
        return "medium"
    if matches >= size / 10:
        return "common"
    return None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.create_function("communique_match", 1, match_or_nothing, deterministic=True)
    conn.create_function(
        "communique_snippet", 2, lambda t, q: snippet_html(t, q or ""), deterministic=True
    )
    return conn


def _count(conn: sqlite3.Connection, text: str, cap: int) -> int:
    return int(
        conn.execute(
            f"select count(*) from (select 1 from {SEARCH_TABLE} "
            f"where {SEARCH_TABLE} match ? limit ?)",
            [match_or_nothing(text), cap],
        ).fetchone()[0]
    )


def pick_queries(path: Path, size: int, seed: int = corpus.SEED) -> list[Query]:
    """Words from the corpus vocabularies, PER_CLASS per class and language."""
    rng = random.Random(seed)
    conn = _connect(path)
    chosen: list[Query] = []
    try:
        english = list(corpus.vocabulary("en").words)
        chinese = list(corpus.vocabulary("zh").words)
        chars = sorted({c for w in chinese for c in w})
        # Two words from the tail of the list (both must appear): what names and terms are
        # in a real archive, where the corpus's single words are all common enough.
        tail_en, tail_zh = english[len(english) // 4 :], [w for w in chinese[5000:] if len(w) == 2]
        pools = {
            ("en", "word"): english,
            ("en", "2 words"): [
                f"{a} {b}" for a, b in zip(tail_en[::2], tail_en[1::2], strict=False)
            ],
            ("zh", "2 words"): [
                f"{a} {b}" for a, b in zip(tail_zh[::2], tail_zh[1::2], strict=False)
            ],
            ("zh", "1 char"): chars,
            ("zh", "2 chars"): [w for w in chinese if len(w) == 2],
            ("zh", "3+ chars"): [w for w in chinese if len(w) >= 3],
        }
        # Which kinds fill each class, in turn: Chinese classes mix one, two and more
        # characters where the corpus has such words.
        kinds = {"en": ["word"], "zh": ["1 char", "2 chars", "3+ chars"]}
        rare_kinds = {"en": ["2 words", "word"], "zh": ["2 words", "2 chars", "1 char"]}
        for language in ("en", "zh"):
            for klass in CLASSES:
                wanted = PER_CLASS[language]
                turn = 0
                tried = 0
                found: list[Query] = []
                cycle = rare_kinds[language] if klass == "rare" else kinds[language]
                while len(found) < wanted and tried < 1500:
                    kind = (
                        cycle[(turn + tried) % len(cycle)]
                        if klass == "rare"
                        else cycle[turn % len(cycle)]
                    )
                    pool = pools[(language, kind)]
                    # Frequent words are at the head of the lists: sample ranks log-uniformly
                    # so that common, medium and rare words are all drawn.
                    rank = min(len(pool) - 1, int(math.exp(rng.uniform(0, math.log(len(pool))))))
                    word = pool[rank]
                    tried += 1
                    if any(q.text == word for q in chosen + found):
                        continue
                    matches = _count(conn, word, size // 10 + 1)
                    if classify(matches, size) == klass:
                        found.append(Query(word, language, kind, matches, klass))
                        turn += 1
                chosen += found
    finally:
        conn.close()
    return chosen


def _timed(action: Any) -> tuple[list[float], Any]:
    result = action()  # warm-up
    timings = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = action()
        timings.append(round((time.perf_counter() - started) * 1000, 1))
    return timings, result


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(path: Path, metadata_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real `datasette` on path, as `communique serve` starts it."""
    port = _free_port()
    process = subprocess.Popen(
        datasette_args(path, port=port, metadata_dir=metadata_dir),
        env=datasette_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if _get(base + "/-/versions.json")[0] == 200:
                return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("datasette did not start")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0


def _table_page_notes(body: bytes) -> dict[str, bool]:
    page = body.decode("utf-8", "replace")
    return {
        "facets_timed_out": "facets-timed-out" in page,
        "count_shown": " rows where search matches" in page or " row where search" in page,
    }


def time_query(conn: sqlite3.Connection, base: str, database: str, q: Query) -> dict[str, Any]:
    sqlite_ms, rows = _timed(lambda: conn.execute(SEARCH_SQL, {"q": q.text}).fetchall())
    page_ms, (page_status, _) = _timed(
        lambda: _get(f"{base}/{database}/search?" + urlencode({"q": q.text}))
    )
    table_ms, (table_status, table_body) = _timed(
        lambda: _get(f"{base}/{database}/statements?" + urlencode({"_search": q.text}))
    )
    return {
        "query": q.text,
        "language": q.language,
        "kind": q.kind,
        "class": q.klass,
        "matches": q.matches,
        "results": len(rows),
        "sqlite_ms": sqlite_ms,
        "search_page_ms": page_ms,
        "table_q_ms": table_ms,
        "http_status": sorted({page_status, table_status}),
        **_table_page_notes(table_body),
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, name in (
        ("sqlite_ms", "p95_sqlite_ms"),
        ("search_page_ms", "p95_search_page_ms"),
        ("table_q_ms", "p95_table_q_ms"),
    ):
        values = [v for row in rows for v in row[column]]
        out[name] = p95(values)
        out[name.replace("p95", "median")] = round(statistics.median(values), 1)
    # The page against raw SQLite over the same queries (p95 against p95), and for the
    # query where the two differ most (medians: one slow run on a shared machine is noise).
    out["page_over_sqlite_p95"] = round(
        out["p95_search_page_ms"] / max(out["p95_sqlite_ms"], 1.0), 2
    )
    out["max_page_over_sqlite"] = round(
        max(
            statistics.median(r["search_page_ms"]) / max(statistics.median(r["sqlite_ms"]), 1.0)
            for r in rows
        ),
        2,
    )
    return out


def run(work: Path, size: int, seed: int = corpus.SEED) -> dict[str, Any]:
    path, built = corpus.cached_archive(size, seed)
    queries = pick_queries(path, size, seed)
    print(f"  {len(queries)} queries: " + ", ".join(f"{q.text} ({q.klass})" for q in queries))
    process, base = serve(path, work / "datasette-metadata")
    database = path.stem
    conn = _connect(path)
    rows = []
    try:
        for query in queries:
            rows.append(time_query(conn, base, database, query))
    finally:
        conn.close()
        process.terminate()
        process.wait(timeout=30)
    result: dict[str, Any] = {
        "statements": size,
        "seed": seed,
        "archive_bytes": path.stat().st_size,
        "build": built,
        **summarise(rows),
        "by_class": {
            klass: summarise([r for r in rows if r["class"] == klass])
            for klass in CLASSES
            if any(r["class"] == klass for r in rows)
        },
        "queries": rows,
    }
    return result
