"""Re-run the cleaner over the stored raw bodies of statements, recording real text changes."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.clean import Hints, clean_page
from archive.ingest import IngestSettings, Recleaned, Session, ingest
from archive.progress import JobProgress
from archive.statuses import CHANGED, STATEMENT_OUTCOMES, UNCHANGED, sql_list
from archive.store import Archive
from archive.workers import map_in_workers


@dataclass(frozen=True)
class ReextractResult:
    """What a re-extraction did, in statements."""

    statements: int  # statements looked at
    changed: int  # got a new version
    unchanged: int  # the cleaner gives the text they already have
    # No stored body to clean, the cleaner raised, or it finds no statement on the page
    # any more (the current text is kept).
    failed: int


@dataclass(frozen=True)
class _Target:
    statement_id: str
    source_id: str
    capture_id: int | None
    url: str | None
    content_type: str | None
    body_sha256: str | None


def _targets(archive: Archive, source_ids: list[str]) -> list[_Target]:
    """Each statement with the latest capture its current text came from (if it has a body)."""
    where = ""
    if source_ids:
        where = f"where s.source_id in ({', '.join('?' for _ in source_ids)})"
    rows = archive.db.execute(
        "select s.id, s.source_id, c.id, c.url, c.content_type, c.body_sha256 "
        "from statements s left join captures c on c.id = ("
        "  select c2.id from captures c2 where c2.statement_id = s.id"
        f"  and c2.outcome in {sql_list(STATEMENT_OUTCOMES)} and c2.body_sha256 is not null"
        "  order by c2.id desc limit 1"
        f") {where} order by s.source_id, s.id",
        source_ids,
    ).fetchall()
    return [_Target(*row) for row in rows]


def _fallback_hints(archive: Archive) -> dict[str, Hints]:
    """For sources no longer configured: their issuer and language from the archive."""
    rows = archive.db.execute("select id, issuer, language from sources").fetchall()
    return {sid: Hints(issuer=issuer, language=language) for sid, issuer, language in rows}


def reextract(
    db_path: Path,
    settings: IngestSettings,
    source_ids: list[str],
    hints: dict[str, Hints],
    progress: JobProgress | None = None,
) -> ReextractResult:
    """Clean every statement's stored body again (of the named sources, or all).

    Each statement's latest capture with a body is cleaned with the capture's URL and
    content type and its source's hints (from `hints`, else the issuer and language the
    archive has for a source no longer configured), in a process pool; the results are
    written from this process, one transaction per statement, and a new version is made
    only where the text or title really changed. Holds the archive's lock throughout
    (ArchiveBusy if a crawl is writing).
    """
    with Session(db_path, settings) as session:
        archive = session.store
        targets = _targets(archive, source_ids)
        fallback = _fallback_hints(archive)
        if progress is not None:
            progress.set_total(len(targets))

        def jobs() -> Iterator[tuple[_Target, tuple[Any, ...] | None]]:
            for target in targets:
                row = None
                if target.body_sha256 is not None:
                    row = archive.db.execute(
                        "select body_gz from bodies where sha256 = ?", [target.body_sha256]
                    ).fetchone()
                if row is None:
                    yield target, None
                    continue
                source_hints = hints.get(target.source_id) or fallback.get(target.source_id)
                body = gzip.decompress(row[0])
                yield target, (body, target.url, target.content_type, source_hints)

        changed = unchanged = failed = 0
        workers = min(os.cpu_count() or 1, max(1, len(targets)))
        for target, cleaned in map_in_workers(clean_page, jobs(), workers):
            if progress is not None:
                progress.advance()
            if cleaned is None or isinstance(cleaned, BaseException):
                failed += 1
                continue
            assert target.capture_id is not None
            item = Recleaned(target.source_id, target.statement_id, target.capture_id)
            outcome = ingest(session, item, cleaned)
            if outcome == CHANGED:
                changed += 1
            elif outcome == UNCHANGED:
                unchanged += 1
            else:
                failed += 1
        return ReextractResult(len(targets), changed, unchanged, failed)
