"""Sources given as an explicit list of statement URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from crawler.spiders.base import SourceSpider


class UrlsSpider(SourceSpider):
    async def start(self) -> AsyncIterator[Any]:
        for request in self.statement_requests(self.source.entry_urls):
            yield request
