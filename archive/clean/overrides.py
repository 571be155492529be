"""Per-source CSS selectors (`extract:` in the sources file) for pages heuristics get wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

from archive.clean.boilerplate import remove_element
from archive.clean.metadata import find_issuer, parse_date

if TYPE_CHECKING:
    from archive.cleaned import Hints


@lru_cache(maxsize=256)
def _compiled(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


def select(root: HtmlElement, selector: str) -> list[HtmlElement]:
    """Elements matching a CSS selector (the config validated it), outermost only."""
    found = [element for element in _compiled(selector)(root) if isinstance(element.tag, str)]
    chosen = set(found)
    return [
        element
        for element in found
        if not any(ancestor in chosen for ancestor in element.iterancestors())
    ]


def drop_element(element: HtmlElement) -> None:
    remove_element(element)


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


@dataclass(frozen=True)
class Overrides:
    title: str | None = None
    published: str | None = None
    issuer: str | None = None


def read_overrides(root: HtmlElement, hints: Hints, today: date) -> Overrides:
    """Title, date and issuer from the source's selectors, where they match something."""
    title = published = issuer = None
    if hints.title:
        texts = [_text(element) for element in select(root, hints.title)]
        title = next((text for text in texts if text), None)
    if hints.date:
        for element in select(root, hints.date):
            # <time datetime="…">, <meta content="…">, else the element's words.
            for candidate in (element.get("datetime"), element.get("content"), _text(element)):
                if candidate:
                    published = parse_date(candidate, hints.timezone, today)
                if published:
                    break
            if published:
                break
    if hints.issuer_selector:
        for element in select(root, hints.issuer_selector):
            text = _text(element)
            if not text:
                continue
            # "来源：新华社" and "Source: Xinhua" give the name; a bare name is the name.
            issuer = find_issuer({}, [(text, "")]) or text
            break
    return Overrides(title=title, published=published, issuer=issuer)
