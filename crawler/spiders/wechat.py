"""WeChat official accounts: articles found through a bridge's feed, album pages or links."""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import feedparser
import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.fetched import INDEX, FetchFailed
from archive.identity import canonical_url, in_domains
from archive.store import Archive
from communique.config import WechatRoute
from crawler.middlewares import WechatWall
from crawler.spiders.base import SourceSpider

# Route lines are for the operator: under `crawler.`, so they pass the crawl log's filter.
logger = logging.getLogger(__name__)
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
# Query parameters that name an article; the rest (chksm, scene, …) only track the reader.
_ARTICLE_PARAMS = ("__biz", "mid", "idx", "sn")


def _params(url: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        params.setdefault(name.lower(), value.strip())
    return params


def article_key(url: str) -> str:
    """The stable id a link gives away: `wechat:<biz>/<mid>/<idx>` for a long link (the
    archive's identity of the article), else the canonical URL (short `/s/<id>` links are
    keyed by the page itself once fetched)."""
    params = _params(url)
    biz, mid, idx = params.get("__biz"), params.get("mid"), params.get("idx")
    if biz and mid and idx and urlsplit(url).path.rstrip("/").endswith(("/s", "/appmsg/show")):
        return f"wechat:{unquote(biz)}/{mid}/{idx}"
    return canonical_url(url)


def article_url(url: str) -> str:
    """An article link as fetched: entities undone, tracking parameters and fragment gone."""
    url = html.unescape(url.strip())
    parts = urlsplit(url)
    params = _params(url)
    if parts.path.rstrip("/").endswith("/s") and params.get("__biz") and params.get("mid"):
        kept = [(name, params[name]) for name in _ARTICLE_PARAMS if params.get(name)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def is_article_link(url: str, hosts: list[str]) -> bool:
    """A link to a WeChat article (short, long) or to Sogou's redirect to one."""
    if not url.startswith(("http://", "https://")) or not in_domains(url, hosts):
        return False
    path = urlsplit(url).path
    return path.startswith("/s") or path.endswith(("/link", "/appmsg/show"))


def read_links(text: str) -> list[str]:
    """Links from a file, one a line; blank lines and `#` comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass
class Route:
    """One discovery route of a crawl, and what it came to."""

    name: str
    config: WechatRoute
    priority: int
    links: int = 0  # article links it gave
    known: int = 0  # of which already archived (not fetched again)
    walls: int = 0
    streak: int = 0  # walls in a row
    last_wall: str = ""
    errors: int = 0
    stopped: bool = False

    def summary(self) -> str:
        state = "ok"
        if self.stopped:
            state = "stopped at a wall"
        elif self.errors and not self.links:
            state = "failed"
        return (
            f"route {self.name}: {state}: {self.links} article link(s), {self.known} known, "
            f"{self.walls} wall(s), {self.errors} error(s)"
        )


class WechatSpider(SourceSpider):
    """A WeChat account: its routes are tried in order (earlier routes' requests first);
    an article found by several routes is fetched once; walls pause the WeChat hosts
    (WechatMiddleware) and are tried again later, and a route that keeps hitting them
    stops for this crawl."""

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> WechatSpider:
        spider: WechatSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup()
        return spider

    def setup(self) -> None:
        self.hosts = self.settings.getlist("COMMUNIQUE_WECHAT_HOSTS")
        self.max_walls = self.settings.getint("COMMUNIQUE_WECHAT_MAX_WALLS") or 3
        self.refetch = self.settings.getbool("COMMUNIQUE_REFETCH")
        self.routes: list[Route] = []
        self.file_links: dict[str, list[str]] = {}
        self.file_errors: list[FetchFailed] = []
        counts: dict[str, int] = {}
        total = len(self.source.routes)
        for index, config in enumerate(self.source.routes):
            counts[config.kind] = counts.get(config.kind, 0) + 1
            number = counts[config.kind]
            name = config.kind if number == 1 else f"{config.kind}#{number}"
            self.routes.append(Route(name, config, priority=10 * (total - index)))
            if config.file:
                self.file_links[name] = self._read_file(name, config.file)
        self.recheck_route = Route("recheck", WechatRoute(urls=["http://recheck.invalid/"]), 100)
        hosts = {urlsplit(u).hostname or "" for links in self.file_links.values() for u in links}
        self.allowed_domains = sorted((set(self.allowed_domains) | set(self.hosts) | hosts) - {""})
        self.known: set[str] = set()
        self.seen: set[str] = set()

    def _read_file(self, name: str, file: str) -> list[str]:
        path = Path(file)
        if not path.is_absolute():
            path = Path(self.settings.get("COMMUNIQUE_CONFIG") or ".").parent / path
        try:
            return read_links(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            reason = f"route {name}: cannot read {path} ({error})"
            self.file_errors.append(FetchFailed(self.name, path.as_uri(), reason, role=INDEX))
            return []

    # -- the crawl ----------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        for item in self.file_errors:
            logger.warning("%s: error %s", self.name, item.reason)
            yield item
        async for request in super().start():
            yield request

    def load_archive_state(self) -> None:
        super().load_archive_state()
        self.known = set() if self.refetch else self.known_articles()

    def known_articles(self) -> set[str]:
        """Identities of the WeChat articles in the archive, whichever source found them."""
        db_path = self.settings.get("COMMUNIQUE_DB")
        if not db_path or not Path(db_path).exists():
            return set()
        archive = Archive(db_path)
        try:
            rows = archive.db.execute(
                "select identity from statements where identity like 'wechat:%'"
            ).fetchall()
        finally:
            archive.close()
        return {row[0] for row in rows}

    def entry_requests(self) -> Iterator[scrapy.Request]:
        for route in self.routes:
            logger.info("%s: trying route %s", self.name, route.name)
            config = route.config
            if config.feed:
                yield self._entry(config.feed, route)
            elif config.album:
                yield self._entry(album_json_url(config.album), route, album_page=1)
            else:
                yield from self.article_requests(
                    self.file_links.get(route.name, config.urls), route
                )

    def _entry(self, url: str, route: Route, **meta: Any) -> scrapy.Request:
        request = self.entry_request(url, wechat_route=route.name, **meta)
        request.priority = route.priority
        return request

    def article_requests(self, urls: list[str], route: Route) -> Iterator[scrapy.Request]:
        """Requests for article links, each article once per crawl, known ones skipped."""
        for raw in urls:
            url = article_url(raw)
            if not url.startswith(("http://", "https://")):
                continue
            if self._url_pattern and not self._url_pattern.search(url):
                continue
            route.links += 1
            self.crawler.stats.inc_value("communique/links_found")
            self.crawler.stats.inc_value(f"communique/wechat/route/{route.name}/links")
            key = article_key(url)
            if key in self.seen:
                continue
            self.seen.add(key)
            if key in self.known or canonical_url(url) in self.plan.fresh:
                route.known += 1
                continue
            request = self.statement_request(url)
            request.meta["wechat_route"] = route.name
            request.priority = route.priority
            yield request

    def find_statements(self, response: Response) -> Iterator[Any]:
        route = self.route_of(response.request)
        route.streak = 0
        if route.config.album:
            yield from self.parse_album(response, route)
        else:
            yield from self.parse_feed(response, route)

    def parse_statement(self, response: Response) -> Iterator[Any]:
        self.route_of(response.request).streak = 0
        yield from super().parse_statement(response)

    # -- feeds --------------------------------------------------------------------------

    def parse_feed(self, response: Response, route: Route) -> Iterator[Any]:
        """A bridge's feed: each item resolved to the article it copies, never kept itself."""
        items, problem = feed_items(response)
        if problem:
            route.errors += 1
            yield self.error(response, f"route {route.name}: {problem}")
            return
        links: list[str] = []
        for title, candidates in items:
            link = next((c for c in candidates if is_article_link(c, self.hosts)), None)
            if link is None:
                route.errors += 1
                yield self.error(
                    response, f"route {route.name}: feed item has no WeChat article link: {title}"
                )
            else:
                links.append(response.urljoin(link))
        yield from self.article_requests(links, route)

    # -- albums -------------------------------------------------------------------------

    def parse_album(self, response: Response, route: Route) -> Iterator[Any]:
        """One page of an album's JSON: its articles, then the next page unless this one
        reached articles already archived."""
        page = int(response.meta.get("album_page", 1))
        try:
            data = json.loads(response.body)
        except ValueError:
            route.errors += 1
            yield self.error(response, f"route {route.name}: album page is not JSON")
            return
        base = data.get("base_resp") or {}
        if str(base.get("ret", 0)) != "0":
            route.errors += 1
            detail = base.get("err_msg") or base.get("errmsg") or ""
            reason = f"route {route.name}: album answered ret={base.get('ret')} {detail}"
            yield self.error(response, reason.strip())
            return
        album = data.get("getalbum_resp") or {}
        articles = album.get("article_list") or []
        if isinstance(articles, dict):  # a single article comes as an object, not a list
            articles = [articles]
        links = [response.urljoin(html.unescape(str(a["url"]))) for a in articles if a.get("url")]
        if not links and page == 1:
            route.errors += 1
            yield self.error(response, f"route {route.name}: album has no articles")
        reached = any(article_key(article_url(link)) in self.known for link in links)
        yield from self.article_requests(links, route)
        more = str(album.get("continue_flag", "0")) == "1"
        if reached:
            logger.info(
                "%s: route %s reached known articles on page %d", self.name, route.name, page
            )
        elif more and articles and page < self.source.max_pages:
            last = articles[-1]
            next_url = with_params(
                response.url,
                begin_msgid=str(last.get("msgid", "")),
                begin_itemidx=str(last.get("itemidx", "")),
            )
            yield self._entry(next_url, route, album_page=page + 1)

    # -- walls and errors ---------------------------------------------------------------

    def route_of(self, request: scrapy.Request | None) -> Route:
        name = request.meta.get("wechat_route") if request is not None else None
        return next((route for route in self.routes if route.name == name), self.recheck_route)

    def wechat_gate(self, request: scrapy.Request) -> str | None:
        """Why a request of a stopped route is not sent (WechatMiddleware asks)."""
        route = self.route_of(request)
        if route.stopped:
            return (
                f"{route.last_wall}: not fetched: route {route.name} stopped after "
                f"{route.streak} walls in a row; left for the next crawl"
            )
        return None

    def on_error(self, failure: Failure) -> Iterator[Any]:
        request: scrapy.Request = failure.request  # type: ignore[attr-defined]
        route = self.route_of(request)
        for item in super().on_error(failure):
            if route is not self.recheck_route and f"route {route.name}" not in item.reason:
                item = dataclasses.replace(item, reason=f"{item.reason} (route {route.name})")
            yield item
        wall = failure.value if isinstance(failure.value, WechatWall) else None
        if wall is None:
            route.errors += 1
            return
        route.walls += 1
        route.streak += 1
        route.last_wall = wall.kind
        self.crawler.stats.inc_value(f"communique/wechat/route/{route.name}/walls")
        if route.streak >= self.max_walls:
            if not route.stopped:
                logger.warning(
                    "%s: route %s stopped after %d walls in a row (%s); the rest is left "
                    "for the next crawl",
                    self.name,
                    route.name,
                    route.streak,
                    wall.kind,
                )
            route.stopped = True
            return
        tries = int(request.meta.get("wechat_walls", 0)) + 1
        if tries < self.max_walls:
            redirects = request.meta.get("redirect_urls") or []
            meta = {k: v for k, v in request.meta.items() if not k.startswith("redirect_")}
            yield request.replace(
                url=redirects[0] if redirects else request.url,
                dont_filter=True,
                meta={**meta, "wechat_walls": tries},
            )

    def closed(self, reason: str) -> None:
        for route in self.routes:
            logger.info("%s: %s", self.name, route.summary())
            self.crawler.stats.set_value(f"communique/wechat/route/{route.name}", route.summary())


def feed_items(response: Response) -> tuple[list[tuple[str, list[str]]], str | None]:
    """(title, candidate article links) per item of an RSS, Atom or JSON feed, or a problem."""
    content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
    body = response.body.lstrip()
    if "json" in content_type or body.startswith(b"{"):
        try:
            data = json.loads(body)
        except ValueError as error:
            return [], f"not a valid JSON feed ({error})"
        entries = data.get("items") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return [], "not a JSON feed (no items list)"
        items = []
        for entry in entries:
            candidates = [str(entry.get(key) or "") for key in ("url", "external_url", "id")]
            content = str(entry.get("content_html") or entry.get("summary") or "")
            items.append((str(entry.get("title") or ""), candidates + _HREF.findall(content)))
    else:
        headers = {
            "content-location": response.url,
            "content-type": content_type or "application/xml",
        }
        feed = feedparser.parse(response.body, response_headers=headers)
        if not feed.entries and feed.bozo:
            return [], f"not a valid feed ({feed.bozo_exception})"
        items = []
        for entry in feed.entries:
            candidates = [entry.get("link") or "", entry.get("id") or ""]
            candidates += [link.get("href") or "" for link in entry.get("links", [])]
            texts = [c.get("value") or "" for c in entry.get("content", [])]
            texts.append(entry.get("summary") or "")
            candidates += [href for text in texts for href in _HREF.findall(text)]
            items.append((str(entry.get("title") or ""), candidates))
    if not items:
        return [], "feed has no items"
    return items, None


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def album_json_url(url: str) -> str:
    """An album link in its JSON form (`f=json`, `action=getalbum`, ten articles a page)."""
    present = dict(parse_qsl(urlsplit(url).query))
    wanted = {"action": "getalbum", "f": "json", "count": present.get("count", "10")}
    return with_params(url, **wanted)
