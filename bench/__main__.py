"""`python -m bench [--large] [--only NAME]`: run the benchmarks, print a table, save JSON.

In order: crawl (throughput R, T, P and memory on a generated site), recrawl (a second,
no-change crawl of that site and of the demo sources), search (raw SQLite, the Search page
and the statements table's search box on 100k statements of `bench.corpus`), csv (the
full statements CSV, streamed by Datasette and written by `communique export`), store
(add one statement, and bytes per statement, at 10k and 100k), feeds (Atom feeds, the
home page's timelines and a statement page on 100k statements), distributed (the writer
of a crawl on several machines against one worker), links (link one new statement across
languages at 100k, `bench.crosslang_speed`; needs ../shared/eval/crosslang for its
vocabulary, skipped without it). `--large` adds 1M statements to search, csv and store.
Figures only: nothing passes or fails; the goals of issue 18 are printed beside what was
measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    crawl_speed,
    crosslang_speed,
    csv_speed,
    distributed,
    feed_speed,
    recrawl,
    search_speed,
    store_growth,
)
from bench.site import ServedSite, generate

RESULTS = Path(__file__).parent / "results" / "latest.json"
BENCHMARKS = ("crawl", "recrawl", "search", "csv", "store", "feeds", "distributed", "links")
SITE_PAGES = 2000

Row = tuple[str, str, str]  # figure, value, target


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def crawl_rows(crawl: dict[str, Any]) -> list[Row]:
    raw, traf, full, small = (
        crawl["raw_fetch"], crawl["trafilatura"], crawl["crawl"], crawl["crawl_small"]
    )  # fmt: skip
    parts = crawl["parts"]
    rows: list[Row] = [
        ("R raw Scrapy fetch", f"{raw['pages_per_s']} pages/s", ""),
        ("T trafilatura.extract, 1 process", f"{traf['pages_per_s']} pages/s", ""),
        (f"L = min(R, {crawl['cores']} × T)", f"{crawl['limit_pages_per_s']} pages/s", ""),
        ("P communique crawl → clean → store", f"{full['pages_per_s']} pages/s", ""),
        (
            "  per page, 1 process: clean_page | record_page",
            f"{parts['clean_page_ms']} | {parts['record_page_ms']} ms "
            f"(MinHash {parts['minhash_signature_ms']} ms of it)",
            "(where P's time goes)",
        ),
        ("P / L", f"{crawl['p_over_l']}", "≥ 0.85"),
        (
            f"peak RSS, {small['pages']:,} → {full['pages']:,} pages",
            f"{small['max_rss_mb']} → {full['max_rss_mb']} MB ({crawl['rss_growth']}×)",
            "no growth (≈ 1.0×)",
        ),
    ]
    labels = {
        "baseline": "scrapy crawl, CONCURRENT_ITEMS 1, workers = cores",
        "concurrent_items_100": "scrapy crawl, CONCURRENT_ITEMS 100",
        "extract_workers_1": "scrapy crawl, 1 extraction worker",
    }
    for name, variant in crawl.get("variants", {}).items():
        rows.append((labels[name], f"{variant['pages_per_s']} pages/s", "(settings check)"))
    return rows


def recrawl_rows(name: str, result: dict[str, Any]) -> list[Row]:
    first = result["first"]
    rows: list[Row] = [
        (f"{name}: first crawl", f"{first['requests']} requests, {first['seconds']} s", "")
    ]
    for kind, label in (("due", "crawl --due"), ("plain", "plain crawl")):
        later = result[kind]
        rows.append(
            (
                f"{name}: second {label}",
                f"{later['requests']} requests ({later['requests_ratio']:.1%}), "
                f"{later['seconds']} s ({later['time_ratio']:.0%})",
                "< 10% requests, < 20% time" if kind == "due" else "",
            )
        )
    return rows


def search_rows(result: dict[str, Any]) -> list[Row]:
    size = f"{result['statements']:,}"
    rows: list[Row] = [
        (f"search {size}: raw SQLite SEARCH_SQL, p95", f"{result['p95_sqlite_ms']} ms", ""),
        (f"search {size}: Search page, p95", f"{result['p95_search_page_ms']} ms", "≤ 500 ms"),
        (
            f"search {size}: Search page / raw SQLite, p95 | worst query (medians)",
            f"{result['page_over_sqlite_p95']}× | {result['max_page_over_sqlite']}×",
            "≤ 2×",
        ),
        (
            f"search {size}: statements?_search= (rows, count, facets), p95",
            f"{result['p95_table_q_ms']} ms",
            "≤ 1,000 ms",
        ),
    ]
    for klass, figures in result["by_class"].items():
        rows.append(
            (
                f"  {klass}: sqlite | page | table, p95",
                f"{figures['p95_sqlite_ms']} | {figures['p95_search_page_ms']} | "
                f"{figures['p95_table_q_ms']} ms",
                "",
            )
        )
    return rows


def csv_rows(result: dict[str, Any]) -> list[Row]:
    size = f"{result['statements']:,}"
    stream, export = result["datasette_stream"], result["export"]
    rows: list[Row] = [
        (
            f"CSV {size}: statements.csv?_stream=on",
            f"{stream['rows_per_s']:,} rows/s ({stream['rows_per_cpu_s']:,} per CPU s; "
            f"{stream['rows']:,} rows), server peak {stream['server_peak_rss_mb']} MB",
            "≥ 5,000 rows/s",
        ),
    ]
    if "error" in export:
        rows.append((f"CSV {size}: communique export", export["error"][:60], ""))
    else:
        rows.append(
            (
                f"CSV {size}: communique export (3 files)",
                f"{export['rows_per_s']:,} rows/s ({export['rows_per_cpu_s']:,} per CPU s; "
                f"{export['all_rows']:,} rows), peak {export['peak_rss_mb']} MB",
                "≥ 5,000 rows/s",
            )
        )
    return rows


def store_rows(growth: dict[str, Any], sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        row = growth[str(size)]
        value = (
            f"{row['add_one_median_ms']} ms (p90 {row['add_one_p90_ms']}), "
            f"{row['bytes_per_statement']:,} bytes/statement"
        )
        rows.append((f"add one statement at {size:,}", value, ""))
    span = f"{sizes[0]:,} → {sizes[-1]:,}"
    rows.append((f"add-one growth {span}", f"{growth['growth_ratio']}×", "≤ 1.5×"))
    rows.append((f"bytes/statement growth {span}", f"{growth['bytes_ratio']}×", "≤ 1.2×"))
    return rows


def links_rows(result: dict[str, Any]) -> list[Row]:
    size = f"{result['statements']:,}"
    return [
        (
            f"link one statement across languages at {size}, median (p90)",
            f"{result['link_median_ms']:.1f} ms ({result['link_p90_ms']:.1f}); "
            f"CPU {result['link_cpu_median_ms']:.1f} ms",
            "≤ 20 ms (issue 15)",
        ),
        (
            "  of which features (jieba, CC-CEDICT), median",
            f"{result['features_median_ms']:.1f} ms",
            "",
        ),
        (
            "  the writer's part in a crawl (features from the workers), median (p90)",
            f"{result['writer_median_ms']:.1f} ms ({result['writer_p90_ms']:.1f})",
            "",
        ),
    ]


def goals(report: dict[str, Any]) -> list[Row]:
    """Issue 18's goals against the largest archive measured."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows: list[Row] = []
    searched = report.get("search", {})
    if searched:
        size = max(searched, key=int)
        s = searched[size]
        rows += [
            (
                f"search page p95 at {int(size):,}",
                f"{s['p95_search_page_ms']} ms",
                f"≤ 500 ms: {verdict(s['p95_search_page_ms'] <= 500)}",
            ),
            (
                "search page p95 / raw SQLite p95, same queries",
                f"{s['page_over_sqlite_p95']}× (worst query {s['max_page_over_sqlite']}×)",
                f"≤ 2×: {verdict(s['page_over_sqlite_p95'] <= 2)}",
            ),
            (
                f"table search p95 at {int(size):,}",
                f"{s['p95_table_q_ms']} ms",
                f"≤ 1,000 ms: {verdict(s['p95_table_q_ms'] <= 1000)}",
            ),
        ]
    exported = report.get("csv", {})
    if exported:
        sizes = sorted(exported, key=int)
        big = exported[sizes[-1]]
        for name, figures in (("stream", big["datasette_stream"]), ("export", big["export"])):
            if "rows_per_s" in figures:
                rows.append(
                    (
                        f"CSV {name} at {int(sizes[-1]):,} (wall | per CPU second)",
                        f"{figures['rows_per_s']:,} | {figures['rows_per_cpu_s']:,} rows/s",
                        f"≥ 5,000: {verdict(figures['rows_per_s'] >= 5000)} | "
                        f"{verdict(figures['rows_per_cpu_s'] >= 5000)}",
                    )
                )
        if len(sizes) > 1:
            small = exported[sizes[0]]
            for name, key in (("stream", "server_peak_rss_mb"), ("export", "peak_rss_mb")):
                part = "datasette_stream" if name == "stream" else "export"
                if key in small[part] and key in big[part]:
                    ratio = big[part][key] / max(small[part][key], 1.0)
                    rows.append(
                        (
                            f"CSV {name} peak RSS {int(sizes[0]):,} → {int(sizes[-1]):,}",
                            f"{small[part][key]} → {big[part][key]} MB ({ratio:.2f}×)",
                            f"flat (≤ 1.1×): {verdict(ratio <= 1.1)}",
                        )
                    )
            stream = big["datasette_stream"]
            if stream.get("server_rss_at_tenth_mb"):
                ratio = stream["server_peak_rss_mb"] / stream["server_rss_at_tenth_mb"]
                rows.append(
                    (
                        f"CSV stream RSS through the {int(sizes[-1]):,} download: "
                        "a tenth in → peak",
                        f"{stream['server_rss_at_tenth_mb']} → {stream['server_peak_rss_mb']} MB "
                        f"({ratio:.2f}×)",
                        f"flat (≤ 1.1×): {verdict(ratio <= 1.1)}",
                    )
                )
    growth = report.get("store_growth")
    if growth:
        rows += [
            (
                "add one statement, largest / 10k",
                f"{growth['growth_ratio']}×",
                f"≤ 1.5×: {verdict(growth['growth_ratio'] <= 1.5)}",
            ),
            (
                "bytes per statement, largest / 10k",
                f"{growth['bytes_ratio']}×",
                f"≤ 1.2×: {verdict(growth['bytes_ratio'] <= 1.2)}",
            ),
        ]
    return rows


