"""Parse once with lxml, run trafilatura on the pruned tree, and lay the text out."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise

import lxml.html
from htmldate import find_date
from lxml.etree import ParserError
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
)

from archive.clean.reconcile import reconcile, same_statement

# trafilatura logs every page it gives up on; without a handler Python prints those to
# stderr. Callers that configure logging still receive them through propagation.
logging.getLogger("trafilatura").addHandler(logging.NullHandler())

_PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Control characters are never visible text, and lxml refuses to set them as text when a
# rule edits the tree (a corrupted or binary-tainted page has them).
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Extracted:
    """trafilatura's view of the page: body lines and the metadata it guessed."""

    lines: list[str]
    title: str | None = None
    sitename: str | None = None
    # trafilatura's date, asked for only when the page's own lines give none (htmldate
    # reads the whole tree again).
    date_guess: Callable[[], str | None] | None = None


def parse_html(text: str) -> HtmlElement | None:
    """The page as an lxml tree, or None when there is no document to speak of."""
    # lxml refuses str input that carries an XML encoding declaration.
    text = _NOT_XML_TEXT.sub("", _XML_DECLARATION.sub("", text, count=1))
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except (ParserError, ValueError):
        return None
    return root if root is not None and len(root) else None


# favor_precision now and then throws the whole article away and keeps a reprint notice
# or a caption; below this many characters the default mode is asked for a second opinion.
SHORT_EXTRACT_CHARS = 500


def page_metadata(root: HtmlElement, url: str | None, today: date) -> Extracted:
    """trafilatura's title, date and site name guesses, without the text.

    The same steps as trafilatura's `extract_metadata` for the fields we use; its author,
    categories, tags and licence searches took a sixth of a page's cleaning time and
    nothing here reads them. Computed once per page, not once per extraction mode; the
    date only when asked for.
    """
    document = examine_meta(root)
    with suppress(Exception):  # trafilatura guards its JSON-LD reader the same way
        document = extract_meta_json(root, document)
    title = document.title or extract_title(root)
    page_url = document.url or url

    def date_guess() -> str | None:
        # No extensive search: it will take a copyright year for a date. Our own
        # date-line rules run before trafilatura's guess anyway.
        found = find_date(
            root,
            url=page_url,
            original_date=True,
            extensive_search=False,
            max_date=today.isoformat(),
        )
        return found.strip() if isinstance(found, str) and found.strip() else None

    sitename = document.sitename or extract_sitename(root)
    if sitename:
        sitename = sitename.lstrip("@")
        if sitename and "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()
    elif page_url:
        match = META_URL.match(page_url)
        sitename = match[1] if match else None
    document.title, document.sitename = title, sitename or None
    document.clean_and_trim()  # as extract_metadata ends: entities, spaces, length
    return Extracted(
        lines=[], title=document.title, sitename=document.sitename, date_guess=date_guess
    )


def _bare(
    root: HtmlElement, url: str | None, today: date, precision: bool, fast: bool = False
) -> Extracted:
    """Body lines only: metadata comes from `page_metadata`, once."""
    document = bare_extraction(
        root,  # copied by trafilatura before it edits anything
        url=url,
        fast=fast,
        include_comments=False,
        favor_precision=precision,
        include_tables=True,
        include_links=False,
        include_images=False,
        with_metadata=False,
    )
    if document is None or isinstance(document, dict):
        return Extracted(lines=[])
    return Extracted(lines=(document.text or "").splitlines())


def _without_losses(
    root: HtmlElement, url: str | None, today: date, precise: list[str]
) -> list[str]:
    """Precision mode's lines reconciled with the default mode's (see reconcile.py).

    The default mode without its second opinions (readability, jusText) is enough to
    restore lines. Dropping precision's lines needs the full default mode to find the
    statement where the quick one did; when it finds it elsewhere, it decides.
    """
    quick = _bare(root, url, today, precision=False, fast=True)
    merged = reconcile(root, precise, quick.lines)
    if merged.dropped:
        default = _bare(root, url, today, precision=False)
        if not same_statement(merged.shared, default.lines):
            merged = reconcile(root, precise, default.lines)
    return merged.lines


