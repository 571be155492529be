"""Turn a version's stored diff into segments to show as insertions and deletions.

The store keeps each edit as JSON ops over the previous version's title + "\\n\\n" + text:
[0, n] keep n characters, [-1, "s"] delete s, [1, "s"] insert s. When the ops are missing
or do not fit the previous version (an older archive, a bug), the segments are computed
afresh, so a page never shows a wrong diff.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

KEEP, DELETE, INSERT = 0, -1, 1
# Unchanged text shown around each change; longer unchanged runs are elided in the middle.
CONTEXT = 120

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True)
class Segment:
    kind: int  # KEEP, DELETE or INSERT
    text: str
    elided: bool = False  # a kept run shown shortened, with "⋯" where text was cut

    @property
    def css(self) -> str:
        return {KEEP: "keep", DELETE: "del", INSERT: "ins"}[self.kind]


def document(title: str | None, text: str | None) -> str:
    """What a diff is computed over: the title, a blank line, the text."""
    return f"{title or ''}\n\n{text or ''}"


def apply_ops(old: str, ops: Any) -> list[Segment] | None:
    """The segments the ops describe over old, or None when they do not fit it."""
    if not isinstance(ops, list):
        return None
    segments: list[Segment] = []
    position = 0
    for op in ops:
        if not (isinstance(op, list) and len(op) == 2):
            return None
        kind, value = op
        if kind == KEEP and isinstance(value, int) and 0 <= value <= len(old) - position:
            segments.append(Segment(KEEP, old[position : position + value]))
            position += value
        elif kind == DELETE and isinstance(value, str) and old.startswith(value, position):
            segments.append(Segment(DELETE, value))
            position += len(value)
        elif kind == INSERT and isinstance(value, str):
            segments.append(Segment(INSERT, value))
        else:
            return None
    if position != len(old):
        return None
    return segments


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for match in re.finditer(r"\s+|\w+|.", text, re.DOTALL):
        token = match.group()
        out.extend(token if _CJK.search(token) else [token])
    return out


def compute(old: str, new: str) -> list[Segment]:
    """Word-level diff (character-level for CJK), for versions stored without ops."""
    a, b = _tokens(old), _tokens(new)
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(Segment(KEEP, "".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            segments.append(Segment(DELETE, "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            segments.append(Segment(INSERT, "".join(b[j1:j2])))
    return segments


def trim(segments: list[Segment], context: int = CONTEXT) -> list[Segment]:
    """Shorten long unchanged runs to `context` characters beside each change."""
    out: list[Segment] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        text = segment.text
        if segment.kind != KEEP or not text:
            out.append(segment)
            continue
        head = context if index > 0 else 0  # text kept after the previous change
        tail = context if index < last else 0  # text kept before the next change
        if len(text) <= head + tail + 20:
            out.append(segment)
            continue
        out.append(Segment(KEEP, text[:head] + "\u22ef" + text[len(text) - tail :], True))
    return out


def version_diff(
    previous: tuple[str | None, str | None], current: tuple[str | None, str | None], raw: Any
) -> tuple[list[Segment], bool]:
    """The segments of one edit and whether they came from the stored ops."""
    old, new = document(*previous), document(*current)
    ops: Any = None
    if isinstance(raw, str) and raw:
        try:
            ops = json.loads(raw)
        except ValueError:
            ops = None
    segments = apply_ops(old, ops) if ops is not None else None
    if segments is not None and "".join(s.text for s in segments if s.kind != DELETE) == new:
        return trim(segments), True
    return trim(compute(old, new)), False
