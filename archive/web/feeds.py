"""Atom feeds of what happens in the archive: new statements, edits, disappearances.

`/<db>/newest.atom`, `/<db>/edited.atom` and `/<db>/gone.atom`, each also for one source
with `?source=ID`. The rows come from the SQL here; datasette-atom (over feedgen) writes the
Atom. Every entry's time is the archive's own clock (first seen, version seen, status
changed), never a date a page claims, so no page can pin itself to the top of a feed; every
entry's id is made of what the event is (statement, version, status and time), so the same
event keeps its id however often the feed is fetched or the archive is served.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import datasette_atom
from datasette import Forbidden, NotFound, Response
from feedgen.feed import FeedGenerator
from markupsafe import Markup

from archive import statuses
from archive.web import diffview

MAX_ENTRIES = 50
EXCERPT_CHARS = 400  # of a new statement's text
CHANGE_CHARS = 200  # of what an edit removed, and of what it added
ID_PREFIX = "urn:communique:statement:"

# Characters XML 1.0 cannot carry (lxml refuses them) and C1 controls: archive text is
# hostile input, and one such character would otherwise make the whole feed fail.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """value as text that any XML document can hold, whitespace runs made single spaces."""
    return " ".join(_NOT_XML.sub("", str(value or "")).split())


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def when(value: Any) -> datetime | None:
    """An archive timestamp as an aware datetime (UTC when it names no zone), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def entry_id(statement_id: str, *event: str) -> str:
    """A stable id for an event: the statement's id, then what happened to it."""
    return ID_PREFIX + ":".join(quote(part, safe=":+") for part in (statement_id, *event))


# --- What each feed holds ---------------------------------------------------------------

_SOURCE = "(:source = '' or s.source_id = :source)"

# A statement's first version is first seen when the statement is, and versions have an
# index on first_seen: statements do not, and a scan of them reads every text.
NEWEST_SQL = f"""
select s.id, s.title, s.issuer, s.published, s.source_id, src.name as source_name,
  v.first_seen as at, s.text as excerpt
from versions v
cross join statements s on s.id = v.statement_id
left join sources src on src.id = s.source_id
where v.version = 1 and v.first_seen is not null and {_SOURCE}
order by v.first_seen desc, v.id desc
limit :limit
"""

EDITED_SQL = f"""
select s.id, s.title, s.issuer, s.published, s.source_id, src.name as source_name,
  v.version, v.first_seen as at, v.chars_added, v.chars_removed, v.diff,
  v.title as new_title, v.text as new_text, p.title as old_title, p.text as old_text
from versions v
cross join statements s on s.id = v.statement_id
left join sources src on src.id = s.source_id
left join versions p on p.statement_id = v.statement_id and p.version = v.version - 1
where v.version > 1 and coalesce(v.origin, 'crawl') = 'crawl' and v.first_seen is not null
  and {_SOURCE}
order by v.first_seen desc, v.id desc
limit :limit
"""

GONE_SQL = f"""
select s.id, s.title, s.issuer, s.published, s.source_id, src.name as source_name,
  c.status, c.reason, c.at
from status_changes c
cross join statements s on s.id = c.statement_id
left join sources src on src.id = s.source_id
where {statuses.gone_sql("c.status")} and c.at is not null and {_SOURCE}
order by c.at desc, c.id desc
limit :limit
"""


def _about(row: dict[str, Any]) -> Markup:
    """Who issued it, where it was found, when it says it was published."""
    issuer = xml_text(row.get("issuer"))
    source = xml_text(row.get("source_name") or row.get("source_id"))
    parts = [issuer, source if source != issuer else ""]
    published = xml_text(row.get("published"))
    parts.append(f"published {published}" if published else "undated")
    return Markup("<p>{}</p>").format(" · ".join(part for part in parts if part))


def _title(row: dict[str, Any]) -> str:
    return xml_text(row.get("title")) or "(untitled)"


def newest_entry(row: dict[str, Any]) -> dict[str, Any]:
    excerpt = cut(xml_text(row.get("excerpt")), EXCERPT_CHARS)
    content = _about(row) + (Markup("<p>{}</p>").format(excerpt) if excerpt else "")
    return {
        "atom_id": entry_id(row["id"]),
        "atom_title": _title(row),
        "atom_content_html": str(content),
    }


def changes(row: dict[str, Any]) -> tuple[str, str]:
    """The start of what an edit removed and of what it added, each cut to CHANGE_CHARS.

    Changes a space or a comma apart read as one run ("on 1 June"); runs further apart are
    joined with " … ".
    """
    segments, _ = diffview.version_diff(
        (row.get("old_title"), row.get("old_text")),
        (row.get("new_title"), row.get("new_text")),
        row.get("diff"),
    )
    runs: dict[int, list[str]] = {diffview.DELETE: [""], diffview.INSERT: [""]}
    between = {diffview.DELETE: "", diffview.INSERT: ""}  # kept text after an open run
    for segment in segments:
        if segment.kind != diffview.KEEP:
            run = runs[segment.kind]
            run[-1] += (between[segment.kind] if run[-1] else "") + segment.text
            between[segment.kind] = ""
            continue
        for kind, run in runs.items():
            if len(segment.text.strip()) <= 1:
                between[kind] += segment.text
            elif run[-1]:
                run.append("")
                between[kind] = ""
    removed, added = (
        " … ".join(text for text in map(xml_text, runs[kind]) if text)
        for kind in (diffview.DELETE, diffview.INSERT)
    )
    return cut(removed, CHANGE_CHARS), cut(added, CHANGE_CHARS)


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) else "?"


