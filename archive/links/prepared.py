"""What a cleaning worker computes beside the cleaning, so the archive's one writer only
looks things up: the text's MinHash signature (reprints) and its cross-language features
(words through CC-CEDICT, numbers: the costly part of linking across languages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archive.cleaned import STATUS_OK, Cleaned
from archive.links.features import Features, features, language_of
from archive.links.reprints import signature_of


@dataclass(frozen=True)
class Prepared:
    """A page's cleaning with what was computed from its text."""

    cleaned: Cleaned
    signature: bytes | None = None
    features: Features | None = None


def prepare(clean: Callable[..., Cleaned], *args: Any) -> Prepared:
    """Clean a page, then sign its text and take its cross-language features (Chinese
    and English statements only), all in this (worker) process."""
    cleaned = clean(*args)
    if cleaned.status != STATUS_OK or not cleaned.text:
        return Prepared(cleaned)
    found = None
    if language_of(cleaned.language):
        found = features(cleaned.language or "", cleaned.text)
    return Prepared(cleaned, signature_of(cleaned.text), found)
