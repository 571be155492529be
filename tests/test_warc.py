"""WARC export checked by warcio's own tools, round trips, and WARCs written as other crawlers do."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_socket import socket_allow_hosts
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.clean import clean_page
from archive.cleaned import hints_for
from archive.fetched import Fetched
from archive.ingest import IngestSettings
from archive.store import Archive, HistorySettings
from archive.warc import export_warc, import_warc, warc_date
from communique.config import Source, load_config
from tests.conftest import GOV_ROOT, write_sources
from tests.helpers import rows
from tests.sites.server import SiteServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOURCE_IDS = ("mfa-en", "mfa-zh", "embassy-sitemap", "cac-urls")
STATEMENT_COLUMNS = (
    "id, source_id, url, title, text, published, issuer, language, status, "
    "first_seen, last_seen, version_count, capture_count"
)
EN_PAGE = GOV_ROOT / "mfa-en/xw/fyrbt/202407/t20240726_11100075.html"
ZH_PAGE = GOV_ROOT / "mfa-zh/content/202407/t20240705_11200001.html"

SETTINGS = IngestSettings(HistorySettings(), ("mp.weixin.qq.com",))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


@pytest.fixture
def unix_sockets() -> None:
    """Let multiprocessing's forkserver use its Unix socket; TCP stays limited to 127.0.0.1."""
    socket_allow_hosts(["127.0.0.1", "localhost"], allow_unix_socket=True)


@pytest.fixture(scope="module")
def crawled(
    gov_site: SiteServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path]]:
    """Four demo sources crawled twice (the second time refetching every known statement,
    so identical bodies are captured again): (config, archive)."""
    directory = tmp_path_factory.mktemp("warc")
    config = write_sources(gov_site.base_url, directory / "sources.yaml", *SOURCE_IDS)
    db_path = directory / "archive.db"
    for extra in ((), ("--refetch",)):
        result = run("communique", "crawl", "--config", str(config), "--db", str(db_path), *extra)
        assert result.returncode == 0, result.stderr[-3000:]
    yield config, db_path


def test_export_is_a_warc_warcio_indexes_and_checks(crawled: tuple[Path, Path]) -> None:
    _, db_path = crawled
    out = db_path.parent / "out" / "captures.warc.gz"

    result = run("communique", "warc", "export", "--db", str(db_path), "--out", str(out))

    assert result.returncode == 0, result.stderr[-3000:]
    captures = rows(db_path, "select * from captures order by id")
    assert result.stdout.strip() == (
        f"{out}: {1 + 2 * len(captures)} record(s) from {len(captures)} capture(s)"
    )
    assert [p.name for p in out.parent.iterdir()] == ["captures.warc.gz"]  # no temp file left
    check = run("warcio", "check", "-v", str(out))
    assert check.returncode == 0, check.stdout[-3000:]
    assert "digest pass" in check.stdout
    index = run("warcio", "index", "-f", "warc-type,warc-target-uri,warc-date", str(out))
    assert index.returncode == 0, index.stderr[-3000:]
    entries = [json.loads(line) for line in index.stdout.splitlines()]
    assert entries[0]["warc-type"] == "warcinfo"
    requests = [e for e in entries if e["warc-type"] == "request"]
    fetches = [e for e in entries if e["warc-type"] in ("response", "revisit")]
    assert len(requests) == len(fetches) == len(captures)
    assert [(e["warc-target-uri"], e["warc-date"]) for e in fetches] == [
        (c["url"], warc_date(c["fetched_at"])) for c in captures
    ]
    # A body is written once; every later capture of the same bytes is a revisit.
    first_of_body = {c["body_sha256"]: c["id"] for c in reversed(captures)}
    expected_types = [
        "response" if first_of_body[c["body_sha256"]] == c["id"] else "revisit" for c in captures
    ]
    assert [e["warc-type"] for e in fetches] == expected_types
    assert expected_types.count("revisit") >= 19  # the refetch of every statement at least

    with out.open("rb") as stream:
        responses = {
            record.rec_headers.get_header("WARC-Target-URI"): (
                record.http_headers.statusline,
                record.http_headers.get_header("Content-Type"),
                record.content_stream().read(),
            )
            for record in ArchiveIterator(stream)
            if record.rec_type == "response"
        }
    zh = next(c for c in captures if c["url"].endswith("/t20240705_11200001.html"))
    status, content_type, body = responses[zh["url"]]
    assert status == "200 OK"
    assert content_type == "text/html; charset=gb2312"
    assert body == ZH_PAGE.read_bytes()


