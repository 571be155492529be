"""`communique add`: archive links given by hand now, through a real crawl, and say what
became of each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from archive.identity import canonical_url
from archive.statuses import CHANGED, INDEX, NEW, STATEMENT_OUTCOMES, UNCHANGED
from communique.config import Config, ConfigError
from crawler.run import crawl
from crawler.spiders import MANUAL_ID, added_source

FAILED = "failed"


@dataclass(frozen=True)
class LinkResult:
    link: str
    outcome: str  # new, changed, unchanged or failed
    statement_id: str | None = None
    status: str | None = None
    title: str | None = None
    reason: str | None = None  # why it failed


@dataclass(frozen=True)
class AddReport:
    source_id: str
    db_path: Path
    links: list[LinkResult]

    def count(self, outcome: str) -> int:
        return sum(1 for link in self.links if link.outcome == outcome)

    @property
    def stored(self) -> int:
        return sum(self.count(outcome) for outcome in STATEMENT_OUTCOMES)


def add_links(
    config: Config,
    links: list[str],
    db_path: Path,
    source_id: str | None = None,
    log_level: str = "WARNING",
) -> AddReport:
    """Crawl the links as the named source (default: the built-in `manual`, or a `manual`
    source of the config), fetched even if archived, and report each one.

    Raises ConfigError for an unknown source or a link that is not http(s); ArchiveBusy
    and UnusableDatabase as `crawl` does.
    """
    wanted = list(dict.fromkeys(links))
    known = {source.id for source in config.sources}
    named = source_id or (MANUAL_ID if MANUAL_ID in known else None)
    [source] = config.select([named]) if named else [None]
    try:
        added = added_source(wanted, config, source)
    except ValidationError as error:
        message = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"add: {message}") from None
    report = crawl(
        config.model_copy(update={"sources": [*config.sources, added]}),
        [added.id],
        db_path,
        refetch=True,
        log_level=log_level,
    )
    crawl_id = report.summaries[0].crawl_id if report.summaries else None
    return AddReport(
        added.id, db_path, [_result(db_path, crawl_id, added, link) for link in wanted]
    )


def _result(db_path: Path, crawl_id: int | None, source: Any, link: str) -> LinkResult:
    """What the crawl made of one link: its last capture there, else its error."""
    from crawler.spiders.wechat import article_url

    requested = canonical_url(article_url(link) if source.kind == "wechat" else link)
    db = sqlite_utils.Database(db_path)
    try:
        # The capture of the link itself or of where its redirects led (`requested_url`).
        captures = list(
            db.query(
                "select c.outcome, c.reason, s.id, s.status, s.title from captures c "
                "left join statements s on s.id = c.statement_id where c.crawl_id = :crawl "
                "and c.outcome != :index and (c.canonical_url = :url or c.requested_url = :url) "
                "order by c.id desc limit 1",
                {"crawl": crawl_id, "index": INDEX, "url": requested},
            )
        )
        errors = list(
            db.query(
                "select reason from crawl_errors where crawl_id = ? and url in (?, ?) "
                "order by id desc limit 1",
                [crawl_id, requested, link],
            )
        )
    finally:
        db.close()
    capture = captures[0] if captures else None
    if capture and capture["id"] and capture["outcome"] in (NEW, CHANGED, UNCHANGED):
        return LinkResult(
            link, capture["outcome"], capture["id"], capture["status"], capture["title"]
        )
    reason = (
        (capture and capture["reason"])
        or (errors and errors[0]["reason"])
        or "not fetched (see the crawl log)"
    )
    return LinkResult(link, FAILED, reason=str(reason))
