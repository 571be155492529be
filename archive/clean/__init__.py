"""Turn fetched bytes into a statement (or a status saying why it is not one).

`clean_page` is a pure function with no Scrapy import: the crawler, `communique extract`
and any later re-extraction all call exactly this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from archive.clean.boilerplate import clean_lines, prune, unwrap_layout_tables
from archive.clean.decode import decode_body
from archive.clean.extract import layout, parse_html, run_trafilatura
from archive.clean.language import choose_language
from archive.clean.metadata import (
    find_issuer,
    find_published,
    find_title,
    html_title,
    meta_map,
)
from archive.clean.sniff import sniff_not_html

__all__ = [
    "MIN_TEXT_CHARS",
    "STATUS_EMPTY",
    "STATUS_NOT_HTML",
    "STATUS_OK",
    "Cleaned",
    "Hints",
    "clean_page",
]

# Statuses a page can come out with. `ok` is a statement; everything else is recorded on
# the capture only and never becomes statement text.
STATUS_OK = "ok"
STATUS_NOT_HTML = "not_html"  # PDF, image, binary served as anything
STATUS_EMPTY = "empty"  # HTML, but no statement text could be extracted

# Less text than this after cleaning is a menu, a stub or an index, not a statement.
MIN_TEXT_CHARS = 40


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hints:
    """What the source's config knows about its pages (fallbacks, never overrides yet)."""

    issuer: str | None = None
    language: str | None = None
    timezone: str | None = None  # IANA name, e.g. "Asia/Shanghai": gives page times an offset


def clean_page(
    body: bytes,
    url: str,
    content_type: str | None = None,
    hints: Hints | None = None,
    today: date | None = None,
) -> Cleaned:
    """Decode, extract and tidy one fetched page.

    `today` bounds plausible publication dates (defaults to the current UTC date).
    """
    hints = hints or Hints()
    today = today or datetime.now(UTC).date()

    if not body.strip():
        return Cleaned(status=STATUS_EMPTY, url=url, reason="empty response body")
    not_html = sniff_not_html(body, content_type)
    if not_html:
        return Cleaned(status=STATUS_NOT_HTML, url=url, reason=not_html)

    decoded = decode_body(body, content_type)
    root = parse_html(decoded.text)
    if root is None:
        return Cleaned(
            status=STATUS_EMPTY,
            url=url,
            reason="no HTML document could be parsed",
            encoding=decoded.encoding,
        )

    metas = meta_map(root)
    raw_title = html_title(root)
    html_lang = root.get("lang") or root.get("xml:lang") or metas.get("content-language")
    h1 = root.find(".//h1")
    h1_text = " ".join(h1.text_content().split()) if h1 is not None else None

    unwrap_layout_tables(root)
    notes = prune(root)
    extracted = run_trafilatura(root, url, today)

    title = find_title(metas, root, extracted.title, (extracted.sitename, hints.issuer))
    lines = clean_lines(
        extracted.lines,
        titles=(title, raw_title, h1_text, metas.get("og:title")),
        link_texts=notes.link_texts,
    )
    text = layout(lines)

    published = find_published(
        metas,
        notes.blocks,
        hints.timezone,
        today,
        body_start=notes.body_start,
        guess=extracted.date,
    )
    issuer = find_issuer(metas, notes.blocks) or hints.issuer
    language = choose_language(text, html_lang, hints.language)

    if len(text) < MIN_TEXT_CHARS:
        return Cleaned(
            status=STATUS_EMPTY,
            url=url,
            title=title,
            published=published,
            issuer=issuer,
            language=language,
            reason=f"no statement text found ({len(text)} characters left after cleaning)",
            encoding=decoded.encoding,
        )
    return Cleaned(
        status=STATUS_OK,
        url=url,
        title=title,
        text=text,
        published=published,
        issuer=issuer,
        language=language,
        encoding=decoded.encoding,
    )
