"""Downloader middlewares: retries that back off (exponential delays, a server's Retry-After
honoured), redirects that are recorded when they go nowhere, and WeChat's own throttle."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError

from archive.fetched import INDEX, STATEMENT, FetchFailed
from archive.identity import in_domains

logger = logging.getLogger(__name__)

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


class _Checked:
    """A Scrapy redirect middleware whose redirects pass `check_redirect` first."""

    crawler: Crawler

    def process_response(self, request: Request, response: Response) -> Request | Response:
        result = super().process_response(request, response)  # type: ignore[misc]
        if isinstance(result, Request) and result is not request:
            check_redirect(self.crawler, request, result.url, result.meta)
        return result


class RecordedRedirectMiddleware(_Checked, RedirectMiddleware):  # type: ignore[misc]
    """Scrapy's redirects, except that the ones Scrapy would drop silently become errors.

    Scrapy filters a redirect off the allowed domains (OffsiteMiddleware) and a redirect
    back to a URL already fetched (the duplicate filter) without calling the request's
    errback, so the page the source listed would vanish from the record. Here both raise
    IgnoreRequest, which reaches the spider's errback and so `crawl_errors`; the off-site
    URL is never requested.
    """


class RecordedMetaRefreshMiddleware(_Checked, MetaRefreshMiddleware):  # type: ignore[misc]
    """Scrapy's `<meta http-equiv="refresh">` redirects, held to the same rule."""


def check_redirect(
    crawler: Crawler, request: Request, target: str, meta: dict[str, Any] | None = None
) -> None:
    """The one rule for redirects of every kind (HTTP, meta refresh, the script redirects
    of WeChat and Sogou pages): no loops, and never off the source's allowed domains. A
    redirect that breaks it raises IgnoreRequest, which reaches the spider's errback and so
    `crawl_errors`; the target is never requested."""
    chain = [*request.meta.get("redirect_urls", []), request.url, target]
    route = " → ".join(chain)
    if target in chain[:-1]:
        raise IgnoreRequest(f"redirect loop: {route}")
    domains = getattr(crawler.spider, "allowed_domains", None) or []
    if domains and not (meta or {}).get("allow_offsite") and not in_domains(target, domains):
        raise IgnoreRequest(f"redirected outside the allowed domains: {route}")


# -- WeChat ---------------------------------------------------------------------------------

# Where WeChat and Sogou send a client they want to verify: these pages are walls, never
# content, and are not fetched.
VERIFY_MARKERS = ("/mp/verifycode", "wappoc_appmsgcaptcha", "/antispider", "/mp/captcha")
# A wall page is small; an article that merely quotes "环境异常" is not one.
WALL_PAGE_MAX_BYTES = 60_000
_WALL_PHRASES = tuple(
    phrase.encode() for phrase in ("环境异常", "完成验证", "请完成验证", "unusual network")
)
# Sogou's /link?url=… answers with a script that builds the article URL piece by piece.
_SOGOU_PIECE = re.compile(r"""url\s*\+=\s*(?:'([^']*)'|"([^"]*)")""")
_LOCATION = re.compile(
    r"""(?:window\.)?location(?:\.href\s*=|\s*=|\.replace\s*\(|\.assign\s*\()\s*['"]([^'"]+)['"]"""
)


@dataclass
class _WechatClock:
    """When the next WeChat request may leave, shared by every source crawled in the process
    (sources are crawled side by side, but WeChat sees one client)."""

    next_allowed: float = 0.0
    streak: int = 0  # walls in a row


_CLOCK = _WechatClock()


