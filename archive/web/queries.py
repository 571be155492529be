"""The canned queries the plugin adds, whose SQL is generated from the rules it shows:
search (archive/search.py), gone statements (archive/statuses.py), source health
(archive/health.py), translations (the relations of archive/schema.py)."""

from __future__ import annotations

from typing import Any

from archive import health, schema, statuses
from archive.search import CANDIDATES, SEARCH_SQL


def gone_sql() -> str:
    """Statements no longer online, by the one definition of gone (archive/statuses.py)."""
    return f"""
select id, title, issuer, source_id, status, gone_since, status_reason, published
from statements
where {statuses.gone_sql()}
order by gone_since desc, id
limit 1000
""".strip()


def translations_sql() -> str:
    """Original ↔ translation pairs, newest original first (a title opens its statement)."""
    return f"""
select o.id as original_id, o.title as original_title, o.published as original_published,
  o.source_id as original_source, t.id as translation_id, t.title as translation_title,
  t.published as translation_published, t.source_id as translation_source,
  round(r.similarity, 2) as score, r.evidence
from {schema.RELATED} r
join statements o on o.id = r.statement_id
join statements t on t.id = r.related_id
where r.relation = '{schema.TRANSLATION}'
order by o.published desc, o.id, t.published, t.id
limit 1000
""".strip()


def canned_queries() -> dict[str, dict[str, Any]]:
    return {
        "search_statements": {
            "title": "Search statements",
            "description": (
                "Statements whose title or text contains every word of q, best matches "
                f"first (when more than {CANDIDATES:,} match: the best of the {CANDIDATES:,} "
                "most recently archived). Works for Chinese from one character up. The "
                "snippet column is HTML: escaped text with <mark> around the matches; "
                f"matches counts the matching statements up to {CANDIDATES + 1:,}."
            ),
            "sql": SEARCH_SQL,
            "params": ["q"],
        },
        "gone": {
            "title": "Gone statements",
            "description": (
                f"Statements no longer online ({statuses.GONE_WORDS}), most recently gone "
                "first, with the page's own words (or the HTTP status) as the reason."
            ),
            "sql": gone_sql(),
        },
        "translations": {
            "title": "Originals and their translations",
            "description": (
                "Each statement linked to its translation in another language (a Chinese "
                "original and its English translation), newest original first, with both "
                "titles and dates, the linker's score and its evidence. Reports about a "
                "statement are the related rows with relation report."
            ),
            "sql": translations_sql(),
        },
        "sources_health": {
            "title": "Sources and their health",
            "description": health.describe(),
            "sql": health.health_sql(),
        },
    }