@pytest.mark.usefixtures("unix_sockets")
def test_round_trip_into_an_empty_archive_keeps_every_statement(
    crawled: tuple[Path, Path], tmp_path: Path
) -> None:
    config_path, db_path = crawled
    copy = tmp_path / "copy.db"
    for source in load_config(config_path).sources:
        warc_path = tmp_path / f"{source.id}.warc.gz"
        exported = export_warc(db_path, warc_path, [source.id])
        assert exported.captures > 0

        summary = import_warc(copy, warc_path, source, SETTINGS).summary

        assert summary.status == "finished"
        assert summary.statements_new > 0

    sql = f"select {STATEMENT_COLUMNS} from statements order by id"
    original, restored = rows(db_path, sql), rows(copy, sql)
    assert len(original) == 19
    assert restored == original
    # Feed, sitemap and listing pages come back raw, as index captures; the 404 as an error.
    count = (
        "select outcome, count(*) n from captures where outcome in ('index', 'error') group by 1"
    )
    assert rows(copy, count) == rows(db_path, count)


def _chunked(data: bytes, size: int = 1000) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def _response(
    writer: WARCWriter, url: str, date: str, headers: list[tuple[str, str]], payload: bytes
) -> Any:
    return writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(payload),
        length=len(payload),
        http_headers=StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": date},
    )


def write_foreign_warc(path: Path) -> None:
    """A WARC as wget or Heritrix write one: raw transfer bytes, assets, a robots.txt."""
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=False, warc_version="1.0")
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "Wget/1.21"}))
        site = "https://www.example.gov"
        writer.write_record(
            _response(
                writer,
                f"{site}/robots.txt",
                "2024-07-26T07:59:58Z",
                [("Content-Type", "text/plain")],
                b"User-agent: *\nDisallow: /private/\n",
            )
        )
        en_url = f"{site}/en/statement-1.html"
        # Served gzip-compressed with chunked transfer encoding, stored as it came.
        en = _response(
            writer,
            en_url,
            "2024-07-26T08:00:00Z",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
            ],
            _chunked(gzip.compress(EN_PAGE.read_bytes())),
        )
        request = writer.create_warc_record(
            en_url,
            "request",
            http_headers=StatusAndHeaders(
                "GET /en/statement-1.html HTTP/1.1",
                [("Host", "www.example.gov")],
                is_http_request=True,
            ),
        )
        writer.write_request_response_pair(request, en)
        for url, content_type, payload in (
            (f"{site}/img/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
            (f"{site}/css/site.css", "text/css", b"body { color: #333 }"),
            (f"{site}/js/site.js", "application/javascript", b"var a = 1;"),
            (
                "https://cdn.other.example/widget.html",
                "text/html",
                EN_PAGE.read_bytes().replace(b"Navigation", b"Widget"),
            ),
        ):
            writer.write_record(
                _response(
                    writer, url, "2024-07-26T08:00:01Z", [("Content-Type", content_type)], payload
                )
            )
        zh_body = ZH_PAGE.read_bytes()
        writer.write_record(
            _response(
                writer,
                f"{site}/zh/statement-2.html",
                "2024-07-26T08:00:02Z",
                [
                    ("Content-Type", "text/html; charset=gb2312"),
                    ("Content-Length", str(len(zh_body))),
                ],
                zh_body,
            )
        )
        # The next day the same bytes again: the crawler wrote a revisit, not the body.
        writer.write_record(
            writer.create_revisit_record(
                en_url,
                digest=en.rec_headers.get_header("WARC-Payload-Digest"),
                refers_to_uri=en_url,
                refers_to_date="2024-07-26T08:00:00Z",
                http_headers=StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                ),
                warc_headers_dict={"WARC-Date": "2024-07-27T08:00:00Z"},
            )
        )
        # A revisit of a response that is in some other file.
        writer.write_record(
            writer.create_revisit_record(
                f"{site}/en/statement-0.html",
                digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                refers_to_uri=f"{site}/en/statement-0.html",
                refers_to_date="2024-07-01T08:00:00Z",
                warc_headers_dict={"WARC-Date": "2024-07-27T08:00:01Z"},
            )
        )
        writer.write_record(
            writer.create_warc_record(
                en_url,
                "metadata",
                payload=BytesIO(b"outlinks: none\r\n"),
                length=16,
                warc_content_type="application/warc-fields",
            )
        )


