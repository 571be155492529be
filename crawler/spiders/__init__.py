"""One generic spider per source kind; `spider_for` makes the class for a configured source."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.store import CrawlPlan, HistorySettings
from communique.config import Config, CrawlSettings, Source, WechatRoute
from crawler.spiders.base import SourceSpider
from crawler.spiders.feed import FeedSpider
from crawler.spiders.listing import ListingSpider
from crawler.spiders.sitemap import SitemapSpider
from crawler.spiders.urls import UrlsSpider
from crawler.spiders.wechat import WechatSpider

SPIDER_BY_KIND: dict[str, type[SourceSpider]] = {
    "feed": FeedSpider,
    "sitemap": SitemapSpider,
    "listing": ListingSpider,
    "urls": UrlsSpider,
    "wechat": WechatSpider,
}


def politeness_settings(crawl: CrawlSettings) -> dict[str, Any]:
    """Scrapy settings from the sources file's `crawl:` block."""
    return {
        "DOWNLOAD_DELAY": crawl.download_delay,
        # AutoThrottle never goes below the configured delay; start there, not at its 5 s.
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_requests_per_domain,
        "DOWNLOAD_MAXSIZE": crawl.max_page_bytes,
        # Warn below the limit, never above it (a second warning for the same page).
        "DOWNLOAD_WARNSIZE": crawl.max_page_bytes // 2,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "RETRY_TIMES": crawl.retries,
        "RETRY_BACKOFF_BASE": crawl.retry_backoff,
        "USER_AGENT": f"Communique/0.1 (+{crawl.contact})",
        # WeChat hosts: one request at a time, wechat_delay apart (WechatMiddleware keeps
        # AutoThrottle from shortening it and pauses them after a wall).
        "COMMUNIQUE_WECHAT_HOSTS": list(crawl.wechat_hosts),
        "COMMUNIQUE_WECHAT_DELAY": crawl.wechat_delay,
        "COMMUNIQUE_WECHAT_BACKOFF": crawl.wechat_backoff,
        "COMMUNIQUE_WECHAT_MAX_WALLS": crawl.wechat_max_walls,
        "DOWNLOAD_SLOTS": {
            host: {"concurrency": 1, "delay": crawl.wechat_delay, "jitter": 0}
            for host in crawl.wechat_hosts
        },
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
    bases: tuple[type[SourceSpider], ...] = (base,)
    if isinstance(source, AddedSource):
        bases = (AddedLinksSpider, base)
    return type(
        f"{base.__name__}_{source.id.replace('-', '_')}",
        bases,
        {
            "name": source.id,
            "source": source,
            "history": HistorySettings.from_config(config.archive),
            "custom_settings": settings,
        },
    )


# -- links added by hand (`communique add`) ---------------------------------------------

MANUAL_ID = "manual"


class AddedSource(Source):
    """A source crawled only for links given by hand: the built-in `manual`, or a copy of a
    configured source whose discovery is replaced by the links."""

    issuer_from_page: bool = False  # `manual`: no fallback issuer, only the page's own

    @property
    def fallback_issuer(self) -> str | None:
        return None if self.issuer_from_page else self.issuer


class AddedLinksSpider(SourceSpider):
    """Fetches the given links and nothing else: no rechecks of the source's statements."""

    def load_archive_state(self) -> None:
        super().load_archive_state()  # the WeChat spider also learns its known articles
        self.plan = CrawlPlan()  # no rechecks; every link is fetched, known or not


def _hosts(urls: list[str]) -> set[str]:
    return {urlsplit(url).hostname or "" for url in urls} - {""}


def added_source(links: list[str], config: Config, source: Source | None = None) -> AddedSource:
    """The source `communique add` crawls: the named one, or `manual`, limited to `links`.

    A WeChat source keeps its kind, with the links as its only route; any other becomes a
    `urls` source of the links, allowed on their hosts and on WeChat's (Sogou links
    redirect there), with no url_pattern: links given by hand are always fetched.
    Raises pydantic's ValidationError for a link that is not http(s).
    """
    wechat_hosts = set(config.crawl.wechat_hosts)
    if source is None:
        return AddedSource.model_validate(
            {
                "id": MANUAL_ID,
                "name": "Added by hand",
                "issuer": "(from each page)",
                "kind": "urls",
                "urls": links,
                "allowed_domains": sorted(_hosts(links) | wechat_hosts),
                "issuer_from_page": True,
            }
        )
    data = source.model_dump()
    if source.kind == "wechat":
        data["routes"] = [WechatRoute(urls=links).model_dump()]
    else:
        domains = set(source.allowed_domains) | _hosts(links) | wechat_hosts
        data.update(kind="urls", urls=links, start_urls=[], url_pattern=None)
        data["allowed_domains"] = sorted(domains)
    return AddedSource.model_validate(data)
