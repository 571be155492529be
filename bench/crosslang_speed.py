"""`python -m bench.crosslang_speed [EVAL_DIR] [--size N]`: time to link one new statement.

Builds (once; cached in `data/`, keyed by size, seed and the linker's source) an archive of
N synthetic statements (default 100,000): half Chinese, half English, each as long as a
random statement of the measuring set, its words drawn by frequency from that set's
vocabulary (jieba words for Chinese, words for English), with random numbers and dates
and a publication day spread over 15 years. Then links `SAMPLE` more statements one at a
time, each in a transaction rolled back afterwards (the archive stays at N), and prints the
median and 90th percentile per statement: features, then index and link.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from itertools import accumulate
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import rjieba

from archive.links import crosslang
from archive.links.features import Features, features
from archive.schema import cache_for_writing

SEED = 15
SAMPLE = 200
YEARS = 15
START = date(2011, 1, 1)
CACHE = Path(__file__).resolve().parent.parent / "data"
DEFAULT_EVAL = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "crosslang"


def _vocabulary(folder: Path) -> dict[str, Any]:
    docs = [json.loads(line) for line in (folder / "docs.jsonl").open(encoding="utf-8")]
    zh: Counter[str] = Counter()
    en: Counter[str] = Counter()
    lengths: dict[str, list[int]] = {"zh": [], "en": []}
    for doc in docs:
        lengths[doc["lang"]].append(len(doc["text"]))
        if doc["lang"] == "zh":
            zh.update(w for w in rjieba.cut(doc["text"], True) if w.strip() and not w.isdigit())
        else:
            en.update(re.findall(r"[A-Za-z][A-Za-z'-]*|[.,;:?]", doc["text"]))
    return {"zh": zh, "en": en, "lengths": lengths}


def _number(rng: random.Random, language: str) -> str:
    kind = rng.random()
    if kind < 0.3:
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        return f"{month}月{day}日" if language == "zh" else f"{date(2000, month, day):%B} {day}"
    if kind < 0.5:
        return f"{rng.randint(1990, 2025)}" + ("年" if language == "zh" else "")
    return str(rng.choice([rng.randint(2, 100), rng.randint(100, 100_000)]))


def generate(folder: Path, size: int, seed: int = SEED) -> list[dict[str, Any]]:
    """`size` synthetic statements (deterministic for a seed), cached as gzipped JSON lines."""
    path = CACHE / f"bench-crosslang-{size}-s{seed}.jsonl.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as cached:
            return [json.loads(line) for line in cached]
    vocabulary = _vocabulary(folder)
    rng = random.Random(seed)
    words = {lang: list(vocabulary[lang]) for lang in ("zh", "en")}
    cumulative = {lang: list(accumulate(vocabulary[lang].values())) for lang in ("zh", "en")}
    docs = []
    for number in range(size):
        language = "zh" if number % 2 else "en"
        target = rng.choice(vocabulary["lengths"][language])
        parts: list[str] = []
        length = 0
        while length < target:
            chunk = rng.choices(words[language], cum_weights=cumulative[language], k=40)
            chunk.insert(rng.randrange(40), _number(rng, language))
            text = ("" if language == "zh" else " ").join(chunk)
            parts.append(text + ("。" if language == "zh" else "."))
            length += len(text) + 1
        day = START + timedelta(days=rng.randrange(YEARS * 365))
        docs.append(
            {
                "id": f"{language}-{number:06d}",
                "lang": language,
                "date": day.isoformat(),
                "text": "\n".join(parts)[:target],
            }
        )
    docs.sort(key=lambda d: (d["date"], d["id"]))
    CACHE.mkdir(exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return docs


def _features(doc: dict[str, Any]) -> Features | None:
    return features(doc["lang"], doc["text"])


# The modules an indexed statement depends on: a change to another module of
# archive/links does not make the cached index stale.
INDEX_MODULES = ("crosslang", "features", "english", "numbers")


def _source_key() -> str:
    digest = hashlib.sha256()
    folder = Path(crosslang.__file__).parent
    for name in INDEX_MODULES:
        digest.update((folder / f"{name}.py").read_bytes())
    return digest.hexdigest()[:10]


def build(docs: list[dict[str, Any]], size: int) -> Path:
    """The archive of `docs` indexed (not linked: linking is what we time), cached."""
    path = CACHE / f"bench-crosslang-{size}-s{SEED}-{_source_key()}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(partial)
    crosslang.ensure_tables(conn)
    df = crosslang._df(conn)
    started = time.perf_counter()
    with Pool(2) as pool:
        for done, (doc, found) in enumerate(
            zip(docs, pool.imap(_features, docs, chunksize=64), strict=True), start=1
        ):
            day = date.fromisoformat(doc["date"]).toordinal()
            item = crosslang.Doc(doc["id"], doc["lang"], "", doc["text"], doc["date"])
            crosslang._index(conn, item, doc["lang"], day, df, found)
            if done % 10_000 == 0:
                conn.commit()
                rate = done / (time.perf_counter() - started)
                print(f"  indexed {done:,}/{len(docs):,} ({rate:.0f}/s)", flush=True)
    crosslang.flush(conn)
    conn.commit()
    conn.close()
    partial.rename(path)
    return path


def measure(path: Path, new: list[dict[str, Any]]) -> dict[str, float]:
    """Link the new statements one after another (term counts written every
    `FLUSH_EVERY`, as in a crawl), then roll back so the cached archive stays as it was.
    Timed twice, after an untimed pass: computing each statement's features in the linker,
    and with its features given (a crawl computes them in its cleaning workers: the
    archive's writer only links)."""
    conn = sqlite3.connect(path)
    # Opened as the archive's writer opens it: in WAL mode, with its page cache.
    conn.execute("pragma journal_mode = wal")
    cache_for_writing(conn)
    crosslang._df(conn)  # read the term counts once, as a long-running crawl does
    features("zh", "预热。")  # load CC-CEDICT, untimed
    feature_ms: list[float] = []
    computed: list[Features | None] = []
    for doc in new:
        started = time.perf_counter()
        computed.append(features(doc["lang"], doc["text"]))
        feature_ms.append(1000 * (time.perf_counter() - started))
    total_ms: list[float] = []
    cpu_ms: list[float] = []
    writer_ms: list[float] = []
    # A first, untimed pass reads the index's pages into the OS cache, as a long crawl has.
    for given, times in ((True, []), (False, total_ms), (True, writer_ms)):
        for doc, found in zip(new, computed, strict=True):
            item = crosslang.Doc(doc["id"] + "-new", doc["lang"], "", doc["text"], doc["date"])
            started, cpu = time.perf_counter(), time.process_time()
            crosslang.link_statement(conn, item, found if given else None)
            times.append(1000 * (time.perf_counter() - started))
            if not given:
                cpu_ms.append(1000 * (time.process_time() - cpu))
        conn.rollback()
        crosslang._DF.clear()  # the counts of the rolled-back statements
        crosslang._df(conn)
    conn.close()

    def p90(values: list[float]) -> float:
        return sorted(values)[int(0.9 * len(values))]

    return {
        "link_median_ms": statistics.median(total_ms),
        "link_mean_ms": statistics.fmean(total_ms),
        "link_p90_ms": p90(total_ms),
        "link_cpu_median_ms": statistics.median(cpu_ms),
        "writer_median_ms": statistics.median(writer_ms),
        "writer_p90_ms": p90(writer_ms),
        "features_median_ms": statistics.median(feature_ms),
        "features_p90_ms": p90(feature_ms),
    }


def run(folder: Path, size: int = 100_000) -> dict[str, Any]:
    """Build (or reuse) the index of `size` statements and time linking `SAMPLE` more."""
    started = time.perf_counter()
    docs = generate(folder, size + SAMPLE)
    rng = random.Random(SEED + 1)
    sample_ids = {d["id"] for d in rng.sample(docs, SAMPLE)}
    new = [d for d in docs if d["id"] in sample_ids]
    indexed = [d for d in docs if d["id"] not in sample_ids]
    print(f"{len(indexed):,} statements generated in {time.perf_counter() - started:.0f} s")
    path = build(indexed, size)
    print(f"index: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    figures: dict[str, Any] = {**measure(path, new), "statements": len(indexed)}
    figures["load_average"] = round(os.getloadavg()[0], 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crosslang_speed", description=__doc__)
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT_EVAL)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args(argv)
    if not (args.folder / "docs.jsonl").is_file():
        print(f"{args.folder}: no docs.jsonl (the vocabulary comes from it)", file=sys.stderr)
        return 2
    figures = run(args.folder, args.size)
    print(
        f"\nLink one new statement at {figures['statements']:,} indexed ({SAMPLE} statements; "
        f"{os.cpu_count()} cores, load average {figures['load_average']} at the end):"
    )
    print(
        f"  index_and_link, all of it   median {figures['link_median_ms']:.1f} ms, "
        f"mean {figures['link_mean_ms']:.1f} ms, p90 {figures['link_p90_ms']:.1f} ms"
        "   (goal ≤ 20 ms)"
    )
    print(
        f"  the same, CPU time of this process   median {figures['link_cpu_median_ms']:.1f} ms"
        "   (less sensitive to other work on the machine)"
    )
    print(
        f"  of which features (jieba, CC-CEDICT)  median {figures['features_median_ms']:.1f} ms, "
        f"p90 {figures['features_p90_ms']:.1f} ms"
    )
    print(
        f"  the archive's writer, features from the cleaning worker  median "
        f"{figures['writer_median_ms']:.1f} ms, p90 {figures['writer_p90_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
