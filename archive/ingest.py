"""The one way into the archive: a fetched page (or a fetch that failed) → cleaned → stored.

Every way a page arrives — a crawl on this machine (`crawler/pipelines.py`), `warc import`,
`communique add` (a crawl of the links), `reextract`, and results other crawl machines push
through Redis — opens a `Session` and hands each arrival to `ingest()`. Here, and only
here: the archive's write lock is taken, a page's identity is decided, and every failure
becomes a `crawl_errors` row. Nothing else calls the store's write methods.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from archive import health, statuses
from archive.clean import clean_page
from archive.cleaned import Cleaned, Hints, SourceLike, hints_for
from archive.fetched import INDEX, Fetched, FetchFailed, utc_now
from archive.identity import in_domains
from archive.lock import ArchiveBusy, archive_lock
from archive.store import Archive, CrawlSummary, HistorySettings

if TYPE_CHECKING:
    from archive.links.features import Features
    from archive.links.languages import Written

__all__ = [
    "ArchiveBusy",
    "IngestSettings",
    "Recleaned",
    "Session",
    "apply_links",
    "cleaning_failed",
    "exclusive",
    "forget_language_links",
    "ingest",
    "link_across_languages",
    "needs_cleaning",
]


@dataclass(frozen=True)
class IngestSettings:
    """What the archive needs to know to take pages in: history rules, WeChat's hosts."""

    history: HistorySettings
    # Hosts whose pages may claim a WeChat identity (the config's `crawl.wechat_hosts`).
    wechat_hosts: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Any) -> IngestSettings:
        """From a `communique.config.Config` (passed in: the archive never imports it)."""
        return cls(
            history=HistorySettings.from_config(config.archive),
            wechat_hosts=tuple(config.crawl.wechat_hosts),
        )


@dataclass(frozen=True)
class Recleaned:
    """A stored capture cleaned again by `reextract`: its statement may get a new version."""

    source_id: str
    statement_id: str
    capture_id: int


Arrival = Fetched | FetchFailed | Recleaned


def exclusive(db_path: Path | str) -> AbstractContextManager[None]:
    """Hold the archive's write lock, or raise ArchiveBusy at once if another process does.

    Sessions take it themselves; a run that opens several (a crawl of many sources, side
    by side in one process) takes it first, so it fails before fetching anything.
    """
    return archive_lock(Path(db_path))


class Session:
    """One writer's time with the archive: holds its lock and, for a source's crawl or
    import, the crawl row every page is recorded under.

    `with Session(db, settings, source) as session:` takes the lock (ArchiveBusy at once
    if another process has it), records the source and starts a crawl; leaving the block
    finishes the crawl (unless `finish` was called) and judges the source's health.
    Without a source (reextract), only the lock and the archive.
    """

    def __init__(
        self,
        db_path: Path | str,
        settings: IngestSettings,
        source: SourceLike | None = None,
        *,
        link_later: bool = False,
    ) -> None:
        self.db_path = Path(db_path)
        self.settings = settings
        self.source = source
        # Statements queued for the linker beside the writer (archive/linker.py) rather
        # than linked across languages as they are stored.
        self.link_later = link_later
        self.source_id: str | None = getattr(source, "id", None)
        self.hints: Hints | None = hints_for(source) if source is not None else None
        self.crawl_id = 0
        self.archive: Archive | None = None
        self.summary: CrawlSummary | None = None
        self.problem: health.Problem | None = None
        self._lock: Any = None

    def __enter__(self) -> Self:
        self._lock = exclusive(self.db_path)
        self._lock.__enter__()
        try:
            self.archive = Archive(self.db_path, self.settings.history, self.link_later)
            if self.source is not None:
                self.archive.sync_sources([self.source.model_dump()])  # type: ignore[attr-defined]
                self.crawl_id = self.archive.start_crawl(self.source_id or "")
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if self.source is not None and self.summary is None and self.archive is not None:
                self.finish("finished" if kind is None else f"failed: {kind.__name__}")
        finally:
            self._close()

    def _close(self) -> None:
        if self.archive is not None:
            self.archive.close()
            self.archive = None
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    @property
    def store(self) -> Archive:
        if self.archive is None:
            raise RuntimeError("the ingest session is not open")
        return self.archive

    def batch(self) -> AbstractContextManager[Any]:
        """Arrivals ingested in the block are committed together, in one transaction: a
        writer taking many results at a time pays for one commit, not one each."""
        return self.store.transaction()

    def finish(self, reason: str, links_found: int | None = None) -> CrawlSummary:
        """Close the crawl with its counts and judge the source's health (archive.health)."""
        self.summary = self.store.finish_crawl(self.crawl_id, reason, links_found)
        problems = health.verdict(self.store.db, self.summary.source_id)
        self.store.set_health(self.summary.source_id, problems, utc_now())
        if problems:
            self.problem = health.Problem(self.summary.source_id, self.crawl_id, problems)
        return self.summary


