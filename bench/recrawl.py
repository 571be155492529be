"""A second crawl when nothing changed, against the first: requests (from the server's
log) and wall time of the `communique crawl` command.

Run right after the first crawl, `crawl --due` finds no source due (schedules default to
6 h) and no statement due for a recheck; a plain second `crawl` fetches the entry pages
again and follows none that is unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import proc
from bench.site import ServedSite

DEMO_CONFIG = proc.REPO / "config" / "demo" / "sources.yaml"
DEMO_SITE = proc.REPO / "tests" / "sites" / "gov"
DEMO_BASE = "http://127.0.0.1:8780"


def crawl(site: ServedSite, config: Path, db: Path, *flags: str) -> dict[str, Any]:
    site.clear()
    command = proc.communique(
        "crawl", "--config", str(config), "--db", str(db), "--no-progress",
        "--log-level", "WARNING", *flags,
    )  # fmt: skip
    ran = proc.run(command)
    if ran.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({ran.returncode}):\n{ran.stderr[-3000:]}")
    requests, _ = site.log()
    return {"requests": len(requests), "seconds": round(ran.seconds, 2), "output": ran.stdout}


def compare(first: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests": later["requests"],
        "seconds": later["seconds"],
        "requests_ratio": round(later["requests"] / first["requests"], 3),
        "time_ratio": round(later["seconds"] / first["seconds"], 3),
        "said": later["output"].strip().splitlines()[-1] if later["output"].strip() else "",
    }


def second_crawls(site: ServedSite, config: Path, db: Path, first: dict[str, Any]) -> dict:
    """`crawl --due` then a plain `crawl` over an archive that `first` filled."""
    due = crawl(site, config, db, "--due")
    plain = crawl(site, config, db)
    return {
        "first": {"requests": first["requests"], "seconds": first["seconds"]},
        "due": compare(first, due),
        "plain": compare(first, plain),
    }


def run_generated(site: ServedSite, config: Path, db: Path, first: dict[str, Any]) -> dict:
    """The generated site, after crawl_speed's first crawl into `db` (wall time of that run)."""
    return second_crawls(
        site, config, db, {"requests": first["requests"], "seconds": first["wall_seconds"]}
    )


def run_demo(work: Path) -> dict[str, Any]:
    """The demo sources, served from tests/sites/gov on a free port."""
    with ServedSite(DEMO_SITE) as site:
        config = work / "demo-sources.yaml"
        text = DEMO_CONFIG.read_text(encoding="utf-8").replace(DEMO_BASE, site.base_url)
        config.write_text(text, encoding="utf-8")
        db = work / "demo.db"
        first = crawl(site, config, db)
        return second_crawls(site, config, db, first)
