"""Recognise bodies that are not HTML at all (PDF, images, archives, other binary)."""

from __future__ import annotations

import re

# Leading bytes of formats that turn up behind government "article" links.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),  # OLE2: .doc, .xls, .ppt
    (b"{\\rtf", "application/rtf"),
    (b"\x1f\x8b", "application/gzip"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"%!PS", "application/postscript"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
)
_CONTROL = (
    frozenset(range(0x00, 0x09)) | frozenset(range(0x0E, 0x1B)) | frozenset(range(0x1C, 0x20))
)
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SAMPLE = 2048
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|head|body|meta|title|div|p|table|span|br|a|article|section|h[1-6]|"
    rb"font|center|ul|li|form|script|style|link)\b",
    re.IGNORECASE,
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def sniff_not_html(body: bytes, content_type: str | None = None) -> str | None:
    """A reason the body is not an HTML page, or None if it may well be one.

    The bytes decide, not the header: government servers label PDFs `text/html` and the
    odd HTML page `application/octet-stream`.
    """
    head = body[:1024].lstrip()
    # PDF allows junk before the header, so look a little further than the first bytes.
    if b"%PDF-" in body[:1024] and not head.startswith(b"<"):
        return "not an HTML page (application/pdf)"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return f"not an HTML page ({kind})"
    if body[4:8] == b"ftyp":
        return "not an HTML page (video/mp4)"
    if head.startswith(b"RIFF") and body[8:12] == b"WEBP":
        return "not an HTML page (image/webp)"

    sample = body[:_SAMPLE]
    if sample and not sample.startswith(_UTF16_32_BOMS):
        control = sum(1 for byte in sample if byte in _CONTROL)
        # Real HTML has next to no control bytes; binaries have many.
        if control / len(sample) > 0.05 or sample.count(0) >= 8:
            media = _media_type(content_type)
            shown = media if media and media not in _HTML_TYPES else "binary data"
            return f"not an HTML page ({shown})"

    media = _media_type(content_type)
    if media and media not in _HTML_TYPES and not _MARKUP.search(body[:65536]):
        # Declared as something else and no markup at all: a text file, JSON, a feed...
        return f"not an HTML page ({media})"
    return None
