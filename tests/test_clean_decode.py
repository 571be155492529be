"""Decoding and not-HTML detection: what charset a page is read with, and what is no page."""

from __future__ import annotations

import codecs
import gzip
import zipfile
from io import BytesIO

import pytest

from archive.clean import STATUS_NOT_HTML, STATUS_OK, clean_page
from archive.clean.decode import decode_body, normalise_charset
from archive.clean.sniff import sniff_not_html

STATEMENT_ZH = (
    "国务院新闻办公室今天举行新闻发布会，介绍今年上半年国民经济运行情况。"
    "发言人表示，上半年经济运行总体平稳、稳中有进，就业形势保持稳定，居民收入持续增长。"
    "下一步将继续实施积极的财政政策和稳健的货币政策，着力扩大国内需求，推动经济持续回升向好。"
    "朱镕基同志和王喆同志的有关论述也被与会者多次提及。"
)
STATEMENT_EN = (
    "The Ministry of Health announced today that the national vaccination campaign will be "
    "extended to all districts from next month, with mobile clinics serving remote areas."
)


def html(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>Statement</title></head>"
        f"<body><div class='article'><p>{body}</p></div></body></html>"
    )


@pytest.mark.parametrize("label", ["gb2312", "GB2312", "gbk", "GBK", "x-gbk", "cp936", "CP936"])
def test_gb_family_labels_decode_as_gb18030(label: str) -> None:
    assert normalise_charset(label) == "gb18030"


def test_gb2312_label_with_gbk_only_characters_has_no_replacement_characters() -> None:
    body = html(STATEMENT_ZH, '<meta charset="gb2312">').encode("gb18030")
    decoded = decode_body(body, "text/html; charset=gb2312")
    assert decoded.encoding == "gb18030"
    assert "朱镕基同志和王喆同志" in decoded.text
    assert "\ufffd" not in decoded.text


def test_content_type_header_beats_meta() -> None:
    body = html(STATEMENT_ZH, '<meta charset="gb2312">').encode("utf-8")
    decoded = decode_body(body, "text/html; charset=UTF-8")
    assert decoded.encoding == "utf-8"
    assert "朱镕基" in decoded.text


def test_meta_http_equiv_is_used_without_a_header_charset() -> None:
    head = '<meta http-equiv="Content-Type" content="text/html; charset=GBK">'
    decoded = decode_body(html(STATEMENT_ZH, head).encode("gb18030"), "text/html")
    assert decoded.encoding == "gb18030"
    assert "王喆" in decoded.text


def test_wrong_declared_charset_falls_back_to_detection() -> None:
    body = html(STATEMENT_ZH * 2, '<meta charset="utf-8">').encode("gbk", errors="ignore")
    decoded = decode_body(body, "text/html; charset=utf-8")
    assert decoded.encoding != "utf-8"
    assert "\ufffd" not in decoded.text
    assert "国务院新闻办公室今天举行新闻发布会" in decoded.text


def test_latin1_header_on_a_utf8_page_reads_utf8() -> None:
    body = html("Le ministère des Affaires étrangères a publié la déclaration suivante.")
    decoded = decode_body(body.encode("utf-8"), "text/html; charset=ISO-8859-1")
    assert decoded.encoding == "utf-8"
    assert "ministère des Affaires étrangères" in decoded.text


def test_gb2312_header_on_a_utf8_page_reads_utf8() -> None:
    body = html(STATEMENT_ZH).encode("utf-8")
    decoded = decode_body(body, "text/html; charset=gb2312")
    assert decoded.encoding == "utf-8"
    assert "朱镕基同志和王喆同志" in decoded.text


def test_meta_claiming_utf16_on_an_8_bit_page_reads_utf8() -> None:
    body = html(STATEMENT_ZH, '<meta charset="utf-16">').encode("utf-8")
    decoded = decode_body(body)
    assert decoded.encoding == "utf-8"
    assert "国务院新闻办公室" in decoded.text


