"""English text → content terms: lower-cased, Snowball-stemmed (PyStemmer), stop words dropped."""

from __future__ import annotations

import re

import Stemmer

_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")
_US = re.compile(r"\b(?:U\.S\.A?\.?|USA|US)(?![\w.])")
_CAPITALISED_PAIR = re.compile(r"\b([A-Z][a-z]+)(?=[ -]([A-Z][a-z]+)\b)")
_STEMMER = Stemmer.Stemmer("english")
_STEMS: dict[str, str | None] = {}  # word → stem, None for a stop word; a text repeats its words

# Function words, and words of dictionary glosses that say nothing of the meaning.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "mr",
        "ms",
        "mrs",
        "s",
        "t",
        "one",
        "sb",
        "sth",
        "something",
        "someone",
        "etc",
        "e",
        "g",
        "i",
        "e",
        "used",
        "particle",
        "pr",
        "oneself",
        "surname",
        "unofficial",
        "literary",
        "bound",
        "form",
        "abbr",
        "variant",
        "old",
    ]
)


def _stem(word: str) -> str | None:
    stem = _STEMS.get(word, "")
    if stem == "":
        bare = word[:-2] if word.endswith("'s") else word.strip("'")
        stem = None if len(bare) < 2 or bare in STOP_WORDS else _STEMMER.stemWord(bare)
        _STEMS[word] = stem
    return stem


def words(text: str) -> set[str]:
    """The distinct lower-case words of a text (`US` the country as `usa`)."""
    return set(_WORD.findall(_US.sub(" usa ", text).lower().replace("’", "'")))


def content_terms(text: str, known: set[str] | None = None) -> set[str]:
    """The distinct stemmed content words of a text (`known`: its `words`, if at hand)."""
    return {stem for word in (words(text) if known is None else known) if (stem := _stem(word))}


def name_terms(text: str) -> set[str]:
    """Two capitalised words run together (`Hua Chunying` → `huachunying`): how English
    writes a Chinese name, to meet the pinyin of a name CC-CEDICT lacks."""
    return {
        (first + second).lower()
        for first, second in (m.groups() for m in _CAPITALISED_PAIR.finditer(text))
    }
