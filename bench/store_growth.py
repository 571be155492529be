"""Time to add one statement, and bytes per statement, as the archive grows: neither should.

Measured on `bench.corpus`'s archives (10k, 100k, 1M statements with versions, LSH
buckets and the search index), adding realistic statements through `record_page`.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from archive.clean import STATUS_OK, Cleaned
from archive.fetched import Fetched
from archive.store import Archive
from bench import corpus


def time_additions_in(path: Path, samples: int, seed: int) -> list[float]:
    """Add samples realistic statements to the archive at path, timing each, then undo.

    The additions run inside one outer transaction that is rolled back, so the cached
    archive is left as it was; each record_page still does all its reads and writes
    (its commit becomes a savepoint release, so the fsync, a constant, is left out).
    """
    archive = Archive(path)
    try:
        archive.db.execute("begin")
        try:
            archive.sync_sources([{"id": "bench", "name": "bench", "issuer": "b", "kind": "urls"}])
            crawl_id = archive.start_crawl("bench")
            timings = []
            for row in corpus.statements(samples, seed):
                url = f"https://example.gov/new/{seed}/{row['n']}.html"
                page = Fetched(source_id="bench", url=url, http_status=200, body=b"<html/>")
                cleaned = Cleaned(
                    status=STATUS_OK,
                    url=url,
                    title=row["title"],
                    text=row["text"],
                    published=row["published"],
                    language=row["language"],
                )
                started = time.perf_counter()
                archive.record_page(crawl_id, page, cleaned)
                timings.append(time.perf_counter() - started)
        finally:
            archive.db.execute("rollback")
    finally:
        archive.close()
    return timings


def run(sizes: list[int], samples: int = 200) -> dict[str, Any]:
    """Add-one time and bytes per statement on the benchmark corpus at each size."""
    results: dict[str, Any] = {}
    for size in sizes:
        path, built = corpus.cached_archive(size)
        timings = time_additions_in(path, samples, seed=size + 7)
        results[str(size)] = {
            "statements": size,
            "bytes_per_statement": round(built["bytes"] / size),
            "add_one_median_ms": round(statistics.median(timings) * 1000, 2),
            "add_one_p90_ms": round(statistics.quantiles(timings, n=10)[-1] * 1000, 2),
        }
    first, last = results[str(sizes[0])], results[str(sizes[-1])]
    results["growth_ratio"] = round(last["add_one_median_ms"] / first["add_one_median_ms"], 2)
    results["bytes_ratio"] = round(last["bytes_per_statement"] / first["bytes_per_statement"], 2)
    return results