def edited_entry(row: dict[str, Any]) -> dict[str, Any]:
    version = int(row["version"])
    removed, added = changes(row)
    content = Markup("<p>Version {} → {}: +{} / −{} characters.</p>").format(
        version - 1, version, _count(row.get("chars_added")), _count(row.get("chars_removed"))
    )
    if removed:
        content += Markup("<p><strong>Removed:</strong> {}</p>").format(removed)
    if added:
        content += Markup("<p><strong>Added:</strong> {}</p>").format(added)
    return {
        "atom_id": entry_id(row["id"], "version", str(version)),
        "atom_title": f"Edited: {_title(row)} (version {version})",
        "atom_content_html": str(content + _about(row)),
    }


def gone_entry(row: dict[str, Any]) -> dict[str, Any]:
    status = xml_text(row.get("status"))
    label = statuses.GONE.get(status, status)
    content = Markup("<p>Status: <strong>{}</strong>{} since {}.</p>").format(
        label, f" ({status})" if status != label else "", xml_text(row.get("at"))
    )
    reason = xml_text(row.get("reason"))
    if reason:
        content += Markup("<p>Reason: {}</p>").format(reason)
    return {
        "atom_id": entry_id(row["id"], status, str(row["at"])),
        "atom_title": f"{label.capitalize()}: {_title(row)}",
        "atom_content_html": str(content + _about(row)),
    }


@dataclass(frozen=True)
class Feed:
    name: str
    title: str  # what a reader's list of feeds shows
    tables: tuple[str, ...]  # an archive without them has nothing to say here
    sql: str
    entry: Callable[[dict[str, Any]], dict[str, Any]]


FEEDS = {
    feed.name: feed
    for feed in (
        Feed("newest", "new statements", ("statements", "sources"), NEWEST_SQL, newest_entry),
        Feed(
            "edited", "edited statements", ("statements", "sources", "versions"), EDITED_SQL,
            edited_entry,
        ),
        Feed(
            "gone", f"gone statements ({statuses.GONE_WORDS})",
            ("statements", "sources", "status_changes"), GONE_SQL, gone_entry,
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class FeedLink:
    name: str
    title: str
    href: str  # the path, as pages link it; the feed itself gives absolute URLs


def feed_path(datasette: Any, database: str, name: str, source: str | None = None) -> str:
    path = datasette.urls.database(database) + f"/{name}.atom"
    return path + ("?" + urlencode({"source": source}) if source else "")


def feed_title(datasette: Any, name: str, source_name: str | None = None) -> str:
    site = datasette.metadata("title") or "Communique"
    title = f"{site}: {FEEDS[name].title}"
    return title + (f" from {source_name}" if source_name else "")


def links(
    datasette: Any, database: str, source: str | None = None, source_name: str | None = None
) -> list[FeedLink]:
    """The three feeds of the archive, or of one source."""
    return [
        FeedLink(
            name,
            feed_title(datasette, name, xml_text(source_name or source) if source else None),
            feed_path(datasette, database, name, source),
        )
        for name in FEEDS
    ]


# --- The route ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FeedRequest:
    """What datasette-atom reads of a request: the feed's id and self link come from `url`,
    its title from `_feed_title`. The real request's URL would make the id depend on the
    order and spelling of its query string."""

    url: str
    args: dict[str, str]


async def feed_page(datasette: Any, request: Any) -> Response:
    database = request.url_vars["database"]
    feed = FEEDS[request.url_vars["feed"]]
    try:
        db = datasette.get_database(database)
    except KeyError:
        raise NotFound(f"Database not found: {database}") from None
    if not await datasette.permission_allowed(
        request.actor, "view-database", database, default=True
    ):
        raise Forbidden("You may not view this database")
    names = set(await db.table_names())
    source = request.args.get("source") or ""
    source_name = None
    if source:
        found = (
            (await db.execute("select name from sources where id = :id", {"id": source})).rows
            if "sources" in names
            else []
        )
        if not found:
            raise NotFound(f"No source {source!r} in this archive")
        source_name = found[0]["name"] or source
    rows: list[dict[str, Any]] = []
    if set(feed.tables) <= names:
        results = await db.execute(feed.sql, {"source": source, "limit": MAX_ENTRIES})
        rows = [dict(row) for row in results.rows]
    entries = []
    for row in rows:
        updated = when(row.get("at"))
        if updated is None:
            continue  # no time, no event
        statement = datasette.urls.database(database) + "/statement/" + quote(row["id"], safe="")
        entries.append(
            {
                **feed.entry(row),
                "atom_updated": updated,
                "atom_link": datasette.absolute_url(request, statement),
                "atom_author_name": xml_text(row.get("issuer") or row.get("source_name")),
            }
        )
    url = datasette.absolute_url(request, feed_path(datasette, database, feed.name, source))
    title = feed_title(datasette, feed.name, xml_text(source_name) if source else None)
    if not entries:
        return _empty(url, title)
    return datasette_atom.render_atom(
        datasette=datasette,
        request=_FeedRequest(url, {"_feed_title": title}),
        sql=feed.sql,
        columns=list(entries[0]),
        rows=entries,
        database=database,
        table=None,
        query_name=None,  # so every entry's HTML goes through datasette-atom's bleach
        view_name="feed",
        data={},
    )


ROUTE = (rf"^/(?P<database>[^/.]+)/(?P<feed>{'|'.join(FEEDS)})\.atom$", feed_page)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _empty(url: str, title: str) -> Response:
    """A valid feed with no entries (datasette-atom needs at least one row for `updated`)."""
    generator = FeedGenerator()
    generator.id(url)
    generator.link(href=url, rel="self")
    generator.title(title)
    generator.updated(EPOCH)  # nothing has happened: a fixed time, so the feed never changes
    return Response(
        generator.atom_str(pretty=True),
        content_type="application/xml; charset=utf-8",
        status=200,
    )
