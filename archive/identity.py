"""What makes two sightings the same statement: canonical URLs, stable ids, text
fingerprints, and which hosts a URL belongs to."""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

import courlan
from w3lib.url import canonicalize_url

_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=4096)  # one page's URL is asked for several times while it is recorded
def canonical_url(url: str) -> str:
    """The form of a URL used as its identity: no tracking parameters, no fragment, sorted query.

    courlan knows the tracking parameters (utm_*, fbclid, …); its strict mode is not used
    because it drops every parameter outside a short list, and `?articleId=1` and
    `?articleId=2` are different statements. w3lib does the rest (case, default port,
    percent-encoding, query order).
    """
    # courlan refuses some odd but fetchable URLs; w3lib still canonicalises those.
    with contextlib.suppress(ValueError):
        url = courlan.normalize_url(url)
    return canonicalize_url(url, keep_fragments=False)


def normalise_text(text: str) -> str:
    """Text with differences nobody reading it would call an edit folded away.

    NFKC folds full-width and half-width forms; runs of whitespace become one space.
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def text_fingerprint(text: str) -> str:
    """SHA-256 of the normalised text without any whitespace: equal means the same text.

    Whitespace is dropped, not just collapsed, because re-rendered pages move line breaks
    and spaces around CJK punctuation; no real edit is only a space.
    """
    # ASCII is already NFKC (and checking that is far quicker); str.split() splits on
    # exactly the characters `\s` matches, and is faster.
    normal = text if text.isascii() else unicodedata.normalize("NFKC", text)
    compact = "".join(normal.split())
    return hashlib.sha256(compact.encode("utf-8")).hexdigest()


def statement_id(source_id: str, canonical: str) -> str:
    """A short stable id from where a statement was first found: reruns give the same id."""
    return hashlib.sha256(f"{source_id}\n{canonical}".encode()).hexdigest()[:16]


def in_domains(url: str, domains: Iterable[str]) -> bool:
    """Whether the URL's host is one of the domains or below one (ports do not matter).

    The one rule for "may the crawler go there" (links, redirects of every kind, WARC
    records) and "was this page fetched from a WeChat host" (earned identity).
    """
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))