FOREIGN_SOURCE = {
    "id": "example-gov",
    "name": "Example Government",
    "issuer": "Example Government",
    "kind": "urls",
    "urls": ["https://www.example.gov/en/statement-1.html"],
}


def test_a_warc_from_another_crawler_imports_its_html_statements_only(tmp_path: Path) -> None:
    config_path = tmp_path / "sources.yaml"
    config_path.write_text(yaml.safe_dump({"sources": [FOREIGN_SOURCE]}), encoding="utf-8")
    warc_path = tmp_path / "wget.warc"  # not gzipped
    write_foreign_warc(warc_path)
    db_path = tmp_path / "archive.db"

    result = run(
        "communique",
        "warc",
        "import",
        str(warc_path),
        "--source",
        "example-gov",
        "--config",
        str(config_path),
        "--db",
        str(db_path),
    )

    assert result.returncode == 0, result.stderr[-3000:]
    # Records passed over are counted, by why, never archived.
    assert result.stdout.strip().splitlines() == [
        f"{warc_path}: 3 page(s): 2 new, 0 changed, 1 unchanged, 1 error(s)",
        f"{warc_path}: 3 record(s) skipped: not HTML",
        f"{warc_path}: 1 record(s) skipped: on another host than the source's",
        f"{warc_path}: 1 record(s) skipped: robots.txt",
    ]
    captures = rows(
        db_path,
        "select url, fetched_at, http_status, headers, body_sha256, outcome from captures order by id",
    )
    assert [(c["url"].rsplit("/", 1)[1], c["outcome"], c["fetched_at"]) for c in captures] == [
        ("statement-1.html", "new", "2024-07-26T08:00:00+00:00"),
        ("statement-2.html", "new", "2024-07-26T08:00:02+00:00"),
        ("statement-1.html", "unchanged", "2024-07-27T08:00:00+00:00"),
    ]
    # The body is stored decoded, and the headers no longer claim otherwise.
    assert captures[0]["body_sha256"] == hashlib.sha256(EN_PAGE.read_bytes()).hexdigest()
    assert captures[2]["body_sha256"] == captures[0]["body_sha256"]
    stored = {name.lower() for name in json.loads(captures[0]["headers"])}
    assert stored == {"content-type"}

    source = Source.model_validate(FOREIGN_SOURCE)
    statements = rows(
        db_path, "select url, title, text, capture_count, last_seen from statements order by url"
    )
    for statement, page, content_type in zip(
        statements,
        (EN_PAGE, ZH_PAGE),
        ("text/html; charset=utf-8", "text/html; charset=gb2312"),
        strict=True,
    ):
        expected = clean_page(page.read_bytes(), statement["url"], content_type, hints_for(source))
        assert (statement["title"], statement["text"]) == (expected.title, expected.text)
    assert [s["capture_count"] for s in statements] == [2, 1]
    assert statements[0]["last_seen"] == "2024-07-27T08:00:00+00:00"
    errors = rows(db_path, "select url, reason from crawl_errors")
    assert errors == [
        {
            "url": "https://www.example.gov/en/statement-0.html",
            "reason": "bad WARC record: revisit of a response not in this WARC",
        }
    ]


