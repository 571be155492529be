"""What cleaning produces and takes, with no cleaning code: the archive's writer, the
config loader and the crawler import these without loading trafilatura."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

# Statuses a page can come out with. `ok` is a statement; everything else is recorded on
# the capture only and never becomes statement text.
STATUS_OK = "ok"
STATUS_NOT_HTML = "not_html"  # PDF, image, binary served as anything
STATUS_EMPTY = "empty"  # HTML, but no statement text could be extracted
# The page says the statement is gone or cannot be shown; `reason` quotes the page.
STATUS_DELETED = "deleted"  # removed by its publisher (该内容已被发布者删除)
STATUS_BLOCKED = "blocked"  # removed by the platform (此内容因违规无法查看)
STATUS_UNAVAILABLE = "unavailable"  # cannot be shown, no cause given (该内容暂时无法查看)
STATUS_EXPIRED = "expired"  # a temporary link that has run out (链接已过期)
STATUS_NOT_FOUND = "not_found"  # a soft 404: an error page served with HTTP 200
STATUS_CAPTCHA = "captcha"  # a verification wall (环境异常): try again later, nothing is known

# Definitive: the statement is gone from this URL. A captcha says nothing about the page.
GONE_STATUSES = frozenset(
    (STATUS_DELETED, STATUS_BLOCKED, STATUS_UNAVAILABLE, STATUS_EXPIRED, STATUS_NOT_FOUND)
)


@dataclass(frozen=True)
class Cleaned:
    """What the archive stores for one page."""

    status: str
    url: str
    title: str | None = None
    text: str | None = None
    published: str | None = None  # ISO 8601: a date, or a full timestamp with offset
    issuer: str | None = None
    language: str | None = None  # ISO 639-1
    reason: str | None = None  # why status is not ok, in words a person can read
    encoding: str | None = None  # the charset the bytes were decoded with
    # A stable key for sources whose URL is not the statement's identity: for WeChat
    # "wechat:<biz>/<mid>/<idx>", the same for the short /s/<id> link and the long link.
    identity: str | None = None
    # WeChat articles: biz, mid, idx, sn, account, msg_source_url, modify_time (where given).
    wechat: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hints:
    """What the source's config knows about its pages.

    `issuer`, `language` and `timezone` are fallbacks. The CSS selectors are per-source
    overrides for sites where the heuristics fail: `body` (the statement's element(s)),
    `title`, `date`, `issuer_selector` (elements whose text is that field) and `drop`
    (elements removed before anything else runs).
    """

    issuer: str | None = None
    language: str | None = None
    timezone: str | None = None  # IANA name, e.g. "Asia/Shanghai": gives page times an offset
    body: str | None = None
    title: str | None = None
    date: str | None = None
    issuer_selector: str | None = None
    drop: tuple[str, ...] = ()


class ExtractRulesLike(Protocol):
    body: str | None
    title: str | None
    date: str | None
    issuer: str | None
    drop: Sequence[str]


class SourceLike(Protocol):
    """What the cleaner takes from a configured source (`communique.config.Source`), which
    the archive never imports: it is handed the object and reads these."""

    @property
    def fallback_issuer(self) -> str | None: ...

    language: str | None
    timezone: str | None
    extract: Any  # ExtractRulesLike | None


def hints_for(source: SourceLike) -> Hints:
    """What the cleaner may fall back on for a source's pages, and its CSS overrides."""
    rules: ExtractRulesLike | None = source.extract
    return Hints(
        issuer=source.fallback_issuer,
        language=source.language,
        timezone=source.timezone,
        body=rules.body if rules else None,
        title=rules.title if rules else None,
        date=rules.date if rules else None,
        issuer_selector=rules.issuer if rules else None,
        drop=tuple(rules.drop) if rules else (),
    )
