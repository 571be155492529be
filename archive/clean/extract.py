"""Parse once with lxml, run trafilatura on the pruned tree, and lay the text out."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import lxml.html
from lxml.etree import ParserError
from lxml.html import HtmlElement
from trafilatura import bare_extraction

# trafilatura logs every page it gives up on; without a handler Python prints those to
# stderr. Callers that configure logging still receive them through propagation.
logging.getLogger("trafilatura").addHandler(logging.NullHandler())

_PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


@dataclass(frozen=True)
class Extracted:
    """trafilatura's view of the page: body lines and the metadata it guessed."""

    lines: list[str]
    title: str | None = None
    date: str | None = None
    author: str | None = None
    sitename: str | None = None


def parse_html(text: str) -> HtmlElement | None:
    """The page as an lxml tree, or None when there is no document to speak of."""
    # lxml refuses str input that carries an XML encoding declaration.
    text = _XML_DECLARATION.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except (ParserError, ValueError):
        return None
    return root if root is not None and len(root) else None


def run_trafilatura(root: HtmlElement, url: str | None, today: date) -> Extracted:
    """Main text (never comments, tables kept, no links) and metadata from a parsed tree."""
    document = bare_extraction(
        root,  # copied by trafilatura before it edits anything
        url=url,
        include_comments=False,
        # Measured on the eval sets: F1 0.966 -> 0.970 (English), 0.914 -> 0.940 (CJK).
        favor_precision=True,
        include_tables=True,
        include_links=False,
        include_images=False,
        with_metadata=True,
        # No extensive search: it will take a copyright year for a date. Our own date-line
        # rules run before trafilatura's guess anyway.
        date_extraction_params={
            "original_date": True,
            "extensive_search": False,
            "max_date": today.isoformat(),
        },
    )
    if document is None or isinstance(document, dict):
        return Extracted(lines=[])
    text = document.text or ""
    return Extracted(
        lines=text.splitlines(),
        title=document.title,
        date=document.date,
        author=document.author,
        sitename=document.sitename,
    )


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
