"""Precision without losses: trafilatura's precise answer checked against its default one.

favor_precision drops more boilerplate than the default mode, and with it now and then a
line of the statement (a short product line, a credit line, a block of short lines with a
link in it, the words of a link inside a sentence); and its wider choice of block now and
then brings in teasers, a sidebar or a second article the default mode leaves out. Both
modes read the same tree, so every line of their answers can be found in it. The
statement's container is the deepest element holding nearly all the text both modes kept;
then:

- a line precision mode shortened (a link's words cut out of a sentence) is taken whole;
- a line only the default mode kept is restored where it stood, between the shared lines,
  or before or after them when it is inside the container; never a line that is mostly a
  link's text (a promo for another page: precision mode is right about those);
- lines only precision mode kept, outside the container, go: after the shared lines, and
  before them when there are several (one is the standfirst above the body).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

from lxml.etree import iterwalk
from lxml.html import HtmlElement

_NOT_WORD = re.compile(r"[\W_]+")
_NO_TEXT = frozenset(("script", "style", "noscript", "template", "select", "option", "textarea"))
# The first this many word characters of a line find it in the page: enough to tell lines
# apart, short enough to survive the odd character trafilatura rewrites further on.
KEY_CHARS = 48
# A line precision mode shortened keeps at least this share of the default mode's line.
MIN_SHARED_CHARS = 0.6
# The statement's container holds at least this share of the text both modes kept.
CONTAINER_SHARE = 0.9
# This many of precision's lines outside the container above the body are another block.
MIN_ELSEWHERE = 2
# Two answers of the default mode agree on the statement when one holds this much of the
# text the other shares with precision mode.
SAME_SHARE = 0.5
# A line of the default mode's that is more than this much link text is not restored.
MAX_LINKED_SHARE = 0.8


def _key(text: str) -> str:
    return _NOT_WORD.sub("", text).casefold()


def _squashed(lines: Iterable[str]) -> list[str]:
    return [line for line in (" ".join(line.split()) for line in lines) if line]


@dataclass
class PageText:
    """The page's visible text as one string of word characters, and who holds each part."""

    text: str
    starts: list[int]
    owners: list[HtmlElement]

    def find(self, line: str, after: int = 0) -> int:
        """Where a line starts in the text, searching from `after` first; -1 if nowhere."""
        key = _key(line)[:KEY_CHARS]
        if not key:
            return -1
        at = self.text.find(key, after)
        return self.text.find(key) if at < 0 else at

    def owner(self, at: int) -> HtmlElement:
        return self.owners[bisect_right(self.starts, at) - 1]

    def positions(self, lines: list[str]) -> list[int]:
        """Where each line starts, in order (a repeated line is found again further on)."""
        found = []
        cursor = 0
        for line in lines:
            at = self.find(line, cursor)
            if at >= 0:
                cursor = at + 1
            found.append(at)
        return found

    def locate(self, lines: list[str]) -> list[HtmlElement | None]:
        return [self.owner(at) if at >= 0 else None for at in self.positions(lines)]

    def linked_share(self, line: str, at: int) -> float:
        """How much of a line found at `at` is the text of links."""
        size = len(_key(line))
        if at < 0 or not size:
            return 0.0
        end = at + size
        piece = bisect_right(self.starts, at) - 1
        linked = 0
        while piece < len(self.starts) and self.starts[piece] < end:
            if _in_link(self.owners[piece]):
                stop = self.starts[piece + 1] if piece + 1 < len(self.starts) else end
                linked += max(0, min(stop, end) - max(self.starts[piece], at))
            piece += 1
        return linked / size


def page_text(root: HtmlElement) -> PageText:
    """Index the visible text of a tree (scripts, styles and form options aside)."""
    parts: list[str] = []
    starts: list[int] = []
    owners: list[HtmlElement] = []
    size = 0
    skipped: HtmlElement | None = None

    def add(owner: HtmlElement, text: str | None) -> None:
        nonlocal size
        key = _key(text) if text else ""
        if key:
            parts.append(key)
            starts.append(size)
            owners.append(owner)
            size += len(key)

    def add_tail(element: HtmlElement) -> None:
        parent = element.getparent()
        if parent is not None:
            add(parent, element.tail)  # text after an element is its parent's

    for event, element in iterwalk(root, events=("start", "end")):
        if not isinstance(element.tag, str):
            continue
        if skipped is not None:
            if event == "end" and element is skipped:
                skipped = None
                add_tail(element)
            continue
        if event == "start":
            if element.tag in _NO_TEXT:
                skipped = element
            else:
                add(element, element.text)
        else:
            add_tail(element)
    return PageText("".join(parts), starts, owners)


def _in_link(element: HtmlElement) -> bool:
    return element.tag == "a" or next(element.iterancestors("a"), None) is not None


def _inside(element: HtmlElement | None, container: HtmlElement) -> bool:
    if element is None:
        return False
    return element is container or any(a is container for a in element.iterancestors())


