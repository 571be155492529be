"""The typed configuration: sources, crawl politeness and archive settings, loaded from the
sources file with errors that name the culprit.

Imports nothing of ours: the crawler and the command read it; the archive is handed plain
values (see `archive.cleaned.hints_for`, `archive.store.HistorySettings.from_config`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from parsel.csstranslator import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

KINDS = ("feed", "sitemap", "listing", "urls", "wechat")
DEFAULT_CONTACT = "https://github.com/communique-archive/communique"
# Hosts of WeChat official-account articles and of Sogou's WeChat search: their own throttle.
WECHAT_HOSTS = ["mp.weixin.qq.com", "weixin.sogou.com"]


HOUR = 3600.0
DAY = 24 * HOUR
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": HOUR, "d": DAY, "w": 7 * DAY}


class ConfigError(Exception):
    """A sources file that cannot be used; the message is one line naming file, source, field."""


def parse_duration(text: str) -> float:
    """Seconds in `30m`, `6h`, `1d`, `2w`; ValueError naming the text otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration like 30m, 6h, 1d or 2w: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def is_cron(schedule: str) -> bool:
    return len(schedule.split()) == 5 and croniter.is_valid(schedule)


def check_schedule(schedule: str) -> str:
    """The schedule if it is a duration (30m, 6h, 1d) or a 5-field cron expression."""
    if is_cron(schedule):
        return schedule
    try:
        parse_duration(schedule)
    except ValueError:
        raise ValueError(
            f"not a duration (30m, 6h, 1d) or a cron expression ('0 */6 * * *'): {schedule!r}"
        ) from None
    return schedule


def _check_selector(value: str | None) -> str | None:
    if value is not None:
        try:
            HTMLTranslator().css_to_xpath(value)
        except Exception as error:  # cssselect raises several unrelated types
            raise ValueError(f"not a valid CSS selector ({error})") from None
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


class CrawlSettings(BaseModel):
    """Politeness settings shared by every source in the file."""

    model_config = ConfigDict(extra="forbid")

    contact: str = DEFAULT_CONTACT  # a URL or address put in the User-Agent
    download_delay: float = Field(default=2.0, ge=0)
    concurrent_requests_per_domain: int = Field(default=2, ge=1, le=32)
    max_page_bytes: int = Field(default=10_000_000, ge=10_000)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    retry_backoff: float = Field(default=2.0, ge=0)  # seconds before the first retry; doubles
    # WeChat: requests to these hosts are spaced by wechat_delay seconds, one at a time; a
    # captcha, verification redirect or 429 pauses them wechat_backoff seconds (doubling
    # while walls follow each other), and a route stops after wechat_max_walls in a row.
    wechat_hosts: list[str] = Field(default_factory=lambda: list(WECHAT_HOSTS))
    wechat_delay: float = Field(default=5.0, ge=0)
    wechat_backoff: float = Field(default=60.0, ge=0)
    wechat_max_walls: int = Field(default=3, ge=1)


class ExtractRules(BaseModel):
    """Per-source CSS selectors for pages where the cleaner's heuristics fail."""

    model_config = ConfigDict(extra="forbid")

    body: str | None = None  # the statement's text: the element(s) it sits in
    title: str | None = None
    date: str | None = None  # an element whose text holds the publication date
    issuer: str | None = None  # an element whose text names the issuer
    drop: list[str] = []  # elements removed before extraction (widgets, related lists)

    @field_validator("body", "title", "date", "issuer")
    @classmethod
    def _selector_parses(cls, value: str | None) -> str | None:
        return _check_selector(value)

    @field_validator("drop")
    @classmethod
    def _drop_selectors_parse(cls, value: list[str]) -> list[str]:
        for selector in value:
            _check_selector(selector)
        return value


