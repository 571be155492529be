"""`python -m bench.crosslang DIR`: score cross-language linking on a measuring set.

DIR holds `docs.jsonl` ({id, lang, title, date, text}) and `links.json` ([{zh, en, kind}]).
The documents go through `archive.links.crosslang.index_and_link` one by one, in date order
as a crawl would bring them, into a fresh SQLite file; the links found are scored against
the gold links. Two runs:

- `dated`: with each document's date, as the archive has it (the linker never reads titles).
- `text only`: every document given the same date, so neither date nor title helps; the
  linker then sees the whole set as one pool.

Goals (issue 15): translations recall and precision ≥ 0.98; reports recall ≥ 0.70 and
precision ≥ 0.90; the relation right for ≥ 0.90 of the links found.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.links.crosslang import Doc, ensure_tables, index_and_link

GOALS = {
    "translation recall": 0.98,
    "translation precision": 0.98,
    "report recall": 0.70,
    "report precision": 0.90,
    "relation right": 0.90,
}


@dataclass
class Scored:
    """Figures of one run and what it got wrong."""

    figures: dict[str, float]
    misses: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ms_per_doc: float = 0.0


def load(folder: Path) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    docs = [
        json.loads(line)
        for line in (folder / "docs.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    gold = {
        (link["zh"], link["en"]): link["kind"]
        for link in json.loads((folder / "links.json").read_text(encoding="utf-8"))
    }
    return docs, gold


def run(
    docs: list[dict[str, Any]], dated: bool, db: Path
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """Feed the documents to the linker in date order; the links it ends with."""
    conn = sqlite3.connect(db)
    ensure_tables(conn)
    ordered = sorted(docs, key=lambda d: (d["date"], d["id"]))
    for item in ordered:
        doc = Doc(
            id=item["id"],
            language=item["lang"],
            title=item["title"] if dated else "",
            text=item["text"],
            published=item["date"] if dated else "2000-01-01",
        )
        index_and_link(conn, doc)
        conn.commit()
    found: dict[tuple[str, str], str] = {}
    evidence: dict[tuple[str, str], str] = {}
    for original, other, relation, why in conn.execute(
        "SELECT original_id, other_id, relation, evidence FROM xlang_links"
    ):
        found[original, other] = relation
        evidence[original, other] = why
    conn.close()
    return found, evidence


def score(
    found: dict[tuple[str, str], str],
    gold: dict[tuple[str, str], str],
    evidence: dict[tuple[str, str], str],
) -> Scored:
    figures: dict[str, float] = {}
    misses: list[str] = []
    for kind in ("translation", "report"):
        wanted = {pair for pair, k in gold.items() if k == kind}
        said = {pair for pair, k in found.items() if k == kind}
        # Recall counts a gold pair found under either relation; the relation is scored apart.
        figures[f"{kind} recall"] = len(wanted & found.keys()) / max(len(wanted), 1)
        figures[f"{kind} precision"] = len(said & wanted) / max(len(said), 1)
        misses += [f"missed {kind}: {zh} → {en}" for zh, en in sorted(wanted - found.keys())]
    right = sum(1 for pair, k in found.items() if gold.get(pair) == k)
    figures["relation right"] = right / max(len(found), 1)
    for pair, kind in sorted(found.items()):
        if pair not in gold:
            misses.append(f"wrong {kind}: {pair[0]} → {pair[1]} (no such link): {evidence[pair]}")
        elif gold[pair] != kind:
            misses.append(
                f"called {kind}: {pair[0]} → {pair[1]} (is a {gold[pair]}): {evidence[pair]}"
            )
    return Scored(figures, misses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crosslang", description=__doc__)
    parser.add_argument("folder", type=Path, help="folder with docs.jsonl and links.json")
    args = parser.parse_args(argv)
    if not (args.folder / "docs.jsonl").is_file():
        print(f"{args.folder}: no docs.jsonl here", file=sys.stderr)
        return 2
    docs, gold = load(args.folder)
    print(
        f"{len(docs)} documents, {len(gold)} gold links "
        f"({sum(k == 'translation' for k in gold.values())} translation, "
        f"{sum(k == 'report' for k in gold.values())} report)"
    )
    results: dict[str, Scored] = {}
    with tempfile.TemporaryDirectory(prefix="crosslang-") as folder:
        for name, dated in (("dated", True), ("text only", False)):
            started = time.perf_counter()
            found, evidence = run(docs, dated, Path(folder) / f"{name.replace(' ', '-')}.db")
            elapsed = time.perf_counter() - started
            results[name] = score(found, gold, evidence)
            results[name].seconds = elapsed
            results[name].ms_per_doc = 1000 * elapsed / len(docs)
    names = list(results)
    print(f"\n{'figure':<24}{'goal':>8}" + "".join(f"{n:>12}" for n in names))
    for figure, goal in GOALS.items():
        cells = "".join(f"{results[n].figures[figure]:>12.3f}" for n in names)
        print(f"{figure:<24}{'≥ ' + format(goal, '.2f'):>8}{cells}")
    print(
        f"{'ms per document':<24}{'':>8}"
        + "".join(f"{results[n].ms_per_doc:>12.1f}" for n in names)
        + "   (first includes loading CC-CEDICT)"
    )
    for name in names:
        print(f"\n{name}: {len(results[name].misses)} misses")
        for miss in results[name].misses:
            print(f"  {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
