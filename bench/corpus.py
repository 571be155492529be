"""A realistic archive for the search, CSV and store benchmarks, deterministic from a seed.

Statements in the proportions of the default sources (one in three Chinese), lengths
drawn from the eval sets' texts (`../shared/eval` aeb for English, cjk for Chinese),
words drawn Zipf-like (weight 1 / (rank + 2.7)) over wordfreq's frequency-ranked lists
(60,000 English, 30,000 Chinese words; the eval texts' own English words are added after
them), dates over 15 years, 120 sources, ~5% with 2–5 versions, ~3% gone, ~10% reprints.

A built archive is kept under `bench/.cache/` (git-ignored), named by seed, size and
everything that shapes the file (generator and schema versions, the search index's
definition), so a second run reuses it instead of spending minutes building it again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from archive import search
from archive.links import reprints
from archive.schema import open_archive

CACHE = Path(__file__).parent / ".cache"
EVAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
GENERATOR_VERSION = 1
SEED = 18
BATCH = 2_000
EN_WORDS, ZH_WORDS = 60_000, 30_000
SAMPLES = 1 << 23  # sampling resolution: a word's share is rounded to 1/SAMPLES
ZIPF_SHIFT = 2.7  # Zipf-Mandelbrot: the head of real word lists is flatter than 1/rank
SOURCES = 120
CHINESE_SHARE = 1 / 3  # 4 of the 12 default sources are Chinese
START, YEARS = date(2011, 1, 1), 15
VERSIONED, GONE, REPRINTED = 0.05, 0.03, 0.10
# Where the eval sets are missing: quartiles of their text lengths (characters), measured.
FALLBACK_LENGTHS = {"en": [369, 1929, 3158, 4873, 53372], "zh": [104, 441, 1019, 2374, 39417]}
_CJK = re.compile(r"^[\u3400-\u9fff]+$")
_LATIN = re.compile(r"^[a-z]+$")


@dataclass(frozen=True)
class Vocabulary:
    """Words of one language with their cumulative Zipf weights, and text lengths.

    `tokens` holds every word twice: as itself, then closing a sentence ("word." or
    "词。"), so a text is one fancy-index and one join, fast enough for a million.
    """

    words: tuple[str, ...]
    tokens: np.ndarray  # object array: words, then words ending a sentence
    table: np.ndarray  # SAMPLES slots, each word filling its Zipf share of them
    lengths: np.ndarray  # characters, one per eval text
    separator: str
    mean_chars: float  # per word, separator included


def _eval_texts(eval_dir: Path, language: str) -> list[str]:
    name, key = ("aeb", "articleBody") if language == "en" else ("cjk", "content")
    path = eval_dir / name / "ground-truth.json"
    if not path.is_file():
        return []
    return [str(item.get(key) or "") for item in json.loads(path.read_text("utf-8")).values()]


def _lengths(texts: list[str], language: str) -> np.ndarray:
    if texts:
        return np.array([len(t) for t in texts if t], dtype=np.int64)
    # Piecewise-linear between the measured quartiles: 100 lengths stand in for the set.
    quartiles = FALLBACK_LENGTHS[language]
    return np.interp(np.linspace(0, 4, 100), range(5), quartiles).astype(np.int64)


@cache
def vocabulary(language: str, eval_dir: Path = EVAL_DIR) -> Vocabulary:
    import wordfreq

    texts = _eval_texts(eval_dir, language)
    if language == "en":
        listed = [w for w in wordfreq.top_n_list("en", EN_WORDS + 5_000) if _LATIN.match(w)]
        words = listed[:EN_WORDS]
        known = set(words)
        # The eval texts' own words (officials, places, policy terms) after the list.
        for text in texts:
            for word in re.findall(r"[a-z]+", text.lower()):
                if word not in known:
                    known.add(word)
                    words.append(word)
        separator = " "
    else:
        listed = [w for w in wordfreq.top_n_list("zh", ZH_WORDS + 5_000) if _CJK.match(w)]
        words = listed[:ZH_WORDS]
        separator = ""
    weights = 1.0 / (np.arange(len(words)) + ZIPF_SHIFT)
    cumulative = np.cumsum(weights / weights.sum())
    # Sampling is one lookup: slot k holds the word whose cumulative weight covers it.
    table = np.searchsorted(cumulative, (np.arange(SAMPLES) + 0.5) / SAMPLES).astype(np.int32)
    mean = float((weights * np.array([len(w) for w in words])).sum() / weights.sum())
    stop = "." if separator else "。"
    tokens = np.array(list(words) + [w + stop for w in words], dtype=object)
    return Vocabulary(
        tuple(words), tokens, table, _lengths(texts, language), separator,
        mean + len(separator),
    )  # fmt: skip


@dataclass(frozen=True)
class Source:
    id: str
    language: str
    issuers: tuple[str, ...]
    wechat: str | None
    weight: float


def sources(rng: random.Random) -> list[Source]:
    found = []
    for n in range(SOURCES):
        language = "zh" if n % 3 == 0 else "en"
        wechat = f"公众号{n}" if language == "zh" and n % 4 == 0 else None
        kind = "wechat" if wechat else "site"
        issuers = tuple(f"Issuer {n}-{k}" for k in range(rng.randint(1, 4)))
        found.append(Source(f"{language}-{kind}-{n:03d}", language, issuers, wechat, 0.0))
    # Source sizes Zipf-like too: a few large ministries, many small offices.
    return [
        Source(s.id, s.language, s.issuers, s.wechat, 1.0 / (rank + 1) ** 0.8)
        for rank, s in enumerate(rng.sample(found, len(found)))
    ]


def _text(vocab: Vocabulary, gen: np.random.Generator, chars: int) -> str:
    count = max(3, round(chars / vocab.mean_chars))
    picks = vocab.table[gen.integers(0, SAMPLES, size=count)]
    # Sentences of 8–30 words, so snippets and CSV cells look like prose.
    ends = np.cumsum(gen.integers(8, 31, size=count // 8 + 2))
    picks[ends[ends < count]] += len(vocab.words)
    picks[-1] = picks[-1] % len(vocab.words) + len(vocab.words)
    return vocab.separator.join(vocab.tokens[picks].tolist())


def _when(rng: random.Random) -> datetime:
    day = START + timedelta(days=rng.randrange(YEARS * 365))
    return datetime(day.year, day.month, day.day, rng.randrange(8, 20), rng.randrange(60))


def statements(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """count statements in the order an archive would have found them (first_seen)."""
    rng = random.Random(seed)
    gen = np.random.default_rng(seed)
    found = sources(rng)
    weights = [s.weight for s in found]
    by_language: dict[str, list[dict[str, Any]]] = {"en": [], "zh": []}
    for n in range(count):
        source = rng.choices(found, weights)[0]
        language = "zh" if rng.random() < CHINESE_SHARE else "en"
        if language != source.language:
            source = next(s for s in found if s.language == language)
        vocab = vocabulary(language)
        published = _when(rng)
        # Found soon after publication, or later by a backfill of the source's archive.
        seen = published + timedelta(hours=rng.randrange(1, 48 if rng.random() < 0.7 else 9000))
        earlier = by_language[language]
        original = earlier[rng.randrange(len(earlier))] if earlier else None
        if original is not None and rng.random() < REPRINTED:
            title, text = original["title"], original["text"]
        else:
            original = None
            length = int(vocab.lengths[gen.integers(len(vocab.lengths))])
            title = _text(vocab, gen, rng.randint(20, 60) if language == "en" else 18)[:200]
            text = _text(vocab, gen, max(40, int(length * gen.uniform(0.8, 1.25))))
        row = {
            "n": n,
            "id": hashlib.sha256(f"{seed}-{n}".encode()).hexdigest()[:16],
            "source_id": source.id,
            "url": f"https://{source.id}.example.gov/{published:%Y/%m}/{n}.html",
            "title": title,
            "issuer": rng.choice(source.issuers),
            "published": published.isoformat(),
            "year": published.year,
            "language": language,
            "text": text,
            "status": "live",
            "first_seen": seen.replace(tzinfo=UTC).isoformat(),
            "last_seen": seen.replace(tzinfo=UTC).isoformat(),
            "version_count": 1,
            "capture_count": 1,
            "wechat_account": source.wechat,
            "reprint_of": original["id"] if original else None,
        }
        if rng.random() < VERSIONED:
            row["version_count"] = rng.randint(2, 5)
        if rng.random() < GONE:
            row["status"] = rng.choice(["deleted", "blocked", "unavailable"])
            row["status_reason"] = {"deleted": "此内容已被发布者删除", "blocked": "451"}.get(
                row["status"], "timeout"
            )
            row["gone_since"] = row["last_seen"]
        if len(earlier) < 2_000:
            earlier.append(row)
        elif rng.random() < 0.01:
            earlier[rng.randrange(len(earlier))] = row
        yield row


STATEMENT_COLUMNS = (
    "rowid", "id", "source_id", "url", "title", "issuer", "published", "year", "language", "text",
    "text_hash", "status", "status_reason", "gone_since", "first_seen", "last_seen",
    "version_count", "capture_count", "wechat_account",
)  # fmt: skip


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "statements": STATEMENT_COLUMNS,
    search.SEARCH_TABLE: ("rowid", "statement_id", "title", "text"),
    "statement_urls": ("url", "statement_id", "source_id", "first_seen", "last_seen"),
    "versions": ("statement_id", "version", "title", "text", "first_seen", "last_seen",
                 "chars_added", "chars_removed", "origin"),
    "status_changes": ("statement_id", "status", "reason", "at"),
    "related": ("statement_id", "related_id", "similarity", "relation", "found_at"),
    "minhashes": ("statement_id", "signature"),
    "minhash_bands": ("band", "bucket", "statement_id"),
}  # fmt: skip


def _insert(db: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    marks = ", ".join("?" * len(columns))
    db.conn.executemany(f"insert into {table} ({', '.join(columns)}) values ({marks})", rows)


def _batches(count: int, seed: int) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The rows of every table for count statements, BATCH statements at a time."""
    rng = random.Random(seed)
    band_count, band_rows = reprints.bands(0.8)
    np_gen = np.random.default_rng(seed + 1)
    batch: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLE_COLUMNS}
    for row in statements(count, seed):
        sid, text, seen = row["id"], row["text"], row["first_seen"]
        row["rowid"] = row["n"] + 1
        row["text_hash"] = hashlib.sha256(text.encode()).hexdigest()[:32]
        batch["statements"].append(tuple(row.get(c) for c in STATEMENT_COLUMNS))
        batch[search.SEARCH_TABLE].append(
            (row["rowid"], sid, search.index_text(row["title"]), search.index_text(text))
        )
        batch["statement_urls"].append((row["url"], sid, row["source_id"], seen, seen))
        for version in range(1, row["version_count"] + 1):
            # Earlier versions: the text as first published, then grown by corrections.
            cut = len(text) - (row["version_count"] - version) * rng.randint(20, 200)
            batch["versions"].append(
                (sid, version, row["title"], text[: max(10, cut)], seen, seen,
                 None if version == 1 else 100, None if version == 1 else 0, "crawl")
            )  # fmt: skip
        if row["status"] != "live":
            batch["status_changes"].append((sid, row["status"], row["status_reason"], seen))
        if row["reprint_of"]:
            batch["related"].append((sid, row["reprint_of"], 0.95, "reprint", seen))
        # Signatures are random, like real ones of distinct texts (computing 1M real
        # MinHashes would take longer than the whole benchmark may).
        signature = np_gen.integers(0, 2**32, size=reprints.NUM_PERM).astype(
            reprints.SIGNATURE_DTYPE
        )
        batch["minhashes"].append((sid, signature.tobytes()))
        for band in range(band_count):
            bucket = hashlib.blake2b(
                signature[band * band_rows : (band + 1) * band_rows].tobytes(), digest_size=8
            ).hexdigest()
            batch["minhash_bands"].append((band, bucket, sid))
        if len(batch["statements"]) >= BATCH:
            yield batch
            batch = {name: [] for name in TABLE_COLUMNS}
    if batch["statements"]:
        yield batch