class WechatRoute(BaseModel):
    """One way of finding a WeChat account's articles; exactly one key per route."""

    model_config = ConfigDict(extra="forbid")

    feed: str | None = None  # RSS, Atom or JSON Feed of a bridge (RSSHub, wewe-rss, …)
    album: str | None = None  # an album page: /mp/appmsgalbum?__biz=…&action=getalbum&album_id=…
    urls: list[str] = []  # article links: /s/<id>, /s?__biz=…&mid=…&idx=…&sn=…, Sogou /link?url=
    file: str | None = None  # a file of such links, one a line (relative to the sources file)

    @field_validator("feed", "album")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        return _check_url(value) if value is not None else None

    @field_validator("urls")
    @classmethod
    def _urls_are_http(cls, value: list[str]) -> list[str]:
        return [_check_url(url) for url in value]

    @model_validator(mode="after")
    def _one_key(self) -> WechatRoute:
        given = [name for name in ("feed", "album", "urls", "file") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a route has exactly one of feed, album, urls, file")
        return self

    @property
    def kind(self) -> str:
        return "feed" if self.feed else "album" if self.album else "urls"

    @property
    def entry_urls(self) -> list[str]:
        return [self.feed] if self.feed else [self.album] if self.album else list(self.urls)


class Source(BaseModel):
    """One place statements are published, and how to find them there."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    issuer: str
    kind: Literal["feed", "sitemap", "listing", "urls", "wechat"]
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    timezone: str | None = None  # IANA name for page times given without an offset
    every: str | None = None  # crawl schedule for `crawl --due`: 30m, 6h, 1d or cron
    start_urls: list[str] = []
    urls: list[str] = []
    allowed_domains: list[str] = []
    # listing
    article_links: str | None = None
    next_page: str | None = None
    max_pages: int = Field(default=10, ge=1)
    # sitemap (and any kind): which statement URLs to keep
    url_pattern: str | None = None
    # per-source CSS selectors for the cleaner (any kind)
    extract: ExtractRules | None = None
    # wechat: the official account, its __biz id if known, and the routes to its articles
    account: str | None = None
    biz: str | None = None
    routes: list[WechatRoute] = []

    @field_validator("start_urls", "urls")
    @classmethod
    def _urls_are_http(cls, value: list[str]) -> list[str]:
        return [_check_url(url) for url in value]

    @field_validator("every")
    @classmethod
    def _schedule_parses(cls, value: str | None) -> str | None:
        if value is not None:
            check_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("article_links", "next_page")
    @classmethod
    def _selectors_parse(cls, value: str | None) -> str | None:
        return _check_selector(value)

    @field_validator("url_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression ({error})") from None
        return value

    @model_validator(mode="after")
    def _kind_has_what_it_needs(self) -> Source:
        if self.kind != "wechat" and (self.routes or self.account or self.biz):
            field = "routes" if self.routes else "account" if self.account else "biz"
            raise ValueError(f"{field}: only a source of kind wechat has {field}")
        if self.kind == "wechat":
            if not self.account:
                raise ValueError("account: a wechat source needs the account's name")
            if not self.routes:
                raise ValueError("routes: a wechat source needs at least one route")
        elif self.kind == "urls":
            if not (self.urls or self.start_urls):
                raise ValueError("urls: a source of kind urls needs a list of urls")
        elif not self.start_urls:
            raise ValueError(f"start_urls: a source of kind {self.kind} needs start_urls")
        if self.kind == "listing" and not self.article_links:
            raise ValueError("article_links: a listing source needs a CSS selector for its links")
        return self

    @property
    def entry_urls(self) -> list[str]:
        if self.kind == "wechat":
            return [url for route in self.routes for url in route.entry_urls]
        return self.urls + self.start_urls if self.kind == "urls" else self.start_urls

    @property
    def fallback_issuer(self) -> str | None:
        """The issuer a page that names none is credited to."""
        return self.issuer

    @property
    def domains(self) -> list[str]:
        """Hosts the crawler may follow links to: configured, else those of the entry URLs."""
        if self.allowed_domains:
            return self.allowed_domains
        return sorted({urlsplit(url).hostname or "" for url in self.entry_urls} - {""})


class RecheckStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    younger_than: str  # a duration: 30m, 6h, 1d, 2w
    every: str

    @field_validator("younger_than", "every")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class ArchiveSettings(BaseModel):
    """How the archive judges reprints and how often it rechecks known statements."""

    model_config = ConfigDict(extra="forbid")

    reprint_threshold: float = Field(default=0.8, gt=0, le=1)
    recheck: list[RecheckStep] = [
        RecheckStep(younger_than="2d", every="6h"),
        RecheckStep(younger_than="14d", every="1d"),
        RecheckStep(younger_than="90d", every="7d"),
    ]
    recheck_after: str = "30d"  # for statements older than every step

    @field_validator("recheck_after")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def recheck_seconds(self) -> tuple[tuple[float, float], ...]:
        """The recheck steps as (age below which, recheck every) in seconds."""
        return tuple(
            (parse_duration(s.younger_than), parse_duration(s.every)) for s in self.recheck
        )

    @property
    def recheck_after_seconds(self) -> float:
        return parse_duration(self.recheck_after)


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crawl: CrawlSettings = CrawlSettings()
    archive: ArchiveSettings = ArchiveSettings()
    sources: list[Source] = Field(min_length=1)


class Config(BaseModel):
    """A validated sources file."""

    path: str
    crawl: CrawlSettings
    archive: ArchiveSettings
    sources: list[Source]

    def select(self, ids: list[str] | tuple[str, ...]) -> list[Source]:
        """The named sources (all when none are named); unknown ids are a ConfigError."""
        if not ids:
            return list(self.sources)
        known = {source.id: source for source in self.sources}
        unknown = [source_id for source_id in ids if source_id not in known]
        if unknown:
            raise ConfigError(
                f"{self.path}: no source with id {', '.join(unknown)} (known: {', '.join(known)})"
            )
        return [known[source_id] for source_id in ids]


def _line_of(node: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """The line (1-based) of the YAML node at a pydantic error location, as near as found."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in location:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _at_line(root: yaml.Node | None, location: tuple[int | str, ...]) -> str:
    line = _line_of(root, location)
    return f" (line {line})" if line else ""


def _describe(error: Any, data: Any) -> str:
    """One error of pydantic's as `sources[2] (mfa-en): kind: must be one of …`."""
    location = list(error["loc"])
    where = ""
    if location[:1] == ["sources"] and len(location) > 1 and isinstance(location[1], int):
        index = location[1]
        entry = data["sources"][index] if index < len(data.get("sources") or []) else None
        source_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"sources[{index}]" + (f" ({source_id})" if source_id else "")
        location = location[2:]
    elif location:
        where = str(location[0])
        location = location[1:]
    fields = [str(part) for part in location if not isinstance(part, int)]
    message = _message(error)
    if error["type"] == "missing":
        return f"{where}: {'.'.join(fields)}: required key is missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: {'.'.join(fields)}: unknown key"
    return f"{where}: {'.'.join(fields) + ': ' if fields else ''}{message}"


def _message(error: Any) -> str:
    if error["type"] == "literal_error":
        return "must be one of " + ", ".join(KINDS)
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def parse_config(text: str, path: str) -> Config:
    """Validate the text of a sources file; `path` is only used in messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {line}invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'sources' list at the top")
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(
            f"{path}: {_describe(first, data)}{_at_line(root, tuple(first['loc']))}"
        ) from None
    seen: dict[str, int] = {}
    for index, source in enumerate(parsed.sources):
        if source.id in seen:
            raise ConfigError(
                f"{path}: sources[{index}] ({source.id}): id: duplicate of "
                f"sources[{seen[source.id]}]{_at_line(root, ('sources', index))}"
            )
        seen[source.id] = index
    return Config(path=path, crawl=parsed.crawl, archive=parsed.archive, sources=parsed.sources)


def load_config(path: str | Path) -> Config:
    """Read and validate a sources file; every problem is a one-line ConfigError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read ({error})") from None
    return parse_config(text, str(path))
