"""What trafilatura would lose with the boilerplate: markup rewritten so the statement stays.

`prune` (boilerplate.py) takes away what is never statement text; these rules run after it,
on the same tree, and only ever keep text: they unwrap, move or relabel, never delete words.
"""

from __future__ import annotations

import re

from lxml.html import Element, HtmlElement

from archive.clean.boilerplate import (
    BODY_PARAGRAPH_CHARS,
    MAX_RULE_CHARS,
    link_density,
    next_to_body_text,
    remove_element,
    squash,
)

# Elements trafilatura deletes when empty; in precision mode it drops their tail with them.
_CUT_WHEN_EMPTY_INLINE = frozenset(("b", "em", "i", "q", "span", "strong"))
_CUT_WHEN_EMPTY_BLOCK = frozenset(
    ("article", "blockquote", "dd", "div", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "li")
) | frozenset(("main", "p", "pre", "section"))
_HEADING_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# trafilatura's default mode keeps a paragraph that is one link up to this long.
MAX_LINK_PARAGRAPH_CHARS = 100


def keep_for_precision(root: HtmlElement) -> None:
    """Undo the markup patterns that make favor_precision lose statement text.

    - an empty element (`<span id="more-12"></span>` opening a paragraph): precision mode
      deletes it together with the text that follows it;
    - a text-less link in a heading (a permalink icon): the heading then counts as all
      links and goes, with the paragraph after it;
    - a `<div>` wrapping one short paragraph with a link (one card per paragraph):
      precision mode deletes the wrapper;
    - a paragraph or heading that is one link, among the statement's paragraphs ("Click
      for the full results"): precision mode drops links over 10 characters, the default
      paragraphs over 100 and headings never.
    """
    body = root.find("body")
    top = body if body is not None else root
    for element in list(top.iter(*_CUT_WHEN_EMPTY_INLINE, *_CUT_WHEN_EMPTY_BLOCK)):
        if element.text or len(element) or not (element.tail or "").strip():
            continue
        if element.tag in _CUT_WHEN_EMPTY_INLINE:
            remove_element(element)
        else:
            element.attrib.clear()
            element.tag = "br"
    for heading in list(top.iter(*_HEADING_TAGS)):
        for link in list(heading.iter("a")):
            if not link.text_content().strip():
                remove_element(link)
    for parent in list(top.iter("div", "section", "article", "main")):
        cards = [(child, _card_paragraph(child)) for child in parent]
        if sum(1 for _, paragraph in cards if paragraph is not None) < MIN_CARDS:
            continue
        for card, paragraph in cards:
            if paragraph is not None:
                paragraph.tail = card.tail
                card.addprevious(paragraph)
                parent.remove(card)
    for paragraph in list(top.iter("p", *_HEADING_TAGS)):
        link = _lone_link(paragraph)
        if link is None:
            continue
        # The default mode never tests headings for links, only paragraphs.
        limit = MAX_LINK_PARAGRAPH_CHARS if paragraph.tag == "p" else MAX_RULE_CHARS
        if not 10 < len(squash(link.text_content())) <= limit:
            continue
        # A run of them is a list of other pages, not the statement's own line.
        before, after = paragraph.getprevious(), paragraph.getnext()
        if any(p is not None and _lone_link(p) is not None for p in (before, after)):
            continue
        if next_to_body_text(paragraph):
            link.drop_tag()


MIN_CARDS = 3


def _card_paragraph(element: HtmlElement) -> HtmlElement | None:
    """The one `<p>` a `<div>` holds, through single-child `<div>`s, and nothing else."""
    if element.tag != "div":
        return None
    while (
        element.tag == "div"
        and len(element) == 1
        and not (element.text or "").strip()
        and not (element[0].tail or "").strip()
    ):
        element = element[0]
    if element.tag != "p" or element.getparent() is None or element.getparent().tag != "div":
        return None
    return element


def _lone_link(paragraph: HtmlElement) -> HtmlElement | None:
    """The link a paragraph consists of, if it is nothing else (line breaks aside)."""
    if (paragraph.tag != "p" and paragraph.tag not in _HEADING_TAGS) or (
        paragraph.text or ""
    ).strip():
        return None
    # `<p><br><a>…</a></p>`: a break left by the editor is not text.
    children = [
        child for child in paragraph if not (child.tag == "br" and not (child.tail or "").strip())
    ]
    if len(children) != 1 or children[0].tag != "a":
        return None
    link = children[0]
    return None if (link.tail or "").strip() else link


# --- a summary box above the body -------------------------------------------------------

# `<div class="art_summary">核心提示：…</div>` right above `<div class="art_content">`: the
# lede the editors wrote is part of the statement, but it sits outside the container
# trafilatura picks as the body.
_SUMMARY_NAME = re.compile(
    r"(?i)(?:^|[\s_-])(?:summary|abstract|lede|standfirst|digest|zhaiyao|tiyao|daoyu|daodu)"
    r"(?:\s|$)"
)
_SUMMARY_LABEL = re.compile(r"^(?:核心提示|内容提要|内容摘要|摘要|提要|导读|导语|编者按)\s*[:：]")
_SUMMARY_TAGS = frozenset(("div", "p", "section", "blockquote"))
MIN_SUMMARY_CHARS = 20
MAX_SUMMARY_CHARS = 600
MAX_SUMMARY_LINK_DENSITY = 0.3
# A paragraph of the body below the summary; Chinese sentences are short.
MIN_BODY_PARAGRAPH_CHARS = 50