def _produce(count: int, seed: int, queue: Any) -> None:
    for batch in _batches(count, seed):
        queue.put(batch)
    queue.put(None)


def fill(path: Path, count: int, seed: int = SEED, progress: bool = True) -> dict[str, Any]:
    """Write an archive of count statements to path, with versions, statuses, reprints,
    LSH buckets and the search index; returns how long each part took.

    Rows are made in a second process while this one writes them; the tables' indexes
    are made after the rows are in, and the search index merged once at the end, as a
    bulk load should be (it gives the same file as record_page would, far sooner).
    """
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=4)
    producer = context.Process(target=_produce, args=(count, seed, queue), daemon=True)
    producer.start()
    db = open_archive(str(path))
    db.execute("pragma synchronous = off")  # a benchmark file: rebuilt if a run dies
    with db.atomic():
        for source in sources(random.Random(seed)):
            db.execute(
                "insert into sources (id, name, issuer, kind, language) values (?, ?, ?, ?, ?)",
                [source.id, source.id, source.issuers[0], "listing", source.language],
            )
        indexes = [
            (name, sql)
            for name, sql in db.execute(
                "select name, sql from sqlite_master where type = 'index' and sql is not null"
            ).fetchall()
        ]
        for name, _ in indexes:
            db.execute(f"drop index {name}")
        table = search.SEARCH_TABLE
        db.execute(f"insert into {table} ({table}, rank) values ('automerge', 0)")
    done = 0
    while (batch := queue.get()) is not None:
        with db.atomic():
            for name, rows in batch.items():
                _insert(db, name, TABLE_COLUMNS[name], rows)
        done += len(batch["statements"])
        if progress and done % 100_000 == 0:
            print(f"    {done:,} statements written ({time.perf_counter() - started:.0f} s)",
                  flush=True)  # fmt: skip
    producer.join()
    written = time.perf_counter()
    with db.atomic():
        for _, sql in indexes:
            db.execute(sql)
    indexed = time.perf_counter()
    with db.atomic():
        db.execute(f"insert into {table} ({table}) values ('optimize')")
        db.execute(f"insert into {table} ({table}, rank) values ('automerge', 4)")
    db.execute("analyze")
    db.close()
    return {
        "statements": count,
        "seed": seed,
        "write_seconds": round(written - started, 1),
        "table_index_seconds": round(indexed - written, 1),
        "search_merge_seconds": round(time.perf_counter() - indexed, 1),
    }


