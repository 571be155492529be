"""The full statements CSV at scale: Datasette's `?_stream=on` and `communique export`.

Both on `bench.corpus`'s archive: rows per second over the whole download (every row then
parsed back with the csv module, so a cut file shows as missing rows), and the peak RSS of
the serving process (a fresh `datasette`) and of the `communique export` process.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import corpus, proc
from bench.search_speed import serve

csv.field_size_limit(sys.maxsize)


def _peak_rss_mb(pid: int) -> float:
    """The process's RSS high-water mark (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class RssWatch:
    """Samples a process's RSS every 50 ms while it runs (a thread of this process)."""

    def __init__(self, pid: int) -> None:
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(pid,), daemon=True)
        self._thread.start()

    def _watch(self, pid: int) -> None:
        started = time.perf_counter()
        while not self._stop.wait(0.05):
            self.samples.append((time.perf_counter() - started, _rss_mb(pid)))

    def at(self, share: float) -> float:
        """The RSS once `share` of the watched time had passed."""
        self._stop.set()
        self._thread.join()
        end = self.samples[-1][0] if self.samples else 0.0
        return next((mb for t, mb in self.samples if t >= share * end), 0.0)


def _cpu_seconds(pid: int) -> float:
    """User + system time of a running process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def datasette_stream(path: Path, work: Path) -> dict[str, Any]:
    process, base = serve(path, work / "datasette-metadata")
    try:
        url = f"{base}/{path.stem}/statements.csv?_stream=on&_size=max"
        download = work / "statements-stream.csv"
        cpu_before = _cpu_seconds(process.pid)
        watch = RssWatch(process.pid)
        started = time.perf_counter()
        # Timed as a user's download is (curl, a browser): the bytes to a file. Parsing
        # them here, as they arrive, took this 2-core machine's other core from the server.
        with urllib.request.urlopen(url, timeout=3600) as response, download.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(process.pid) - cpu_before
        peak = _peak_rss_mb(process.pid)
        tenth = watch.at(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    with download.open(encoding="utf-8", newline="") as text:
        rows = sum(1 for _ in csv.reader(text)) - 1  # every row parsed back; less the header
    download.unlink()
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        # Rows per CPU second of the server: the rate on a core of its own (the benchmark
        # machine is shared, so the wall-clock rate says as much about the neighbours).
        "server_cpu_seconds": round(cpu, 1),
        "rows_per_cpu_s": round(rows / max(cpu, 0.01)),
        "server_peak_rss_mb": peak,
        # Whether memory grows with the rows sent: the RSS a tenth of the way through the
        # download against the peak. (A small archive's download ends in a second, before
        # the server's memory has settled, so its peak says less.)
        "server_rss_at_tenth_mb": tenth,
    }


def export(path: Path, work: Path) -> dict[str, Any]:
    out = work / f"export-{path.stem}"
    shutil.rmtree(out, ignore_errors=True)
    ran = proc.run(proc.communique("export", "--db", str(path), "--out", str(out)), timeout=7200)
    try:
        if ran.returncode != 0:
            return {"error": ran.stderr.strip()[-500:]}
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        files = {f["name"].split("-")[0]: f for f in manifest["files"]}
        total = sum(f["rows"] for f in manifest["files"])
        return {
            "statement_rows": files["statements"]["rows"],
            "all_rows": total,
            "bytes": sum(f["bytes"] for f in manifest["files"]),
            "seconds": round(ran.seconds, 1),
            "rows_per_s": round(total / ran.seconds),
            "cpu_seconds": ran.cpu_seconds,
            "rows_per_cpu_s": round(total / max(ran.cpu_seconds, 0.01)),
            "statement_rows_per_s": round(files["statements"]["rows"] / ran.seconds),
            "peak_rss_mb": ran.max_rss_mb,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(work: Path, size: int) -> dict[str, Any]:
    path, _ = corpus.cached_archive(size)
    return {
        "statements": size,
        "datasette_stream": datasette_stream(path, work),
        "export": export(path, work),
    }