def needs_cleaning(session: Session, item: Arrival) -> bool:
    """Whether `ingest` would clean this page: not for index pages, error answers, and a
    known statement seen again unchanged (a 304, or the very body last seen). Callers that
    clean in worker processes ask first, so that unchanged pages cost no cleaning."""
    if not isinstance(item, Fetched) or item.role == INDEX:
        return False
    if item.http_status >= 400 or item.http_status == 304:
        return False
    return session.store.sighting(item) is None


def cleaning_failed(url: str, error: BaseException) -> Cleaned:
    """What a page whose cleaning raised (or whose worker died) is recorded as."""
    return Cleaned(
        status=statuses.STATUS_CLEAN_FAILED,
        url=url,
        reason=f"cleaning failed: {type(error).__name__}: {error}",
    )


def ingest(
    session: Session,
    item: Arrival,
    cleaned: Cleaned | BaseException | None = None,
    signature: bytes | None = None,
    features: Features | None = None,
    *,
    delivery: str | None = None,
) -> str:
    """Record one arrival; returns what became of it (archive.statuses: new, changed, …).

    `cleaned` is the page's cleaning when the caller already ran it (in a worker process,
    or on another machine): the result, or the exception it raised. Without it, a page
    that needs cleaning is cleaned here. `signature` (the text's MinHash) and `features`
    (its cross-language features) are given when computed with it
    (`archive.links.prepared`). `delivery` is the id of a result another machine
    delivered: recorded with the arrival in one transaction, so that the same result
    delivered again is not recorded twice (statuses.DELIVERED_BEFORE).
    """
    if delivery is None:
        return _ingest(session, item, cleaned, signature, features)
    store = session.store
    with store.transaction():
        if store.delivered(delivery):
            return statuses.DELIVERED_BEFORE
        outcome = _ingest(session, item, cleaned, signature, features)
        store.record_delivery(delivery, session.crawl_id)
    return outcome


def _ingest(
    session: Session,
    item: Arrival,
    cleaned: Cleaned | BaseException | None,
    signature: bytes | None,
    features: Features | None,
) -> str:
    store = session.store
    if session.source_id is not None and item.source_id != session.source_id:
        # Nothing from one source may be written as another's.
        raise ValueError(
            f"{item.source_id}: a page of this source offered to a session of {session.source_id}"
        )
    if isinstance(item, FetchFailed):
        store.record_error(
            session.crawl_id, item.source_id, item.url, item.reason, item.http_status, item.role
        )
        return statuses.ERROR
    if isinstance(item, Recleaned):
        if not isinstance(cleaned, Cleaned):
            return statuses.NOT_STATEMENT
        return store.apply_reextraction(
            item.statement_id, item.capture_id, _earned(session, cleaned)
        )
    if item.role == INDEX:
        store.record_index_page(session.crawl_id, item)
        return statuses.INDEX
    outcome = store.record_if_unchanged(session.crawl_id, item)
    if outcome is not None:
        return outcome
    if item.http_status == 304:
        reason = "not modified, but not in the archive"
        store.record_error(session.crawl_id, item.source_id, item.url, reason, 304)
        return statuses.ERROR
    if item.http_status >= 400:
        result = Cleaned(status=statuses.STATUS_HTTP_ERROR, url=item.url)
    elif isinstance(cleaned, BaseException):
        result = cleaning_failed(item.url, cleaned)
    elif cleaned is None:
        try:
            result = clean_page(item.body, item.url, item.content_type, session.hints)
        except Exception as error:  # a page must never stop the crawl: recorded instead
            result = cleaning_failed(item.url, error)
    else:
        result = cleaned
    return store.record_page(
        session.crawl_id, item, _earned(session, result, item), signature, features
    )


def link_across_languages(session: Session, statements: list[tuple[str, Features | None]]) -> int:
    """Link statements already in the archive across languages (`communique link`), each
    with its features when computed already; returns how many were linked now. One
    transaction for the lot."""
    return session.store.link_across_languages(statements)


def apply_links(session: Session, linked: list[Written]) -> None:
    """Write what the linker beside a writer found (archive/linker.py): its index as the
    linker wrote it, the `related` rows, the statements off the queue. In the session's
    open transaction, or one of its own."""
    session.store.apply_links(linked)


def forget_language_links(session: Session) -> None:
    """Forget every cross-language link, to link the archive anew (`communique link --rebuild`)."""
    session.store.forget_language_links()


def _earned(session: Session, cleaned: Cleaned, page: Fetched | None = None) -> Cleaned:
    """The cleaning with only the identity its page earned, never one its markup claims.

    A WeChat identity (`wechat:<biz>/<mid>/<idx>`, and the account fields with it) holds
    only for a page whose final URL is on a WeChat host; anywhere else WeChat markup is
    just text on that host's page, stored under its own URL and source.
    """
    url = page.url if page is not None else cleaned.url
    if (cleaned.identity or cleaned.wechat) and not in_domains(url, session.settings.wechat_hosts):
        return dataclasses.replace(cleaned, identity=None, wechat=None)
    return cleaned
