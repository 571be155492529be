"""Export captures as a WACZ: the WARC of archive.warc, its CDXJ index, pages and hashes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from archive.atomic import fsync_dir
from archive.warc import export_warc, warc_date

PAGES_FORMAT = "json-pages-1.0"  # the header line of pages/pages.jsonl, as the spec names it


class WaczError(Exception):
    """The WACZ could not be written; the message names the culprit."""


@dataclass(frozen=True)
class WaczExportResult:
    """What went into a WACZ file."""

    path: Path
    captures: int
    pages: int
    bytes: int


def _connect(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)


def _filters(source_ids: list[str], since: date | None) -> tuple[str, list[str]]:
    """The captures chosen, as SQL over captures `c`: the same rows export_warc writes."""
    conditions: list[str] = []
    params: list[str] = []
    if source_ids:
        conditions.append(f"c.source_id in ({', '.join('?' for _ in source_ids)})")
        params += source_ids
    if since is not None:
        conditions.append("c.fetched_at >= ?")
        params.append(since.isoformat())
    return (" and ".join(conditions) or "1"), params


class UnknownSource(ValueError):
    """A source id the archive does not hold."""


def check_sources(db_path: Path, source_ids: list[str]) -> None:
    """UnknownSource, naming it, unless every id is a source of the archive."""
    if not source_ids:
        return
    conn = _connect(db_path)
    try:
        known = {row[0] for row in conn.execute("select id from sources")}
    finally:
        conn.close()
    unknown = [source for source in source_ids if source not in known]
    if unknown:
        raise UnknownSource(f"{db_path}: no source {unknown[0]!r} in this archive")


def page_rows(db_path: Path, source_ids: list[str], since: date | None) -> Iterator[dict[str, str]]:
    """One pages.jsonl entry per chosen capture of a statement that has a body.

    The title is the statement's title as of that capture (the newest version first seen
    at or before it), so a page captured before an edit carries the title it had then;
    ts is the capture's WARC-Date, so the entry names exactly one record.
    """
    where, params = _filters(source_ids, since)
    conn = _connect(db_path)
    try:
        rows = conn.execute(
            "select c.id, c.url, c.fetched_at, c.statement_id, coalesce(("
            "  select v.title from versions v where v.statement_id = c.statement_id"
            "  and v.first_seen <= c.fetched_at order by v.version desc limit 1"
            "), s.title) as title "
            "from captures c join statements s on s.id = c.statement_id "
            f"where c.body_sha256 is not null and {where} order by c.id",
            params,
        )
        for capture_id, url, fetched_at, statement_id, title in rows:
            yield {
                "id": f"capture-{capture_id}",
                "url": url,
                "ts": warc_date(fetched_at),
                "title": title or url,
                "statement_id": statement_id,
            }
    finally:
        conn.close()


def _write_pages(path: Path, pages: Iterator[dict[str, str]], title: str) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"format": PAGES_FORMAT, "id": "pages", "title": title}) + "\n")
        for page in pages:
            # json.dumps escapes newlines and quotes: a hostile title stays one line.
            out.write(json.dumps(page, ensure_ascii=False) + "\n")
            count += 1
    return count


def _run_wacz_create(args: list[str]) -> None:
    """py-wacz's own `wacz create`, in process; its progress chatter is kept for errors."""
    from wacz.main import main as wacz_main

    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):
            code = wacz_main(args)
    except Exception as error:
        raise WaczError(f"wacz create failed: {type(error).__name__}: {error}") from error
    if code:
        lines = [line for line in chatter.getvalue().splitlines() if line.strip()]
        raise WaczError(f"wacz create failed: {lines[-1] if lines else f'exit {code}'}")


def export_wacz(
    db_path: Path,
    out_path: Path,
    source_ids: list[str] | None = None,
    since: date | None = None,
) -> WaczExportResult:
    """Write the chosen captures (all, the named sources', or those fetched since a UTC
    date) to out_path as a WACZ 1.1.1 made by py-wacz.

    archive/<name>.warc.gz is archive.warc.export_warc's WARC (each capture's status,
    headers and body as stored, identical bodies as revisits); indexes/ its CDXJ;
    pages/pages.jsonl a page per capture of a statement, with its title and fetch time;
    datapackage.json every file's SHA-256. The file appears only when complete.
    """
    sources = list(source_ids or [])
    check_sources(db_path, sources)
    conn = _connect(db_path)
    try:
        where, params = _filters(sources, since)
        (chosen,) = conn.execute(
            f"select count(*) from captures c where {where}", params
        ).fetchone()
    finally:
        conn.close()
    if not chosen:
        scope = f" since {since.isoformat()}" if since else ""
        raise WaczError(f"{db_path}: no captures to export{scope}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    title = f"Communique: {db_path.name}"
    description = (
        "Captures exported from a Communique archive"
        + (f" (sources: {', '.join(sources)})" if sources else "")
        + (f", fetched since {since.isoformat()}" if since else "")
    )
    with tempfile.TemporaryDirectory(prefix="communique-wacz-") as work:
        # Pages before the WARC: a crawl writing meanwhile can only add records no page
        # names, never a page without its record.
        pages_path = Path(work) / "pages.jsonl"
        pages = _write_pages(pages_path, page_rows(db_path, sources, since), title)
        warc_path = Path(work) / f"{out_path.name.removesuffix('.wacz')}.warc.gz"
        result = export_warc(db_path, warc_path, sources, since=since)
        # A hidden name beside the target, renamed into place: never half a WACZ.
        tmp = out_path.parent / f".{out_path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            args = ["create", "-o", str(tmp), "--pages", str(pages_path), "--copy-pages"]
            _run_wacz_create([*args, "--title", title, "--desc", description, str(warc_path)])
            with tmp.open("rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, out_path)
        finally:
            tmp.unlink(missing_ok=True)
    fsync_dir(out_path.parent)
    return WaczExportResult(out_path, result.captures, pages, out_path.stat().st_size)
