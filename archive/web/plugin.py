"""Datasette plugin for the archive: statement pages, CJK-capable search, source health.

Everything here runs inside Datasette (0.65) and reads the archive through Datasette's
read-only connections. Text from the archive is only ever rendered escaped by Jinja, or,
for search snippets, through `marked_only`, which lets no tag but a bare <mark> through.
"""

from __future__ import annotations

import csv
import gzip
import html
import re
import sqlite3
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import datasette.views.base as datasette_views
from datasette import Forbidden, NotFound, Response, hookimpl
from datasette.filters import FilterArguments
from markupsafe import Markup, escape

from archive import statuses
from archive.csvsafe import InertCsv, RecordWriter
from archive.search import (
    CANDIDATES,
    SEARCH_SQL,
    SEARCH_TABLE,
    match_or_nothing,
    snippet_html,
)
from archive.web import captured, diffview, feeds, queries, timeline

PLUGIN = "communique"
MAX_CAPTURES = 200
# The statements table's search box (?_search=, Datasette's own) and ?_q= (the name
# earlier releases used) search with the CJK-capable index.
SEARCH_PARAMS = ("_search", "_q")
# Above this many matches a table search scans the table's id index for the rows that
# match, instead of looking each match up (one random read of a large table per match:
# seconds for a common word, where the first page of the scan takes milliseconds), and
# the table page skips the total count and the facets, which would have to read every
# match (about a second each for a common word in a million statements); the heading
# says so. Below it, each facet still has facet_time_limit_ms (archive/serve.py).
MANY_MATCHES = CANDIDATES
_TABLE_PATH = re.compile(r"^/(?P<database>[^/]+)/statements(?:\.(?:json|csv))?$")


# --- Helpers -----------------------------------------------------------------------------


def marked_only(snippet: str) -> Markup:
    """A snippet (escaped text with <mark>) made safe whatever it holds: every character
    is escaped, then only the exact tags <mark> and </mark> are given back."""
    escaped = str(escape(html.unescape(snippet)))
    return Markup(escaped.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))


def safe_href(url: Any) -> str | None:
    """url if it is an http(s) URL, else None: archive text never becomes a script link."""
    if not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def paragraphs(text: str | None) -> list[str]:
    return [p.strip() for p in re.split(r"\n", text or "") if p.strip()]


def archive_database(datasette: Any) -> str | None:
    """The name of the archive database (the one served file)."""
    names = [name for name in datasette.databases if not name.startswith("_")]
    return names[0] if names else None


def statement_path(datasette: Any, database: str, statement_id: str) -> str:
    return datasette.urls.database(database) + "/statement/" + quote(statement_id, safe="")


def _db(datasette: Any, name: str) -> Any:
    try:
        return datasette.get_database(name)
    except KeyError:
        raise NotFound(f"Database not found: {name}") from None


async def _table_names(db: Any) -> set[str]:
    return set(await db.table_names())


async def _rows(db: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    results = await db.execute(sql, params)
    return [dict(row) for row in results.rows]


async def _columns(db: Any, table: str) -> set[str]:
    return {row["name"] for row in await _rows(db, f"pragma table_info([{table}])", {})}


# --- Hooks -------------------------------------------------------------------------------


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("communique_match", 1, match_or_nothing, deterministic=True)
    conn.create_function(
        "communique_snippet",
        2,
        lambda text, q: snippet_html(text, q or ""),
        deterministic=True,
    )


@hookimpl
def canned_queries(datasette: Any, database: str) -> Any:
    async def inner() -> dict[str, Any]:
        db = datasette.get_database(database)
        names = await _table_names(db)
        if "statements" not in names or "sources" not in names:
            return {}
        found = queries.canned_queries()
        if SEARCH_TABLE not in names:
            found.pop("search_statements")
        if "related" not in names or "evidence" not in await _columns(db, "related"):
            found.pop("translations")  # an archive from before cross-language links
        return found

    return inner


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str) -> Any:
    if table is None and column == "snippet" and isinstance(value, str):
        # Made by snippet_html: escaped text and <mark>; nothing else survives.
        return marked_only(value)
    if column == "title" and isinstance(value, str):
        keys = row.keys()
        if table == "statements" or (table is None and "id" in keys):
            statement_id = row["id"]
            if isinstance(statement_id, str):
                href = "/" + quote(database) + "/statement/" + quote(statement_id, safe="")
                return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    if table is None and column.endswith("_title") and isinstance(value, str):
        # A query's pair of statements (`translations`): original_title goes with original_id.
        key = column.removesuffix("_title") + "_id"
        # Not `key in row`: a sqlite3.Row's `in` looks among the values.
        statement_id = row[key] if key in row.keys() else None  # noqa: SIM118
        if isinstance(statement_id, str):
            href = "/" + quote(database) + "/statement/" + quote(statement_id, safe="")
            return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    if column == "health" and table is None and isinstance(value, str):
        css = "ok" if value == "ok" else "bad"
        return Markup(f'<span class="health health-{css}">{escape(value)}</span>')
    return None


