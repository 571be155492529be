"""Per-source CSS selectors (`extract:` in the sources file) and soft 404 pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from archive.clean import GONE_STATUSES, STATUS_NOT_FOUND, STATUS_OK, Hints, clean_page
from archive.cleaned import hints_for
from communique.config import Source

PAGES = Path(__file__).parent / "pages"
URL = "https://water.example.gov/bulletins/2024/0723.html"
RULES = {
    "body": ".doc-body",
    "title": ".doc-title",
    "date": ".doc-meta time",
    "issuer": ".doc-org",
    "drop": [".share-widget"],
}


def bulletin() -> bytes:
    return (PAGES / "override_bulletin.html").read_bytes()


def source(**extract: object) -> Source:
    return Source(
        id="water",
        name="Water bulletins",
        issuer="Department of Water Resources",
        kind="urls",
        urls=[URL],
        extract=extract,
    )


def test_config_rules_reach_the_hints() -> None:
    hints = hints_for(source(**RULES))
    assert hints.body == ".doc-body"
    assert hints.title == ".doc-title"
    assert hints.date == ".doc-meta time"
    assert hints.issuer_selector == ".doc-org"
    assert hints.drop == (".share-widget",)
    assert hints.issuer == "Department of Water Resources"


def test_a_source_without_rules_has_empty_overrides() -> None:
    plain = Source(id="w", name="W", issuer="I", kind="urls", urls=[URL])
    assert plain.extract is None
    assert hints_for(plain) == Hints(issuer="I")


@pytest.mark.parametrize(
    "extract",
    [{"body": "div["}, {"drop": [".ok", "p:unknown-pseudo"]}, {"bodyy": ".typo"}],
)
def test_bad_rules_are_config_errors(extract: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        source(**extract)


def test_overrides_pick_body_title_date_and_issuer() -> None:
    cleaned = clean_page(bulletin(), URL, hints=hints_for(source(**RULES)))
    assert cleaned.status == STATUS_OK
    assert cleaned.title == "Water restrictions lifted in the eastern districts"
    assert cleaned.published == "2024-07-23T09:00:00"
    assert cleaned.issuer == "Bureau of Supply Planning"
    assert cleaned.text == (
        "Reservoir levels in the eastern districts have recovered after the July rains.\n\n"
        "The restrictions on garden watering announced in May are lifted from 24 July.\n\n"
        "Households are asked to keep saving water where they can."
    )


def test_without_overrides_the_heuristics_get_this_page_wrong() -> None:
    # The reason the rules exist: proves the test above tests the rules, not the heuristics.
    cleaned = clean_page(bulletin(), URL, hints=Hints(issuer="Department of Water Resources"))
    assert cleaned.title != "Water restrictions lifted in the eastern districts"
    assert cleaned.published != "2024-07-23T09:00:00"
    assert "newsletter service" in (cleaned.text or "")


def test_drop_alone_removes_elements_before_extraction() -> None:
    cleaned = clean_page(bulletin(), URL, hints=Hints(drop=(".share-widget", ".sidebar")))
    assert "newsletter service" not in (cleaned.text or "")
    assert "Events calendar" not in (cleaned.text or "")
    assert cleaned.published != "2019-03-01"


def test_selectors_that_match_nothing_fall_back_to_the_heuristics() -> None:
    hints = Hints(body=".missing", title=".missing", date=".missing", issuer_selector=".missing")
    cleaned = clean_page(bulletin(), URL, hints=hints)
    assert cleaned.status == STATUS_OK
    assert "Reservoir levels in the eastern districts" in (cleaned.text or "")


def test_soft_404_is_not_a_statement() -> None:
    cleaned = clean_page(
        (PAGES / "soft_404.html").read_bytes(), "https://mofcom.example.gov/en/news/1.html"
    )
    assert cleaned.status == STATUS_NOT_FOUND
    assert cleaned.status in GONE_STATUSES
    assert cleaned.reason == "Page Not Found - Ministry of Commerce"
    assert cleaned.text is None


def test_a_statement_about_something_not_found_is_a_statement() -> None:
    paragraph = "<p>" + "Search teams worked through the night along the river banks. " * 12
    body = (
        "<html><head><title>Missing hikers not found after two days</title></head><body>"
        f"<article><h1>Missing hikers not found after two days</h1>{paragraph}</p></article>"
        "</body></html>"
    ).encode()
    cleaned = clean_page(body, "https://police.example.gov/news/2.html")
    assert cleaned.status == STATUS_OK
    assert cleaned.title == "Missing hikers not found after two days"
