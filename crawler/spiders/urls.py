"""Sources given as an explicit list of statement URLs."""

from __future__ import annotations

from collections.abc import Iterator

import scrapy

from crawler.spiders.base import SourceSpider


class UrlsSpider(SourceSpider):
    def entry_requests(self) -> Iterator[scrapy.Request]:
        # The listed URLs are the statements themselves.
        yield from self.statement_requests(self.source.entry_urls)
