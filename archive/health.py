"""Is a source still working? Every rule of source health, and its thresholds, defined once.

The rules are one SQL query (`health_sql`) over what the crawls recorded. It is run for a
source after each of its crawls, and the verdict stored in `sources` (for `sources status`,
`--notify-command` and the crawl summary); the `sources_health` canned query runs the very
same query for every source when the page is shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from archive.fetched import INDEX
from archive.statuses import STATUS_CAPTCHA, gone_sql

# Errors over a source's last ERROR_CRAWLS crawls above this share of pages: failing.
ERROR_CRAWLS = 10
FAILING_RATE = 0.5
# A layout change: the RECENT newest texts average below LAYOUT_DROP of the length of the
# (up to EARLIER) texts before them, with at least RECENT of each to compare.
RECENT = 5
EARLIER = 50
LAYOUT_DROP = 0.5
# Stale: nothing new for over STALE_FACTOR times the source's usual gap between statements
# (over its last STALE_SAMPLE, at least MIN_GAPS gaps), and never before STALE_MIN_DAYS;
# counted from the newest statement, or from the first crawl if that is later.
STALE_FACTOR = 3
STALE_MIN_DAYS = 2
STALE_SAMPLE = 20
MIN_GAPS = 4

OK = "ok"
UNHEALTHY = "unhealthy"
NEVER_CRAWLED = "never crawled"


def health_sql(one_source: bool = False) -> str:
    """Each source (or with `one_source`, the one named by `:source`) with its health.

    Columns: id, name, health (ok, unhealthy, never crawled), health_reason (the problems,
    `; `-separated), and the figures the rules looked at.
    """

    def only(column: str) -> str:
        return f"{column} = :source" if one_source else "1"

    return f"""