@hookimpl(trylast=True)  # after Datasette's own search filter, so this context wins
def filters_from_request(request: Any, table: str, datasette: Any, database: str) -> Any:
    if table != "statements":
        return None

    async def inner() -> FilterArguments | None:
        db = datasette.get_database(database)
        if SEARCH_TABLE not in await _table_names(db):
            return None
        query = next((request.args[p] for p in SEARCH_PARAMS if request.args.get(p)), "")
        context = {"supports_search": True, "search": query}
        terms = match_or_nothing(query)
        if not query.strip():
            return FilterArguments([], extra_context=context)
        many = await _many_matches(db, query)
        # `+rowid` keeps SQLite from using the key to look matches up one by one.
        key = "+rowid" if many else "rowid"
        described = f'search matches "{query}"'
        if many:
            described += (
                f" (more than {MANY_MATCHES:,} statements: total and facets skipped, "
                "add a word to narrow the search)"
            )
        return FilterArguments(
            [
                f"{key} in (select rowid from {SEARCH_TABLE} "
                f"where {SEARCH_TABLE} match :communique_q)"
            ],
            {"communique_q": terms},
            [described],
            context,
        )

    return inner


async def _many_matches(db: Any, query: str) -> bool:
    """Whether more than MANY_MATCHES statements match (counting stops there)."""
    found = await db.execute(
        f"select count(*) from (select 1 from {SEARCH_TABLE} "
        f"where {SEARCH_TABLE} match :q limit {MANY_MATCHES + 1})",
        {"q": match_or_nothing(query)},
    )
    return bool(found.first()[0] > MANY_MATCHES)


# Datasette 0.65 writes its CSV with `csv.writer` from the csv module it imported, a
# row at a time (datasette/views/base.py): given csv_record's writer instead, a download of
# the statements table is several times faster (README, "CSV downloads").
_RECORDS = SimpleNamespace(writer=RecordWriter)


@hookimpl
def startup(datasette: Any) -> None:
    write_datasettes_csv_with_records()


