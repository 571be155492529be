"""Is a source still working? Judged after each crawl from what the crawl recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from archive.store import utc_now

# A crawl whose new texts average below this share of the source's usual length
# suggests the page layout changed and the cleaner now keeps only a fragment.
TEXT_COLLAPSE = 0.3
MIN_TEXTS = 3


@dataclass(frozen=True)
class Problem:
    source_id: str
    crawl_id: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _reasons(db: sqlite_utils.Database, source_id: str, crawl_id: int) -> list[str]:
    crawl = db.table("crawls").get(crawl_id)
    reasons = []
    captcha = db.execute(
        "select count(*) from captures where crawl_id = ? and status = 'captcha'", [crawl_id]
    ).fetchone()[0]
    if captcha:
        reasons.append(f"answered {captcha} request(s) with a captcha or WAF page")
    # WeChat's walls are recorded as errors ("captcha: …", "rate_limited: …"), not pages.
    walls = db.execute(
        "select substr(reason, 1, instr(reason, ':') - 1), count(*) from crawl_errors "
        "where crawl_id = ? and (reason like 'captcha:%' or reason like 'rate_limited:%') "
        "group by 1 order by 1",
        [crawl_id],
    ).fetchall()
    if walls:
        reasons.append("met walls: " + ", ".join(f"{n} {kind}" for kind, n in walls))
    unmatched = db.execute(
        "select count(*) from crawl_errors where crawl_id = ? and reason like '%matched nothing%'",
        [crawl_id],
    ).fetchone()[0]
    if unmatched:
        reasons.append("listing selectors matched nothing (layout change?)")
    previous = db.execute(
        "select links_found from crawls where source_id = ? and id < ? and status = 'finished' "
        "and links_found is not null order by id desc limit 1",
        [source_id, crawl_id],
    ).fetchone()
    if crawl["links_found"] == 0 and previous and previous[0]:
        reasons.append(f"found no statement links (it found {previous[0]} last time)")
    fetched, failed = crawl["pages_fetched"] or 0, crawl["errors"] or 0
    if failed and failed >= fetched:
        reasons.append(f"every request failed ({failed} error(s))")
    lengths = (
        "select avg(length(v.text)), count(*) from versions v "
        "join captures c on c.id = v.capture_id where "
    )
    recent = db.execute(lengths + "c.crawl_id = ?", [crawl_id]).fetchone()
    usual = db.execute(
        lengths + "c.source_id = ? and c.crawl_id < ?", [source_id, crawl_id]
    ).fetchone()
    if recent[1] >= MIN_TEXTS and usual[1] >= MIN_TEXTS and recent[0] < TEXT_COLLAPSE * usual[0]:
        reasons.append(
            f"extracted text fell to {recent[0]:.0f} characters on average from {usual[0]:.0f}"
            " (layout change?)"
        )
    return reasons


def judge(db: sqlite_utils.Database, crawl_id: int) -> Problem | None:
    """Record a source's health after a crawl; the problem, if there is one."""
    source_id = db.table("crawls").get(crawl_id)["source_id"]
    reasons = _reasons(db, source_id, crawl_id)
    with db.atomic():
        db.table("sources").update(
            source_id,
            {
                "health": "unhealthy" if reasons else "ok",
                "health_reason": "; ".join(reasons) or None,
                "health_checked": utc_now(),
            },
        )
    return Problem(source_id, crawl_id, "; ".join(reasons)) if reasons else None