def lift_summaries(root: HtmlElement) -> None:
    """Move a summary box into the body element that follows it, as its first paragraph."""
    body = root.find("body")
    top = body if body is not None else root
    for box in list(top.iter(*_SUMMARY_TAGS)):
        if not (_named_summary(box) or _SUMMARY_LABEL.match((box.text or "").lstrip())):
            continue  # checked before reading the text: most blocks are neither
        if (box.tail or "").strip():
            continue  # loose text after the box: the layout is not box-then-body
        text = squash(box.text_content())
        if not MIN_SUMMARY_CHARS <= len(text) <= MAX_SUMMARY_CHARS:
            continue
        if link_density(box, len(text)) > MAX_SUMMARY_LINK_DENSITY:
            continue  # a box of links is a menu, whatever its class says
        # Right below it: a share bar in between means the box is the header's standfirst.
        following = box.getnext()
        while following is not None and not len(following) and not squash(following.text or ""):
            following = following.getnext()
        # The body: a block with at least a paragraph's worth of text, twice the summary's.
        if following is None or following.tag not in _SUMMARY_TAGS | {"article", "main"}:
            continue
        if not _is_body(following, len(text)):
            continue
        lifted = Element("p")
        lifted.text = text
        box.getparent().remove(box)
        following.insert(0, lifted)


def _named_summary(element: HtmlElement) -> bool:
    """Named as one: `art_summary`, `article__summary`, `m-detail--abstract`.

    The name must end in the word: `lede-background` is a page header holding the byline.
    """
    names = f"{element.get('class') or ''} {element.get('id') or ''}"
    return _SUMMARY_NAME.search(names) is not None


def _is_summary(element: HtmlElement, text: str) -> bool:
    """Named as one, or labelled as one (`核心提示：`)."""
    return _named_summary(element) or _SUMMARY_LABEL.match(text) is not None


def _is_body(element: HtmlElement, summary_chars: int) -> bool:
    """Paragraphs of text, not links, and more of it than the summary: the statement."""
    text = squash(element.text_content())
    if len(text) < max(BODY_PARAGRAPH_CHARS, 2 * summary_chars):
        return False
    if link_density(element, len(text)) > MAX_SUMMARY_LINK_DENSITY:
        return False
    if _is_summary(element, text[:MAX_SUMMARY_CHARS]):
        return False  # a run of teaser summaries, not a lede above a body
    paragraphs = element.iter("p") if element.tag != "p" else iter((element,))
    return any(len(squash(p.text_content())) >= MIN_BODY_PARAGRAPH_CHARS for p in paragraphs)


# --- a body split into several containers -----------------------------------------------

# Some templates cut the statement into several containers of one class, each in its own
# grid cell between ad rails (`div.article__body` twice): both extraction modes take the
# first and lose the rest. Class names that say "the article's body":
_BODY_NAME = re.compile(
    r"(?i)(?:^|[\s_-])(?:article|story|post|entry)[-_]{0,2}(?:body|content|text)(?:$|[\s_-])|"
    r"body__container"
)
_SPLIT_TAGS = frozenset(("div", "section"))
# Each part is paragraphs of text, not a teaser: at least this much.
MIN_PART_CHARS = 400
MIN_PART_PARAGRAPHS = 2
MAX_PARTS = 6
_TEASER_HEADINGS = ("h1", "h2", "h3", "h4")


def join_split_bodies(root: HtmlElement) -> None:
    """Move the later parts of a body split into same-class containers into the first."""
    groups: dict[tuple[str, str], list[HtmlElement]] = {}
    for element in root.iter(*_SPLIT_TAGS):
        names = element.get("class") or ""
        if names and _BODY_NAME.search(names):
            groups.setdefault((element.tag, names), []).append(element)
    for parts in groups.values():
        if not 2 <= len(parts) <= MAX_PARTS or not _split_body(parts):
            continue
        first = parts[0]
        for part in parts[1:]:
            for child in list(part):
                first.append(child)
            remove_element(part)


def _split_body(parts: list[HtmlElement]) -> bool:
    """Parts of one body: none inside another, no two under one parent (trafilatura takes
    siblings together already), each a few paragraphs long, no teaser headings."""
    parents = [part.getparent() for part in parts]
    if any(a is b for index, a in enumerate(parents) for b in parents[index + 1 :]):
        return False
    for part in parts:
        if any(ancestor in parts for ancestor in part.iterancestors()):
            return False
        paragraphs = [p for p in part.iter("p") if len(squash(p.text_content())) >= 40]
        if len(paragraphs) < MIN_PART_PARAGRAPHS:
            return False
        if len(squash(part.text_content())) < MIN_PART_CHARS:
            return False
        # A post's card on an index page: a linked heading in it or beside it.
        parent = part.getparent()
        if any(
            h.find(".//a") is not None
            for h in (parent if parent is not None else part).iter(*_TEASER_HEADINGS)
        ):
            return False
    return True
