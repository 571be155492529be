"""The archive's rows: fetched page + cleaned result → statements, versions, captures.

The only module that writes the database, and only `archive.ingest` calls its write
methods (`WRITE_METHODS`). Every write method is one transaction, so a crash or kill
between two calls leaves every earlier page fully recorded and nothing half-written.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive import diff, schema, search
from archive.cleaned import Cleaned
from archive.fetched import Fetched, header, utc_now
from archive.identity import canonical_url, statement_id, text_fingerprint
from archive.links import languages, reprints
from archive.recheck import RecheckSchedule, next_check
from archive.statuses import (
    CHANGED,
    DEFINITIVE_HTTP,
    ERROR,
    GONE_OUTCOME,
    GONE_STATUSES,
    INDEX,
    LIVE,
    NEW,
    NOT_STATEMENT,
    STATEMENT_OUTCOMES,
    STATUS_HTTP_ERROR,
    STATUS_OK,
    UNCHANGED,
    sql_list,
)

if TYPE_CHECKING:
    from archive.links.features import Features

# How a URL belongs to its statement (`statement_urls.relation`). Only a fetch of one of a
# statement's own URLs may give it a new version or change its status; a copy (the same
# text found at another URL of the source) is a sighting, and if the copy later changes
# it becomes a statement of its own, never a version of the original.
OWN = "own"
COPY = "copy"

# The methods of Archive that write; archive.ingest is the only caller of these (a test
# walks the code to hold that).
WRITE_METHODS = frozenset(
    (
        "sync_sources",
        "start_crawl",
        "finish_crawl",
        "set_health",
        "record_error",
        "record_index_page",
        "record_if_unchanged",
        "record_page",
        "apply_reextraction",
        "record_delivery",
        "link_across_languages",
        "apply_links",
        "forget_language_links",
    )
)


@dataclass(frozen=True)
class CrawlSummary:
    """Counts for one crawl of one source, as printed after a crawl."""

    crawl_id: int
    source_id: str
    status: str
    pages_fetched: int
    statements_new: int
    statements_changed: int
    statements_unchanged: int
    errors: int


@dataclass(frozen=True)
class HistorySettings:
    """How the archive judges edits, reprints and rechecks (the `archive:` config block)."""

    reprint_threshold: float = 0.8
    recheck: RecheckSchedule = field(default_factory=RecheckSchedule)

    @classmethod
    def from_config(cls, settings: Any) -> HistorySettings:
        """From the config's `archive:` block (`communique.config.ArchiveSettings`)."""
        schedule = RecheckSchedule(
            steps=settings.recheck_seconds, later=settings.recheck_after_seconds
        )
        return cls(reprint_threshold=settings.reprint_threshold, recheck=schedule)


@dataclass(frozen=True)
class Recheck:
    """A known URL to fetch again, with what makes the request conditional."""

    url: str
    etag: str | None
    last_modified: str | None
    body_sha256: str | None = None


@dataclass
class CrawlPlan:
    """What an incremental crawl of one source needs to know from the archive."""

    rechecks: list[Recheck] = field(default_factory=list)  # known statements now due
    fresh: set[str] = field(default_factory=set)  # known statements not due yet
    entry_pages: dict[str, Recheck] = field(default_factory=dict)  # last good entry pages


_SQL_STATEMENT_OUTCOMES = sql_list(STATEMENT_OUTCOMES)


def _gone_status(fetched: Fetched, cleaned: Cleaned) -> tuple[str, str] | None:
    """(status, reason) when the page definitively says the statement is gone."""
    if fetched.http_status in DEFINITIVE_HTTP:
        return DEFINITIVE_HTTP[fetched.http_status], f"HTTP {fetched.http_status}"
    if fetched.http_status < 400 and cleaned.status in GONE_STATUSES:
        return cleaned.status, cleaned.reason or cleaned.status
    return None


def _year(published: str | None) -> int | None:
    if published and len(published) >= 4 and published[:4].isdigit():
        return int(published[:4])
    return None


