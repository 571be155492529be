"""Title, publication date and issuer from meta tags and the page's own labelled lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml.html import HtmlElement

from archive.clean.boilerplate import IN_LINK, IN_LIST, classify, is_head_info

# Meta names (lowercased name/property/itemprop) that carry the publication date, best first.
_DATE_META = (
    "pubdate",
    "publishdate",
    "publish_date",
    "publication_date",
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "citation_publication_date",
    "firstpublishedtime",
    "parsely-pub-date",
    "sailthru.date",
)
# The CMS's own title field beats trafilatura's pick (often the <h1>); social tags come after.
_CMS_TITLE_META = ("articletitle",)
_SOCIAL_TITLE_META = ("og:title", "twitter:title", "dc.title")
_SITE_META = ("sitename", "og:site_name", "application-name")
_ISSUER_META = ("contentsource", "source", "dc.publisher")

# English labels that may come right after the previous field's value, with no space:
# capitalised, so "…SecurityTime:" splits and "lifetime:" does not.
GLUED_DATE_LABELS = "Time|Date|Published|Posted|Issued|Release date"

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_TIME = (
    r"(?:\s*T?\s*(\d{1,2})\s*[:：时]\s*(\d{2})(?:\s*[:：分]\s*(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?)?"
)
_NUMERIC_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)\s*日?" + _TIME,
    re.IGNORECASE,
)
_MONTH_FIRST = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+((?:19|20)\d{{2}})\b(?:,?\s*(?:at\s*)?)"
    + _TIME,
    re.IGNORECASE,
)
_DAY_FIRST = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\.?,?\s+((?:19|20)\d{{2}})\b(?:,?\s*)" + _TIME,
    re.IGNORECASE,
)
_ISO_OFFSET = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})"
)

_DATE_LABEL = re.compile(
    # Not after another Chinese character: 会议时间 (the meeting's time) is not a date line;
    # 发布时间 (published) is one wherever it stands, glued to the value before it or not.
    r"(?i)(?:发布时间|发布日期|发文日期|成文日期|印发日期|(?<![\u4e00-\u9fff])(?:时间|日期)|"
    r"\bTime|\bDate|\bPublished(?: on)?|\bPublication date|\bRelease date|\bPosted(?: on)?|"
    r"\bWritten|\bIssued(?: on)?|"
    # "Ministry of National SecurityTime: …": a label run into the value before it.
    rf"(?<=[a-z)])(?-i:{GLUED_DATE_LABELS}))\s*[:：]?\s*"
)
_UPDATED_LABEL = re.compile(
    r"(?i)(?:更新时间|(?<=[a-z)])(?-i:Updated|Last updated)|"
    r"\bUpdated(?: on)?|\bLast updated(?: on)?)\s*[:：]?\s*"
)
_ONLY_DATE = re.compile(
    r"^[\s(（\[【]*(?:(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?)[\s)）\]】]*$"
)
_SOURCE_LABEL = re.compile(r"(?i)^\s*(?:来源|信息来源|文章来源|稿件来源|Source)\s*[:：]\s*")
_HAS_DIGITS = re.compile(r"\d{4}")
_SOURCE_LINE = re.compile(
    r"(?i)(?:^|[\s|｜】\]])(?:来源|信息来源|文章来源|稿件来源|Source)\s*[:：]\s*"
)
_SOURCE_STOP = re.compile(
    r"\s{2,}|[|｜【\[<>]|\s(?=(?:发布时间|发布日期|时间|日期|作者|编辑|责任编辑|浏览|点击|阅读|字体|"
    r"字号|Time|Date|Author|Editor|Views|Published|Font)\s*[:：])|"
    # The next field's label run into the value: "市水利局发布时间：", "…SecurityTime:".
    r"(?=(?:发布时间|发布日期|发文日期|成文日期|更新时间|责任编辑|作者|编辑|浏览次数|阅读次数|点击数|"
    rf"字号|{GLUED_DATE_LABELS}|Updated|Author|Editor|Views)\s*[:：])|"
    # "来源：人民日报2024-05-13 08:49": the date sat in the next <span>, with no space.
    r"(?=(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2})"
)

_TITLE_SEPARATORS = (" | ", "｜", " - ", " – ", " — ", "--", "_", " :: ", " » ", " · ", "-")
# Loose separators are only ever used before a site or channel name.
_LOOSE_SEPARATORS = ("|", "｜", "_", "--")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SITE_WORDS = re.compile(
    r"(?i)ministry|department|government|embassy|consulate|office|council|agency|commission|"
    r"bureau|administration|parliament|senate|presidency|cabinet|\.gov|gov\.|website|portal|"
    r"部|委|局|署|办|院|厅|政府|网|中心|大使馆|领事馆"
)


def meta_map(root: HtmlElement) -> dict[str, str]:
    """Meta tag contents by lowercased name/property/itemprop (first occurrence wins)."""
    metas: dict[str, str] = {}
    for meta in root.iter("meta"):
        key = (
            meta.get("name")
            or meta.get("property")
            or meta.get("itemprop")
            or meta.get("http-equiv")
        )
        content = meta.get("content")
        if key and content and content.strip():
            metas.setdefault(key.strip().lower(), content.strip())
    return metas


def _tz(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _build(
    year: int,
    month: int,
    day: int,
    clock: tuple[str | None, str | None, str | None, str | None],
    tz_name: str | None,
    today: date | None,
) -> str | None:
    """ISO 8601 for a date (and time, if given); None if it is not a plausible date."""
    try:
        day_value = date(year, month, day)
    except ValueError:
        return None
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if day_value > latest or year < 1900:
        return None
    hour, minute, second, meridiem = clock
    if hour is None or minute is None:
        return day_value.isoformat()
    hours = int(hour)
    if meridiem:
        is_pm = meridiem.lower().startswith("p")
        hours = hours % 12 + (12 if is_pm else 0)
    try:
        moment = datetime(year, month, day, hours, int(minute), int(second or 0))
    except ValueError:
        return day_value.isoformat()
    zone = _tz(tz_name)
    if zone is not None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def parse_date(
    text: str, tz_name: str | None = None, today: date | None = None, anchored: bool = False
) -> str | None:
    """The first full date in `text` (year, month and day) as ISO 8601.

    A bare year is never a date: that is how copyright lines turn into fake dates.
    """
    text = text.strip()
    iso = _ISO_OFFSET.match(text) if anchored else _ISO_OFFSET.search(text)
    if iso:
        try:
            moment = datetime.fromisoformat(iso.group(0).replace("Z", "+00:00"))
        except ValueError:
            moment = None
        no_clock = (None, None, None, None)
        if moment and _build(moment.year, moment.month, moment.day, no_clock, None, today):
            return moment.isoformat()
    best: tuple[int, str] | None = None
    for pattern in (_NUMERIC_DATE, _MONTH_FIRST, _DAY_FIRST):
        match = pattern.match(text) if anchored else pattern.search(text)
        if not match:
            continue
        groups = match.groups()
        if pattern is _NUMERIC_DATE:
            year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
        elif pattern is _MONTH_FIRST:
            month, day, year = MONTHS[groups[0].lower()], int(groups[1]), int(groups[2])
        else:
            day, month, year = int(groups[0]), MONTHS[groups[1].lower()], int(groups[2])
        clock = (groups[3], groups[4], groups[5], groups[6])
        built = _build(year, month, day, clock, tz_name, today)
        if built and (best is None or match.start() < best[0]):
            best = (match.start(), built)
    return best[1] if best else None


def _labelled(
    label: re.Pattern[str], texts: list[tuple[str, str]], tz_name: str | None, today: date | None
) -> str | None:
    for text, where in texts:
        if where == IN_LINK:
            continue
        for match in label.finditer(text):
            found = parse_date(text[match.end() :], tz_name, today, anchored=True)
            # Copyright lines are never a source of dates, however date-like they look.
            if found and classify(text) != "footer":
                return found
    return None


def _bare(texts: list[tuple[str, str]], tz_name: str | None, today: date | None) -> str | None:
    for text, where in texts:
        if not where and len(text) <= 40 and _ONLY_DATE.match(text):
            found = parse_date(text, tz_name, today)
            if found:
                return found
    return None


def _info_line(texts: list[tuple[str, str]], tz_name: str | None, today: date | None) -> str | None:
    """The date of a line above the body made of a date and labelled fields, such as
    `2023-11-08 16:30 来源：某某部` or `来源：人民日报 2024-05-13 08:49`."""
    for text, where in texts:
        if not where and is_head_info(text) and classify(text) != "footer":
            found = parse_date(text, tz_name, today)
            if found:
                return found
    return None


def find_published(
    metas: dict[str, str],
    blocks: list[tuple[str, str]],
    tz_name: str | None = None,
    today: date | None = None,
    body_start: int | None = None,
    guess: str | Callable[[], str | None] | None = None,
) -> str | None:
    """Publication date, best source first.

    Meta tags; a labelled date line (`发布时间：`, `Time:`); a line of fields above the body
    that holds a date (`2023-11-08 16:30 来源：某某部`); a bare date above the body; an
    "updated" line; `guess` (trafilatura's, or a function giving it: asked only when it
    comes to that); a bare date below the body (a notice's
    signing date). `blocks` are (text, where) pairs from the pruning pass: a bare date in a
    list or link belongs to another page, a labelled one only in a link does.
    """
    for key in _DATE_META:
        if key in metas:
            found = parse_date(metas[key], tz_name, today)
            if found:
                return found
    dated = [(text, where) for text, where in blocks if _HAS_DIGITS.search(text)]
    split = len(blocks) if body_start is None else body_start
    head = [(text, where) for text, where in blocks[:split] if _HAS_DIGITS.search(text)]
    tail = [(text, where) for text, where in blocks[split:] if _HAS_DIGITS.search(text)]
    return (
        _labelled(_DATE_LABEL, dated, tz_name, today)
        or _info_line(head, tz_name, today)
        or _bare(head, tz_name, today)
        or _labelled(_UPDATED_LABEL, dated, tz_name, today)
        or _guessed(guess, tz_name, today)
        or _bare(tail, tz_name, today)
    )


def _guessed(
    guess: str | Callable[[], str | None] | None, tz_name: str | None, today: date | None
) -> str | None:
    value = guess() if callable(guess) else guess
    return parse_date(value, tz_name, today) if value else None


def find_issuer(metas: dict[str, str], blocks: Iterable[tuple[str, str]]) -> str | None:
    """Who issued the statement: meta ContentSource, then a `来源：` / `Source:` line."""
    for key in _ISSUER_META:
        # Some CMSs put the label in the meta too: content="来源：人民网".
        value = _SOURCE_LABEL.sub("", metas.get(key, "")).strip()
        if value and len(value) <= 80 and "://" not in value:
            return value
    # The page's own lines first: a list of other pages' entries may carry source lines too
    # (an info bar laid out as a list is still read when nothing else names a source).
    ordered = sorted(blocks, key=lambda block: block[1] == IN_LIST)
    for text, where in ordered:
        if where == IN_LINK or len(text) > 200:
            continue
        match = _SOURCE_LINE.search(text)
        if not match:
            continue
        rest = text[match.end() :]
        stop = _SOURCE_STOP.search(rest)
        value = (rest[: stop.start()] if stop else rest).strip(" ,，;；.。)）")
        if value and len(value) <= 60 and "://" not in value:
            return value
    return None


def strip_site_suffix(title: str, site_names: Iterable[str | None] = ()) -> str:
    """`Title_Site`, `Title - Ministry of X`, `Site | Title` -> `Title`."""
    names = {_key(name) for name in site_names if name}
    names.discard("")
    title = " ".join(title.split())
    changed = True
    while changed:
        changed = False
        for separator in _TITLE_SEPARATORS:
            if separator not in title:
                continue
            head, tail = title.rsplit(separator, 1)
            head, tail = head.strip(), tail.strip()
            if len(_key(head)) < 4:
                continue
            loose = separator.strip() in _LOOSE_SEPARATORS
            if separator == "-":
                # A bare hyphen is part of words ("Anti-Corruption Office") unless what
                # follows is a known site name or a short Chinese site name ("-新华网").
                site_like = _key(tail) in names or (
                    len(tail) <= 12 and _CJK.search(tail) and _SITE_WORDS.search(tail)
                )
                if site_like:
                    title, changed = head, True
                    break
                continue
            if _key(tail) in names or _SITE_WORDS.search(tail) or (loose and len(tail) < len(head)):
                title, changed = head, True
                break
            first, rest = title.split(separator, 1)
            if _key(first) in names and len(_key(rest)) >= 4:
                title, changed = rest.strip(), True
                break
    return title


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def find_title(
    metas: dict[str, str],
    root: HtmlElement,
    extracted_title: str | None,
    extra_site_names: Iterable[str | None] = (),
) -> str | None:
    """The statement's title, without the site name tacked on."""
    candidates: list[str | None] = [metas.get(key) for key in _CMS_TITLE_META]
    candidates.append(extracted_title)
    candidates += [metas.get(key) for key in _SOCIAL_TITLE_META]
    title_element = root.find(".//title")
    if title_element is not None:
        candidates.append(title_element.text_content())
    site_names = [metas.get(key) for key in _SITE_META] + list(extra_site_names)
    cleaned = [strip_site_suffix(text, site_names) for text in candidates if text and text.strip()]
    cleaned = [text for text in cleaned if text]
    if not cleaned:
        return None
    return _typographic(cleaned[0], cleaned[1:])


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def _typographic(title: str, others: Iterable[str]) -> str:
    """The same title with the page's own curly quotes and dashes, where a social tag
    flattened them to ASCII (`Facebook's` in og:title, `Facebook’s` in <title>)."""
    if any(char in title for char in "’‘“”–—"):
        return title
    flat = title.translate(_QUOTES)
    for other in others:
        if other != title and other.translate(_QUOTES) == flat:
            return other
        if other.startswith(tuple("’‘“”")) or len(other) < len(title):
            continue
        # <title> may still carry a site name that strip_site_suffix did not know.
        head = other[: len(title)]
        if head != title and head.translate(_QUOTES) == flat:
            return head
    return title


def html_title(root: HtmlElement) -> str | None:
    """The raw <title> text, for spotting a repeated title in the body."""
    element = root.find(".//title")
    return " ".join(element.text_content().split()) if element is not None else None