def write_datasettes_csv_with_records() -> bool:
    """Give Datasette's CSV views csv_record's writer; False (and Datasette's own writer
    kept) when this Datasette writes CSV some other way. InertCsv guards the cells either way."""
    if datasette_views.csv is _RECORDS:
        return True
    if getattr(datasette_views, "csv", None) is not csv:
        return False
    datasette_views.csv = _RECORDS
    return True


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Two wrappers around Datasette: its CSV downloads get the snapshots' protection
    against formulas (archive/csvsafe.py); and a table search with more than MANY_MATCHES
    matches is asked for without its total and facets (`_nocount`, `_nofacet`), which
    Datasette decides before plugin filters run."""

    def wrap(app: Any) -> Any:
        return InertCsv(searching(app))

    def searching(app: Any) -> Any:
        async def searched(scope: dict[str, Any], receive: Any, send: Any) -> None:
            path = _TABLE_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
            if path:
                args: dict[str, str] = {}
                for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
                    args.setdefault(name, value)  # the first, as Datasette reads it
                query = next((args[p] for p in SEARCH_PARAMS if args.get(p)), "")
                db = datasette.databases.get(unquote(path["database"]))
                if (
                    query.strip()
                    and db is not None
                    and SEARCH_TABLE in await _table_names(db)
                    and await _many_matches(db, query)
                ):
                    extra = b"&_nocount=1&_nofacet=1"
                    scope = {**scope, "query_string": scope["query_string"] + extra}
            await app(scope, receive, send)

        return searched

    return wrap


# On the statements table the column descriptions become a collapsed block (and each
# column header's tooltip), so the first screen shows rows, not 26 definitions.
COLUMN_DESCRIPTIONS_SCRIPT = """
(function () {
  var list = document.querySelector("dl.column-descriptions");
  if (!list) { return; }
  var block = document.createElement("details");
  block.className = "column-descriptions-block";
  var summary = document.createElement("summary");
  summary.textContent = "What the columns mean (" + list.querySelectorAll("dt").length + ")";
  list.parentNode.insertBefore(block, list);
  block.appendChild(summary);
  block.appendChild(list);
  document.querySelectorAll("th[data-column-description]").forEach(function (th) {
    th.title = th.getAttribute("data-column-description");
  });
})();
"""


@hookimpl
def extra_body_script(view_name: str, table: str | None) -> str:
    return COLUMN_DESCRIPTIONS_SCRIPT if view_name == "table" and table == "statements" else ""


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    # static/ beside the package, served by Datasette for the `communique` entry point
    return [datasette.urls.static_plugins(PLUGIN, "communique.css")]


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    database = archive_database(datasette)
    if database is None:
        return []
    base = datasette.urls.database(database)
    return [
        {"href": base + "/search", "label": "Search statements"},
        {"href": base + "/statements", "label": "Browse statements"},
        {"href": base + "/sources_health", "label": "Sources and their health"},
    ]


# What "Browse all statements" shows: what a reader scans for. Every other column is a
# click away in the table's column menu, and in every CSV and JSON download.
BROWSE_COLUMNS = (
    "title", "issuer", "published", "language", "status", "source_id", "url", "version_count",
)  # fmt: skip


@hookimpl
def extra_template_vars(view_name: str, datasette: Any) -> Any:
    async def inner() -> dict[str, Any]:
        database = archive_database(datasette)
        found: dict[str, Any] = {"archive_database": database}
        if database is not None:  # feed links for <head> and pages: feeds_for(source_id, name)
            found["feeds_for"] = lambda source=None, name=None: feeds.links(
                datasette, database, source, name
            )
        if view_name != "index" or database is None:
            return found
        db = datasette.get_database(database)
        names = await _table_names(db)
        counts = {}
        for table in ("statements", "sources", "versions", "captures"):
            if table in names:
                counts[table] = (await db.execute(f"select count(*) from {table}")).first()[0]
        found["archive_counts"] = counts
        found["gone_words"] = statuses.GONE_WORDS
        found["source_timelines"] = await timeline.home(db)  # charts per source, with feeds
        found["browse_query"] = urlencode([("_col", column) for column in BROWSE_COLUMNS])
        if "statements" in names:
            found["archive_span"] = dict(
                (
                    await db.execute(
                        # One subquery each: SQLite answers a lone min() or max() from
                        # its index, but scans the table for several in one select.
                        "select (select min(published) from statements) as first, "
                        "(select max(published) from statements) as last, "
                        "(select max(last_seen) from statements) as checked"
                    )
                ).first()
            )
            found["archive_gone"] = (
                await db.execute(f"select count(*) from statements where {statuses.gone_sql()}")
            ).first()[0]
        return found

    return inner


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/(?P<database>[^/.]+)/statement/(?P<id>[^/.]+)\.json$", statement_json),
        (r"^/(?P<database>[^/.]+)/statement/(?P<id>[^/]+)$", statement_page),
        # Datasette's own row page (where the id column links) only lists raw columns;
        # without a format extension it sends people to the statement page instead.
        (r"^/(?P<database>[^/.]+)/statements/(?P<id>[^/.]+)$", statement_row),
        (r"^/(?P<database>[^/.]+)/capture/(?P<id>[0-9]+)/body$", capture_body),
        (r"^/(?P<database>[^/.]+)/search$", search_page),
        feeds.ROUTE,  # /<db>/newest.atom, edited.atom, gone.atom (?source=ID)
    ]


# --- Pages -------------------------------------------------------------------------------


async def statement_row(datasette: Any, request: Any) -> Response:
    database, statement_id = request.url_vars["database"], request.url_vars["id"]
    _db(datasette, database)  # an unknown database is a 404, not an error
    return Response.redirect(statement_path(datasette, database, statement_id))


# What a related statement is to the one whose page it is on: translation and report (this
# one is the original), original (this one is its translation or a report about it), reprint.
RELATED_SQL = """
select s.id, s.title, s.source_id, src.name as source_name, s.published, s.language,
  s.status, r.relation, r.similarity, {evidence} as evidence, r.found_at,
  r.relation as role
