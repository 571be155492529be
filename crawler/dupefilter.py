"""A duplicate filter that forgets between runs, so a killed crawl's lost requests return."""

from __future__ import annotations

from typing import Self

from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter


class RunDupeFilter(RFPDupeFilter):
    """Scrapy's filter without its `requests.seen` file in JOBDIR.

    With the file, requests that were in flight when a crawl was killed count as seen
    and are never fetched again on resume. Without it, the resumed crawl walks its entry
    pages again: statements already archived are skipped as known, the rest are fetched,
    and the queue kept in JOBDIR still supplies what was pending.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(
            None,
            crawler.settings.getbool("DUPEFILTER_DEBUG"),
            fingerprinter=crawler.request_fingerprinter,
        )
