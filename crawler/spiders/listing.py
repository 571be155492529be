"""Sources whose statements are linked from paginated index pages (CSS selectors in config)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from parsel import Selector
from scrapy.http import Response, TextResponse

from archive.identity import in_domains
from crawler.spiders.base import SourceSpider


def _link(element: Selector) -> str | None:
    """The href of a matched <a>, or of the first <a> inside a matched container."""
    return element.attrib.get("href") or element.css("a::attr(href)").get()


class ListingSpider(SourceSpider):
    def find_statements(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            yield self.error(response, "listing page is not HTML")
            return
        source = self.source
        page = response.meta.get("listing_page", 1)
        assert source.article_links is not None  # guaranteed by config validation
        links = [_link(element) for element in response.css(source.article_links)]
        found = [response.urljoin(link) for link in links if link]
        if not found:
            yield self.error(
                response, f"article_links selector {source.article_links!r} matched nothing"
            )
        yield from self.statement_requests(found)
        if source.next_page and page < source.max_pages:
            next_links = [_link(element) for element in response.css(source.next_page)]
            next_url = next((link for link in next_links if link), None)
            if next_url and in_domains(response.urljoin(next_url), self.allowed_domains):
                yield self.entry_request(response.urljoin(next_url), listing_page=page + 1)
