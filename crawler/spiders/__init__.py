"""One generic spider per source kind; `spider_for` makes the class for a configured source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.sources import Config, CrawlSettings, Source
from crawler.spiders.base import SourceSpider
from crawler.spiders.feed import FeedSpider
from crawler.spiders.listing import ListingSpider
from crawler.spiders.sitemap import SitemapSpider
from crawler.spiders.urls import UrlsSpider

SPIDER_BY_KIND: dict[str, type[SourceSpider]] = {
    "feed": FeedSpider,
    "sitemap": SitemapSpider,
    "listing": ListingSpider,
    "urls": UrlsSpider,
}


def politeness_settings(crawl: CrawlSettings) -> dict[str, Any]:
    """Scrapy settings from the sources file's `crawl:` block."""
    return {
        "DOWNLOAD_DELAY": crawl.download_delay,
        # AutoThrottle never goes below the configured delay; start there, not at its 5 s.
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_requests_per_domain,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "RETRY_TIMES": crawl.retries,
        "RETRY_BACKOFF_BASE": crawl.retry_backoff,
        "USER_AGENT": f"Communique/0.1 (+{crawl.contact})",
    }


def spider_for(source: Source, config: Config, jobdir: Path | None = None) -> type[SourceSpider]:
    """A spider class named after the source, of the generic spider for its kind.

    With a jobdir, Scrapy keeps the pending requests on disk, so a crawl that is killed
    resumes where it stopped.
    """
    base = SPIDER_BY_KIND[source.kind]
    settings = politeness_settings(config.crawl)
    if jobdir is not None:
        settings["JOBDIR"] = str(jobdir)
    return type(
        f"{base.__name__}_{source.id.replace('-', '_')}",
        (base,),
        {
            "name": source.id,
            "source": source,
            "history": config.archive.history,
            "custom_settings": settings,
        },
    )
