"""A statement's language-neutral features: numbers, names, and English terms.

An English text gives its stemmed content words. A Chinese text is cut into words (jieba,
through its Rust port `rjieba`) and each word becomes a *concept*: the set of English terms
CC-CEDICT gives for it (all senses). Words CC-CEDICT lacks are mostly names: they get their
pinyin run together (`韩正` → `hanzheng`), which is how English writes Chinese names
(`Han Zheng` gives the term `hanzheng` too), plus the glosses of their dictionary parts.
Latin-script words inside Chinese text (`WHO`, `5G`, `Huawei`) stand for themselves.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import rjieba

from archive.links.dictionary import cedict
from archive.links.english import content_terms, name_terms, words
from archive.links.numbers import chinese_numbers, english_numbers

_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass
class Features:
    """What one statement offers for matching."""

    language: str  # "zh" or "en"
    length: int  # characters of text
    numbers: frozenset[str] = frozenset()
    # en: its terms. zh: its concepts (word → English terms).
    terms: frozenset[str] = frozenset()
    concepts: dict[str, frozenset[str]] = field(default_factory=dict)

    def vocabulary(self) -> frozenset[str]:
        """Every English term the text can match: its own, or its concepts' glosses."""
        if self.language == "en":
            return self.terms
        return frozenset().union(*self.concepts.values()) if self.concepts else frozenset()


def language_of(language: str | None) -> str | None:
    """`zh`/`en` for the languages we link (zh-CN, zh-Hant, en-GB…), None for others."""
    base = (language or "").lower().split("-")[0].split("_")[0]
    return base if base in ("zh", "en") else None


def english_features(text: str) -> Features:
    """Terms and numbers of an English text."""
    lower = words(text)
    terms = content_terms(text, lower) | name_terms(text)
    numbers = english_numbers(text, lower)
    return Features("en", len(text), frozenset(numbers), frozenset(terms))


def _pinyin(word: str) -> str | None:
    readings = cedict().pinyin
    syllables = [readings.get(char) for char in word]
    if any(s is None for s in syllables):
        return None
    return "".join(s for s in syllables if s)


def _parts(word: str) -> set[str]:
    """Glosses of the longest dictionary words (2+ characters) inside an unknown word."""
    dictionary = cedict()
    terms: set[str] = set()
    start = 0
    while start < len(word):
        for end in range(min(len(word), start + dictionary.longest), start + 1, -1):
            found = dictionary.terms(word[start:end])
            if found:
                terms |= found
                start = end
                break
        else:
            start += 1
    return terms


@lru_cache(maxsize=100_000)  # words recur from statement to statement; the dictionary is fixed
def concept(word: str) -> frozenset[str]:
    """English terms for one Chinese word (see the module docstring)."""
    dictionary = cedict()
    if dictionary.known(word):
        return dictionary.terms(word)
    terms = _parts(word)
    if 2 <= len(word) <= 4:
        name = _pinyin(word)
        if name:
            terms.add(name)
    return frozenset(terms)


def chinese_features(text: str) -> Features:
    """Concepts and numbers of a Chinese text."""
    normalised = unicodedata.normalize("NFKC", text)
    concepts: dict[str, frozenset[str]] = {}
    for word in set(rjieba.cut(normalised, True)):
        if _HAN.search(word):
            terms = concept(word)
        elif _LATIN.search(word):
            terms = frozenset(content_terms(word))
        else:
            continue
        if terms:
            concepts[word] = terms
    return Features("zh", len(text), frozenset(chinese_numbers(normalised)), concepts=concepts)


def features(language: str, text: str) -> Features | None:
    """Features of a text in a language we link, else None."""
    lang = language_of(language)
    if lang == "en":
        return english_features(text)
    if lang == "zh":
        return chinese_features(text)
    return None