def test_declared_windows_1252_is_respected() -> None:
    body = html("Déclaration du porte-parole — « coopération »", '<meta charset="windows-1252">')
    decoded = decode_body(body.encode("cp1252"))
    assert decoded.encoding == "cp1252"
    assert "Déclaration du porte-parole — « coopération »" in decoded.text


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16"])
def test_byte_order_mark_decides_and_is_stripped(codec: str) -> None:
    body = html(STATEMENT_EN).encode(codec)
    decoded = decode_body(body, "text/html")
    assert decoded.text.startswith("<!DOCTYPE html>")
    assert "national vaccination campaign" in decoded.text


def test_utf16_page_with_bom_is_cleaned_not_called_binary() -> None:
    cleaned = clean_page(html(STATEMENT_EN).encode("utf-16"), "https://health.example.gov/1")
    assert cleaned.status == STATUS_OK
    assert cleaned.text == STATEMENT_EN


def test_body_cut_off_mid_character_still_decodes() -> None:
    body = html(STATEMENT_ZH).encode("utf-8")
    cut = body[: body.index("朱镕基".encode()) + 2]  # half of 朱
    decoded = decode_body(cut, "text/html; charset=utf-8")
    assert decoded.encoding == "utf-8"
    assert decoded.text.endswith("推动经济持续回升向好。")


def test_gb18030_body_cut_off_mid_character_still_decodes() -> None:
    body = html(STATEMENT_ZH, '<meta charset="gbk">').encode("gb18030")
    cut = body[: body.index("朱镕基".encode("gb18030")) + 1]
    decoded = decode_body(cut)
    assert decoded.encoding == "gb18030"
    assert decoded.text.endswith("推动经济持续回升向好。")


def pdf_bytes() -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(200)


def zip_bytes() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (pdf_bytes(), "text/html", "not an HTML page (application/pdf)"),
        (b"\r\n  " + pdf_bytes(), None, "not an HTML page (application/pdf)"),
        (png_bytes(), "text/html; charset=utf-8", "not an HTML page (image/png)"),
        (zip_bytes(), "application/octet-stream", "not an HTML page (application/zip)"),
        (
            gzip.compress(b"<html></html>", mtime=0),
            "text/html",
            "not an HTML page (application/gzip)",
        ),
        (bytes(range(256)) * 8, "text/html", "not an HTML page (binary data)"),
        (b'{"statement": "none"}', "application/json", "not an HTML page (application/json)"),
    ],
)
def test_not_html_bodies(body: bytes, content_type: str | None, reason: str) -> None:
    assert sniff_not_html(body, content_type) == reason
    cleaned = clean_page(body, "https://example.gov/doc", content_type)
    assert cleaned.status == STATUS_NOT_HTML
    assert cleaned.reason == reason
    assert cleaned.text is None


def test_html_served_with_a_wrong_type_is_still_html() -> None:
    body = html(STATEMENT_EN).encode("utf-8")
    assert sniff_not_html(body, "application/octet-stream") is None
    assert clean_page(body, "https://example.gov/a", "application/pdf").status == STATUS_OK


def test_gb18030_codec_name_is_what_python_knows() -> None:
    # Cleaned.encoding must name a codec that re-decodes the stored bytes.
    assert codecs.lookup(normalise_charset("gb2312") or "").name == "gb18030"


def test_control_characters_in_a_damaged_page_are_dropped_not_fatal() -> None:
    # A page with stray control bytes (a bad proxy, a binary splice): the rules that edit
    # the tree must not fail on them, and they never reach the text.
    paragraph = "The ministry said the new rules take effect on 1 September.\x08 " * 4
    body = (
        "<html><head><title>New rules</title></head><body><article>"
        f"<p>{paragraph}</p><div>Share to: WeChat | Weibo</div>\x01 after the bar."
        f"<p>{paragraph}</p></article></body></html>"
    ).encode()
    cleaned = clean_page(body, "https://www.example.gov/news/rules.html")
    assert cleaned.status == STATUS_OK
    assert "take effect on 1 September" in (cleaned.text or "")
    assert not any(ord(char) < 9 for char in cleaned.text or "")