def cache_key(count: int, seed: int) -> str:
    # Not the schema version: opening a cached archive upgrades it in place (new tables and
    # columns), which is cheap; a new search index is not, and is in the key.
    shape = f"{GENERATOR_VERSION}|{search.TOKENIZE}|{search.INDEX_VERSION}"
    if not (EVAL_DIR / "aeb").is_dir():
        shape += "|no-eval"  # other lengths and words: another corpus
    digest = hashlib.sha256(shape.encode()).hexdigest()[:10]
    return f"archive-seed{seed}-{count}-{digest}"


def cached_archive(count: int, seed: int = SEED) -> tuple[Path, dict[str, Any]]:
    """The archive of count statements for seed, built once and then reused."""
    CACHE.mkdir(exist_ok=True)
    key = cache_key(count, seed)
    path, info = CACHE / f"{key}.db", CACHE / f"{key}.json"
    if path.is_file() and info.is_file():
        return path, {**json.loads(info.read_text("utf-8")), "reused": True}
    for stale in CACHE.glob(f"archive-seed{seed}-{count}-*"):
        stale.unlink()
    partial = CACHE / f"{key}.partial.db"
    for leftover in CACHE.glob(f"{key}.partial.db*"):
        leftover.unlink()
    print(f"  building a {count:,}-statement archive (seed {seed}) in {path}", flush=True)
    built = fill(partial, count, seed)
    os.replace(partial, path)
    built["bytes"] = path.stat().st_size
    info.write_text(json.dumps(built, indent=2) + "\n", encoding="utf-8")
    return path, {**built, "reused": False}


def sample_texts(count: int, seed: int = SEED) -> list[str]:
    """A few generated texts, to look at (`python -m bench.corpus`)."""
    return [row["text"][:300] for row in statements(count, seed)]


if __name__ == "__main__":
    for text in sample_texts(6):
        print(text, "\n")