with
ranked as (
  select c.*, row_number() over (
    partition by c.source_id order by c.started desc, c.id desc) as n
  from crawls c where {only("c.source_id")}
),
last as (select * from ranked where n = 1),
rates as (
  select source_id, sum(coalesce(errors, 0)) as errors,
    sum(coalesce(pages_fetched, 0)) as pages,
    substr(min(started), 1, 10) as watched_since
  from ranked group by source_id
),
recent as (
  select source_id, sum(coalesce(errors, 0)) as errors,
    sum(coalesce(pages_fetched, 0)) as pages
  from ranked where n <= {ERROR_CRAWLS} group by source_id
),
counts as (
  select source_id, count(*) as statements, sum(status = 'live') as live,
    sum({gone_sql()}) as gone,
    max(coalesce(substr(published, 1, 10), substr(first_seen, 1, 10))) as newest
  from statements where {only("source_id")} group by source_id
),
gaps as (
  select source_id,
    julianday(day) - julianday(lag(day) over (partition by source_id order by day)) as gap,
    row_number() over (partition by source_id order by day desc) as k
  from (select source_id, substr(published, 1, 10) as day from statements
        where published is not null and {only("source_id")})
),
cadence as (
  select source_id, avg(gap) as usual_gap_days, count(gap) as gap_count
  from gaps where k <= {STALE_SAMPLE} and gap is not null group by source_id
),
ordered_versions as (
  select s.source_id, length(v.text) as chars,
    row_number() over (partition by s.source_id order by v.first_seen desc, v.id desc) as k
  from versions v join statements s on s.id = v.statement_id
  where {only("s.source_id")}
),
lengths as (
  select source_id,
    avg(case when k <= {RECENT} then chars end) as recent_chars,
    count(case when k <= {RECENT} then 1 end) as recent_n,
    avg(case when k > {RECENT} then chars end) as earlier_chars,
    count(case when k > {RECENT} then 1 end) as earlier_n
  from ordered_versions where k <= {RECENT + EARLIER} group by source_id
),
walls as (
  select crawl_id, group_concat(n || ' ' || kind, ', ') as met from (
    select e.crawl_id, substr(e.reason, 1, instr(e.reason, ':') - 1) as kind, count(*) as n
    from crawl_errors e join last on last.id = e.crawl_id
    where e.reason like 'captcha:%' or e.reason like 'rate_limited:%'
    group by 1, 2 order by 2)
  group by crawl_id
),
problems as (
  select source_id, 1 as k,
    'the last crawl did not finish (' || coalesce(finish_reason, 'unknown') || ')' as reason
  from last where status = 'failed'
  union all
  select last.source_id, 2, 'answered ' || count(*) || ' request(s) with a captcha or WAF page'
  from captures c join last on last.id = c.crawl_id
  where c.status = '{STATUS_CAPTCHA}' group by last.source_id
  union all
  select last.source_id, 3, 'met walls: ' || walls.met
  from walls join last on last.id = walls.crawl_id
  union all
  select last.source_id, 4, 'listing selectors matched nothing (layout change?)'
  from last where exists (select 1 from crawl_errors e where e.crawl_id = last.id
                          and e.reason like '%matched nothing%')
  union all
  select source_id, 5, 'could not use ' || n || ' entry page(s): ' || example
  from (select last.source_id, count(*) as n, min(e.url || ': ' || e.reason) as example
        from crawl_errors e join last on last.id = e.crawl_id
        where e.role = '{INDEX}' and e.reason not like '%matched nothing%'
          and e.reason not like 'captcha:%' and e.reason not like 'rate_limited:%'
        group by last.source_id)
  union all
  select source_id, 5, 'found no statement links (it found ' || before || ' last time)'
  from (select last.source_id, last.links_found,
          (select p.links_found from crawls p where p.source_id = last.source_id
           and p.id < last.id and p.status = 'finished' and p.links_found is not null
           order by p.id desc limit 1) as before
        from last)
  where links_found = 0 and before > 0
  union all
  select last.source_id, 6,
    case when coalesce(last.errors, 0) >= coalesce(last.pages_fetched, 0)
      then 'every request failed (' || last.errors || ' error(s))'
      else 'errors on ' || cast(round(100.0 * recent.errors / recent.pages) as int)
        || '% of pages over the last {ERROR_CRAWLS} crawls' end
  from last join recent on recent.source_id = last.source_id
  where coalesce(last.errors, 0) > 0 and (
    coalesce(last.errors, 0) >= coalesce(last.pages_fetched, 0)
    or (recent.pages > 0 and 1.0 * recent.errors / recent.pages > {FAILING_RATE}))
  union all
  select source_id, 7, 'recent texts average ' || cast(round(recent_chars) as int)
    || ' characters against ' || cast(round(earlier_chars) as int) || ' before (layout change?)'
  from lengths
  where recent_n >= {RECENT} and earlier_n >= {RECENT}
    and recent_chars < {LAYOUT_DROP} * earlier_chars
  union all
  select source_id, 8, 'nothing new for ' || cast(quiet_days as int)
    || ' days; usually every ' || round(usual_gap_days, 1) || ' days'
  from (
    -- Quiet since the newest statement, or since the archive began watching the source:
    -- old statements found by a first crawl say nothing about the source today.
    select counts.source_id, cadence.usual_gap_days, cadence.gap_count,
      julianday('now') - julianday(max(counts.newest, rates.watched_since)) as quiet_days
    from counts join cadence on cadence.source_id = counts.source_id
    join rates on rates.source_id = counts.source_id)
  where gap_count >= {MIN_GAPS}
    and quiet_days > max({STALE_MIN_DAYS}, {STALE_FACTOR} * usual_gap_days)
),
verdict as (
  select source_id, group_concat(reason, '; ') as reasons
  from (select * from problems order by source_id, k) group by source_id
)
select
  src.id,
  src.name,
  case when last.id is null then '{NEVER_CRAWLED}'
    when verdict.reasons is not null then '{UNHEALTHY}' else '{OK}' end as health,
  case when last.id is null then 'no crawl recorded' else verdict.reasons end as health_reason,
  last.started as last_crawl,
  last.status as last_crawl_status,
  last.pages_fetched as last_pages,
  last.statements_new as last_new,
  last.errors as last_errors,
  coalesce(counts.statements, 0) as statements,
  coalesce(counts.live, 0) as live,
  coalesce(counts.gone, 0) as gone,
  counts.newest as newest_statement,
  round(cadence.usual_gap_days, 1) as usual_gap_days,
  case when recent.pages > 0 then round(1.0 * recent.errors / recent.pages, 3) end as error_rate
from sources src
left join last on last.source_id = src.id
left join recent on recent.source_id = src.id
left join counts on counts.source_id = src.id
left join cadence on cadence.source_id = src.id
left join verdict on verdict.source_id = src.id
where {only("src.id")}
order by health = '{OK}', src.id
""".strip()


def describe() -> str:
    """The rules in words, for the canned query's description."""
    return (
        "Each source's health, from its crawls: unhealthy when the last crawl did not "
        "finish, met captcha or WAF pages or walls, could not use an entry page (a feed, "
        "sitemap or listing that failed or could not be read), its listing selectors "
        "matched nothing, "
        "it found no statement links where it found some before, every request failed or "
        f"errors hit over {FAILING_RATE:.0%} of pages over its last {ERROR_CRAWLS} crawls, "
        f"its {RECENT} newest texts average under {LAYOUT_DROP:.0%} of the length of those "
        f"before (a layout change), or nothing new came for over {STALE_FACTOR} times its "
        "usual gap between statements. The same rules are applied after every crawl."
    )


@dataclass(frozen=True)
class Problem:
    source_id: str
    crawl_id: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict(db: sqlite_utils.Database, source_id: str) -> str | None:
    """What is wrong with a source now, by the rules above (`; `-separated); None: healthy."""
    row = db.execute(health_sql(one_source=True), {"source": source_id}).fetchone()
    return str(row[3]) if row is not None and row[2] == UNHEALTHY else None
