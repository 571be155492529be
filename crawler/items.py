"""What spiders hand to the pipeline: a fetched page, or a URL that gave no page."""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.store import Fetched, utc_now

STATEMENT = "statement"  # a page that should hold one statement: cleaned and archived
INDEX = "index"  # a feed, sitemap or listing page: kept raw, only used to find statements


@dataclass
class PageItem:
    role: str
    fetched: Fetched


@dataclass
class FetchErrorItem:
    source_id: str
    url: str
    reason: str
    http_status: int | None = None
    at: str = field(default_factory=utc_now)
