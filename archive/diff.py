"""Compact word/character-level diffs between two versions of a statement.

Stored as JSON ops over the old text: [0, n] keep n characters, [-1, "s"] delete s,
[1, "s"] insert s. Kept runs are stored as lengths, so a one-word edit of a long
statement costs a few bytes; the old text plus the ops give back the new text.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

# Words stay whole, except CJK runs, which split into characters; whitespace runs are
# tokens too, so the ops rebuild the text exactly.
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

Op = list[Any]


def tokens(text: str) -> list[str]:
    """Diff units: a word, a whitespace run, a CJK character or a punctuation mark."""
    out: list[str] = []
    for match in re.finditer(r"\s+|\w+|.", text, re.UNICODE | re.DOTALL):
        token = match.group()
        if _CJK.search(token):
            out.extend(token)  # one token per character: Chinese has no spaces to split on
        else:
            out.append(token)
    return out


def diff_ops(old: str, new: str) -> list[Op]:
    """The ops turning `old` into `new`."""
    a, b = tokens(old), tokens(new)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append([0, sum(len(t) for t in a[i1:i2])])
            continue
        if tag in ("delete", "replace"):
            ops.append([-1, "".join(a[i1:i2])])
        if tag in ("insert", "replace"):
            ops.append([1, "".join(b[j1:j2])])
    return ops


def apply_ops(old: str, ops: list[Op]) -> str:
    """Rebuild the new text from the old one and the ops (what a viewer does)."""
    out: list[str] = []
    position = 0
    for kind, value in ops:
        if kind == 0:
            out.append(old[position : position + value])
            position += value
        elif kind == -1:
            position += len(value)
        else:
            out.append(value)
    return "".join(out)


def summarise(ops: list[Op]) -> tuple[int, int]:
    """(characters added, characters removed)."""
    added = sum(len(value) for kind, value in ops if kind == 1)
    removed = sum(len(value) for kind, value in ops if kind == -1)
    return added, removed


def to_json(ops: list[Op]) -> str:
    return json.dumps(ops, ensure_ascii=False, separators=(",", ":"))


def version_document(title: str | None, text: str | None) -> str:
    """What a version's diff is computed over: the title, a blank line, the text."""
    return f"{title or ''}\n\n{text or ''}"