class Archive:
    """An archive file opened for writing."""

    def __init__(
        self, path: str | Path, history: HistorySettings | None = None, link_later: bool = False
    ) -> None:
        self.path = Path(path)
        self.history = history or HistorySettings()
        self.db = schema.open_archive(str(path))
        schema.cache_for_writing(self.db.conn)
        self._linked_languages = False  # the cross-language linker holds counts to write
        # With link_later, statements are queued for the linker beside the writer
        # (archive/linker.py) instead of linked as they are stored: those queued in the open
        # transaction, with when they were queued and their features, and those committed,
        # for the writer to hand on as (id, when, features).
        self.link_later = link_later
        self._to_link: dict[str, tuple[str, Features | None]] = {}
        self.queued_for_linking: list[tuple[str, str, Features | None]] = []
        # Statements written in the open transaction, re-indexed for search before it commits.
        self._unindexed: dict[str, None] = {}
        self._depth = 0  # transactions of this store open (the first is the outermost)

    def close(self) -> None:
        if self._linked_languages:
            with self._atomic():
                languages.flush(self.db)
        self.db.close()

    def transaction(self) -> AbstractContextManager[Any]:
        """Several write methods as one transaction (each becomes a savepoint in it)."""
        return self._atomic()

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """A transaction, or a savepoint in the one open. The statements written in it are
        re-indexed for search once, just before the commit: FTS5 writes what it holds in
        memory out as a segment at every savepoint, so indexing each statement as it is
        written would cost a segment per statement (and their merging). A savepoint rolled
        back takes its statements off the list again: their writes are undone, and a new
        statement's id would cost a scan of the index to find nothing to remove."""
        outermost = self._depth == 0  # the store's outermost (a caller may hold another)
        pending, to_link = dict(self._unindexed), dict(self._to_link)
        self._depth += 1
        try:
            with self.db.atomic():
                yield
                if outermost and self._unindexed:
                    search.reindex(self.db, list(self._unindexed))
        except BaseException:
            self._unindexed, self._to_link = pending, to_link
            raise
        else:
            if outermost:
                self.queued_for_linking.extend(
                    (sid, at, found) for sid, (at, found) in self._to_link.items()
                )
        finally:
            self._depth -= 1
            if outermost:
                self._unindexed.clear()
                self._to_link.clear()

    # -- sources and crawls -------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Mapping[str, Any]]) -> None:
        """Insert or refresh the configured sources (removed ones stay: their statements do)."""
        now = utc_now()
        with self._atomic():
            for source in sources:
                row = {
                    "id": source["id"],
                    "name": source["name"],
                    "issuer": source["issuer"],
                    "kind": source["kind"],
                    "language": source.get("language"),
                    "start_urls": json.dumps(list(source.get("start_urls") or [])),
                    "allowed_domains": json.dumps(list(source.get("allowed_domains") or [])),
                }
                table = self.db.table(schema.SOURCES)
                if table.count_where("id = ?", [row["id"]]):
                    table.update(row["id"], row)
                else:
                    table.insert({**row, "added": now})

    def start_crawl(self, source_id: str) -> int:
        with self._atomic():
            # The archive lock means no other crawl runs: one still "running" was killed.
            self.db.execute(
                "update crawls set status = 'interrupted', finish_reason = 'killed or crashed' "
                "where source_id = ? and status = 'running'",
                [source_id],
            )
            crawl_id = self._insert(
                schema.CRAWLS, {"source_id": source_id, "started": utc_now(), "status": "running"}
            )
            self.db.table(schema.SOURCES).update(source_id, {"last_crawl_id": crawl_id})
        return crawl_id

    def finish_crawl(
        self, crawl_id: int, finish_reason: str, links_found: int | None = None
    ) -> CrawlSummary:
        """Close a crawl row with counts derived from what was recorded under it."""
        counts = dict(
            self.db.execute(
                "select outcome, count(*) from captures where crawl_id = ? group by outcome",
                [crawl_id],
            ).fetchall()
        )
        with self._atomic():
            self.db.table(schema.CRAWLS).update(
                crawl_id,
                {
                    "finished": utc_now(),
                    "status": "finished" if finish_reason == "finished" else "failed",
                    "finish_reason": finish_reason,
                    "pages_fetched": sum(counts.values()),
                    "statements_new": counts.get(NEW, 0),
                    "statements_changed": counts.get(CHANGED, 0),
                    "statements_unchanged": counts.get(UNCHANGED, 0),
                    "errors": self.db.table(schema.CRAWL_ERRORS).count_where(
                        "crawl_id = ?", [crawl_id]
                    ),
                    "links_found": links_found,
                },
            )
        return self.crawl_summary(crawl_id)

    def crawl_summary(self, crawl_id: int) -> CrawlSummary:
        row = self.db.table(schema.CRAWLS).get(crawl_id)
        return CrawlSummary(
            crawl_id=crawl_id,
            source_id=row["source_id"],
            status=row["status"],
            pages_fetched=row["pages_fetched"] or 0,
            statements_new=row["statements_new"] or 0,
            statements_changed=row["statements_changed"] or 0,
            statements_unchanged=row["statements_unchanged"] or 0,
            errors=row["errors"] or 0,
        )

    def record_error(
        self,
        crawl_id: int,
        source_id: str,
        url: str,
        reason: str,
        http_status: int | None = None,
        role: str | None = None,
    ) -> None:
        """A URL that gave no page (DNS, refused, timeout, robots.txt, bad feed, …); `role`
        says whether it was an entry page (index) or a statement's."""
        with self._atomic():
            self._insert_error(crawl_id, source_id, url, reason, http_status, role)

    def delivered(self, delivery: str) -> bool:
        """Whether a result with this id (another machine's, through Redis) was recorded."""
        found = self.db.execute(f"select 1 from {schema.DELIVERIES} where id = ?", [delivery])
        return found.fetchone() is not None

    def record_delivery(self, delivery: str, crawl_id: int) -> None:
        with self._atomic():
            self._insert(schema.DELIVERIES, {"id": delivery, "crawl_id": crawl_id, "at": utc_now()})

    def set_health(self, source_id: str, problems: str | None, checked: str) -> None:
        """A source's health as judged after a crawl (archive.health): its problems, if any."""
        with self._atomic():
            self._update(
                schema.SOURCES,
                source_id,
                {
                    "health": "unhealthy" if problems else "ok",
                    "health_reason": problems,
                    "health_checked": checked,
                },
            )

    # -- what to fetch ------------------------------------------------------------------

    def crawl_plan(self, source_id: str, now: str | None = None) -> CrawlPlan:
        """Known URLs of a source: statements due for a recheck or not, and entry pages as
        last seen in a crawl that finished (an interrupted one may not have followed them)."""
        now = now or utc_now()
        plan = CrawlPlan()
        rows = self.db.execute(
            "select u.url, s.next_check, "
            "(select c.headers from captures c where c.canonical_url = u.url "
            " and c.http_status = 200 order by c.id desc limit 1) "
            "from statement_urls u join statements s on s.id = u.statement_id "
            "where u.source_id = ?",
            [source_id],
        ).fetchall()
        for url, due_at, headers_json in rows:
            if due_at is None or due_at <= now:
                headers = json.loads(headers_json) if headers_json else {}
                plan.rechecks.append(
                    Recheck(url, header(headers, "etag"), header(headers, "last-modified"))
                )
            else:
                plan.fresh.add(url)
        entries = self.db.execute(
            "select c.canonical_url, c.headers, c.body_sha256 from captures c "
            "join crawls k on k.id = c.crawl_id "
            "where c.source_id = ? and c.outcome = 'index' and c.http_status = 200 "
            "and k.status = 'finished' order by c.id",
            [source_id],
        ).fetchall()
        for url, headers_json, digest in entries:  # later rows win
            headers = json.loads(headers_json) if headers_json else {}
            plan.entry_pages[url] = Recheck(
                url, header(headers, "etag"), header(headers, "last-modified"), digest
            )
        return plan

    def last_crawls(self) -> dict[str, datetime]:
        """When each source last finished a crawl."""
        rows = self.db.execute(
            "select source_id, max(finished) from crawls where status = 'finished' "
            "group by source_id"
        ).fetchall()
        return {source: datetime.fromisoformat(at) for source, at in rows if at}

    def rechecks_due(self, now: str | None = None) -> dict[str, int]:
        """How many statements of each source are due for a recheck."""
        rows = self.db.execute(
            "select source_id, count(*) from statements where next_check <= ? group by source_id",
            [now or utc_now()],
        ).fetchall()
        return dict(rows)

    # -- pages --------------------------------------------------------------------------

    def record_index_page(self, crawl_id: int, fetched: Fetched) -> None:
        """A feed, sitemap or listing page: its raw capture is kept, nothing is extracted."""
        with self._atomic():
            self._insert_capture(crawl_id, fetched, status=INDEX, outcome=INDEX)

    def sighting(self, fetched: Fetched) -> dict[str, Any] | None:
        """The known statement this page shows again unchanged — a 304, or the very body
        last seen at its URL — so it needs no cleaning; None otherwise. Only reads."""
        known = self._find_by_url(canonical_url(fetched.url))
        if known is None:
            return None
        if fetched.http_status == 304:
            return known
        if fetched.http_status != 200 or known["status"] != LIVE:
            return None  # a statement coming back goes the full way, recording its return
        last = self.db.execute(
            "select body_sha256 from captures where canonical_url = ? and outcome in "
            f"{_SQL_STATEMENT_OUTCOMES} order by id desc limit 1",
            [canonical_url(fetched.url)],
        ).fetchone()
        if last is None or last[0] != hashlib.sha256(fetched.body).hexdigest():
            return None
        return known

    def record_if_unchanged(self, crawl_id: int, fetched: Fetched) -> str | None:
        """Record a sighting (see `sighting`) without cleaning the page again; None when
        the page needs cleaning."""
        known = self.sighting(fetched)
        if known is None:
            return None
        canonical = canonical_url(fetched.url)
        with self._atomic():
            self._insert_capture(
                crawl_id,
                fetched,
                status=STATUS_OK,
                outcome=UNCHANGED,
                statement_id=known["id"],
                canonical=canonical,
                reason="not modified" if fetched.http_status == 304 else "same body",
            )
            self._seen_again(known, fetched.fetched_at, canonical, self._relation(canonical))
        return UNCHANGED

    def record_page(
        self,
        crawl_id: int,
        fetched: Fetched,
        cleaned: Cleaned,
        signature: bytes | None = None,
        features: Features | None = None,
    ) -> str:
        """Record one statement page; returns its outcome (new, changed, unchanged, …).

        `signature` is the text's MinHash, `features` its cross-language features, when a
        worker already computed them.
        """
        with self._atomic():
            if fetched.http_status < 400 and cleaned.status == STATUS_OK and cleaned.text:
                return self._record_statement(crawl_id, fetched, cleaned, signature, features)
            canonical = canonical_url(fetched.url)
            gone = _gone_status(fetched, cleaned)
            known = self._find_own(fetched, cleaned.identity)
            reason = (
                f"HTTP {fetched.http_status}"
                if fetched.http_status >= 400
                else cleaned.reason or cleaned.status
            )
            outcome = (
                GONE_OUTCOME
                if gone and known
                else ERROR
                if fetched.http_status >= 400
                else NOT_STATEMENT
            )
            capture_id = self._insert_capture(
                crawl_id,
                fetched,
                status=STATUS_HTTP_ERROR if fetched.http_status >= 400 else cleaned.status,
                outcome=outcome,
                reason=reason,
                encoding=cleaned.encoding,
                statement_id=known["id"] if known else None,
                canonical=canonical,
            )
            self._insert_error(
                crawl_id, fetched.source_id, fetched.url, reason, fetched.http_status
            )
            if gone and known:
                self._note_gone(known, capture_id, gone[0], gone[1], fetched.fetched_at)
            return outcome

    def apply_reextraction(self, statement_id: str, capture_id: int, cleaned: Cleaned) -> str:
        """Apply a fresh cleaning of a stored capture: a new version only if the text changed."""
        with self._atomic():
            found = self._statement_where("id = ?", [statement_id])
            if found is None or cleaned.status != STATUS_OK or not cleaned.text:
                return NOT_STATEMENT
            fingerprint = text_fingerprint(cleaned.text)
            if found["text_hash"] == fingerprint and found["title"] == cleaned.title:
                return UNCHANGED
            # The text comes from a capture already counted: the statement was not seen again.
            seen = found["last_seen"] or utc_now()
            self._write_version(found, cleaned, fingerprint, seen, capture_id, origin="reextract")
            # Linked if it was not yet (say, the cleaner now finds its date).
            self._link_languages(found["id"], cleaned, found["first_seen"], seen, None)
            return CHANGED

    def link_across_languages(
        self, statements: list[tuple[str, Features | None]], now: str | None = None
    ) -> int:
        """Link statements already in the archive to their translations and reports (or
        originals) in the other language, each with its features when computed already;
        statements linked before are left as they are. Returns how many were linked now."""
        now = now or utc_now()
        done = 0
        with self._atomic():
            for statement_id, features in statements:
                found = self._statement_where("id = ?", [statement_id])
                if found is None:
                    continue
                statement = languages.doc(
                    found["id"],
                    found["language"],
                    found["title"],
                    found["text"],
                    found["published"],
                    found["first_seen"],
                )
                languages.link(self.db, statement, features, now)
                done += 1
            self._linked_languages = True
        return done

    def apply_links(self, linked: Iterable[languages.Written]) -> None:
        """Write what the linker beside a writer found (archive/linker.py): its index, the
        `related` rows, the statements off the queue; in the open transaction, or one of
        its own."""
        with self._atomic():
            languages.apply(self.db, linked)

    def forget_language_links(self) -> None:
        """Forget every cross-language link and the linker's index, to link anew."""
        with self._atomic():
            languages.forget(self.db)

    # -- internals ----------------------------------------------------------------------

    def _record_statement(
        self,
        crawl_id: int,
        fetched: Fetched,
        cleaned: Cleaned,
        signature: bytes | None,
        features: Features | None,
    ) -> str:
        assert cleaned.text is not None
        canonical = canonical_url(fetched.url)
        fingerprint = text_fingerprint(cleaned.text)
        now = fetched.fetched_at
        found = self._find_own(fetched, cleaned.identity)
        # A retitled page at a statement's own URL is an edit; at another URL, the same
        # text is a copy of the statement whatever its title there.
        relation = OWN if found is not None else COPY
        title_matters = found is not None
        found = found or self._find_by_text(fetched.source_id, fingerprint)
        if found is None:
            relation = OWN  # a new statement: the URL is its own
        if found is None:
            sid = statement_id(fetched.source_id, cleaned.identity or canonical)
            outcome = NEW
        else:
            sid = found["id"]
            same = found["text_hash"] == fingerprint and (
                not title_matters or found["title"] == cleaned.title
            )
            outcome = UNCHANGED if same else CHANGED
        if found is None:
            self._insert(
                schema.STATEMENTS,
                {
                    "id": sid,
                    "source_id": fetched.source_id,
                    "url": canonical,
                    "identity": cleaned.identity,
                    **self._current(cleaned, fingerprint, now),
                    "status": LIVE,
                    "first_seen": now,
                    "version_count": 0,
                    "capture_count": 0,
                },
            )
            found = self._statement_where("id = ?", [sid])
            assert found is not None
        capture_id = self._insert_capture(
            crawl_id,
            fetched,
            status=cleaned.status,
            outcome=outcome,
            encoding=cleaned.encoding,
            statement_id=sid,
            canonical=canonical,
        )
        if outcome == UNCHANGED:
            self._seen_again(found, now, canonical, relation)
        else:
            self._write_version(found, cleaned, fingerprint, now, capture_id)
            self._seen_again(found, now, canonical, relation)
            self._link_reprints(sid, cleaned.text, now, signature)
            self._link_languages(sid, cleaned, found["first_seen"], now, features)
        if found["status"] != LIVE and relation == OWN:
            self._note_back(found, capture_id, now)
        return outcome

    def _current(self, cleaned: Cleaned, fingerprint: str, now: str) -> dict[str, Any]:
        wechat = cleaned.wechat or {}
        return {
            "wechat_account": wechat.get("account"),
            "wechat_biz": wechat.get("biz"),
            "wechat_mid": wechat.get("mid"),
            "wechat_idx": wechat.get("idx"),
            "wechat_sn": wechat.get("sn"),
            "original_url": wechat.get("msg_source_url") or None,
            "modified": wechat.get("modify_time"),
            "title": cleaned.title,
            "issuer": cleaned.issuer,
            "published": cleaned.published,
            "year": _year(cleaned.published),
            "language": cleaned.language,
            "text": cleaned.text,
            "text_hash": fingerprint,
            "last_seen": now,
        }

    def _write_version(
        self,
        found: dict[str, Any],
        cleaned: Cleaned,
        fingerprint: str,
        now: str,
        capture_id: int,
        origin: str = "crawl",
    ) -> None:
        """Make the cleaned text the statement's current version, keeping the old one."""
        version = (found["version_count"] or 0) + 1
        ops = None
        if version > 1:
            ops = diff.diff_ops(
                diff.version_document(found["title"], found["text"]),
                diff.version_document(cleaned.title, cleaned.text),
            )
        added, removed = diff.summarise(ops) if ops else (None, None)
        self._insert(
            schema.VERSIONS,
            {
                "statement_id": found["id"],
                "version": version,
                "title": cleaned.title,
                "text": cleaned.text,
                "text_hash": fingerprint,
                "first_seen": now,
                "last_seen": now,
                "capture_id": capture_id,
                "diff": diff.to_json(ops) if ops else None,
                "chars_added": added,
                "chars_removed": removed,
                "origin": origin,
            },
        )
        self._update(
            schema.STATEMENTS,
            found["id"],
            {**self._current(cleaned, fingerprint, now), "version_count": version},
        )
        found["version_count"] = version
        self._unindexed[found["id"]] = None  # re-indexed before the commit (_atomic)

    def _seen_again(self, found: dict[str, Any], now: str, canonical: str, relation: str) -> None:
        """A sighting: bump counts and last-seen times, schedule the next recheck; the URL
        is filed under the statement as its own or as a copy (a copy that changed is
        re-filed under the statement it became)."""
        when = datetime.fromisoformat(now) if now else datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        due = next_check(found["published"], found["first_seen"], when, self.history.recheck)
        capture_count = (found["capture_count"] or 0) + 1
        self._update(
            schema.STATEMENTS,
            found["id"],
            {"last_seen": now, "capture_count": capture_count, "next_check": due},
        )
        found["capture_count"] = capture_count
        self.db.execute(
            "update versions set last_seen = ? where statement_id = ? and version = ?",
            [now, found["id"], found["version_count"]],
        )
        self.db.execute(
            "insert into statement_urls (url, statement_id, source_id, first_seen, last_seen, "
            "relation) values (?, ?, ?, ?, ?, ?) on conflict(url) do update set "
            "last_seen = excluded.last_seen, statement_id = excluded.statement_id, "
            "source_id = excluded.source_id, relation = excluded.relation",
            [canonical, found["id"], found["source_id"], now, now, relation],
        )

    def _note_gone(
        self, found: dict[str, Any], capture_id: int, status: str, reason: str, now: str
    ) -> None:
        """Mark a statement gone on the second definitive answer in a row (one can be a fluke)."""
        if found["status"] == status:
            return
        previous = self.db.execute(
            "select outcome, fetched_at from captures where statement_id = ? and id < ? "
            "and outcome != 'index' order by id desc limit 1",
            [found["id"], capture_id],
        ).fetchone()
        if previous is None or previous[0] != GONE_OUTCOME:
            return
        self._update(
            schema.STATEMENTS,
            found["id"],
            {"status": status, "status_reason": reason, "gone_since": previous[1]},
        )
        self._insert(
            schema.STATUS_CHANGES,
            {
                "statement_id": found["id"],
                "status": status,
                "reason": reason,
                "at": now,
                "capture_id": capture_id,
            },
        )

    def _note_back(self, found: dict[str, Any], capture_id: int, now: str) -> None:
        reason = f"back after being {found['status']} since {found['gone_since']}"
        self._update(
            schema.STATEMENTS,
            found["id"],
            {"status": LIVE, "status_reason": None, "gone_since": None},
        )
        self._insert(
            schema.STATUS_CHANGES,
            {
                "statement_id": found["id"],
                "status": LIVE,
                "reason": reason,
                "at": now,
                "capture_id": capture_id,
            },
        )

    def _link_reprints(self, sid: str, text: str, now: str, signature: bytes | None) -> None:
        threshold = self.history.reprint_threshold
        found = reprints.index_statement(self.db, sid, text, threshold, signature)
        for other_id, similarity in found:
            for a, b in ((sid, other_id), (other_id, sid)):
                self.db.execute(
                    "insert into related (statement_id, related_id, similarity, relation, "
                    "found_at) values (?, ?, ?, 'reprint', ?) on conflict do update set "
                    "similarity = excluded.similarity",
                    [a, b, similarity, now],
                )

    def _link_languages(
        self,
        sid: str,
        cleaned: Cleaned,
        first_seen: str | None,
        now: str,
        features: Features | None,
    ) -> None:
        """Its translations and reports, or its original, in the other language (linked
        once: a later version of a statement keeps the links of its first); or, with
        link_later, queued for the linker beside the writer."""
        if self.link_later:
            if languages.linkable(cleaned.language):
                languages.queue(self.db, sid, now)
                # Queued once: the time it keeps is its first (as in xlang_queue).
                self._to_link[sid] = (self._to_link.get(sid, (now, None))[0], features)
            return
        statement = languages.doc(
            sid, cleaned.language, cleaned.title, cleaned.text, cleaned.published, first_seen
        )
        languages.link(self.db, statement, features, now)
        self._linked_languages = True

    def _find_by_identity(self, identity: str | None) -> dict[str, Any] | None:
        if not identity:
            return None
        return self._statement_where("identity = ?", [identity])

    def _find_own(self, fetched: Fetched, identity: str | None) -> dict[str, Any] | None:
        """The statement this page is a fetch of: by its earned identity, or because its
        URL (or the URL the source gave, before redirects) is one of the statement's own."""
        found = self._find_by_identity(identity)
        if found is not None:
            return found
        urls = [canonical_url(fetched.url)]
        if fetched.requested_url:
            urls.append(canonical_url(fetched.requested_url))
        return self._statement_where(
            "id = (select statement_id from statement_urls where url in "
            f"({', '.join('?' for _ in urls)}) and relation = '{OWN}' limit 1)",
            urls,
        )

    def _relation(self, canonical: str) -> str:
        row = self.db.execute(
            "select relation from statement_urls where url = ?", [canonical]
        ).fetchone()
        return str(row[0]) if row and row[0] else OWN

    def _find_by_url(self, canonical: str) -> dict[str, Any] | None:
        return self._statement_where(
            "id = (select statement_id from statement_urls where url = ?)", [canonical]
        )

    def _find_by_text(self, source_id: str, fingerprint: str) -> dict[str, Any] | None:
        return self._statement_where("source_id = ? and text_hash = ?", [source_id, fingerprint])

    def _statement_where(self, where: str, params: list[Any]) -> dict[str, Any] | None:
        cursor = self.db.execute(f"select * from {schema.STATEMENTS} where {where} limit 1", params)
        row = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], row, strict=True)) if row else None

    def _insert_capture(
        self,
        crawl_id: int,
        fetched: Fetched,
        *,
        status: str,
        outcome: str,
        reason: str | None = None,
        encoding: str | None = None,
        statement_id: str | None = None,
        canonical: str | None = None,
    ) -> int:
        digest = None
        if fetched.body or fetched.http_status != 304:
            digest = hashlib.sha256(fetched.body).hexdigest()
            # Bodies are stored once per distinct content: an unchanged page costs one row
            # (and no compressing).
            stored = self.db.execute("select 1 from bodies where sha256 = ?", [digest])
            if stored.fetchone() is None:
                self.db.execute(
                    "insert or ignore into bodies (sha256, size, body_gz) values (?, ?, ?)",
                    [digest, len(fetched.body), fetched.body_gz or gzip.compress(fetched.body, 6)],
                )
        return self._insert(
            schema.CAPTURES,
            {
                "crawl_id": crawl_id,
                "source_id": fetched.source_id,
                "url": fetched.url,
                "requested_url": fetched.requested_url,
                "canonical_url": canonical or canonical_url(fetched.url),
                "fetched_at": fetched.fetched_at,
                "http_status": fetched.http_status,
                "content_type": fetched.content_type,
                "headers": json.dumps(dict(fetched.headers), ensure_ascii=False),
                "body_sha256": digest,
                "body_size": len(fetched.body),
                "status": status,
                "reason": reason,
                "encoding": encoding,
                "statement_id": statement_id,
                "outcome": outcome,
            },
        )

    # Plain SQL for the rows every page writes: sqlite-utils' insert and update read the
    # table's schema on each call, which was a third of the time a page took to store.

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert one row; returns its rowid (the key of tables with an integer key)."""
        names = ", ".join(f"[{name}]" for name in row)
        marks = ", ".join(["?"] * len(row))
        cursor = self.db.execute(
            f"insert into [{table}] ({names}) values ({marks})", list(row.values())
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _update(self, table: str, key: str, values: dict[str, Any]) -> None:
        """Set columns of the row whose `id` is `key`."""
        assignments = ", ".join(f"[{name}] = ?" for name in values)
        self.db.execute(f"update [{table}] set {assignments} where id = ?", [*values.values(), key])

    def _insert_error(
        self,
        crawl_id: int,
        source_id: str,
        url: str,
        reason: str,
        http_status: int | None,
        role: str | None = None,
    ) -> None:
        self._insert(
            schema.CRAWL_ERRORS,
            {
                "crawl_id": crawl_id,
                "source_id": source_id,
                "url": url,
                "reason": reason,
                "http_status": http_status,
                "role": role,
                "at": utc_now(),
            },
        )
