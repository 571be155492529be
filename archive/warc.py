"""Exchange raw captures with other crawlers and replay tools as WARC files."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sqlite3
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date, iso_date_to_datetime
from warcio.utils import BUFF_SIZE
from warcio.warcwriter import WARCWriter

from archive.atomic import atomic_open
from archive.clean import clean_page
from archive.fetched import INDEX, STATEMENT, Fetched, FetchFailed
from archive.identity import in_domains
from archive.ingest import IngestSettings, Session, ingest, needs_cleaning
from archive.progress import JobProgress
from archive.store import Archive, CrawlSummary
from archive.workers import QUEUE_PER_WORKER, map_in_workers

SOFTWARE = "Communique (https://github.com/communique-archive/communique), warcio"
WARC_VERSION = "1.1"
# A WARC field of our own, on records of captures that were feed, sitemap or listing
# pages: an import keeps them raw (as the crawler does) instead of cleaning them.
ROLE_FIELD = "Communique-Role"
ROLE_INDEX = "index"
SERVER_NOT_MODIFIED = "server-not-modified"  # the end of WARC 1.1's revisit profile URI
# The stored body is already decoded, so these no longer describe it.
HOP_HEADERS = frozenset(("content-encoding", "transfer-encoding", "content-length"))
# Content types imported as pages; a missing one is imported too (the cleaner sniffs it).
PAGE_TYPES = frozenset(("text/html", "application/xhtml+xml", "application/octet-stream"))


# -- export ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WarcExportResult:
    """How many WARC records were written, for how many captures."""

    records: int
    captures: int


@dataclass(frozen=True)
class _Written:
    """The response record that first carried a body, for revisits to point at."""

    url: str
    date: str
    record_id: str
    payload_digest: str


def warc_date(iso: str) -> str:
    """An archive timestamp (ISO 8601, UTC when no offset) as a WARC-Date."""
    when = datetime.fromisoformat(iso)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC).replace(tzinfo=None)
    return str(datetime_to_iso_date(when, use_micros=bool(when.microsecond)))


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _response_headers(
    status: int, stored: Mapping[str, str], body_length: int | None
) -> StatusAndHeaders:
    """The HTTP head as served, describing the body as stored (decoded, whole)."""
    headers = [(name, value) for name, value in stored.items() if name.lower() not in HOP_HEADERS]
    if body_length is not None:
        headers.append(("Content-Length", str(body_length)))
    return StatusAndHeaders(_status_line(status), headers, protocol="HTTP/1.1")


def _request_headers(url: str) -> StatusAndHeaders:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StatusAndHeaders(
        f"GET {target} HTTP/1.1", [("Host", parts.netloc)], is_http_request=True
    )


def export_warc(
    db_path: Path, out_path: Path, source_ids: list[str], since: date | None = None
) -> WarcExportResult:
    """Write the captures (of the named sources, or all; with since, those fetched on or
    after that UTC date) to out_path as a gzipped WARC 1.1.

    A warcinfo record, then per capture in the order fetched a request record and either a
    response record with the stored headers and body or, when the same body was already
    written in this file, an identical-payload-digest revisit pointing at that response.
    A 304 answer to a conditional recheck (no body) becomes a server-not-modified revisit.
    Bodies are stored decoded, so Content-Encoding and Transfer-Encoding are left out and
    Content-Length is the stored body's. Feed, sitemap and listing captures carry a
    `Communique-Role: index` field. The file appears under its name only when complete.
    """
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    records = captures = 0
    try:
        conn.execute("begin")  # one read transaction: a consistent snapshot even mid-crawl
        conditions: list[str] = []
        params: list[str] = []
        if source_ids:
            conditions.append(f"source_id in ({', '.join('?' for _ in source_ids)})")
            params += source_ids
        if since is not None:
            # fetched_at is UTC ISO 8601, so text order is time order (as export --since).
            conditions.append("fetched_at >= ?")
            params.append(since.isoformat())
        where = f"where {' and '.join(conditions)}" if conditions else ""
        rows = conn.execute(
            "select id, url, fetched_at, http_status, headers, body_sha256, outcome "
            f"from captures {where} order by id",
            params,
        )
        with atomic_open(out_path, "wb") as out:
            writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
            info = {
                "software": SOFTWARE,
                "format": f"WARC File Format {WARC_VERSION}",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                "warc-format/warc-1.1/",
                "description": "Captures exported from a Communique archive"
                + (f" (sources: {', '.join(source_ids)})" if source_ids else ""),
            }
            writer.write_record(writer.create_warcinfo_record(out_path.name, info))
            records += 1
            written: dict[str, _Written] = {}
            for row in rows:
                _, url, fetched_at, status, headers_json, sha256, outcome = row
                date = warc_date(fetched_at)
                stored: dict[str, str] = json.loads(headers_json) if headers_json else {}
                extra = {"WARC-Date": date}
                if outcome == "index":
                    extra[ROLE_FIELD] = ROLE_INDEX
                if sha256 is None:
                    record = writer.create_warc_record(
                        url,
                        "revisit",
                        http_headers=_response_headers(status, stored, None),
                        warc_headers_dict=extra,
                    )
                    record.rec_headers.add_header(
                        "WARC-Profile",
                        f"http://netpreserve.org/warc/{WARC_VERSION}/revisit/{SERVER_NOT_MODIFIED}",
                    )
                elif sha256 in written:
                    first = written[sha256]
                    size = conn.execute(
                        "select size from bodies where sha256 = ?", [sha256]
                    ).fetchone()
                    record = writer.create_revisit_record(
                        url,
                        digest=first.payload_digest,
                        refers_to_uri=first.url,
                        refers_to_date=first.date,
                        http_headers=_response_headers(status, stored, size[0] if size else None),
                        warc_headers_dict={**extra, "WARC-Refers-To": first.record_id},
                    )
                else:
                    found = conn.execute(
                        "select body_gz from bodies where sha256 = ?", [sha256]
                    ).fetchone()
                    body = gzip.decompress(found[0]) if found else b""
                    record = writer.create_warc_record(
                        url,
                        "response",
                        payload=BytesIO(body),
                        length=len(body),
                        http_headers=_response_headers(status, stored, len(body)),
                        warc_headers_dict=extra,
                    )
                    written[sha256] = _Written(
                        url,
                        date,
                        record.rec_headers.get_header("WARC-Record-ID"),
                        record.rec_headers.get_header("WARC-Payload-Digest"),
                    )
                request = writer.create_warc_record(
                    url,
                    "request",
                    http_headers=_request_headers(url),
                    warc_headers_dict={
                        "WARC-Date": date,
                        "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
                    },
                )
                writer.write_record(request)
                writer.write_record(record)
                records += 2
                captures += 1
    finally:
        conn.close()
    return WarcExportResult(records=records, captures=captures)


# -- import ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Payload:
    """A response read earlier in the file, for revisits of it."""

    sha256: str
    http_status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class _Unreadable:
    """The rest of the file cannot be read (recorded as an error; the import is failed)."""

    failure: FetchFailed


class _BadRecord(Exception):
    """A record that cannot be turned into a page; the message says why."""


class _CutShort(_BadRecord):
    """The file ends inside a record (a crawler killed mid-write, a partial download)."""


@dataclass
class _Reader:
    """Turns a WARC's response and revisit records into the pages a source would fetch."""

    source: Any  # communique.config.Source: id, domains, url_pattern
    archive: Archive
    recent: int  # bodies kept in memory for revisits of pages not yet written
    max_bytes: int = 10_000_000  # the crawl's max_page_bytes: raw and unpacked
    by_digest: dict[str, _Payload] = field(default_factory=dict)
    by_uri: dict[str, _Payload] = field(default_factory=dict)
    bodies: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    # Records passed over, by why: reported after the import, never archived.
    skipped: Counter[str] = field(default_factory=Counter)
    # The Host header of each request record, by the record it goes with (and by URI).
    hosts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pattern = self.source.url_pattern
        self.pattern = re.compile(pattern) if pattern else None
        self.domains = [domain.lower() for domain in self.source.domains]

    def failure(self, url: str, reason: str) -> FetchFailed:
        return FetchFailed(self.source.id, url, reason)

    def pages(self, path: Path) -> Iterator[Fetched | FetchFailed | _Unreadable]:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream, arc2warc=True)
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    return
                except Exception as error:  # warcio raises several types on a broken file
                    yield _Unreadable(self.failure(str(path), f"unreadable WARC: {error}"))
                    return
                url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip("<> ")
                if record.rec_type == "request":
                    self._note_host(record, url)
                if record.rec_type not in ("response", "revisit"):
                    continue
                if urlsplit(url).scheme not in ("http", "https"):
                    continue
                try:
                    page = self._page(record, url)
                except _CutShort as error:
                    yield _Unreadable(self.failure(url, f"unreadable WARC: {error}"))
                    return
                except _BadRecord as error:
                    yield self.failure(url, f"bad WARC record: {error}")
                    continue
                except Exception as error:
                    yield self.failure(url, f"bad WARC record: {type(error).__name__}: {error}")
                    continue
                if page is not None:
                    yield page

    def _fetched(
        self, url: str, status: int, body: bytes, headers: dict[str, str], at: str, index: bool
    ) -> Fetched:
        role = INDEX if index else STATEMENT
        return Fetched(self.source.id, url, status, body, headers, at, role=role)

    def _note_host(self, record: ArcWarcRecord, url: str) -> None:
        http = record.http_headers
        host = (http.get_header("Host") or "").strip().lower() if http is not None else ""
        if host:
            for key in (record.rec_headers.get_header("WARC-Concurrent-To"), url):
                if key:
                    self.hosts[key.strip("<> ")] = host

    def _check_host(self, record: ArcWarcRecord, url: str) -> None:
        """A response whose request was sent to another host than its target URI names is
        a record that lies about where its page came from."""
        asked = self.hosts.get(
            (record.rec_headers.get_header("WARC-Record-ID") or "").strip("<> ")
        ) or self.hosts.get(url)
        target = urlsplit(url).netloc.lower()
        if asked and asked != target and asked.split(":")[0] != target.split(":")[0]:
            raise _BadRecord(f"its request went to host {asked!r}, not to {target!r}")

    def _page(self, record: ArcWarcRecord, url: str) -> Fetched | None:
        self._check_host(record, url)
        warc = record.rec_headers
        fetched_at = _fetched_at(warc.get_header("WARC-Date"))
        index = warc.get_header(ROLE_FIELD) == ROLE_INDEX
        http = record.http_headers
        status, headers = _http(http) if http is not None else (None, None)
        if record.rec_type == "revisit":
            if SERVER_NOT_MODIFIED in (warc.get_header("WARC-Profile") or ""):
                fetched = self._fetched(url, status or 304, b"", headers or {}, fetched_at, index)
                return fetched if self._wanted(fetched) else None
            digest = warc.get_header("WARC-Payload-Digest")
            payload = self.by_digest.get(digest or "") or self.by_uri.get(
                (warc.get_header("WARC-Refers-To-Target-URI") or "").strip("<> ")
            )
            if status is None or headers is None:
                if payload is None:
                    raise _BadRecord("revisit of a response not in this WARC")
                status, headers = payload.http_status, payload.headers
            fetched = self._fetched(url, status, b"", headers, fetched_at, index)
            if not self._wanted(fetched):
                return None
            body = self._body(payload) if payload is not None else None
            if body is None:
                raise _BadRecord("revisit of a response not in this WARC")
            return self._fetched(url, status, body, headers, fetched_at, index)
        if status is None or headers is None:
            raise _BadRecord("response record without an HTTP response")
        fetched = self._fetched(url, status, b"", headers, fetched_at, index)
        if not self._wanted(fetched):
            return None
        assert http is not None
        encoding = (http.get_header("Content-Encoding") or "").strip().lower()
        if encoding not in ("", "identity", *BufferedReader.get_supported_decompressors()):
            raise _BadRecord(f"unsupported Content-Encoding {encoding!r}")
        if (record.length or 0) > self.max_bytes:
            raise _BadRecord(f"record larger than max_page_bytes of {self.max_bytes} bytes")
        # Chunks joined, gzip/deflate/br decoded: at most one byte past the limit, so a
        # small record that unpacks to gigabytes (a gzip bomb) is never unpacked.
        body = record.content_stream().read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            raise _BadRecord(f"body larger than max_page_bytes of {self.max_bytes} bytes unpacked")
        block = record.raw_stream
        while block.read(BUFF_SIZE):
            pass  # whatever follows the body in the block (chunk trailers)
        if isinstance(block, LimitReader) and block.limit > 0:
            raise _CutShort(f"the file ends {block.limit} byte(s) before this record does")
        sha256 = hashlib.sha256(body).hexdigest()
        payload = _Payload(sha256, status, headers)
        digest = warc.get_header("WARC-Payload-Digest")
        if digest:
            self.by_digest[digest] = payload
        self.by_uri[url] = payload
        self.bodies[sha256] = body
        self.bodies.move_to_end(sha256)
        while len(self.bodies) > self.recent:
            self.bodies.popitem(last=False)
        return self._fetched(url, status, body, headers, fetched_at, index)

    def _body(self, payload: _Payload) -> bytes | None:
        body = self.bodies.get(payload.sha256)
        if body is not None:
            return body
        row = self.archive.db.execute(
            "select body_gz from bodies where sha256 = ?", [payload.sha256]
        ).fetchone()
        return gzip.decompress(row[0]) if row else None

    def _wanted(self, fetched: Fetched) -> bool:
        """A page this source's crawler would have fetched and handed to the archive."""
        if not in_domains(fetched.url, self.domains):
            self.skipped["on another host than the source's"] += 1
            return False
        if fetched.role == INDEX:
            return True
        parts = urlsplit(fetched.url)
        if parts.path.endswith("/robots.txt"):
            self.skipped["robots.txt"] += 1
            return False
        content_type = fetched.content_type
        if content_type:
            mime = content_type.split(";", 1)[0].strip().lower()
            if mime and mime not in PAGE_TYPES:
                self.skipped["not HTML"] += 1
                return False
        if self.pattern and not self.pattern.search(fetched.url):
            self.skipped["outside the source's url_pattern"] += 1
            return False
        return True


