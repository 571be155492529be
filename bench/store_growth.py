"""Time to add one statement to archives of growing size: it must not grow with the archive."""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from archive import reprints
from archive.clean import STATUS_OK, Cleaned
from archive.fetched import Fetched
from archive.identity import text_fingerprint
from archive.store import Archive

WORDS = [
    "ministry",
    "statement",
    "foreign",
    "affairs",
    "cooperation",
    "security",
    "development",
    "dialogue",
    "sovereignty",
    "economic",
    "trade",
    "partners",
    "region",
    "peace",
    "stability",
    "citizens",
    "consular",
    "agreement",
    "council",
    "policy",
    "spokesperson",
    "remarks",
    "press",
    "conference",
    "announcement",
]
HANZI = (
    "外交部发言人表示中方坚决反对有关国家合作发展安全稳定和平对话经济贸易伙伴地区公民领事协议政策"
)


def synthetic_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(150, 400))) + "."
    return "".join(rng.choice(HANZI) for _ in range(rng.randint(300, 900))) + "。"


def fill(archive: Archive, count: int, rng: random.Random) -> None:
    """Bulk-load `count` statements with their URLs, versions and LSH buckets.

    Direct inserts, not record_page: building 100k statements page by page would take
    longer than the benchmark is allowed to; signatures are random, like real ones.
    """
    db = archive.db
    band_count, rows = reprints.bands(archive.history.reprint_threshold)
    batch: dict[str, list[dict[str, Any]]] = {
        "statements": [],
        "statement_urls": [],
        "versions": [],
        "minhashes": [],
        "minhash_bands": [],
    }

    def flush() -> None:
        for table, items in batch.items():
            if items:
                db.table(table).insert_all(items, batch_size=2000)
                items.clear()

    dtype = reprints.SIGNATURE_DTYPE
    signatures = np.random.default_rng(count).integers(0, 2**32, size=(count, reprints.NUM_PERM))
    with db.atomic():
        for n in range(count):
            sid = hashlib.sha256(str(n).encode()).hexdigest()[:16]
            url = f"https://example.gov/s/{n}.html"
            text = f"Statement number {n}. " + synthetic_text(rng)[:200]
            batch["statements"].append(
                {
                    "id": sid,
                    "source_id": "bench" if n % 2 else "bench-b",
                    "url": url,
                    "title": f"Statement {n}",
                    "text": text,
                    "text_hash": text_fingerprint(text),
                    "published": "2024-08-02",
                    "year": 2024,
                    "status": "live",
                    "first_seen": "2024-08-02T00:00:00+00:00",
                    "last_seen": "2024-08-02T00:00:00+00:00",
                    "version_count": 1,
                    "capture_count": 1,
                }
            )
            batch["statement_urls"].append({"url": url, "statement_id": sid, "source_id": "bench"})
            batch["versions"].append({"statement_id": sid, "version": 1, "text": text})
            signature = signatures[n].astype(dtype)
            batch["minhashes"].append({"statement_id": sid, "signature": signature.tobytes()})
            for band in range(band_count):
                bucket = hashlib.blake2b(
                    signature[band * rows : (band + 1) * rows].tobytes(), digest_size=8
                ).hexdigest()
                batch["minhash_bands"].append({"band": band, "bucket": bucket, "statement_id": sid})
            if n % 5000 == 4999:
                flush()
        flush()


def time_additions(archive: Archive, samples: int, rng: random.Random) -> list[float]:
    crawl_id = archive.start_crawl("bench")
    timings = []
    for n in range(samples):
        url = f"https://example.gov/new/{rng.getrandbits(64)}.html"
        text = synthetic_text(rng)
        page = Fetched(source_id="bench", url=url, http_status=200, body=text.encode())
        cleaned = Cleaned(
            status=STATUS_OK, url=url, title=f"New {n}", text=text, published="2024-08-03"
        )
        started = time.perf_counter()
        archive.record_page(crawl_id, page, cleaned)
        timings.append(time.perf_counter() - started)
    return timings


def run(sizes: list[int], samples: int = 200) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for size in sizes:
        rng = random.Random(size)
        with tempfile.TemporaryDirectory() as folder:
            archive = Archive(Path(folder) / "bench.db")
            sources = [
                {"id": s, "name": s, "issuer": s, "kind": "urls"} for s in ("bench", "bench-b")
            ]
            archive.sync_sources(sources)
            started = time.perf_counter()
            fill(archive, size, rng)
            fill_seconds = time.perf_counter() - started
            timings = time_additions(archive, samples, rng)
            archive.close()
        results[str(size)] = {
            "statements": size,
            "fill_seconds": round(fill_seconds, 1),
            "add_one_median_ms": round(statistics.median(timings) * 1000, 2),
            "add_one_p90_ms": round(statistics.quantiles(timings, n=10)[-1] * 1000, 2),
        }
    first, last = results[str(sizes[0])], results[str(sizes[-1])]
    results["growth_ratio"] = round(last["add_one_median_ms"] / first["add_one_median_ms"], 2)
    return results