from related r join statements s on s.id = r.related_id
left join sources src on src.id = s.source_id
where r.statement_id = :id
union
select s.id, s.title, s.source_id, src.name as source_name, s.published, s.language,
  s.status, r.relation, r.similarity, {evidence} as evidence, r.found_at,
  case when r.relation = 'reprint' then 'reprint' else 'original' end as role
from related r join statements s on s.id = r.statement_id
left join sources src on src.id = s.source_id
where r.related_id = :id
order by role, published, similarity desc
"""
VERSION_FIELDS = (
    "version", "title", "text", "text_hash", "first_seen", "last_seen", "capture_id",
    "chars_added", "chars_removed", "origin",
)  # fmt: skip


async def _statement(db: Any, statement_id: str) -> dict[str, Any]:
    found = await _rows(
        db,
        "select s.*, src.name as source_name from statements s "
        "left join sources src on src.id = s.source_id where s.id = :id",
        {"id": statement_id},
    )
    if not found:
        raise NotFound(f"No statement with id {statement_id}")
    return found[0]


async def _versions(db: Any, names: set[str], statement_id: str) -> list[dict[str, Any]]:
    if "versions" not in names:
        return []
    return await _rows(
        db, "select * from versions where statement_id = :id order by version", {"id": statement_id}
    )


async def _related(db: Any, names: set[str], statement_id: str) -> list[dict[str, Any]]:
    """Statements related to this one, each with its `role` (see RELATED_SQL)."""
    if "related" not in names:
        return []
    # An archive written before evidence was kept, served as it is, has no such column.
    evidence = "r.evidence" if "evidence" in await _columns(db, "related") else "null"
    return await _rows(db, RELATED_SQL.format(evidence=evidence), {"id": statement_id})


async def statement_json(datasette: Any, request: Any) -> Response:
    """The statement with its versions and related statements (translations, reports, its
    original, reprints), as JSON."""
    database = request.url_vars["database"]
    statement_id = request.url_vars["id"]
    db = _db(datasette, database)
    names = await _table_names(db)
    statement = await _statement(db, statement_id)
    versions = [
        {field: version.get(field) for field in VERSION_FIELDS}
        for version in await _versions(db, names, statement_id)
    ]
    related = await _related(db, names, statement_id)
    for row in related:
        row["path"] = statement_path(datasette, database, row["id"])
    body = {**statement, "versions": versions, "related": related}
    return Response.json(body, headers={"x-content-type-options": "nosniff"})


async def statement_page(datasette: Any, request: Any) -> Response:
    database = request.url_vars["database"]
    statement_id = request.url_vars["id"]
    db = _db(datasette, database)
    names = await _table_names(db)
    statement = await _statement(db, statement_id)
    params = {"id": statement_id}

    urls = []
    if "statement_urls" in names:
        urls = await _rows(
            db,
            "select url, first_seen, last_seen from statement_urls "
            "where statement_id = :id order by first_seen, url",
            params,
        )
    versions = await _versions(db, names, statement_id)
    for previous, version in zip([None, *versions], versions, strict=False):
        version["paragraphs"] = paragraphs(version.get("text"))
        if previous is None:
            version["segments"], version["from_ops"] = None, None
            continue
        version["segments"], version["from_ops"] = diffview.version_diff(
            (previous.get("title"), previous.get("text")),
            (version.get("title"), version.get("text")),
            version.get("diff"),
        )
    captures = []
    if "captures" in names:
        captures = await _rows(
            db,
            "select id, fetched_at, url, http_status, content_type, status, outcome, "
            "body_sha256, body_size from captures where statement_id = :id "
            f"order by fetched_at desc, id desc limit {MAX_CAPTURES}",
            params,
        )
    changes = []
    if "status_changes" in names:
        changes = await _rows(
            db,
            "select status, reason, at from status_changes where statement_id = :id "
            "order by at, id",
            params,
        )
    related = await _related(db, names, statement_id)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for row in related:
        by_role.setdefault(row["role"], []).append(row)
    for row in [statement, *urls, *captures]:
        row["href"] = safe_href(row.get("url"))
    if "captures" in names:  # "View as captured" links, with `serve --replay-url`
        await captured.add_replay_links(datasette, db, statement, versions)
    base = datasette.urls.database(database)
    context = {
        "metadata": datasette.metadata(),
        "database": database,
        "statement": statement,
        "gone": statuses.is_gone(statement.get("status")),
        "status_label": statuses.GONE.get(statement.get("status") or "", statement.get("status")),
        "paragraphs": paragraphs(statement.get("text")),
        "found_urls": urls,
        "versions": versions,
        "edits": [v for v in versions if v["segments"] is not None],
        "captures": captures,
        "max_captures": MAX_CAPTURES,
        "status_changes": changes,
        "timeline": timeline.statement_chart(statement, versions, changes, captures),
        "related": by_role.get("reprint", []),
        "translations": by_role.get("translation", []),
        "reports": by_role.get("report", []),
        "originals": by_role.get("original", []),
        "base": base,
        "statement_path": lambda sid: statement_path(datasette, database, sid),
        "json_url": statement_path(datasette, database, statement_id) + ".json",
        "csv_url": base + "/statements.csv?" + urlencode({"id": statement_id, "_size": "max"}),
        "versions_csv_url": base
        + "/versions.csv?"
        + urlencode({"statement_id": statement_id, "_size": "max"}),
    }
    return Response.html(
        await datasette.render_template(
            "communique_statement.html", context, request=request, view_name="statement"
        ),
        headers=_page_headers(),
    )


async def search_page(datasette: Any, request: Any) -> Response:
    database = request.url_vars["database"]
    db = _db(datasette, database)
    query = (request.args.get("q") or "").strip()
    names = await _table_names(db)
    results: list[dict[str, Any]] = []
    matches = 0
    error = None
    if query and SEARCH_TABLE not in names:
        error = (
            "This archive has no search index yet; it is built when the archive is next "
            "opened for writing (e.g. by communique serve or communique crawl)."
        )
    elif query:
        results = await _rows(db, SEARCH_SQL, {"q": query})
        for row in results:
            row["snippet"] = marked_only(row["snippet"] or "")
        matches = results[0]["matches"] if results else 0
    base = datasette.urls.database(database)
    context = {
        "metadata": datasette.metadata(),
        "database": database,
        "query": query,
        "results": results,
        "matches": matches,
        "candidates": CANDIDATES,
        "error": error,
        "base": base,
        "statement_path": lambda sid: statement_path(datasette, database, sid),
        "json_url": base + "/search_statements.json?" + urlencode({"q": query, "_shape": "array"}),
        "csv_url": base + "/search_statements.csv?" + urlencode({"q": query}),
        "facets_url": base + "/statements?" + urlencode({"_search": query}),
    }
    return Response.html(
        await datasette.render_template(
            "communique_search.html", context, request=request, view_name="search"
        ),
        headers=_page_headers(),
    )


async def capture_body(datasette: Any, request: Any) -> Response:
    """The raw body of one capture, as a download: never rendered in the archive's origin."""
    database = request.url_vars["database"]
    db = _db(datasette, database)
    if not await datasette.permission_allowed(
        request.actor, "view-table", (database, "bodies"), default=True
    ):
        raise Forbidden("You may not download raw bodies")
    capture_id = int(request.url_vars["id"])
    found = await _rows(
        db,
        "select c.id, c.content_type, b.body_gz from captures c "
        "join bodies b on b.sha256 = c.body_sha256 where c.id = :id",
        {"id": capture_id},
    )
    if not found or found[0]["body_gz"] is None:
        raise NotFound("No stored body for this capture")
    stored = found[0]["body_gz"]
    if request.args.get("gz"):
        body, name, media = stored, f"capture-{capture_id}.gz", "application/gzip"
    else:
        body = gzip.decompress(stored)
        name, media = f"capture-{capture_id}{_extension(found[0]['content_type'])}", None
    return Response(
        body,
        content_type=media or "application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "x-content-type-options": "nosniff",
            "content-security-policy": "sandbox; default-src 'none'",
        },
    )


def _extension(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    return {
        "text/html": ".html",
        "application/xhtml+xml": ".html",
        "application/pdf": ".pdf",
        "application/json": ".json",
        "text/plain": ".txt",
        "application/xml": ".xml",
        "text/xml": ".xml",
        "application/rss+xml": ".xml",
        "application/atom+xml": ".xml",
    }.get(media, ".bin")


def _page_headers() -> dict[str, str]:
    # Escaping is what keeps archived text inert; this only narrows what a page may load
    # (Datasette's own menu script is inline, so inline scripts stay allowed).
    return {
        "content-security-policy": (
            "default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; img-src 'self' data:"
        ),
        "x-content-type-options": "nosniff",
    }
