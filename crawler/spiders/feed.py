"""Sources published as RSS or Atom feeds: every item links to a statement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
from scrapy.http import Response

from crawler.spiders.base import SourceSpider


class FeedSpider(SourceSpider):
    def find_statements(self, response: Response) -> Iterator[Any]:
        headers = {
            "content-location": response.url,
            # Without a content type feedparser calls every feed malformed ("bozo").
            "content-type": (response.headers.get("Content-Type") or b"application/xml").decode(
                "latin-1"
            ),
        }
        feed = feedparser.parse(response.body, response_headers=headers)
        links = [
            response.urljoin(entry.get("link") or entry.get("id") or "")
            for entry in feed.entries
            if entry.get("link") or entry.get("id")
        ]
        if not links:
            if feed.bozo:
                yield self.error(response, f"not a valid feed ({feed.bozo_exception})")
            else:
                yield self.error(response, "feed has no items")
            return
        yield from self.statement_requests(links)
