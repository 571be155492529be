"""`python -m bench.crosslang_crawl DIR`: cross-language links scored through a real crawl.

DIR is the measuring set (`docs.jsonl`, `links.json`; see `bench.crosslang`). Its documents
are written as HTML pages into a temporary folder (never into the repository: the texts
are not ours to publish), each with its title, its date (in a meta tag and on the page)
and its paragraphs, and served on 127.0.0.1. `communique crawl` crawls them as two `urls`
sources, `language: zh` and `language: en`, into a fresh archive: fetch, clean, store and
link as any crawl does. The archive's `related` rows (translation, report) are then scored
against the gold links: translation and report recall and precision, and the share of the
links found whose relation is right, beside the goals of issue 15; then again after
`communique link --rebuild` on the same archive (every statement linked anew, in date order).
A first crawl into an empty archive links its statements again at its end, as a rebuild
does (`archive/relink.py`), so the two agree; an archive grown from more agrees less.

Exits 0 with a message when DIR is missing (the set is not part of the repository).
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.crosslang import GOALS, load, score
from bench.proc import communique, run
from bench.site import ServedSite

LANGUAGES = ("zh", "en")


def page(doc: dict[str, Any]) -> str:
    """One document as a plain statement page: title, date line, one <p> per paragraph."""
    title = html.escape(doc["title"])
    paragraphs = "\n".join(
        f"<p>{html.escape(line)}</p>" for line in doc["text"].splitlines() if line.strip()
    )
    dated = "发布时间：" if doc["lang"] == "zh" else "Date: "
    heading = f"<h1>{title}</h1>" if title else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{doc["lang"]}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        f'<meta name="publishdate" content="{doc["date"]}">\n</head>\n<body>\n'
        f'<div class="article">\n{heading}\n<div class="info">{dated}{doc["date"]}</div>\n'
        f'<div class="content">\n{paragraphs}\n</div>\n</div>\n</body>\n</html>\n'
    )


def write_site(docs: list[dict[str, Any]], root: Path) -> dict[str, list[str]]:
    """The pages under root/<lang>/<id>.html; the paths of each language."""
    paths: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for doc in docs:
        folder = root / doc["lang"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{doc['id']}.html").write_text(page(doc), encoding="utf-8")
        paths[doc["lang"]].append(f"/{doc['lang']}/{doc['id']}.html")
    return paths


def write_config(path: Path, base_url: str, paths: dict[str, list[str]]) -> Path:
    sources = [
        {
            "id": f"crosslang-{lang}",
            "name": f"Measuring set ({lang})",
            "issuer": "Measuring set",
            "kind": "urls",
            "language": lang,
            "timezone": "Asia/Shanghai",
            "urls": [base_url + p for p in paths[lang]],
            "allowed_domains": ["127.0.0.1"],
        }
        for lang in LANGUAGES
    ]
    config = {
        "crawl": {"download_delay": 0, "concurrent_requests_per_domain": 8, "timeout": 60},
        "sources": sources,
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def archived(
    db: Path,
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """Each document's statement (by the id in its URL), and the links found, by doc ids."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    by_statement: dict[str, str] = {}
    statements: dict[str, dict[str, Any]] = {}
    for row in conn.execute("select id, url, language, published, title from statements"):
        doc_id = row["url"].rsplit("/", 1)[-1].removesuffix(".html")
        by_statement[row["id"]] = doc_id
        statements[doc_id] = dict(row)
    found: dict[tuple[str, str], str] = {}
    evidence: dict[tuple[str, str], str] = {}
    for row in conn.execute(
        "select statement_id, related_id, relation, evidence from related "
        "where relation in ('translation', 'report')"
    ):
        pair = (by_statement[row["statement_id"]], by_statement[row["related_id"]])
        found[pair] = row["relation"]
        evidence[pair] = row["evidence"]
    conn.close()
    return statements, found, evidence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crosslang_crawl", description=__doc__)
    parser.add_argument("folder", type=Path, help="folder with docs.jsonl and links.json")
    parser.add_argument("--keep", type=Path, help="also copy the crawled archive here")
    args = parser.parse_args(argv)
    if not (args.folder / "docs.jsonl").is_file():
        print(f"cross-language links: skipped, no measuring set at {args.folder}")
        return 0
    docs, gold = load(args.folder)
    with tempfile.TemporaryDirectory(prefix="crosslang-crawl-") as folder:
        work = Path(folder)
        paths = write_site(docs, work / "site")
        with ServedSite(work / "site") as site:
            config = write_config(work / "sources.yaml", site.base_url, paths)
            db = work / "archive.db"
            started = time.perf_counter()
            crawled = run(communique("crawl", "--config", str(config), "--db", str(db)))
            seconds = time.perf_counter() - started
        if crawled.returncode != 0:
            print(crawled.stdout + crawled.stderr[-3000:], file=sys.stderr)
            return 1
        statements, found, evidence = archived(db)
        if args.keep:
            args.keep.write_bytes(db.read_bytes())
        # The same archive linked again in date order, as `communique link --rebuild` does.
        relinked = run(communique("link", "--db", str(db), "--rebuild", "--no-progress"))
        if relinked.returncode != 0:
            print(relinked.stdout + relinked.stderr[-3000:], file=sys.stderr)
            return 1
        _, found_again, evidence_again = archived(db)
    scored = score(found, gold, evidence)
    rescored = score(found_again, gold, evidence_again)
    misdated = [
        d["id"]
        for d in docs
        if d["id"] in statements and (statements[d["id"]]["published"] or "")[:10] != d["date"]
    ]
    mislabelled = [
        d["id"]
        for d in docs
        if d["id"] in statements and statements[d["id"]]["language"] != d["lang"]
    ]
    print(
        f"Cross-language links through a crawl: {len(docs)} pages served, "
        f"{len(statements)} statements archived in {seconds:.0f} s "
        f"({crawled.cpu_seconds:.0f} CPU s), {len(gold)} gold links"
    )
    if misdated or mislabelled or len(statements) != len(docs):
        print(
            f"  the crawl lost {len(docs) - len(statements)} page(s); dates read otherwise "
            f"than the set's: {len(misdated)}; language otherwise: {len(mislabelled)}"
        )
    print(f"\n  {'figure':<24}{'goal':>8}{'crawl':>10}{'':<8}{'link --rebuild':>16}")
    for figure, goal in GOALS.items():
        value, again = scored.figures[figure], rescored.figures[figure]
        verdict = "met" if value >= goal else "MISSED"
        verdict_again = "met" if again >= goal else "MISSED"
        print(
            f"  {figure:<24}{'≥ ' + format(goal, '.2f'):>8}{value:>10.3f}  {verdict:<6}"
            f"{again:>16.3f}  {verdict_again}"
        )
    for label, links in (("crawl", found), ("link --rebuild", found_again)):
        print(
            f"  links found ({label}): {sum(k == 'translation' for k in links.values())} "
            f"translation, {sum(k == 'report' for k in links.values())} report"
        )
    for label, result in (("crawl", scored), ("link --rebuild", rescored)):
        if result.misses:
            print(f"\n  {len(result.misses)} misses ({label}):")
            for miss in result.misses:
                print(f"    {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
