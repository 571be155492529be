"""The single write path of the archive: fetched page + cleaned result → rows.

Every public method is one transaction, so a crash or kill between two calls leaves
every earlier page fully recorded and nothing half-written.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive import schema
from archive.clean import STATUS_OK, Cleaned
from archive.identity import canonical_url, statement_id, text_fingerprint

# What became of one fetched page.
NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
NOT_STATEMENT = "not_statement"
ERROR = "error"
INDEX = "index"  # a feed, sitemap or listing page: kept raw, not cleaned


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Fetched:
    """One HTTP response as the crawler saw it."""

    source_id: str
    url: str  # final URL, after redirects
    http_status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    fetched_at: str = field(default_factory=utc_now)

    @property
    def content_type(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                return value
        return None


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


def _year(published: str | None) -> int | None:
    if published and len(published) >= 4 and published[:4].isdigit():
        return int(published[:4])
    return None


class Archive:
    """An archive file opened for writing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = schema.open_archive(str(path))

    def close(self) -> None:
        self.db.close()

    # -- sources and crawls -------------------------------------------------------------

    def sync_sources(self, sources: Iterable[Mapping[str, Any]]) -> None:
        """Insert or refresh the configured sources (removed ones stay: their statements do)."""
        now = utc_now()
        with self.db.atomic():
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
        with self.db.atomic():
            crawl_id = self._insert(
                schema.CRAWLS, {"source_id": source_id, "started": utc_now(), "status": "running"}
            )
            self.db.table(schema.SOURCES).update(source_id, {"last_crawl_id": crawl_id})
        return crawl_id

    def finish_crawl(self, crawl_id: int, finish_reason: str) -> CrawlSummary:
        """Close a crawl row with counts derived from what was recorded under it."""
        counts = dict(
            self.db.execute(
                "select outcome, count(*) from captures where crawl_id = ? group by outcome",
                [crawl_id],
            ).fetchall()
        )
        with self.db.atomic():
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
    ) -> None:
        """A URL that gave no page (DNS, refused, timeout, robots.txt, bad feed, …)."""
        with self.db.atomic():
            self._insert_error(crawl_id, source_id, url, reason, http_status)

    # -- pages --------------------------------------------------------------------------

    def record_index_page(self, crawl_id: int, fetched: Fetched) -> None:
        """A feed, sitemap or listing page: its raw capture is kept, nothing is extracted."""
        with self.db.atomic():
            self._insert_capture(crawl_id, fetched, status="index", outcome=INDEX)

    def record_page(self, crawl_id: int, fetched: Fetched, cleaned: Cleaned) -> str:
        """Record one statement page; returns its outcome (new, changed, unchanged, …)."""
        with self.db.atomic():
            if fetched.http_status >= 400:
                reason = f"HTTP {fetched.http_status}"
                self._insert_capture(
                    crawl_id, fetched, status="http_error", outcome=ERROR, reason=reason
                )
                self._insert_error(
                    crawl_id, fetched.source_id, fetched.url, reason, fetched.http_status
                )
                return ERROR
            if cleaned.status != STATUS_OK or not cleaned.text:
                reason = cleaned.reason or cleaned.status
                self._insert_capture(
                    crawl_id,
                    fetched,
                    status=cleaned.status,
                    outcome=NOT_STATEMENT,
                    reason=reason,
                    encoding=cleaned.encoding,
                )
                self._insert_error(
                    crawl_id, fetched.source_id, fetched.url, reason, fetched.http_status
                )
                return NOT_STATEMENT
            return self._record_statement(crawl_id, fetched, cleaned)

    def _record_statement(self, crawl_id: int, fetched: Fetched, cleaned: Cleaned) -> str:
        assert cleaned.text is not None
        canonical = canonical_url(fetched.url)
        fingerprint = text_fingerprint(cleaned.text)
        now = fetched.fetched_at
        found = self._find_by_url(canonical)
        # A retitled page at a known URL is an edit; at another URL, the same text is
        # the same statement whatever its title there.
        title_matters = found is not None
        found = found or self._find_by_text(fetched.source_id, fingerprint)
        if found is None:
            sid = statement_id(fetched.source_id, canonical)
            outcome = NEW
        else:
            sid = found["id"]
            same = found["text_hash"] == fingerprint and (
                not title_matters or found["title"] == cleaned.title
            )
            outcome = UNCHANGED if same else CHANGED
        current = {
            "title": cleaned.title,
            "issuer": cleaned.issuer,
            "published": cleaned.published,
            "year": _year(cleaned.published),
            "language": cleaned.language,
            "text": cleaned.text,
            "text_hash": fingerprint,
            "last_seen": now,
        }
        statements = self.db.table(schema.STATEMENTS)
        if found is None:
            statements.insert(
                {
                    "id": sid,
                    "source_id": fetched.source_id,
                    "url": canonical,
                    **current,
                    "status": "live",
                    "first_seen": now,
                    "version_count": 1,
                    "capture_count": 1,
                }
            )
        elif outcome == CHANGED:
            statements.update(
                sid,
                {
                    **current,
                    "version_count": found["version_count"] + 1,
                    "capture_count": found["capture_count"] + 1,
                },
            )
        else:
            statements.update(sid, {"last_seen": now, "capture_count": found["capture_count"] + 1})
            self.db.execute(
                "update versions set last_seen = ? where statement_id = ? and version = ?",
                [now, sid, found["version_count"]],
            )
        capture_id = self._insert_capture(
            crawl_id,
            fetched,
            status=cleaned.status,
            outcome=outcome,
            encoding=cleaned.encoding,
            statement_id=sid,
            canonical=canonical,
        )
        if outcome != UNCHANGED:
            version = 1 if found is None else found["version_count"] + 1
            self._insert_version(sid, version, cleaned, fingerprint, now, capture_id)
        self._remember_url(canonical, sid, fetched.source_id, now)
        return outcome

    def _find_by_url(self, canonical: str) -> dict[str, Any] | None:
        return self._statement_where(
            "id = (select statement_id from statement_urls where url = ?)", [canonical]
        )

    def _find_by_text(self, source_id: str, fingerprint: str) -> dict[str, Any] | None:
        return self._statement_where("source_id = ? and text_hash = ?", [source_id, fingerprint])

    def _statement_where(self, where: str, params: list[str]) -> dict[str, Any] | None:
        rows = self.db.table(schema.STATEMENTS).rows_where(where, params, limit=1)
        return next(iter(rows), None)

    def _remember_url(self, canonical: str, sid: str, source_id: str, now: str) -> None:
        self.db.execute(
            "insert into statement_urls (url, statement_id, source_id, first_seen, last_seen) "
            "values (?, ?, ?, ?, ?) on conflict(url) do update set last_seen = excluded.last_seen",
            [canonical, sid, source_id, now, now],
        )

    def _insert_version(
        self,
        sid: str,
        version: int,
        cleaned: Cleaned,
        fingerprint: str,
        now: str,
        capture_id: int,
    ) -> None:
        self.db.table(schema.VERSIONS).insert(
            {
                "statement_id": sid,
                "version": version,
                "title": cleaned.title,
                "text": cleaned.text,
                "text_hash": fingerprint,
                "first_seen": now,
                "last_seen": now,
                "capture_id": capture_id,
            }
        )

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
        digest = hashlib.sha256(fetched.body).hexdigest()
        # Bodies are stored once per distinct content: an unchanged page costs one row.
        self.db.execute(
            "insert or ignore into bodies (sha256, size, body_gz) values (?, ?, ?)",
            [digest, len(fetched.body), gzip.compress(fetched.body, compresslevel=6)],
        )
        return self._insert(
            schema.CAPTURES,
            {
                "crawl_id": crawl_id,
                "source_id": fetched.source_id,
                "url": fetched.url,
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

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert a row into a table with an integer key and return the key."""
        rowid = self.db.table(table).insert(row).last_rowid
        assert rowid is not None
        return rowid

    def _insert_error(
        self,
        crawl_id: int,
        source_id: str,
        url: str,
        reason: str,
        http_status: int | None,
    ) -> None:
        self.db.table(schema.CRAWL_ERRORS).insert(
            {
                "crawl_id": crawl_id,
                "source_id": source_id,
                "url": url,
                "reason": reason,
                "http_status": http_status,
                "at": utc_now(),
            }
        )
