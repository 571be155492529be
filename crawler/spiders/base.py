"""What every source spider shares: entry requests, statement requests, errors as items."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import scrapy
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from archive.fetched import INDEX, STATEMENT, Fetched, FetchFailed
from archive.identity import canonical_url, in_domains
from archive.store import Archive, CrawlPlan, HistorySettings, Recheck
from communique.config import Source


def response_headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1"): b", ".join(values).decode("latin-1")
        for key, values in response.headers.items()
    }


# HTTP statuses handed to parse_statement instead of being dropped by Scrapy
# (304 answers a conditional recheck: the statement is unchanged).
ERROR_STATUSES = [304, *range(400, 600)]


def conditional(request: scrapy.Request, seen: Recheck) -> scrapy.Request:
    """The request made conditional on the validators of the last response seen."""
    if seen.etag:
        request.headers["If-None-Match"] = seen.etag
    if seen.last_modified:
        request.headers["If-Modified-Since"] = seen.last_modified
    return request


def describe_failure(failure: Failure, max_bytes: int | None = None) -> tuple[str, int | None]:
    """A failed request as (reason a person can read, HTTP status if there was one).

    `max_bytes` is the size limit in force, named when a download was cut for size.
    """
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"HTTP {status}", status
    error = failure.value
    if failure.check(IgnoreRequest) and str(error):
        return str(error), None  # e.g. "Forbidden by robots.txt"
    message = str(error) or type(error).__name__
    name = type(error).__name__
    if failure.check(DownloadCancelledError):
        # Scrapy cancels a download only when it outgrows DOWNLOAD_MAXSIZE: up front from
        # Content-Length (message with the size), or mid-stream (no message at all).
        declared = re.search(r"receive (\d+) bytes", message)
        size = f" (declared {declared.group(1)} bytes)" if declared else ""
        limit = f" of {max_bytes} bytes" if max_bytes else ""
        return f"page larger than max_page_bytes{limit}{size}: not downloaded", None
    if failure.check(ResponseDataLossError):
        return f"body cut short: connection closed before Content-Length was reached ({name})", None
    if failure.check(DownloadTimeoutError):
        return f"timeout: {message}", None
    return f"{name}: {message}", None


class SourceSpider(scrapy.Spider):
    """A spider for one configured source; subclasses know how to find its statements."""

    source: ClassVar[Source]
    history: ClassVar[HistorySettings]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = self.source.domains
        self.plan = CrawlPlan()
        self._url_pattern = re.compile(self.source.url_pattern) if self.source.url_pattern else None

    async def start(self) -> AsyncIterator[Any]:
        self.load_archive_state()
        for request in self.recheck_requests():
            yield request
        if self.name in self.settings.getlist("COMMUNIQUE_RECHECK_ONLY"):
            return  # only rechecks are due for this source now
        for request in self.entry_requests():
            yield request

    def entry_requests(self) -> Iterator[scrapy.Request]:
        """The first requests of a crawl: the source's feeds, sitemaps or listing pages."""
        for url in self.source.entry_urls:
            yield self.entry_request(url)

    def load_archive_state(self) -> None:
        """What the archive knows of this source: statements due for a recheck, known ones
        that are not (links to them are not followed until their time comes), and the entry
        pages as last seen (unchanged ones are not followed again)."""
        db_path = self.settings.get("COMMUNIQUE_DB")
        if not db_path or not Path(db_path).exists():
            return
        archive = Archive(db_path)
        try:
            self.plan = archive.crawl_plan(self.name)
        finally:
            archive.close()
        if self.settings.getbool("COMMUNIQUE_REFETCH"):
            self.plan = CrawlPlan(rechecks=self.plan.rechecks)

    def recheck_requests(self) -> list[scrapy.Request]:
        """Conditional requests for the known statements due for a recheck."""
        return [conditional(self.statement_request(r.url), r) for r in self.plan.rechecks]

    # -- requests -----------------------------------------------------------------------

    def entry_request(self, url: str, **meta: Any) -> scrapy.Request:
        """A request for a page the source is entered by (feed, sitemap, listing)."""
        request = scrapy.Request(
            url,
            callback=self.parse_entry,
            errback=self.on_error,
            meta={"handle_httpstatus_list": [304], **meta},
        )
        seen = self.plan.entry_pages.get(canonical_url(url))
        return conditional(request, seen) if seen else request

    def statement_request(self, url: str) -> scrapy.Request:
        # Every error status reaches parse_statement: a 404 on a statement page is
        # information. Not `handle_httpstatus_all`: that also stops redirects from being
        # followed, and a statement that moved would be archived as an empty 301.
        return scrapy.Request(
            canonical_url(url),
            callback=self.parse_statement,
            errback=self.on_error,
            meta={"handle_httpstatus_list": ERROR_STATUSES},
        )

    def statement_requests(self, urls: list[str]) -> Iterator[scrapy.Request]:
        """Requests for the statement links found on an entry page, within the source."""
        for url in urls:
            if not url.startswith(("http://", "https://")):
                continue
            if not in_domains(url, self.allowed_domains):
                self.logger.debug("%s: not following %s (outside allowed domains)", self.name, url)
                continue
            if self._url_pattern and not self._url_pattern.search(url):
                continue
            # Counted before the freshness check: health compares it crawl to crawl.
            self.crawler.stats.inc_value("communique/links_found")
            if canonical_url(url) in self.plan.fresh:
                continue  # known and not due for a recheck yet
            yield self.statement_request(url)

    # -- callbacks ----------------------------------------------------------------------

    def parse_entry(self, response: Response) -> Iterator[Any]:
        yield self.fetched(response, INDEX)
        seen = self.plan.entry_pages.get(canonical_url(response.url))
        if response.status == 304 or (
            seen and seen.body_sha256 == hashlib.sha256(response.body).hexdigest()
        ):
            # Nothing new can be linked from a page that has not changed since a crawl
            # that followed it to the end.
            self.logger.debug("%s: entry page unchanged: %s", self.name, response.url)
            return
        yield from self.find_statements(response)

    def find_statements(self, response: Response) -> Iterator[Any]:
        raise NotImplementedError

    def parse_statement(self, response: Response) -> Iterator[Any]:
        yield self.fetched(response, STATEMENT)

    def on_error(self, failure: Failure) -> Iterator[FetchFailed]:
        request = failure.request  # type: ignore[attr-defined]
        max_bytes = request.meta.get("download_maxsize") or self.settings.getint("DOWNLOAD_MAXSIZE")
        reason, status = describe_failure(failure, max_bytes)
        # After redirects the error is recorded against the URL the source gave, naming
        # where it led (redirects off the allowed domains and loops name it themselves).
        redirects = request.meta.get("redirect_urls") or []
        url = redirects[0] if redirects else request.url
        if redirects and "redirect" not in reason:
            reason = f"{reason} (after a redirect to {request.url})"
        self.logger.warning("%s: error %s: %s", self.name, url, reason)
        role = INDEX if request.callback == self.parse_entry else STATEMENT
        yield FetchFailed(self.name, url, reason, status, role=role)

    def fetched(self, response: Response, role: str) -> Fetched:
        """The page as the archive takes it: where it came from, and where the source said."""
        redirects = response.request.meta.get("redirect_urls") if response.request else None
        return Fetched(
            source_id=self.name,
            url=response.url,
            http_status=response.status,
            body=response.body,
            headers=response_headers(response),
            role=role,
            requested_url=redirects[0] if redirects else None,
        )

    def error(self, response: Response, reason: str) -> FetchFailed:
        """An entry page (feed, sitemap, listing) that could not be used, and why."""
        self.logger.warning("%s: error %s: %s", self.name, response.url, reason)
        return FetchFailed(self.name, response.url, reason, response.status, role=INDEX)
