"""Downloader middlewares: retries that back off (exponential delays, a server's Retry-After
honoured), and redirects that are recorded when they go nowhere."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings

# A Retry-After longer than this is not waited for in-crawl; the retry budget runs out.
RETRY_AFTER_MAX = 300.0


def retry_after_seconds(value: bytes | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry middleware, waiting base × 2^(n-1) seconds before retry n.

    The wait is an asyncio sleep on this request only: other requests keep flowing.
    """

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.maximum = settings.getfloat("RETRY_BACKOFF_MAX")

    def delay(self, retry: Request, response: Response | None = None) -> float:
        attempt = int(retry.meta.get("retry_times", 1))
        wait = min(self.maximum, self.base * 2 ** (attempt - 1))
        if response is not None:
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            if asked is not None:
                wait = max(wait, min(asked, RETRY_AFTER_MAX))
        return wait

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(result, response))
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self.delay(result))
        return result


class RecordedRedirectMiddleware(RedirectMiddleware):
    """Scrapy's redirects, except that the ones Scrapy would drop silently become errors.

    Scrapy filters a redirect off the allowed domains (OffsiteMiddleware) and a redirect
    back to a URL already fetched (the duplicate filter) without calling the request's
    errback, so the page the source listed would vanish from the record. Here both raise
    IgnoreRequest, which reaches the spider's errback and so `crawl_errors`; the off-site
    URL is never requested.
    """

    def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request) and result is not request:
            chain = [*request.meta.get("redirect_urls", []), request.url, result.url]
            route = " → ".join(chain)
            if result.url in chain[:-1]:
                raise IgnoreRequest(f"redirect loop: {route}")
            domains = getattr(self.crawler.spider, "allowed_domains", None) or []
            if (
                domains
                and not result.meta.get("allow_offsite")
                and not _in_domains(result.url, domains)
            ):
                raise IgnoreRequest(f"redirected outside the allowed domains: {route}")
        return result


def _in_domains(url: str, domains: list[str]) -> bool:
    from crawler.spiders.base import in_domains  # the rule links are followed by

    return in_domains(url, domains)