def feed_rows(result: dict[str, Any]) -> list[Row]:
    size = f"{result['statements']:,}"
    rows: list[Row] = [
        (f"feeds {size}: {label}", f"{page['ms']} ms", "")
        for label, page in result["pages"].items()
    ]
    sql = ", ".join(f"{name} {ms}" for name, ms in result["sql_ms"].items())
    rows.append((f"feeds {size}: feed SQL in sqlite3", f"{sql} ms", ""))
    charts = ", ".join(f"{name} {ms}" for name, ms in result["timeline_sql_ms"].items())
    rows.append((f"feeds {size}: timeline SQL in sqlite3", f"{charts} ms", ""))
    rows.append(
        (
            f"feeds {size}: home page's span query (not the charts)",
            f"{result['home_other_sql_ms']} ms",
            "",
        )
    )
    return rows


def distributed_rows(result: dict[str, Any]) -> list[Row]:
    if "skipped" in result:
        return [("distributed", "skipped", result["skipped"])]
    worker, writer = result["worker"], result["writer"]
    return [
        (
            f"one worker: fetch → clean → push, {result['results']:,} results",
            f"{worker['pages_per_s']} pages/s",
            "",
        ),
        ("writer: pre-filled stream → archive", f"{writer['results_per_s']} results/s", ""),
        (
            "  and linked (the linker beside it done)",
            f"{writer['linked_per_s']} results/s, {writer['links_behind_s']} s after",
            "",
        ),
        ("writer / one worker", f"{result['ratio']}×", "≥ 5×"),
        *(
            [("  each round's", ", ".join(f"{r['ratio']}×" for r in result["rounds"]), "")]
            if "rounds" in result
            else []
        ),
        ("  with its links written", f"{result['linked_ratio']}×", ""),
        (
            "CPU a page: one worker / the writer (start-up included)",
            f"{worker['cpu_ms_per_page']} / {writer['cpu_ms_per_result']} ms",
            "",
        ),
        ("writer / one worker, by CPU", f"{result['cpu_ratio']}×", "≥ 5×"),
    ]


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    for figure, value, target in rows:
        print(f"  {figure:<{width}}  {value:<{value_width}}  {target}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--large", action="store_true", help="also 1M statements (slow)")
    parser.add_argument("--only", choices=BENCHMARKS, help="run one benchmark")
    args = parser.parse_args()
    chosen = [args.only] if args.only else list(BENCHMARKS)
    report: dict[str, Any] = {"machine": machine(), "date": datetime.now(UTC).isoformat()}
    table: list[Row] = []
    started = time.perf_counter()
    print(f"Communique benchmarks on {report['machine']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="communique-bench-") as folder:
        work = Path(folder)
        if "crawl" in chosen or "recrawl" in chosen:
            generated = generate(work / "site", SITE_PAGES)
            print(
                f"\nGenerated {len(generated.pages):,} statement pages "
                f"(~{generated.average_bytes / 1000:.1f} KB, 1 in 3 Chinese)",
                flush=True,
            )
            with ServedSite(generated.root) as site:
                config = crawl_speed.write_config(
                    work, site.base_url, generated.sitemap_path(SITE_PAGES), "all"
                )
                if "crawl" in chosen:
                    crawl = crawl_speed.run(generated, site, work)
                    report["crawl"] = crawl
                    rows = crawl_rows(crawl)
                    print_table("Crawl throughput (pages/s over the crawl window)", rows)
                    table += rows
                    first = crawl["crawl"]
                else:
                    first = crawl_speed.full_crawl(
                        site, config, work / "first.db", len(generated.pages)
                    )
                if "recrawl" in chosen:
                    generated_recrawl = recrawl.run_generated(
                        site, config, work / "first.db", first
                    )
                    report["recrawl_generated"] = generated_recrawl
                    rows = recrawl_rows("generated site", generated_recrawl)
            if "recrawl" in chosen:
                demo = recrawl.run_demo(work)
                report["recrawl_demo"] = demo
                rows += recrawl_rows("demo sources", demo)
                print_table("No-change recrawl against the first crawl", rows)
                table += rows
        if "search" in chosen:
            sizes = [100_000] + ([1_000_000] if args.large else [])
            report["search"] = {}
            for size in sizes:
                result = search_speed.run(work, size)
                report["search"][str(size)] = result
                rows = search_rows(result)
                print_table(f"Full-text search, {size:,} statements", rows)
                for query in result["queries"]:
                    print(
                        f"    {query['query']:<14} {query['class']:<6} {query['matches']:>7} "
                        f"matches  sqlite {max(query['sqlite_ms']):>7} ms  "
                        f"page {max(query['search_page_ms']):>7} ms  "
                        f"table {max(query['table_q_ms']):>7} ms"
                        + ("  (facets timed out)" if query["facets_timed_out"] else "")
                    )
                table += rows
        if "csv" in chosen:
            # From 10k: peak memory must not grow with the archive.
            sizes = [10_000, 100_000] + ([1_000_000] if args.large else [])
            report["csv"] = {}
            for size in sizes:
                result = csv_speed.run(work, size)
                report["csv"][str(size)] = result
                rows = csv_rows(result)
                print_table(f"The full statements CSV, {size:,} statements", rows)
                table += rows
        if "store" in chosen:
            sizes = [10_000, 100_000] + ([1_000_000] if args.large else [])
            growth = store_growth.run(sizes)
            report["store_growth"] = growth
            rows = store_rows(growth, sizes)
            print_table("Add one statement (record_page) and bytes per statement", rows)
            table += rows
        if "feeds" in chosen:
            result = feed_speed.run(work, 100_000)
            report["feeds"] = result
            rows = feed_rows(result)
            print_table("Atom feeds and timelines, 100,000 statements (median)", rows)
            table += rows
        if "distributed" in chosen:
            result = distributed.run(work)
            if "skipped" not in result:  # a skipped run keeps the last measured figures
                report["distributed"] = result
            rows = distributed_rows(result)
            print_table("Several machines: the writer against one worker (same machine)", rows)
            table += rows
        if "links" in chosen:
            if (crosslang_speed.DEFAULT_EVAL / "docs.jsonl").is_file():
                result = crosslang_speed.run(crosslang_speed.DEFAULT_EVAL)
                report["links"] = result
                rows = links_rows(result)
                print_table("Cross-language links", rows)
                table += rows
            else:
                print(f"\nlinks: skipped, no {crosslang_speed.DEFAULT_EVAL} (its vocabulary)")
    report["seconds"] = round(time.perf_counter() - started, 1)
    print_table(f"Summary ({report['machine']}, {report['seconds']} s)", table)
    goal_rows = goals(report)
    if goal_rows:
        print_table("Issue 18 goals (largest archive measured)", goal_rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if args.only and RESULTS.exists():
        report = {**json.loads(RESULTS.read_text(encoding="utf-8")), **report}
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nSaved {RESULTS}")


if __name__ == "__main__":
    main()