def run_trafilatura(root: HtmlElement, url: str | None, today: date) -> Extracted:
    """Main text (never comments, tables kept, no links) and metadata from a parsed tree.

    favor_precision: measured on the eval sets, F1 0.966 -> 0.970 (English), 0.914 -> 0.940
    (CJK); checked against the default mode so that it loses nothing the default mode
    keeps (reconcile.py). When it leaves almost nothing, the default mode's answer is
    taken if it finds at least three times as much, in paragraphs (lists of teasers and
    captions are not a lost article).
    """
    chosen = _bare(root, url, today, precision=True)
    size = sum(len(line) for line in chosen.lines)
    if size >= SHORT_EXTRACT_CHARS:
        chosen = replace(chosen, lines=_without_losses(root, url, today, chosen.lines))
    else:
        default = _bare(root, url, today, precision=False)
        # Teasers, captions and widgets are short lines; a lost article is long paragraphs.
        known = set(chosen.lines)
        paragraphs = [line for line in default.lines if len(line) >= 200 and line not in known]
        gained = sum(len(line) for line in default.lines) >= 3 * max(size, 1)
        if gained and len(paragraphs) >= 2:
            chosen = default
        else:
            chosen = replace(chosen, lines=reconcile(root, chosen.lines, default.lines).lines)
    meta = page_metadata(root, url, today)
    return replace(chosen, title=meta.title, sitename=meta.sitename, date_guess=meta.date_guess)


def _is_row(line: str) -> bool:
    return line.startswith(("|", "- "))


def layout(lines: list[str]) -> str:
    """One blank line between paragraphs; table rows and list items stay on adjacent lines."""
    if not lines:
        return ""
    parts = [lines[0]]
    for previous, line in pairwise(lines):
        parts.append("\n" if _is_row(previous) and _is_row(line) else "\n\n")
        parts.append(line)
    return "".join(parts)


# --- our own text rendering, for elements known to be the body --------------------------

_BLOCK_TAGS = frozenset(
    (
        "p", "div", "section", "article", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5",
        "h6", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "figure", "figcaption",
        "header", "footer", "aside", "center", "hr", "address", "main", "tbody", "thead",
    )
)  # fmt: skip
_CELL_TAGS = frozenset(("td", "th"))
_NO_TEXT = frozenset(
    ("script", "style", "noscript", "template", "select", "option", "button", "svg", "iframe")
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.IGNORECASE)


def block_lines(element: HtmlElement) -> list[str]:
    """The text of an element the source says is the body, one line per block.

    trafilatura judges every block of a page; inside an element already known to be the
    statement (WeChat's `#js_content`, a configured `body` selector) that judging only
    loses text: WeChat bodies are `<section>`s and `<span>`s without a single `<p>`, and
    are served hidden until a script shows them. So here every visible text counts.
    """
    lines: list[str] = []
    current: list[str] = []

    def flush() -> None:
        line = " ".join("".join(current).split())
        if line:
            lines.append(line)
        current.clear()

    def walk(node: HtmlElement) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _NO_TEXT or not tag:
            return
        if _HIDDEN_STYLE.search(node.get("style") or "") or node.get("hidden") is not None:
            return
        block = tag in _BLOCK_TAGS
        if block:
            flush()
        if tag == "br":
            flush()
        current.append(node.text or "")
        for child in node:
            walk(child)
            if isinstance(child.tag, str) or child.tail:
                current.append(child.tail or "")
        if tag in _CELL_TAGS:
            current.append(" | ")
        if block:
            flush()

    walk(element)
    flush()
    return [line.strip(" |") if "|" in line else line for line in lines if line.strip(" |")]
