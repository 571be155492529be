"""Crawling on several machines: the writer's throughput against one worker's page rate.

One worker (`communique worker`, fetch → clean → push) crawls a generated site through a
local redis-server while no writer runs, so its results wait on the stream; then the
writer (`communique crawl --frontier`) takes that pre-filled stream into a fresh archive
alone. Goal: the writer stores at least 5× what one worker fetches and cleans, so that one
writer serves five crawl machines. Both run on this (shared, 2-core) machine, one after
the other, each with the machine to itself as far as other work on it allows.

- Worker rate: results on the stream over the time from the site's first request to the
  last result's arrival in Redis (the stream entry's own time stamp, Redis's clock).
- Writer rate: results taken between the first and the last time the stream shrank, over
  that time (polled every 20 ms), so start-up and the run's finish are left out.
- CPU per page: each command's CPU time (its own and its processes', start-up included)
  over the results. Wall-clock rates swing with other work on a shared machine; CPU time
  hardly does, so the CPU ratio is the steadier figure of the two.
- Five rounds, each with a fresh frontier and archive: the figures are those of the round
  with the median ratio, and each round's ratio is printed beside it.

`python -m bench.distributed seed CONFIG DB URL` is the seeding step on its own (a run
opened and its start requests pushed, as the writer does before it writes).
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

from bench import crawl_speed, proc
from bench.site import ServedSite, generate

PAGES = 1000
ROUNDS = 5  # the figures printed are the median round's


def run(work: Path) -> dict[str, Any]:
    """ROUNDS rounds, each a fresh frontier and archive; the round of the median ratio,
    with every round's figures (one round's ratio swings by a third on a shared machine)."""
    from tests.redis_server import REDIS_SERVER

    if not Path(REDIS_SERVER).exists():
        return {"skipped": f"redis-server not found at {REDIS_SERVER} (make redis)"}
    generated = generate(work / "distributed-site", PAGES)
    with ServedSite(generated.root) as site:
        config = crawl_speed.write_config(
            work, site.base_url, generated.sitemap_path(PAGES), "distributed"
        )
        rounds = [_round(work / f"distributed-{n}", site, config) for n in range(ROUNDS)]
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    return {
        **median,
        "rounds": [
            {
                "worker_pages_per_s": r["worker"]["pages_per_s"],
                "writer_results_per_s": r["writer"]["results_per_s"],
                "ratio": r["ratio"],
                "linked_ratio": r["linked_ratio"],
            }
            for r in rounds
        ],
    }


def _round(folder: Path, site: ServedSite, config: Path) -> dict[str, Any]:
    from tests.redis_server import RedisServer

    folder.mkdir(parents=True, exist_ok=True)
    server = RedisServer(folder)
    try:
        url = server.url()
        db = folder / "distributed.db"
        seeded = proc.run(proc.python("-m", "bench.distributed", "seed", str(config), str(db), url))
        if seeded.returncode:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")
        site.clear()
        worker = proc.run(
            proc.communique(
                "worker", "--frontier", url, "--config", str(config),
                "--until-idle", "2", "--log-level", "WARNING",
            )
        )  # fmt: skip
        if worker.returncode:
            raise RuntimeError(f"worker failed:\n{worker.stderr[-3000:]}")
        _, times = site.log()
        r = server.client()
        results = int(r.xlen("communique:results"))
        last = r.xrevrange("communique:results", count=1)[0][0].decode()
        last_s = int(last.split("-")[0]) / 1000
        worker_s = last_s - times[0]
        watch = _Shrinking(r, results, db)
        watch.start()
        writer = proc.run(
            proc.communique(
                "crawl", "--frontier", url, "--config", str(config), "--db", str(db),
                "--log-level", "WARNING", "--no-progress",
            )
        )  # fmt: skip
        watch.stop()
        if writer.returncode:
            raise RuntimeError(f"writer failed:\n{writer.stderr[-3000:]}")
    finally:
        server.stop()
    worker_rate = results / worker_s
    writer_rate = watch.rate()
    return {
        "pages": PAGES,
        "results": results,
        "worker": {
            "seconds": round(worker_s, 2),
            "pages_per_s": round(worker_rate, 1),
            "cpu_seconds": worker.cpu_seconds,
            "cpu_ms_per_page": round(1000 * worker.cpu_seconds / results, 2),
            "max_rss_mb": worker.max_rss_mb,
        },
        "writer": {
            "seconds": round(watch.seconds, 2),
            "results_per_s": round(writer_rate, 1),
            # Linked too: till the linker beside the writer emptied its queue.
            "linked_per_s": round(watch.linked_rate(), 1),
            "links_behind_s": round(watch.links_behind, 2),
            "wall_seconds": round(writer.seconds, 2),
            "cpu_seconds": writer.cpu_seconds,
            "cpu_ms_per_result": round(1000 * writer.cpu_seconds / results, 2),
            "max_rss_mb": writer.max_rss_mb,
        },
        "ratio": round(writer_rate / worker_rate, 2),
        "linked_ratio": round(watch.linked_rate() / worker_rate, 2),
        "cpu_ratio": round(worker.cpu_seconds / writer.cpu_seconds, 2),
    }


class _Shrinking(threading.Thread):
    """Watches the result stream shrink while the writer takes it in, and the archive's
    queue for the linker beside the writer (archive/linker.py) empty after it."""

    def __init__(self, r: redis.Redis, total: int, db: Path) -> None:
        super().__init__(daemon=True)
        self.r = r
        self.total = total
        self.db = db
        self.first: tuple[float, int] | None = None  # (time, length) when it first shrank
        self.last: tuple[float, int] | None = None  # and when it last did
        self.linked: float | None = None  # when the queue was last seen emptied
        self.running = True

    def run(self) -> None:
        previous, queued = self.total, 0
        archive = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        while self.running:
            length = int(self.r.xlen("communique:results"))
            now = time.perf_counter()
            if length < previous:
                self.first = self.first or (now, length)
                self.last = (now, length)
                previous = length
            with contextlib.suppress(sqlite3.Error):
                waiting = archive.execute("select count(*) from xlang_queue").fetchone()[0]
                if queued and not waiting:
                    self.linked = now
                queued = waiting
            time.sleep(0.02)
        archive.close()

    @property
    def links_behind(self) -> float:
        """How long after the last result was taken its links were all written."""
        if self.linked is None or self.last is None:
            return 0.0
        return max(0.0, self.linked - self.last[0])

    def linked_rate(self) -> float:
        """Results over the time from the first taken to the last one's links written."""
        if self.first is None or self.last is None:
            return 0.0
        end = max(self.last[0], self.linked or 0.0)
        if end <= self.first[0]:
            return 0.0
        return (self.first[1] - self.last[1]) / (end - self.first[0])

    def stop(self) -> None:
        self.running = False
        self.join()

    @property
    def seconds(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return self.last[0] - self.first[0]

    def rate(self) -> float:
        if self.first is None or self.last is None or self.seconds <= 0:
            raise RuntimeError("the writer took nothing, or everything in one batch")
        return (self.first[1] - self.last[1]) / self.seconds


def _seed(config_path: str, db: str, url: str) -> None:
    from communique.config import load_config
    from crawler import frontier
    from crawler.writer import start_run

    config = load_config(config_path)
    server = frontier.connect(url)
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    from archive.schema import open_archive

    open_archive(db).close()
    start_run(server, url, config, list(config.sources), Path(db), log_level="WARNING")


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"] and len(sys.argv) == 5:
        _seed(*sys.argv[2:5])
    else:
        sys.exit("usage: python -m bench.distributed seed CONFIG DB URL")
