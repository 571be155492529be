"""Numbers and calendar dates in Chinese and English text, as language-neutral tokens.

`13亿` and `1.3 billion` both become `1300000000`; `9月21日` and `September 21` both become
`@9-21` and `@-21` (the day alone, as Chinese writes dates of the current month: `21日`);
`40周年` and `40th` become `40`. Small spelled-out numbers count too (`五个月`, `five
months`), as they are how both languages write counts.
"""

from __future__ import annotations

import re
import unicodedata

from archive.clean.metadata import MONTHS

_EN_SCALE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
_SMALL = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
]  # fmt: skip
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90, "hundred": 100}  # fmt: skip
# "one" is left out: it is in too many phrases ("one of", "no one") to mean a count.
_EN_WORDS = {word: value for value, word in enumerate(_SMALL) if value >= 2} | _TENS
# Month names are capitalised in English prose; checking the word against the table after a
# cheap match is much faster than a case-blind alternation of all names at every position.
_EN_DATE = re.compile(
    r"\b([A-Z][a-z]{2,8})\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b"
    r"|\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Z][a-z]{2,8})\b"
)
_EN_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:st|nd|rd|th)?"
    r"(?:\s*-?\s*(thousand|million|billion|trillion|bn|mn|tn|k|m|b)\b)?",
    re.IGNORECASE,
)

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_BIG = {"万": 1e4, "亿": 1e8}
_ZH_DATE = re.compile(r"(\d{1,2})月(\d{1,2})[日号]")
_ZH_DAY = re.compile(r"(?<![\d.])(\d{1,2})[日号]")
_ZH_ARABIC = re.compile(r"(?<![\d.])(\d+(?:,\d{3})*)(\.\d+)?\s*(万亿|亿|万|千)?")
# A Chinese numeral counts only before a unit or measure word: 一 alone is in too many words.
_ZH_NUMERAL = re.compile(
    r"([零〇一二两三四五六七八九十百千]+(?:[万亿][零〇一二两三四五六七八九十百千]*)*)"
    r"(?=[个天年月日号周岁名人项次家国条届位份架艘万亿多余倍])"
)


def canonical(value: float) -> str:
    """One spelling per number: integers without a point, others to 4 significant digits."""
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.4g}"


def _zh_numeral(text: str) -> float | None:
    total, section, digit = 0.0, 0.0, None
    for char in text:
        if char in _ZH_DIGITS:
            digit = _ZH_DIGITS[char]
        elif char in _ZH_UNITS:
            section += (1 if digit is None else digit) * _ZH_UNITS[char]
            digit = None
        elif char in _ZH_BIG:
            total = (total + section + (digit or 0)) * _ZH_BIG[char]
            section, digit = 0.0, None
    value = total + section + (digit or 0)
    # 二〇一九 is read digit by digit, not as a sum.
    if all(c in _ZH_DIGITS for c in text) and len(text) > 1:
        value = float("".join(str(_ZH_DIGITS[c]) for c in text))
    return value if value >= 2 else None  # 一 is in too many phrases to mean "one"


def english_numbers(text: str, words: set[str] | None = None) -> list[str]:
    """Number and date tokens of an English text (`words`: its lower-case words, if known)."""
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _EN_DATE.finditer(text):
        month_name = (match.group(1) or match.group(4)).lower()
        day = int(match.group(2) or match.group(3))
        if month_name in MONTHS and 1 <= day <= 31:
            tokens += [f"@{MONTHS[month_name]}-{day}", f"@-{day}"]
            spans.append(match.span(2) if match.group(2) else match.span(3))
    in_dates = {i for start, end in spans for i in range(start, end)}  # the days' digits
    for match in _EN_NUMBER.finditer(text):
        if match.start(1) in in_dates:
            continue
        value = float(match.group(1).replace(",", "") + (match.group(2) or ""))
        scale = (match.group(3) or "").lower()
        # "5 m" is more often metres than millions; only spelled-out scales after a space.
        if scale and (scale in ("thousand", "million", "billion", "trillion") or
                      match.group(0)[-len(scale) - 1].isdigit()):  # fmt: skip
            value *= _EN_SCALE[scale]
        tokens.append(canonical(value))
    if words is None:
        words = set(re.findall(r"[a-z]+", text.lower()))
    tokens.extend(canonical(_EN_WORDS[word]) for word in words & _EN_WORDS.keys())
    return tokens


def chinese_numbers(text: str) -> list[str]:
    """Number and date tokens of a Chinese text, in order."""
    text = unicodedata.normalize("NFKC", text)
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _ZH_DATE.finditer(text):
        month, day = int(match.group(1)), int(match.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            tokens += [f"@{month}-{day}", f"@-{day}"]
            spans.append(match.span())
    for match in _ZH_DAY.finditer(text):
        inside = any(start <= match.start() < end for start, end in spans)
        if not inside and 1 <= int(match.group(1)) <= 31:
            tokens.append(f"@-{int(match.group(1))}")
            spans.append(match.span())
    for match in _ZH_ARABIC.finditer(text):
        if any(start <= match.start() < end for start, end in spans):
            continue
        value = float(match.group(1).replace(",", "") + (match.group(2) or ""))
        scale = match.group(3)
        if scale == "万亿":
            value *= 1e12
        elif scale:
            value *= _ZH_BIG.get(scale, 1e3)
        tokens.append(canonical(value))
    for match in _ZH_NUMERAL.finditer(text):
        spelled = _zh_numeral(match.group(1))
        if spelled is not None:
            tokens.append(canonical(spelled))
    return tokens