class WechatWall(IgnoreRequest):
    """WeChat (or Sogou) put up a wall: a captcha page, a verification redirect or a 429.

    The message starts with the kind (`captcha: …`, `rate_limited: …`), so the wall is a
    row in crawl_errors that says what it was; no page is recorded, so a known statement
    is never marked deleted by it.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def is_verify_url(url: str) -> bool:
    return any(marker in url for marker in VERIFY_MARKERS)


def sogou_target(body: bytes) -> str | None:
    """The article URL a Sogou /link page sends the browser to, if it is one."""
    text = body.decode("utf-8", "replace")
    pieces = [a or b for a, b in _SOGOU_PIECE.findall(text)]
    target = "".join(pieces).replace("@", "") if pieces else None
    if not target:
        match = _LOCATION.search(text)
        target = match.group(1) if match else None
    if target and target.startswith(("http://", "https://")):
        return html.unescape(target)
    return None


def wall_page(body: bytes) -> str | None:
    """The words of a captcha page ("环境异常 …"), or None for any other page."""
    if len(body) > WALL_PAGE_MAX_BYTES or not any(p in body for p in _WALL_PHRASES):
        return None
    from archive.clean import wechat
    from archive.clean.extract import parse_html

    root = parse_html(body.decode("utf-8", "replace"))
    if root is None or wechat.has_article(root):
        return None
    gone = wechat.find_gone(root, True)
    return gone.reason if gone is not None and gone.status == "captcha" else None


class WechatMiddleware:
    """Requests to WeChat hosts: one at a time, spaced, paused after a wall.

    Scrapy's per-host download slots (`DOWNLOAD_SLOTS`, set from `crawl.wechat_delay`)
    space the requests as they leave for the network, and AutoThrottle is told not to
    shorten that delay. This middleware holds the requests back before they reach the
    slot, so that after a wall (a captcha page, a redirect to a verification page, a 429)
    every WeChat request waits out the pause: `wechat_backoff` seconds, doubling while
    walls follow each other, or longer if the server's Retry-After says so. The walled
    request fails with WechatWall; the WeChat spider decides whether to try it again.

    Sogou's `/link?url=` script redirect is followed like an HTTP redirect.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.hosts = settings.getlist("COMMUNIQUE_WECHAT_HOSTS")
        self.delay = settings.getfloat("COMMUNIQUE_WECHAT_DELAY")
        self.backoff = settings.getfloat("COMMUNIQUE_WECHAT_BACKOFF")
        self.clock = _CLOCK

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WechatMiddleware:
        return cls(crawler)

    def is_wechat(self, request: Request) -> bool:
        return bool(self.hosts) and in_domains(request.url, self.hosts)

    async def process_request(self, request: Request) -> None:
        if not self.is_wechat(request):
            return
        request.meta["autothrottle_dont_adjust_delay"] = True
        if request.meta.get("redirect_urls") and is_verify_url(request.url):
            raise self.wall(request, "captcha", f"redirected to a verification page {request.url}")
        gate = getattr(self.crawler.spider, "wechat_gate", None)
        refused = gate(request) if gate is not None else None
        if refused:
            raise IgnoreRequest(refused)
        clock = self.clock
        while (wait := clock.next_allowed - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        clock.next_allowed = time.monotonic() + self.delay

    def process_response(self, request: Request, response: Response) -> Request | Response:
        redirects = request.meta.get("redirect_urls")
        if not self.is_wechat(request):
            return response
        if response.status == 429:
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            raise self.wall(request, "rate_limited", "HTTP 429 Too Many Requests", asked)
        if response.status == 200:
            words = wall_page(response.body)
            if words:
                raise self.wall(request, "captcha", f"verification page ({words})")
            if urlsplit(request.url).path.endswith("/link"):
                target = sogou_target(response.body)
                if target:
                    check_redirect(self.crawler, request, target)
                    return request.replace(
                        url=target,
                        dont_filter=True,
                        meta={
                            **request.meta,
                            "redirect_urls": [*(redirects or []), request.url],
                            "redirect_reasons": [*request.meta.get("redirect_reasons", []), "js"],
                        },
                    )
        self.clock.streak = 0
        return response

    def wall(
        self, request: Request, kind: str, detail: str, asked: float | None = None
    ) -> WechatWall:
        """Pause every WeChat request and name the wall, with how long the pause is."""
        clock = self.clock
        clock.streak += 1
        pause = self.backoff * 2 ** min(clock.streak - 1, 6)
        if asked is not None:
            pause = max(pause, min(asked, RETRY_AFTER_MAX))
        clock.next_allowed = max(clock.next_allowed, time.monotonic() + pause)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value(f"communique/wechat/{kind}")
        logger.warning(
            "WeChat wall (%s) at %s: pausing WeChat requests %.1f s", kind, request.url, pause
        )
        return WechatWall(kind, f"{detail}; WeChat requests paused {pause:g} s")


# -- every failure is a row -----------------------------------------------------------------


class FailuresAsRows:
    """Spider middleware: a callback that raises on a page (a corrupt gzip sitemap, XML
    lxml cannot read, a hostile page that trips a parser) becomes a `crawl_errors` row
    naming the source, the URL and what went wrong, instead of a line in a log only."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailuresAsRows:
        return cls(crawler)

    def process_spider_exception(
        self, response: Response, exception: Exception, spider: Any = None
    ) -> list[FetchFailed] | None:
        if isinstance(exception, (HttpError, IgnoreRequest)):
            return None  # Scrapy's own handling (and the request's errback) applies
        spider = spider or self.crawler.spider
        request = response.request
        entry = request is not None and request.callback == getattr(spider, "parse_entry", None)
        reason = f"could not read the page: {type(exception).__name__}: {exception}"
        logger.warning("%s: error %s: %s", spider.name, response.url, reason)
        return [
            FetchFailed(
                spider.name,
                response.url,
                reason,
                response.status,
                role=INDEX if entry else STATEMENT,
            )
        ]
