"""Soft 404s: "page not found" pages served with HTTP 200."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Whole titles and headings that say the page is missing, in the words sites use.
_NOT_FOUND = re.compile(
    r"(?i)(?:^|\b)(?:404|page not found|not found|page (?:cannot|could not|can't) be found|"
    r"(?:the )?page you (?:requested|are looking for|were looking for)[^.]{0,40}"
    r"(?:not|no longer|does not|doesn't|could not|cannot)|"
    r"no such page|page (?:does not|doesn't) exist|file not found|error 404)|"
    r"页面不存在|页面未找到|页面找不到|找不到(?:该|此|您要的|您访问的)?页面|网页不存在|"
    r"您(?:所)?访问的页面不存在|您(?:所)?访问的(?:页面|网页|内容)(?:已)?(?:被)?(?:删除|不存在)|"
    r"文章不存在|信息不存在|内容不存在|页面已删除|无法找到该页"
)
# A real statement about something "not found" has text; an error page has a line or two.
MAX_NOT_FOUND_TEXT = 600


def soft_404(text: str, headings: Iterable[str | None]) -> str | None:
    """The page's own "not found" words when it is an error page served as a page."""
    for heading in headings:
        if not heading:
            continue
        heading = " ".join(heading.split())
        if len(heading) <= 120 and _NOT_FOUND.search(heading) and len(text) <= MAX_NOT_FOUND_TEXT:
            return heading
    first = text.split("\n", 1)[0].strip()
    if len(text) <= 200 and first and len(first) <= 120 and _NOT_FOUND.search(first):
        return first
    return None
