"""The canned queries the plugin adds, whose SQL is generated from the rules it shows:
search (archive/search.py), gone statements (archive/statuses.py), source health
(archive/health.py)."""

from __future__ import annotations

from typing import Any

from archive import health, statuses
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
        "sources_health": {
            "title": "Sources and their health",
            "description": health.describe(),
            "sql": health.health_sql(),
        },
    }