@pytest.mark.usefixtures("unix_sockets")
def test_a_304_sighting_goes_out_as_a_server_not_modified_revisit_and_comes_back(
    tmp_path: Path,
) -> None:
    source = Source.model_validate(FOREIGN_SOURCE)
    url = "https://www.example.gov/en/statement-1.html"
    headers = {"Content-Type": "text/html", "ETag": '"v1"'}
    db_path = tmp_path / "archive.db"
    archive = Archive(db_path)
    archive.sync_sources([source.model_dump()])
    crawl_id = archive.start_crawl(source.id)
    first = Fetched(source.id, url, 200, EN_PAGE.read_bytes(), headers, "2024-07-26T08:00:00+00:00")
    cleaned = clean_page(first.body, url, "text/html", hints_for(source))
    assert archive.record_page(crawl_id, first, cleaned) == "new"
    not_modified = Fetched(source.id, url, 304, b"", {"ETag": '"v1"'}, "2024-07-28T08:00:00+00:00")
    assert archive.record_if_unchanged(crawl_id, not_modified) == "unchanged"
    archive.finish_crawl(crawl_id, "finished")
    archive.close()
    warc_path = tmp_path / "out.warc.gz"

    assert export_warc(db_path, warc_path, []).records == 5

    check = run("warcio", "check", str(warc_path))
    assert check.returncode == 0, check.stdout
    with warc_path.open("rb") as stream:
        revisit = next(r for r in ArchiveIterator(stream) if r.rec_type == "revisit")
        assert revisit.rec_headers.get_header("WARC-Profile").endswith("/server-not-modified")
        assert revisit.http_headers.statusline == "304 Not Modified"
    copy = tmp_path / "copy.db"
    summary = import_warc(copy, warc_path, source, SETTINGS).summary
    assert (summary.statements_new, summary.statements_unchanged, summary.errors) == (1, 1, 0)
    sql = "select http_status, body_sha256 is null no_body, outcome, fetched_at from captures order by id"
    assert rows(copy, sql) == rows(db_path, sql)
    assert rows(copy, "select capture_count from statements") == [{"capture_count": 2}]


@pytest.mark.usefixtures("unix_sockets")
def test_a_warc_cut_short_keeps_the_records_before_the_cut(
    crawled: tuple[Path, Path], tmp_path: Path
) -> None:
    config_path, db_path = crawled
    [source] = load_config(config_path).select(["mfa-en"])
    whole = tmp_path / "whole.warc.gz"
    export_warc(db_path, whole, ["mfa-en"])
    index = run("warcio", "index", "-f", "warc-type,offset,length", str(whole))
    entries = [json.loads(line) for line in index.stdout.splitlines()]
    responses = [e for e in entries if e["warc-type"] == "response"]
    cut_in = responses[3]  # the feed, then statements: cut inside the third statement
    cut = int(cut_in["offset"]) + int(cut_in["length"]) * 2 // 3
    partial = tmp_path / "partial.warc.gz"
    partial.write_bytes(whole.read_bytes()[:cut])
    copy = tmp_path / "copy.db"

    summary = import_warc(copy, partial, source, SETTINGS).summary

    assert summary.status == "failed"
    assert summary.statements_new == 2
    [error] = rows(copy, "select reason from crawl_errors")
    assert error["reason"].startswith("unreadable WARC: ")
    assert rows(copy, "select finish_reason from crawls") == [{"finish_reason": "unreadable WARC"}]
