"""Sources that list their statements in XML sitemaps (and sitemap indexes)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from archive.identity import in_domains
from crawler.spiders.base import SourceSpider

# A sitemap index can name thousands of sitemaps; one crawl follows this many at most.
MAX_SITEMAPS = 200
# The sitemap protocol's own limit of URLs in one sitemap: a longer list is cut there.
MAX_URLS = 50_000


class SitemapSpider(SourceSpider):
    sitemaps_followed = 0

    def find_statements(self, response: Response) -> Iterator[Any]:
        body = response.body
        if body[:2] == b"\x1f\x8b":
            limit = self.settings.getint("DOWNLOAD_MAXSIZE")
            try:
                body = gunzip(body, max_size=limit)
            except _DecompressionMaxSizeExceeded:
                yield self.error(response, f"gzip sitemap larger than {limit} bytes unpacked")
                return
            except (OSError, EOFError, zlib.error) as error:
                yield self.error(response, f"not a valid gzip file ({error})")
                return
        try:
            sitemap = Sitemap(body)
        except Exception as error:  # lxml raises several types on broken XML
            yield self.error(response, f"not a valid sitemap ({error})")
            return
        locations = [entry["loc"] for entry in sitemap if entry.get("loc")]
        if sitemap.type == "sitemapindex":
            for location in locations:
                url = response.urljoin(location)
                if not in_domains(url, self.allowed_domains):
                    # Scrapy's offsite filter would drop it too; this does not rely on it.
                    self.logger.debug(
                        "%s: not following %s (outside allowed domains)", self.name, url
                    )
                    continue
                if self.sitemaps_followed >= MAX_SITEMAPS:
                    yield self.error(
                        response, f"sitemap index truncated at {MAX_SITEMAPS} sitemaps"
                    )
                    return
                self.sitemaps_followed += 1
                yield self.entry_request(url)
        elif sitemap.type == "urlset":
            if not locations:
                yield self.error(response, "sitemap lists no URLs")
            if len(locations) > MAX_URLS:
                yield self.error(
                    response,
                    f"sitemap lists {len(locations)} URLs, more than the protocol's "
                    f"{MAX_URLS}: only the first {MAX_URLS} are followed",
                )
                locations = locations[:MAX_URLS]
            yield from self.statement_requests([response.urljoin(url) for url in locations])
        else:
            yield self.error(response, f"not a sitemap (root element {sitemap.type!r})")
