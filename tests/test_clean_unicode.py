"""Unicode NFC: a page that flips between composed and decomposed forms is one version."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from archive.clean import STATUS_OK, clean_page
from archive.store import NEW, UNCHANGED, Archive, Fetched

URL = "https://www.example.gov/presse/2024/energie.html"
TITLE = "Müller: Förderung für Wärmepumpen verlängert"
PARAGRAPHS = (
    "Die Bundesministerin Jürgen-Müller-Straße erklärte am Dienstag, dass die Förderung für "
    "Wärmepumpen in Wohngebäuden um ein weiteres Jahr verlängert wird.",
    "Anträge können ab dem 1. März über das Portal der Förderbank gestellt werden; "
    "bereits bewilligte Zuschüsse bleiben unverändert.",
    "한국어 안내문은 대사관 누리집에서 내려받을 수 있습니다.",
)


def page(form: str) -> bytes:
    """The same page, its text in Unicode normal form `form` (NFC or NFD)."""
    body = "".join(f"<p>{unicodedata.normalize(form, text)}</p>" for text in PARAGRAPHS)
    title = unicodedata.normalize(form, TITLE)
    return (
        f'<html lang="de"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def test_the_two_pages_differ_only_in_their_normal_form() -> None:
    assert page("NFC") != page("NFD")
    assert unicodedata.normalize("NFC", page("NFD").decode()) == page("NFC").decode()


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_cleaned_text_and_title_are_composed(form: str) -> None:
    cleaned = clean_page(page(form), URL)
    assert cleaned.status == STATUS_OK
    assert cleaned.title == TITLE
    assert cleaned.text == "\n\n".join(PARAGRAPHS)
    assert unicodedata.is_normalized("NFC", cleaned.text or "")


def test_combining_marks_written_as_character_references_are_composed() -> None:
    body = page("NFC").replace("Förderung für".encode(), b"Fo&#x308;rderung fu&#776;r")
    cleaned = clean_page(body, URL)
    assert "Förderung für Wärmepumpen in Wohngebäuden" in (cleaned.text or "")


def test_a_page_flipping_forms_is_not_a_new_version(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.db")
    archive.sync_sources([{"id": "bmwk", "name": "BMWK", "issuer": "BMWK", "kind": "feed"}])
    outcomes = []
    for form in ("NFC", "NFD", "NFC"):
        body = page(form)
        fetched = Fetched(source_id="bmwk", url=URL, http_status=200, body=body)
        crawl = archive.start_crawl("bmwk")
        outcomes.append(archive.record_page(crawl, fetched, clean_page(body, URL)))
    assert outcomes == [NEW, UNCHANGED, UNCHANGED]
    versions = list(archive.db["versions"].rows)
    assert len(versions) == 1
    statement = next(archive.db["statements"].rows)
    assert statement["title"] == TITLE
