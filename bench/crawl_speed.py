"""Crawl throughput on a generated local site: raw fetch (R), plain trafilatura (T), and
the full `communique crawl` → clean → store (P); P against L = min(R, cores × T).

Rates are pages over the time from the server's first request of a run to the exit of
the process that crawled, the same window for R and P (Python's start-up and imports
before the first request are left out of both; each run's wall time is kept too).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import trafilatura

from bench import proc
from bench.site import GeneratedSite, ServedSite

CONCURRENCY = 16  # requests per domain: enough to keep a local server busy


def write_config(folder: Path, base_url: str, sitemap: str, name: str) -> Path:
    """A sources file with one sitemap source, delay 0, CONCURRENCY requests per domain."""
    path = folder / f"{name}.yaml"
    path.write_text(
        "crawl:\n"
        "  download_delay: 0\n"
        f"  concurrent_requests_per_domain: {CONCURRENCY}\n"
        "sources:\n"
        "  - id: bench-site\n"
        "    name: Generated statements\n"
        "    issuer: Ministry of Foreign Affairs\n"
        "    kind: sitemap\n"
        f"    start_urls: [{base_url}{sitemap}]\n"
        "    allowed_domains: [127.0.0.1]\n",
        encoding="utf-8",
    )
    return path


def timed_run(site: ServedSite, command: list[str], pages: int) -> dict[str, Any]:
    """Run a crawl command against the served site; its rate over the crawl window."""
    site.clear()
    ran = proc.run(command)
    if ran.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({ran.returncode}):\n{ran.stderr[-3000:]}")
    requests, times = site.log()
    window = ran.ended - times[0] if times else ran.seconds
    return {
        "pages": pages,
        "requests": len(requests),
        "seconds": round(window, 2),
        "wall_seconds": round(ran.seconds, 2),
        "pages_per_s": round(pages / window, 1),
        "max_rss_mb": ran.max_rss_mb,
        "stdout": ran.stdout,
    }


def raw_fetch(site: ServedSite, config: Path, pages: int) -> dict[str, Any]:
    result = timed_run(site, proc.python("-m", "bench.raw_fetch", str(config)), pages)
    if f'"responses": {pages}' not in result.pop("stdout"):
        raise RuntimeError("raw fetch did not get every page")
    return result


def trafilatura_rate(generated: GeneratedSite) -> dict[str, Any]:
    """Plain trafilatura.extract on every page, in this one process."""
    texts = [
        (generated.root / path.lstrip("/")).read_bytes().decode("utf-8") for path in generated.pages
    ]
    started = time.perf_counter()
    extracted = sum(1 for text in texts if trafilatura.extract(text))
    seconds = time.perf_counter() - started
    return {
        "pages": len(texts),
        "extracted": extracted,
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(texts) / seconds, 1),
    }


def pipeline_parts(generated: GeneratedSite, work: Path, sample: int = 500) -> dict[str, Any]:
    """Where a page's time goes, each part alone in this process on `sample` pages:
    `clean_page` (what the workers run) and `Archive.record_page` (what the reactor runs),
    with the MinHash signature record_page computes on its own."""
    from archive.clean import Hints, clean_page
    from archive.fetched import Fetched
    from archive.links import reprints
    from archive.store import Archive

    hints = Hints(issuer="Ministry of Foreign Affairs")
    pages = []
    for path in generated.pages[:sample]:
        body = (generated.root / path.lstrip("/")).read_bytes()
        pages.append((f"http://127.0.0.1{path}", body))
    started = time.perf_counter()
    cleaned = [clean_page(body, url, "text/html", hints) for url, body in pages]
    clean_s = time.perf_counter() - started
    started = time.perf_counter()
    for page in cleaned:
        reprints.signature(page.text or "")
    signature_s = time.perf_counter() - started
    archive = Archive(work / "parts.db")
    archive.sync_sources([{"id": "parts", "name": "p", "issuer": "p", "kind": "urls"}])
    crawl_id = archive.start_crawl("parts")
    started = time.perf_counter()
    for (url, body), page in zip(pages, cleaned, strict=True):
        fetched = Fetched(source_id="parts", url=url, http_status=200, body=body)
        archive.record_page(crawl_id, fetched, page)
    store_s = time.perf_counter() - started
    archive.close()
    count = len(pages)
    return {
        "pages": count,
        "clean_page_ms": round(clean_s / count * 1000, 2),
        "record_page_ms": round(store_s / count * 1000, 2),
        "minhash_signature_ms": round(signature_s / count * 1000, 2),
    }


def full_crawl(
    site: ServedSite, config: Path, db: Path, pages: int, settings: dict[str, str] | None = None
) -> dict[str, Any]:
    """`communique crawl` into a fresh archive; with settings, `scrapy crawl -s …` instead
    (the CLI has no way to set Scrapy settings; `scrapy crawl` runs the same spider and
    pipeline without the job directory and the summary)."""
    if settings is None:
        command = proc.communique(
            "crawl", "--config", str(config), "--db", str(db), "--no-progress",
            "--log-level", "WARNING",
        )  # fmt: skip
    else:
        command = [str(proc.BIN / "scrapy"), "crawl", "bench-site"]
        for name, value in {
            "COMMUNIQUE_CONFIG": str(config),
            "COMMUNIQUE_DB": str(db),
            "LOG_LEVEL": "WARNING",
            **settings,
        }.items():
            command += ["-s", f"{name}={value}"]
    result = timed_run(site, command, pages)
    stdout = result.pop("stdout")
    stored = _statements(db)
    if stored != pages:
        raise RuntimeError(f"crawl stored {stored} statements, not {pages}:\n{stdout[-2000:]}")
    result["statements"] = stored
    return result


def _statements(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("select count(*) from statements").fetchone()[0])
    finally:
        conn.close()


def run(
    generated: GeneratedSite, site: ServedSite, work: Path, variants: bool = True
) -> dict[str, Any]:
    """R, T, P and memory at 1,000 and all pages; the first crawl's archive is kept in
    `work/first.db` for the recrawl benchmark."""
    cores = os.cpu_count() or 1
    total = len(generated.pages)
    small = min(1000, total)
    config = write_config(work, site.base_url, generated.sitemap_path(total), "all")
    config_small = write_config(work, site.base_url, generated.sitemap_path(small), "small")
    results: dict[str, Any] = {"pages": total, "page_bytes": generated.average_bytes}
    results["cores"] = cores
    results["raw_fetch"] = raw_fetch(site, config, total)
    results["trafilatura"] = trafilatura_rate(generated)
    results["parts"] = pipeline_parts(generated, work)
    results["crawl"] = full_crawl(site, config, work / "first.db", total)
    results["crawl_small"] = full_crawl(site, config_small, work / "small.db", small)
    r = results["raw_fetch"]["pages_per_s"]
    t = results["trafilatura"]["pages_per_s"]
    limit = min(r, cores * t)
    results["limit_pages_per_s"] = round(limit, 1)
    results["p_over_l"] = round(results["crawl"]["pages_per_s"] / limit, 2)
    results["rss_growth"] = round(
        results["crawl"]["max_rss_mb"] / results["crawl_small"]["max_rss_mb"], 2
    )
    if variants:
        settings = {
            "baseline": {},
            "concurrent_items_100": {"CONCURRENT_ITEMS": "100"},
            "extract_workers_1": {"COMMUNIQUE_EXTRACT_WORKERS": "1"},
        }
        results["variants"] = {
            name: full_crawl(site, config, work / f"variant-{name}.db", total, values)
            for name, values in settings.items()
        }
    return results
