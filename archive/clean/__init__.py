"""Turn fetched bytes into a statement (or a status saying why it is not one).

`clean_page` is a pure function with no Scrapy import: the crawler, `communique extract`
and any later re-extraction all call exactly this.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from unicodedata import is_normalized, normalize

from lxml.html import HtmlElement

from archive.clean import wechat
from archive.clean.boilerplate import (
    clean_lines,
    drop_never_text,
    prune,
    unwrap_layout_tables,
)
from archive.clean.decode import decode_body
from archive.clean.extract import Extracted, block_lines, layout, parse_html, run_trafilatura
from archive.clean.keep import join_split_bodies, keep_for_precision, lift_summaries
from archive.clean.language import choose_language
from archive.clean.metadata import (
    find_issuer,
    find_published,
    find_title,
    html_title,
    meta_map,
)
from archive.clean.overrides import drop_element, read_overrides, select
from archive.clean.sniff import sniff_not_html
from archive.clean.soft404 import soft_404
from archive.cleaned import (
    GONE_STATUSES,
    STATUS_BLOCKED,
    STATUS_CAPTCHA,
    STATUS_DELETED,
    STATUS_EMPTY,
    STATUS_EXPIRED,
    STATUS_NOT_FOUND,
    STATUS_NOT_HTML,
    STATUS_OK,
    STATUS_UNAVAILABLE,
    Cleaned,
    Hints,
)

__all__ = [
    "GONE_STATUSES",
    "MIN_TEXT_CHARS",
    "STATUS_BLOCKED",
    "STATUS_CAPTCHA",
    "STATUS_DELETED",
    "STATUS_EMPTY",
    "STATUS_EXPIRED",
    "STATUS_NOT_FOUND",
    "STATUS_NOT_HTML",
    "STATUS_OK",
    "STATUS_UNAVAILABLE",
    "Cleaned",
    "Hints",
    "clean_page",
]

# Less text than this after cleaning is a menu, a stub or an index, not a statement.
MIN_TEXT_CHARS = 40
# Pages longer than this (decoded characters) are not checked for "content gone" notices
# unless they are WeChat pages: error pages are small, articles quoting the words are not.
MAX_GONE_PAGE_CHARS = 60_000


def clean_page(
    body: bytes,
    url: str,
    content_type: str | None = None,
    hints: Hints | None = None,
    today: date | None = None,
) -> Cleaned:
    """Decode, extract and tidy one fetched page.

    `today` bounds plausible publication dates (defaults to the current UTC date). Every
    text comes out in Unicode NFC: a page that switches between composed and decomposed
    forms (`ü` as one code point or as `u` and a combining diaeresis) reads, hashes and
    indexes the same either way.
    """
    return _nfc(_clean(body, url, content_type, hints, today))


def _nfc(cleaned: Cleaned) -> Cleaned:
    changed: dict[str, Any] = {
        name: normalize("NFC", value)
        for name in ("title", "text", "issuer", "reason")
        if (value := getattr(cleaned, name)) and not is_normalized("NFC", value)
    }
    fields = cleaned.wechat
    if fields and any(not is_normalized("NFC", value) for value in fields.values()):
        changed["wechat"] = {key: normalize("NFC", value) for key, value in fields.items()}
    return replace(cleaned, **changed) if changed else cleaned


def _clean(
    body: bytes,
    url: str,
    content_type: str | None,
    hints: Hints | None,
    today: date | None,
) -> Cleaned:
    hints = hints or Hints()
    today = today or datetime.now(UTC).date()

    if not body.strip():
        return Cleaned(status=STATUS_EMPTY, url=url, reason="empty response body")
    not_html = sniff_not_html(body, content_type)
    if not_html:
        return Cleaned(status=STATUS_NOT_HTML, url=url, reason=not_html)

    decoded = decode_body(body, content_type)
    # Composed forms before any rule reads the text: labels and dates match either way.
    page = decoded.text if is_normalized("NFC", decoded.text) else normalize("NFC", decoded.text)
    root = parse_html(page)
    if root is None:
        return Cleaned(
            status=STATUS_EMPTY,
            url=url,
            reason="no HTML document could be parsed",
            encoding=decoded.encoding,
        )

    for selector in hints.drop:
        for element in select(root, selector):
            drop_element(element)

    is_wechat = wechat.is_wechat_url(url) or wechat.looks_like_wechat(page)
    if is_wechat or len(page) <= MAX_GONE_PAGE_CHARS:
        gone = wechat.find_gone(root, is_wechat)
        if gone is not None and not (is_wechat and wechat.has_article(root)):
            return Cleaned(
                status=gone.status,
                url=url,
                reason=gone.reason,
                encoding=decoded.encoding,
                identity=wechat.wechat_identity_from_url(url) if is_wechat else None,
            )
    if is_wechat:
        return _clean_wechat(root, url, hints, today, decoded.encoding)
    return _clean_web(root, url, hints, today, decoded.encoding)


def _clean_web(root: HtmlElement, url: str, hints: Hints, today: date, encoding: str) -> Cleaned:
    """An ordinary web page: our tree rules, trafilatura, then our line and metadata rules."""
    metas = meta_map(root)
    raw_title = html_title(root)
    html_lang = root.get("lang") or root.get("xml:lang") or metas.get("content-language")
    h1 = root.find(".//h1")
    h1_text = " ".join(h1.text_content().split()) if h1 is not None else None
    overrides = read_overrides(root, hints, today)
    body_elements = select(root, hints.body) if hints.body else []

    drop_never_text(root)
    unwrap_layout_tables(root)
    notes = prune(root)
    if body_elements:
        extracted = Extracted(lines=[line for el in body_elements for line in block_lines(el)])
    else:
        keep_for_precision(root)
        lift_summaries(root)
        join_split_bodies(root)
        extracted = run_trafilatura(root, url, today)

    title = overrides.title or find_title(
        metas, root, extracted.title, (extracted.sitename, hints.issuer)
    )
    lines = clean_lines(
        extracted.lines,
        titles=(title, raw_title, h1_text, metas.get("og:title")),
        link_texts=notes.link_texts,
        credits=notes.credits,
    )
    text = layout(lines)

    published = overrides.published or find_published(
        metas,
        notes.blocks,
        hints.timezone,
        today,
        body_start=notes.body_start,
        guess=extracted.date_guess,
    )
    issuer = overrides.issuer or find_issuer(metas, notes.blocks) or hints.issuer
    language = choose_language(text, html_lang, hints.language)

    not_found = soft_404(text, (raw_title, h1_text, title))
    if not_found:
        return Cleaned(status=STATUS_NOT_FOUND, url=url, reason=not_found, encoding=encoding)
    if len(text) < MIN_TEXT_CHARS:
        return Cleaned(
            status=STATUS_EMPTY,
            url=url,
            title=title,
            published=published,
            issuer=issuer,
            language=language,
            reason=f"no statement text found ({len(text)} characters left after cleaning)",
            encoding=encoding,
        )
    return Cleaned(
        status=STATUS_OK,
        url=url,
        title=title,
        text=text,
        published=published,
        issuer=issuer,
        language=language,
        encoding=encoding,
    )


def _clean_wechat(root: HtmlElement, url: str, hints: Hints, today: date, encoding: str) -> Cleaned:
    """A WeChat article: `#js_content` whole, metadata from the page's scripts."""
    page = wechat.read_page(root)
    metas = meta_map(root)
    title = page.title
    lines: list[str] = []
    if page.share_text or page.pictures:
        # A text or picture share: its words are in the page's script, and a picture
        # share's pictures are its statement too, kept as their addresses.
        written = (page.share_text or "").splitlines()
        lines = clean_lines(written, titles=(title, metas.get("og:title"))) + list(page.pictures)
    elif page.content is not None:
        wechat.drop_chrome(page.content)
        lines = clean_lines(
            block_lines(page.content),
            titles=(title, metas.get("og:title")),
            link_texts=wechat.link_texts(page.content),
        )
    else:
        lines = clean_lines(run_trafilatura(root, url, today).lines, titles=(title,))
    text = layout(lines)
    if not text and title and (page.text_share or page.published):
        # A share with no words of its own, or a post that is all pictures: its title is
        # all the words it has.
        text = title
    issuer = page.account or hints.issuer
    language = choose_language(text, root.get("lang"), hints.language or "zh")
    key = page.identity or wechat.wechat_identity_from_url(url)
    if not text:
        return Cleaned(
            status=STATUS_EMPTY,
            url=url,
            title=title,
            published=page.published,
            issuer=issuer,
            language=language,
            reason="no statement text found in the WeChat article",
            encoding=encoding,
            identity=key,
            wechat=page.fields or None,
        )
    return Cleaned(
        status=STATUS_OK,
        url=url,
        title=title,
        text=text,
        published=page.published,
        issuer=issuer,
        language=language,
        encoding=encoding,
        identity=key,
        wechat=page.fields or None,
    )
