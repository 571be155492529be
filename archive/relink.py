"""`communique link`: link the statements already in an archive across languages.

New statements are linked as a crawl stores them; this links an archive made before
cross-language links existed, finishes a run that was cut short (linking is idempotent:
what is linked stays), or with `rebuild` forgets every link and links the whole archive
again in date order. Written in batches, one transaction each, through `archive.ingest`
under the archive's lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from archive.ingest import (
    IngestSettings,
    Session,
    forget_language_links,
    link_across_languages,
)
from archive.links import languages
from archive.progress import JobProgress
from archive.schema import RELATED, REPORT, TRANSLATION
from archive.store import HistorySettings
from archive.workers import map_in_workers

if TYPE_CHECKING:
    from archive.links.features import Features

BATCH = 200  # statements per transaction: a cut-short run loses at most this many
# From this many statements, their features (the costly part: words through CC-CEDICT)
# are computed in a pool of worker processes while this process links; below, starting
# the pool would cost more than it saves.
WORKERS_FROM = 400


# Up to this many linked statements an archive is young: its term counts are too few to
# weigh words by, and a run that at least doubled it links it all again at its end. The
# cost grows with the archive (10-15 s at this size) while the gain shrinks: from about a
# thousand statements the counts hardly move, and a larger archive is linked as it came.
# "Doubled" counts the run's start in Chinese and English statements, linked or not.
YOUNG_ARCHIVE = 1_000


@dataclass(frozen=True)
class LinkResult:
    """What `link_archive` did, and the links the archive holds afterwards."""

    linked: int  # statements linked now
    translations: int  # original → translation links in the archive
    reports: int  # original → report links


def _features(language: str, text: str) -> Features | None:
    from archive.links.features import features

    return features(language, text)


def link_archive(
    db_path: Path,
    since: str | None = None,
    rebuild: bool = False,
    progress: JobProgress | None = None,
    settings: IngestSettings | None = None,
) -> LinkResult:
    """Link the archive's statements not linked yet (those dated on or after `since`,
    YYYY-MM-DD, if given), or with `rebuild` all of them anew. Holds the archive's lock
    throughout (ArchiveBusy if a crawl is writing)."""
    if since and rebuild:
        raise ValueError("a rebuild links every statement: it cannot be limited by a date")
    settings = settings or IngestSettings(HistorySettings(), ())
    with Session(db_path, settings) as session:
        if rebuild:
            forget_language_links(session)
        db = session.store.db
        targets = languages.unlinked(db, since)
        if progress is not None:
            progress.set_total(len(targets))

        def jobs() -> Iterator[tuple[str, tuple[Any, ...] | None]]:
            for statement_id in targets:
                row = db.execute(
                    "select language, text from statements where id = ?", [statement_id]
                ).fetchone()
                yield statement_id, (row[0], row[1]) if row else None

        computed: Iterator[tuple[str, Features | BaseException | None]]
        if len(targets) >= WORKERS_FROM:
            computed = map_in_workers(_features, jobs(), os.cpu_count() or 1)
        else:
            computed = ((sid, None) for sid in targets)  # computed as each is linked
        linked = 0
        batch: list[tuple[str, Features | None]] = []
        for statement_id, found in computed:
            # A worker that failed leaves the features to be computed while linking.
            batch.append((statement_id, None if isinstance(found, BaseException) else found))
            if len(batch) >= BATCH:
                linked += link_across_languages(session, batch)
                if progress is not None:
                    progress.advance(len(batch))
                batch = []
        if batch:
            linked += link_across_languages(session, batch)
            if progress is not None:
                progress.advance(len(batch))
        counts = dict(
            db.execute(
                f"select relation, count(*) from {RELATED} where relation in (?, ?) "
                "group by relation",
                [TRANSLATION, REPORT],
            ).fetchall()
        )
    return LinkResult(linked, counts.get(TRANSLATION, 0), counts.get(REPORT, 0))


def linked_count(db_path: Path) -> int:
    """How many statements of the archive are linked (in the linker's index)."""
    db = sqlite_utils.Database(db_path)
    try:
        return languages.indexed_count(db)
    finally:
        db.close()


def linkable_count(db_path: Path) -> int:
    """How many statements of the archive are in a language the linker takes, linked or
    not: what a run starts from (`relink_if_outgrown`)."""
    db = sqlite_utils.Database(db_path)
    try:
        return languages.linkable_count(db)
    finally:
        db.close()


def relink_if_outgrown(db_path: Path, before: int, live: bool = False) -> LinkResult | None:
    """After a run that at least doubled a young archive, link it all again (as
    `communique link --rebuild`); None when the run did not. `before`: the archive's
    `linkable_count` when the run started. Statements left unlinked by an older release
    count there, so a crawl into a large archive never linked does not link it all at its
    end (`communique link` does that, when the operator asks).

    A crawl links each statement as it arrives, weighing words by how rare they are in the
    archive so far: into an empty or small archive, the first statements are weighed with
    counts of a handful and the run's links depend on the order pages came in. Linked again
    in date order with the run's counts, they are the links `link --rebuild` gives.
    `live`: a progress line redrawn in place (a terminal), else a line a minute.
    """
    now = linked_count(db_path)
    if now > YOUNG_ARCHIVE or now < max(2 * before, 1):
        return None
    with JobProgress("linking again", "statements", live=live) as counter:
        return link_archive(db_path, rebuild=True, progress=counter)