def _http(http: StatusAndHeaders) -> tuple[int, dict[str, str]]:
    """Status and headers (repeated ones joined, as the crawler stores them)."""
    try:
        status = int(http.get_statuscode())
    except ValueError:
        raise _BadRecord(f"no HTTP status in {http.statusline!r}") from None
    headers: dict[str, str] = {}
    for name, value in http.headers:
        if name.lower() in ("content-encoding", "transfer-encoding"):
            continue  # the body is stored decoded
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return status, headers


def _fetched_at(value: str | None) -> str:
    if not value:
        raise _BadRecord("no WARC-Date")
    try:
        when = iso_date_to_datetime(value.strip(), tz_aware=True)
    except (ValueError, TypeError):
        raise _BadRecord(f"WARC-Date {value!r} is not a date") from None
    return str(when.isoformat())


@dataclass(frozen=True)
class WarcImport:
    """A WARC import: the crawl it was recorded as, and the records passed over, by why."""

    summary: CrawlSummary
    skipped: dict[str, int]


def import_warc(
    db_path: Path,
    warc_path: Path,
    source: Any,
    settings: IngestSettings,
    progress: JobProgress | None = None,
    max_page_bytes: int = 10_000_000,
) -> WarcImport:
    """Record the pages of a WARC (any crawler's; gzipped or not) as a crawl of `source`
    (a `communique.config.Source`), through the archive's one way in.

    Response records of HTML (or undeclared) content at the source's domains and matching
    its url_pattern are cleaned with its hints and recorded as the crawler records pages;
    robots.txt, images, scripts, styles and other sites are skipped. A revisit is the
    earlier response's payload from this file (or the archive), a server-not-modified
    revisit a 304. A record that cannot be read, that is larger than `max_page_bytes`
    (raw or unpacked: the crawl's own limit) or whose request went to another host than
    its target URI is a crawl error and the import goes on. Records for other hosts are
    counted in `skipped`, never archived. Holds the archive's lock (ArchiveBusy if a crawl
    is writing).
    """
    with Session(db_path, settings, source) as session:
        workers = os.cpu_count() or 1
        reader = _Reader(
            source, session.store, workers * QUEUE_PER_WORKER * 2, max_bytes=max_page_bytes
        )
        finish = "finished"

        def jobs() -> Iterator[tuple[Any, tuple[Any, ...] | None]]:
            for item in reader.pages(warc_path):
                if isinstance(item, Fetched) and needs_cleaning(session, item):
                    args = (item.body, item.url, item.content_type, session.hints)
                    yield item, args
                else:
                    yield item, None

        for item, result in map_in_workers(clean_page, jobs(), workers):
            if progress is not None:
                progress.advance()
            if isinstance(item, _Unreadable):
                ingest(session, item.failure)
                finish = "unreadable WARC"
            else:
                ingest(session, item, result)
        return WarcImport(session.finish(finish), dict(reader.skipped))
