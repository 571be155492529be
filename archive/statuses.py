"""Every status a page or a statement can have, and which of them mean "gone": defined once.

The cleaner gives each page a status; the store turns gone pages into a statement's status;
the web pages, the canned queries (their SQL is generated from `GONE_STATUSES` here) and the
CSV snapshots all read the same definitions.
"""

from __future__ import annotations

from collections.abc import Iterable

# -- What the cleaner makes of a page (`captures.status`) -----------------------------------
# `ok` is a statement; everything else is recorded on the capture and never becomes text.
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
# Not from the cleaner, but recorded the same way on a capture.
STATUS_HTTP_ERROR = "http_error"  # the server answered 4xx/5xx: nothing was cleaned
STATUS_CLEAN_FAILED = "clean_failed"  # the cleaner raised, or its worker process died

# -- What a statement is (`statements.status`) ----------------------------------------------
LIVE = "live"
# Definitive: the statement is gone from its URL, each with the words the web pages use.
# A captcha or a 5xx says nothing about the page, so they are not here.
GONE: dict[str, str] = {
    STATUS_DELETED: "deleted",
    STATUS_BLOCKED: "blocked",
    STATUS_UNAVAILABLE: "unavailable",
    STATUS_EXPIRED: "expired",
    STATUS_NOT_FOUND: "not found",
}
GONE_STATUSES = frozenset(GONE)
STATEMENT_STATUSES = (LIVE, *GONE)
# HTTP answers that say the statement is gone, and the status they give it.
DEFINITIVE_HTTP = {404: STATUS_DELETED, 410: STATUS_DELETED}

# -- What became of one fetched page (`captures.outcome`) -----------------------------------
NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
NOT_STATEMENT = "not_statement"
ERROR = "error"
INDEX = "index"  # a feed, sitemap or listing page: kept raw, not cleaned
GONE_OUTCOME = "gone"  # a known statement's page answered 404/410 or became a gone page
STATEMENT_OUTCOMES = (NEW, CHANGED, UNCHANGED)  # the page held the statement's text
# Not a capture: a result from another machine that was recorded before (delivered again
# after the writer restarted); nothing is written.
DELIVERED_BEFORE = "delivered_before"


def is_gone(status: str | None) -> bool:
    return status in GONE_STATUSES


def sql_list(values: Iterable[str]) -> str:
    """Values as an SQL list literal, `('a', 'b')`, for queries generated from these rules."""
    return "(" + ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(values)) + ")"


def gone_sql(column: str = "status") -> str:
    """The SQL condition "this statement is gone", for canned queries and counts."""
    return f"{column} in {sql_list(GONE_STATUSES)}"


GONE_WORDS = ", ".join(GONE.values())  # "deleted, blocked, unavailable, expired, not found"
