"""What arrives at the archive's door: a fetched page, or a fetch that gave no page.

Every way in builds these — the Scrapy spiders, a WARC import, a result another crawl
machine pushed through Redis — and hands them to `archive.ingest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

STATEMENT = "statement"  # a page that should hold one statement: cleaned and archived
INDEX = "index"  # a feed, sitemap or listing page: kept raw, only used to find statements


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Fetched:
    """One HTTP response as the crawler saw it."""

    source_id: str
    url: str  # final URL, after redirects: where the bytes really came from
    http_status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    fetched_at: str = field(default_factory=utc_now)
    role: str = STATEMENT
    # The URL the source gave, when redirects led elsewhere (None: the same as `url`).
    requested_url: str | None = None
    # The body gzipped, when it arrived so (a worker's result): kept as the capture's bytes.
    body_gz: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def content_type(self) -> str | None:
        return header(self.headers, "content-type")


@dataclass(frozen=True)
class FetchFailed:
    """A URL that gave no page: DNS, refused, timeout, robots.txt, a bad feed, a wall."""

    source_id: str
    url: str
    reason: str
    http_status: int | None = None
    at: str = field(default_factory=utc_now)
    role: str = STATEMENT  # INDEX: an entry page (feed, sitemap, listing) that failed


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    name = name.lower()
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
