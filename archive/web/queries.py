"""SQL behind the canned queries the plugin adds: search and source health."""

from __future__ import annotations

from typing import Any

from archive.search import CANDIDATES, SEARCH_SQL

# A source is "stale" when its newest statement is older than this many times its usual
# gap between statements (measured over its last STALE_SAMPLE statements, at least
# MIN_GAPS of them), and never before STALE_MIN_DAYS.
STALE_FACTOR = 3
STALE_MIN_DAYS = 2
STALE_SAMPLE = 20
MIN_GAPS = 4
# A "layout change" is the average text length of a source's last RECENT versions falling
# below LAYOUT_DROP of the average of the EARLIER ones before them.
RECENT = 5
EARLIER = 50
LAYOUT_DROP = 0.5
# Error rate over a source's last ERROR_CRAWLS crawls above which it is "failing".
ERROR_CRAWLS = 10
FAILING_RATE = 0.5


def sources_sql(has_health_columns: bool) -> str:
    """Each source with its last crawl, counts, error rate and a health flag.

    When the sources table has its own health and health_reason columns (filled by the
    crawler), they win; otherwise, and where they are empty, the flag is computed here.
    """
    stored_health = "src.health" if has_health_columns else "null"
    stored_reason = "src.health_reason" if has_health_columns else "null"
    return f"""
with
recent as (
  select c.*, row_number() over (
    partition by c.source_id order by c.started desc, c.id desc) as n
  from crawls c
),
last as (select * from recent where n = 1),
rates as (
  select source_id,
    sum(coalesce(errors, 0)) as errors,
    sum(coalesce(pages_fetched, 0)) as pages
  from recent where n <= {ERROR_CRAWLS} group by source_id
),
counts as (
  select source_id,
    count(*) as statements,
    sum(status = 'live') as live,
    sum(status in ('deleted', 'blocked')) as gone,
    max(coalesce(substr(published, 1, 10), substr(first_seen, 1, 10))) as newest
  from statements group by source_id
),
gaps as (
  select source_id,
    julianday(day) - julianday(lag(day) over (partition by source_id order by day)) as gap,
    row_number() over (partition by source_id order by day desc) as k
  from (select source_id, substr(published, 1, 10) as day
        from statements where published is not null)
),
cadence as (
  select source_id, avg(gap) as usual_gap_days, count(gap) as gap_count
  from gaps where k <= {STALE_SAMPLE} and gap is not null group by source_id
),
ordered_versions as (
  select s.source_id, length(v.text) as chars,
    row_number() over (
      partition by s.source_id order by v.first_seen desc, v.id desc) as k
  from versions v join statements s on s.id = v.statement_id
),
lengths as (
  select source_id,
    avg(case when k <= {RECENT} then chars end) as recent_chars,
    count(case when k <= {RECENT} then 1 end) as recent_n,
    avg(case when k > {RECENT} then chars end) as earlier_chars,
    count(case when k > {RECENT} then 1 end) as earlier_n
  from ordered_versions where k <= {RECENT + EARLIER} group by source_id
),
flags as (
  select
    src.id,
    last.id as crawl_id,
    last.status as crawl_status,
    case when rates.pages > 0
      then round(1.0 * rates.errors / rates.pages, 3) end as error_rate,
    round(julianday('now') - julianday(counts.newest), 1) as days_since_newest,
    round(cadence.usual_gap_days, 1) as usual_gap_days,
    cadence.gap_count >= {MIN_GAPS}
      and julianday('now') - julianday(counts.newest) > max(
        {STALE_MIN_DAYS}, {STALE_FACTOR} * cadence.usual_gap_days) as stale,
    round(lengths.recent_chars) as recent_chars,
    round(lengths.earlier_chars) as earlier_chars,
    lengths.recent_n >= {RECENT} and lengths.earlier_n >= {RECENT}
      and lengths.recent_chars < {LAYOUT_DROP} * lengths.earlier_chars as shrunk,
    rates.pages > 0 and 1.0 * rates.errors / rates.pages > {FAILING_RATE} as erroring
  from sources src
  left join last on last.source_id = src.id
  left join rates on rates.source_id = src.id
  left join counts on counts.source_id = src.id
  left join cadence on cadence.source_id = src.id
  left join lengths on lengths.source_id = src.id
)
select
  src.id,
  src.name,
  coalesce({stored_health},
    case
      when flags.crawl_id is null then 'never crawled'
      when flags.crawl_status = 'failed' or flags.erroring then 'failing'
      when flags.shrunk then 'layout changed?'
      when flags.stale then 'stale'
      else 'ok'
    end) as health,
  coalesce({stored_reason},
    case
      when flags.crawl_id is null then 'no crawl recorded'
      when flags.crawl_status = 'failed' then 'the last crawl failed'
      when flags.erroring then 'errors on ' || cast(round(100 * flags.error_rate) as int)
        || '% of pages over the last {ERROR_CRAWLS} crawls'
      when flags.shrunk then 'recent texts average ' || cast(flags.recent_chars as int)
        || ' characters against ' || cast(flags.earlier_chars as int) || ' before'
      when flags.stale then 'nothing new for ' || cast(flags.days_since_newest as int)
        || ' days; usually every ' || flags.usual_gap_days || ' days'
      else ''
    end) as health_reason,
  last.started as last_crawl,
  last.status as last_crawl_status,
  last.pages_fetched as last_pages,
  last.statements_new as last_new,
  last.errors as last_errors,
  coalesce(counts.statements, 0) as statements,
  coalesce(counts.live, 0) as live,
  coalesce(counts.gone, 0) as deleted_or_blocked,
  counts.newest as newest_statement,
  flags.usual_gap_days,
  flags.error_rate
from sources src
join flags on flags.id = src.id
left join last on last.source_id = src.id
left join counts on counts.source_id = src.id
order by health = 'ok', src.id
""".strip()


def canned_queries(has_health_columns: bool) -> dict[str, dict[str, Any]]:
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
        "sources_health": {
            "title": "Sources and their health",
            "description": (
                "Each source with its last crawl, statement counts and error rate over its "
                f"last {ERROR_CRAWLS} crawls. Health: failing (last crawl failed or errors "
                f"on over {FAILING_RATE:.0%} of pages), layout changed? (the last {RECENT} "
                f"texts average under {LAYOUT_DROP:.0%} of the length of those before), "
                f"stale (nothing new for over {STALE_FACTOR} times the usual gap between "
                "statements), never crawled, ok."
            ),
            "sql": sources_sql(has_health_columns),
        },
    }
