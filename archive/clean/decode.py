"""Turn fetched bytes into text: declared charset, BOM, or detection, with GBK repairs."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

# Sites declare gb2312 but serve GBK/GB18030 characters (镕, 喆); gb18030 is a superset of all.
_GB_ALIASES = {"gb2312", "gbk", "x-gbk", "cp936", "csgb2312", "gb_2312-80", "chinese", "euc-cn"}
_GB_CODECS = {"gb2312", "gbk", "gb18030"}  # Python codec names after codecs.lookup

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
# <meta charset="x">, and <meta http-equiv="Content-Type" content="text/html; charset=x">
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""",
    re.IGNORECASE,
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.IGNORECASE)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Decoded:
    """Text and the Python codec name it was decoded with."""

    text: str
    encoding: str


def normalise_charset(name: str | None) -> str | None:
    """The Python codec for a declared charset name, or None if Python does not know it."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    if label in _GB_ALIASES:
        return "gb18030"
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    if codec in _GB_CODECS:
        return "gb18030"
    if codec in {"latin-1", "iso8859-1", "ascii"}:
        # Browsers treat these labels as windows-1252 (WHATWG Encoding), so do we.
        return "cp1252"
    return codec


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares for itself in its first few KB (meta tag or XML decl)."""
    head = body[:SNIFF_BYTES]
    match = _META_CHARSET.search(head) or _XML_DECL.search(head)
    return match.group(1).decode("ascii", "ignore") if match else None


def bom_charset(body: bytes) -> str | None:
    """The encoding named by a byte-order mark at the start of the body."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def _strict(body: bytes, codec: str) -> str | None:
    """Decode without replacement characters, or None if the bytes are invalid in `codec`."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError as err:
        # A body cut short (size limit, dropped connection) may end mid-character: forgive that.
        if err.start >= len(body) - 4 and err.end >= len(body):
            return body[: err.start].decode(codec, "replace")
        return None
    except LookupError:
        return None


def _looks_utf8(body: bytes) -> str | None:
    """The body as UTF-8 if it is valid UTF-8 and not plain ASCII."""
    if body.isascii():
        return None
    return _strict(body, "utf-8")


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def decode_body(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a page: BOM, Content-Type charset, meta charset, then detection.

    A declared charset the bytes are invalid in is skipped rather than decoded with
    replacement characters.
    """
    bom = bom_charset(body)
    if bom:
        # A BOM is unambiguous and beats any declaration (WHATWG Encoding does the same).
        text = _strict(body, bom)
        if text is not None:
            return Decoded(_strip_bom(text), "utf-8" if bom == "utf-8" else bom)

    tried: list[str] = []
    for source, declared in (
        ("header", header_charset(content_type)),
        ("meta", meta_charset(body)),
    ):
        codec = normalise_charset(declared)
        if codec and source == "meta" and codec.startswith(("utf-16", "utf-32")):
            # A page that can be read far enough to find its meta tag is not UTF-16
            # (WHATWG Encoding reads such a declaration as UTF-8 too).
            codec = "utf-8"
        if not codec or codec in tried:
            continue
        tried.append(codec)
        if not codec.startswith("utf"):
            # Servers default to ISO-8859-1 or GB2312 while the page is UTF-8; non-ASCII
            # text that is valid UTF-8 is practically never in another charset.
            utf8 = _looks_utf8(body)
            if utf8 is not None:
                return Decoded(_strip_bom(utf8), "utf-8")
        text = _strict(body, codec)
        if text is not None:
            return Decoded(_strip_bom(text), codec)

    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii")
    utf8 = _strict(body, "utf-8")
    if utf8 is not None:
        return Decoded(_strip_bom(utf8), "utf-8")

    best = from_bytes(body).best()
    if best is not None:
        codec = normalise_charset(best.encoding) or best.encoding
        text = _strict(body, codec)
        if text is not None:
            return Decoded(_strip_bom(text), codec)
        return Decoded(_strip_bom(str(best)), best.encoding)

    # Nothing fits cleanly: the declared charset (or UTF-8) with replacement characters.
    fallback = tried[0] if tried else "utf-8"
    return Decoded(_strip_bom(body.decode(fallback, "replace")), fallback)
