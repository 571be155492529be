"""What cleaning produces and takes, with no cleaning code: the archive's writer and the
crawler import these without loading trafilatura."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

# The statuses a page can come out with are defined in archive/statuses.py; the cleaner
# imports them from here with the types.
from archive.statuses import (
    GONE_STATUSES,
    STATUS_BLOCKED,
    STATUS_CAPTCHA,
    STATUS_CLEAN_FAILED,
    STATUS_DELETED,
    STATUS_EMPTY,
    STATUS_EXPIRED,
    STATUS_HTTP_ERROR,
    STATUS_NOT_FOUND,
    STATUS_NOT_HTML,
    STATUS_OK,
    STATUS_UNAVAILABLE,
)

__all__ = [
    "GONE_STATUSES",
    "STATUS_BLOCKED",
    "STATUS_CAPTCHA",
    "STATUS_CLEAN_FAILED",
    "STATUS_DELETED",
    "STATUS_EMPTY",
    "STATUS_EXPIRED",
    "STATUS_HTTP_ERROR",
    "STATUS_NOT_FOUND",
    "STATUS_NOT_HTML",
    "STATUS_OK",
    "STATUS_UNAVAILABLE",
    "Cleaned",
    "Hints",
    "SourceLike",
    "hints_for",
]


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