def _container(elements: list[HtmlElement | None], lines: list[str]) -> HtmlElement | None:
    """The deepest element holding nearly all the text of these lines (a subtitle or a
    caption found far above the body must not widen it to the whole page)."""
    weight: dict[HtmlElement, int] = {}
    depth: dict[HtmlElement, int] = {}
    chains = []  # holds the proxies, so each element keeps one identity while counted
    total = 0
    for element, line in zip(elements, lines, strict=True):
        if element is None:
            continue
        chain = [element, *element.iterancestors()]
        chains.append(chain)
        total += len(line)
        for level, ancestor in enumerate(reversed(chain)):
            weight[ancestor] = weight.get(ancestor, 0) + len(line)
            depth[ancestor] = level
    if not total:
        return None
    held = [element for element, size in weight.items() if size >= CONTAINER_SHARE * total]
    return max(held, key=depth.__getitem__) if held else None


def _shortened(precise: str, default: str) -> bool:
    """Whether `precise` is `default` with some of its words (a link's) cut out.

    Compared by characters, so that Chinese, written without spaces, is compared too.
    """
    if not MIN_SHARED_CHARS * len(default) <= len(precise) < len(default):
        return False
    head = _shared_start(precise, default)
    rest, fuller = precise[head:], default[head:]
    tail = _shared_start(rest[::-1], fuller[::-1])
    if head + tail >= len(precise):
        return True  # one run cut out
    if not head and not tail:
        return False  # words cut from a sentence leave an end of it
    matcher = SequenceMatcher(None, precise, default, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) == len(precise)


def _shared_start(one: str, other: str) -> int:
    """How many characters two strings share at their start."""
    for index, (mine, theirs) in enumerate(zip(one, other, strict=False)):
        if mine != theirs:
            return index
    return min(len(one), len(other))


@dataclass(frozen=True)
class Reconciled:
    """The lines to keep, and whether any of precision mode's own lines were dropped."""

    lines: list[str]
    dropped: bool = False
    shared: tuple[str, ...] = ()  # the lines both modes kept


def reconcile(root: HtmlElement, precise: list[str], default: list[str]) -> Reconciled:
    """Precision mode's lines, with the default mode's lines of the same statement restored
    and precision's lines from other blocks dropped (see the module's docstring)."""
    ours, theirs = _squashed(precise), _squashed(default)
    operations = SequenceMatcher(None, ours, theirs, autojunk=False).get_opcodes()
    shared = [index for index, operation in enumerate(operations) if operation[0] == "equal"]
    if not shared or len(operations) == 1:
        return Reconciled(ours)
    page = page_text(root)
    common = [line for op, i1, i2, _, _ in operations if op == "equal" for line in ours[i1:i2]]
    container = _container(page.locate(common), common)
    if container is None:
        return Reconciled(ours)
    have = _key("".join(ours))
    first, last = shared[0], shared[-1]
    kept: list[str] = []
    dropped = False
    for index, (operation, i1, i2, j1, j2) in enumerate(operations):
        mine, other = ours[i1:i2], theirs[j1:j2]
        if operation == "equal":
            kept += mine
            continue
        edge = index < first or index > last
        mine_at = page.positions(mine)
        outside = sum(at < 0 or not _inside(page.owner(at), container) for at in mine_at)
        elsewhere = index > last or (index < first and outside >= MIN_ELSEWHERE)
        segment: list[tuple[int, str]] = []
        for line, at in zip(mine, mine_at, strict=True):
            fuller = next((full for full in other if _shortened(line, full)), None)
            if fuller is not None:
                segment.append((at, fuller))
                other.remove(fuller)
            elif not elsewhere or (at >= 0 and _inside(page.owner(at), container)):
                segment.append((at, line))
            else:
                dropped = True
        for line, at in zip(other, page.positions(other), strict=True):
            if at < 0 or _key(line) in have:
                continue
            # Links set between paragraphs are promos for other pages ("Read more", a
            # video's title): precision mode is right to leave those out. A label before
            # a link ("Photo: <a>name</a>") is the statement's own line.
            owner = page.owner(at)
            if _in_link(owner) or page.linked_share(line, at) > MAX_LINKED_SHARE:
                continue
            if not edge or _inside(owner, container):
                segment.append((at, line))
        kept += _in_page_order(segment)
    return Reconciled(kept, dropped, tuple(common))


def same_statement(shared: Iterable[str], lines: Iterable[str]) -> bool:
    """Whether most of the text of `shared` is among `lines`."""
    have = set(_squashed(lines))
    total = found = 0
    for line in shared:
        total += len(line)
        found += len(line) if line in have else 0
    return total > 0 and found >= SAME_SHARE * total


def _in_page_order(segment: list[tuple[int, str]]) -> list[str]:
    """Lines where they stand in the page; one not found stays after the line before it."""
    placed = []
    last = -1
    for order, (at, line) in enumerate(segment):
        last = at if at >= 0 else last
        placed.append((last, order, line))
    return [line for _, _, line in sorted(placed)]
