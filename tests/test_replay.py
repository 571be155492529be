"""WACZ export checked by py-wacz, replay through a real pywb, and 'View as captured' links
followed in Chromium: a crawl of the fixture sites, end to end.

pywb runs from .venv-replay (`make replay-env`, which `make test` runs); without it the
replay tests fail, saying so, rather than skip: a set-up that lost it is broken.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from io import BytesIO
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.replay import DEFAULT_ENV, ENV_VAR
from tests.browser import CHROMIUM, NO_BROWSER, dom, text_of
from tests.conftest import write_sources
from tests.helpers import COMMUNIQUE, OPENER, communique, free_port, rows, wait_until_up
from tests.sites.server import SiteServer

pytestmark = pytest.mark.slow

# The page that lies: its title tries to break out of a pages.jsonl line, its body carries
# a whole forged WARC record and CDXJ line for another site, and its headers claim it was
# archived in 1999.
EVIL = "http://evil.example/forged"
LIE_TITLE = 'Notice "}{"url": "http://evil.example/forged", "ts": "1999-01-01T00:00:00Z"} ends'
FORGED_RECORD = (
    "WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: http://evil.example/forged\r\n"
    "WARC-Date: 1999-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
    "Content-Length: 60\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nFORGED-PAGE\r\n\r\n"
    'example,evil)/forged 19990101000000 {"url": "http://evil.example/forged", "status": "200"}'
)
LIE_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{LIE_TITLE}</title></head>
<body><article>
<h1>{LIE_TITLE}</h1>
<p>The Bureau of Records published this notice on the first of June. It says that every
archived copy of this page was made in 1999, which is not true, and it carries text made to
look like the machinery of web archives.</p>
<pre>{FORGED_RECORD}</pre>
<p>A replay must show this page under the date it was really fetched, and an export must
hold exactly the pages that were crawled: nothing this text pretends to be.</p>
</article></body></html>
"""
LIE_HEADERS = {
    "/lie.html": {
        "Memento-Datetime": "Fri, 01 Jan 1999 00:00:00 GMT",
        "Link": '<http://evil.example/forged>; rel="memento"; datetime="Fri, 01 Jan 1999 00:00:00 GMT"',
    }
}
EN_TEXT = "Foreign Minister Song Liwei held talks in Beijing with Foreign Minister Ilse Varga"


def replay_bin() -> Path:
    env = Path(os.environ.get(ENV_VAR) or DEFAULT_ENV)
    if not (env / "bin" / "wayback").is_file():
        pytest.fail(f"{env}: pywb's environment is missing; run `make replay-env`")
    return env / "bin"


def utc_iso(fetched_at: str) -> str:
    """fetched_at as a WARC-Date / pages.jsonl ts: UTC, 'Z', to the second."""
    when = datetime.fromisoformat(fetched_at).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(fetched_at: str) -> str:
    return datetime.fromisoformat(fetched_at).astimezone(UTC).strftime("%Y%m%d%H%M%S")


def body_of(db_path: Path, sha256: str) -> bytes:
    [row] = rows(db_path, "select body_gz from bodies where sha256 = ?", [sha256])
    return gzip.decompress(row["body_gz"])


def fetch(url: str) -> tuple[int, Message, bytes]:
    """Status, headers (every value of a repeated one: `get_all`) and body."""
    try:
        with OPENER.open(url, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def crawled(gov_site: SiteServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """mfa-en and the lying site crawled twice (the second time refetching, so identical
    bodies are captured again and exported as revisits): the archive."""
    directory = tmp_path_factory.mktemp("replay")
    site_root = directory / "site"
    site_root.mkdir()
    (site_root / "lie.html").write_text(LIE_PAGE, encoding="utf-8")
    (site_root / "_headers.json").write_text(json.dumps(LIE_HEADERS), encoding="utf-8")
    with SiteServer(site_root) as lies:
        lying_source = {
            "id": "lies",
            "name": "Bureau of Records",
            "issuer": "Bureau of Records",
            "kind": "urls",
            "language": "en",
            "urls": [f"{lies.base_url}/lie.html"],
        }
        config = write_sources(
            gov_site.base_url, directory / "sources.yaml", "mfa-en", extra_sources=[lying_source]
        )
        db_path = directory / "archive.db"
        for extra in ((), ("--refetch",)):
            done = communique("crawl", "--config", str(config), "--db", str(db_path), *extra)
            assert done.returncode == 0, done.stderr[-3000:]
    yield db_path


@pytest.fixture(scope="module")
def wacz_file(crawled: Path) -> Path:
    out = crawled.parent / "out" / "archive.wacz"
    done = communique("wacz", "export", "--db", str(crawled), "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def wacz_records(path: Path) -> list[Any]:
    """Every record of the WACZ's WARC files, with its HTTP head and payload read."""
    found = []
    with zipfile.ZipFile(path) as wacz:
        for name in wacz.namelist():
            if name.startswith("archive/"):
                for record in ArchiveIterator(BytesIO(wacz.read(name))):
                    found.append((record, record.content_stream().read()))
    return found


# --- WACZ ------------------------------------------------------------------------------


def test_wacz_validates_and_holds_every_capture_byte_for_byte(
    crawled: Path, wacz_file: Path
) -> None:
    captures = rows(crawled, "select * from captures order by id")
    done = communique("wacz", "export", "--db", str(crawled), "--out", str(wacz_file))
    assert done.stdout.startswith(f"{wacz_file}: {len(captures)} capture(s), ")
    assert [p.name for p in wacz_file.parent.iterdir()] == ["archive.wacz"]  # no temp file

    check = subprocess.run(
        [str(Path(COMMUNIQUE).parent / "wacz"), "validate", "-f", str(wacz_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout[-3000:]
    assert "Validation succeeded" in check.stdout
    with zipfile.ZipFile(wacz_file) as wacz:
        names = set(wacz.namelist())
        package = json.loads(wacz.read("datapackage.json"))
    assert {"datapackage.json", "pages/pages.jsonl", "indexes/index.cdx.gz"} <= names
    assert any(name.startswith("archive/") and name.endswith(".warc.gz") for name in names)
    assert {r["path"] for r in package["resources"]} == names - {
        "datapackage.json",
        "datapackage-digest.json",
    }
    assert all(r["hash"].startswith("sha256:") for r in package["resources"])

    records = wacz_records(wacz_file)
    by_id = {r.rec_headers.get_header("WARC-Record-ID"): (r, body) for r, body in records}
    fetches = {
        (r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Date")): r
        for r, _ in records
        if r.rec_type in ("response", "revisit")
    }
    assert len(fetches) == len(captures)
    revisits = 0
    for capture in captures:
        record = fetches[(capture["url"], utc_iso(capture["fetched_at"]))]
        assert record.http_headers.get_statuscode() == str(capture["http_status"])
        # The fixture servers send no Content-Encoding, so every header is kept as served.
        assert dict(record.http_headers.headers) == json.loads(capture["headers"])
        if record.rec_type == "revisit":
            revisits += 1
            record, _ = by_id[record.rec_headers.get_header("WARC-Refers-To")]
        payload = next(body for r, body in records if r is record)
        assert payload == body_of(crawled, capture["body_sha256"]), capture["url"]
    assert revisits >= 6  # the refetch of every statement


def test_pages_have_the_statement_title_and_fetch_time(crawled: Path, wacz_file: Path) -> None:
    with zipfile.ZipFile(wacz_file) as wacz:
        lines = wacz.read("pages/pages.jsonl").decode("utf-8").splitlines()
    header, *pages = [json.loads(line) for line in lines]
    assert header["format"] == "json-pages-1.0"
    expected = rows(
        crawled,
        "select c.id, c.url, c.fetched_at, s.title from captures c "
        "join statements s on s.id = c.statement_id "
        "where c.body_sha256 is not null order by c.id",
    )
    assert len(expected) == 2 * 6  # six statements, each captured twice
    assert [(p["url"], p["ts"], p["title"]) for p in pages] == [
        (e["url"], utc_iso(e["fetched_at"]), e["title"]) for e in expected
    ]


def test_a_page_that_lies_stays_one_page(crawled: Path, wacz_file: Path) -> None:
    [lie] = rows(crawled, "select * from statements where source_id = 'lies'")
    assert '"}{"url": "http://evil.example/forged"' in lie["title"]
    with zipfile.ZipFile(wacz_file) as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()]
        index = gzip.decompress(wacz.read("indexes/index.cdx.gz")).decode("utf-8")
    assert [p["title"] for p in pages if p.get("statement_id") == lie["id"]] == [lie["title"]] * 2
    assert not [p for p in pages if "evil.example" in p.get("url", "")]
    assert "evil" not in "".join(line.split(" ", 1)[0] for line in index.splitlines())
    uris = {r.rec_headers.get_header("WARC-Target-URI") for r, _ in wacz_records(wacz_file)}
    assert EVIL not in uris


def test_wacz_source_and_since_choose_captures(crawled: Path, tmp_path: Path) -> None:
    older = tmp_path / "archive.db"
    shutil.copy(crawled, older)
    conn = sqlite3.connect(older)
    with conn:  # the first crawl's captures, as if made in 2024
        conn.execute(
            "update captures set fetched_at = '2024-05-01T08:00:00+00:00' "
            "where crawl_id in (select min(id) from crawls group by source_id)"
        )
    conn.close()
    recent = rows(older, "select * from captures where fetched_at >= '2025-01-01' order by id")
    out = tmp_path / "since.wacz"

    done = communique(
        "wacz", "export", "--db", str(older), "--out", str(out), "--since", "2025-01-01"
    )

    assert done.returncode == 0, done.stderr
    records = [r for r, _ in wacz_records(out) if r.rec_type in ("response", "revisit")]
    assert sorted(r.rec_headers.get_header("WARC-Date") for r in records) == sorted(
        utc_iso(c["fetched_at"]) for c in recent
    )
    # The first capture of each body in the file is a response, not a revisit of a record
    # the file does not hold.
    assert all(r.rec_type == "response" for r in records)

    only = tmp_path / "lies.wacz"
    done = communique("wacz", "export", "--db", str(older), "--out", str(only), "--source", "lies")
    assert done.returncode == 0, done.stderr
    uris = {
        r.rec_headers.get_header("WARC-Target-URI")
        for r, _ in wacz_records(only)
        if r.rec_type != "warcinfo"
    }
    assert uris == {
        c["url"] for c in rows(older, "select url from captures where source_id = 'lies'")
    }


def test_wacz_bad_input_is_one_line_and_writes_nothing(crawled: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.wacz"
    unknown = communique(
        "wacz", "export", "--db", str(crawled), "--out", str(out), "--source", "nope"
    )
    future = communique(
        "wacz", "export", "--db", str(crawled), "--out", str(out), "--since", "2999-01-01"
    )
    missing = communique("wacz", "export", "--db", str(tmp_path / "none.db"), "--out", str(out))

    assert (unknown.returncode, unknown.stderr) == (
        2,
        f"Error: {crawled}: no source 'nope' in this archive\n",
    )
    assert (future.returncode, future.stderr) == (
        1,
        f"Error: {crawled}: no captures to export since 2999-01-01\n",
    )
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "none.db" in missing.stderr
    assert list(tmp_path.iterdir()) == []


# --- Replay ----------------------------------------------------------------------------


@contextlib.contextmanager
def replaying(db_path: Path, tmp_dir: Path) -> Iterator[str]:
    """`communique replay` on a free port with its own TMPDIR; yields the collection URL.

    Stops it with Ctrl-C (SIGINT) and checks it exits 0 and leaves no collection behind.
    """
    replay_bin()
    port = free_port()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [COMMUNIQUE, "replay", "--db", str(db_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_dir)},
        # A shell starts background jobs (`make test &` in a script) with SIGINT ignored,
        # and the replay would inherit that: Ctrl-C as in a terminal is what is tested.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"replay exited with {process.returncode}"
            assert time.monotonic() < deadline, "pywb did not answer within 120 s"
            with contextlib.suppress(OSError):
                if fetch(f"{base}/communique/")[0] == 200:
                    break
            time.sleep(0.2)
        yield f"{base}/communique"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            # Read while waiting: pywb writes to the same pipe, and a full pipe blocks it.
            # (It is given 12 s to stop, then killed; the rest is slack for a busy machine.)
            stdout, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        code = process.returncode
    assert code == 0
    assert f"at {base}/communique/" in stdout
    assert f"communique serve --replay-url {base}/communique" in stdout
    assert list(tmp_dir.iterdir()) == []  # the collection is removed


@pytest.fixture(scope="module")
def replay_base(crawled: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with replaying(crawled, tmp_path_factory.mktemp("replay-tmp")) as base:
        yield base


def test_replay_serves_each_capture_as_it_was_served(crawled: Path, replay_base: str) -> None:
    captures = rows(
        crawled,
        "select c.* from captures c join statements s on s.id = c.statement_id "
        "where c.source_id = 'mfa-en' and c.body_sha256 is not null order by c.id",
    )
    assert len(captures) == 10
    for capture in captures:  # responses and revisits alike
        status, headers, body = fetch(
            f"{replay_base}/{stamp(capture['fetched_at'])}id_/{capture['url']}"
        )
        assert status == capture["http_status"]
        assert body == body_of(crawled, capture["body_sha256"])
        assert headers.get_all("Memento-Datetime") == [
            datetime.fromisoformat(capture["fetched_at"])
            .astimezone(UTC)
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
        ]
    # The framed page: pywb's banner around the capture, rewritten to stay in the replay.
    first = captures[0]
    status, _, framed = fetch(f"{replay_base}/{stamp(first['fetched_at'])}/{first['url']}")
    assert status == 200 and b'id="replay_iframe"' in framed
    status, _, inner = fetch(f"{replay_base}/{stamp(first['fetched_at'])}mp_/{first['url']}")
    assert status == 200 and b"wombat.js" in inner
    any_en = [c for c in captures if EN_TEXT.encode() in body_of(crawled, c["body_sha256"])]
    assert any_en


def test_replay_keeps_the_real_date_of_a_page_that_lies(crawled: Path, replay_base: str) -> None:
    [lie] = rows(crawled, "select * from captures where source_id = 'lies' order by id limit 1")
    assert json.loads(lie["headers"])["Memento-Datetime"] == "Fri, 01 Jan 1999 00:00:00 GMT"

    status, headers, body = fetch(f"{replay_base}/{stamp(lie['fetched_at'])}id_/{lie['url']}")

    assert status == 200 and b"Bureau of Records" in body
    fetched = datetime.fromisoformat(lie["fetched_at"]).astimezone(UTC)
    # Only pywb's own Memento headers, from the real fetch time; the page's are kept apart.
    assert headers.get_all("Memento-Datetime") == [fetched.strftime("%a, %d %b %Y %H:%M:%S GMT")]
    [link] = headers.get_all("Link")
    assert "evil.example" not in link and "1999" not in link
    assert headers["X-Archive-Orig-Memento-Datetime"] == "Fri, 01 Jan 1999 00:00:00 GMT"
    assert "evil.example" in headers["X-Archive-Orig-Link"]
    assert fetch(f"{replay_base}/19990101000000id_/{EVIL}")[0] == 404


def test_replay_without_its_environment_names_it(crawled: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-env"
    done = subprocess.run(
        [COMMUNIQUE, "replay", "--db", str(crawled), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, ENV_VAR: str(missing)},
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"Error: {missing}: pywb's environment is missing; run `make replay-env`\n"
    )


def test_replay_on_a_taken_port_says_so(crawled: Path) -> None:
    replay_bin()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = communique("replay", "--db", str(crawled), "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: 127.0.0.1:{port}: cannot listen (")
    assert done.stderr.count("\n") == 1


# --- Links from the statement pages ----------------------------------------------------


@contextlib.contextmanager
def serving(db_path: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [COMMUNIQUE, "serve", "--db", str(db_path), "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def replay_links(page: Any) -> list[str]:
    return [a.get("href") for a in page.cssselect("a.replay-link")]


def test_statement_and_versions_link_to_their_captures(crawled: Path, tmp_path: Path) -> None:
    base_url = "http://127.0.0.1:9/communique"
    [statement] = rows(
        crawled, "select * from statements where source_id = 'mfa-en' order by id limit 1"
    )
    newest = rows(
        crawled,
        "select * from captures where statement_id = ? order by fetched_at desc, id desc",
        [statement["id"]],
    )[0]
    [version] = rows(
        crawled,
        "select c.url, c.fetched_at from versions v join captures c on c.id = v.capture_id "
        "where v.statement_id = ?",
        [statement["id"]],
    )
    with serving(crawled, "--replay-url", base_url + "/") as site:
        _, _, html = fetch(f"{site}/archive/statement/{statement['id']}")
    page = lxml.html.fromstring(html)
    [meta_link] = page.cssselect("dl.statement-meta a.replay-link")
    assert meta_link.get("href") == f"{base_url}/{stamp(newest['fetched_at'])}/{newest['url']}"
    [version_link] = page.cssselect("table.versions a.replay-link")
    assert version_link.get("href") == (
        f"{base_url}/{stamp(version['fetched_at'])}/{version['url']}"
    )
    assert text_of(meta_link) == "View as captured"

    with serving(crawled) as site:  # without --replay-url, no such links
        _, _, html = fetch(f"{site}/archive/statement/{statement['id']}")
    assert replay_links(lxml.html.fromstring(html)) == []


def test_hostile_capture_urls_never_make_a_script_link(crawled: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "archive.db"
    shutil.copy(crawled, hostile)
    [statement] = rows(
        hostile, "select id from statements where source_id = 'lies' order by id limit 1"
    )
    conn = sqlite3.connect(hostile)
    with conn:
        ids = [
            row[0]
            for row in conn.execute(
                "select id from captures where statement_id = ? order by id", [statement["id"]]
            )
        ]
        # The version's capture: a script URL; the newest: markup and a fragment in the URL.
        conn.execute("update captures set url = ? where id = ?", ["javascript:alert(1)", ids[0]])
        conn.execute(
            "update captures set url = ? where id = ?",
            ['http://127.0.0.1:1/a"><b id="pwned">x</b>?q=1#frag', ids[-1]],
        )
    conn.close()
    with serving(hostile, "--replay-url", "http://127.0.0.1:9/communique") as site:
        _, _, html = fetch(f"{site}/archive/statement/{statement['id']}")
    page = lxml.html.fromstring(html)
    assert page.cssselect("#pwned") == []
    links = replay_links(page)
    assert len(links) == 1  # the version's capture has no replayable URL
    assert links[0].startswith("http://127.0.0.1:9/communique/")
    assert links[0].endswith(
        "/http://127.0.0.1:1/a%22%3E%3Cb%20id=%22pwned%22%3Ex%3C/b%3E?q=1%23frag"
    )
    assert "javascript:" not in " ".join(a.get("href") or "" for a in page.cssselect("a"))


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)//", "ftp://127.0.0.1/communique", "http://127.0.0.1:8002/c?x=1"]
)
def test_serve_refuses_a_replay_url_that_is_not_a_collection(crawled: Path, url: str) -> None:
    done = communique("serve", "--db", str(crawled), "--replay-url", url, "--port", "1")
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: --replay-url {url!r}: the replay URL must be")
    assert done.stderr.count("\n") == 1


@pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_BROWSER)
def test_view_as_captured_opens_the_capture_in_chromium(
    crawled: Path, replay_base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")  # pywb's banner shows the date in the browser's zone
    [statement] = rows(
        crawled,
        "select s.id, s.url from statements s where s.source_id = 'mfa-en' "
        "and s.url like '%t20240730_11100087.html'",
    )
    newest = rows(
        crawled,
        "select * from captures where statement_id = ? order by fetched_at desc, id desc",
        [statement["id"]],
    )[0]
    with serving(crawled, "--replay-url", replay_base) as site:
        page = dom(tmp_path, f"{site}/archive/statement/{statement['id']}")
        [link] = page.cssselect("dl.statement-meta a.replay-link")
        href = link.get("href")
        assert href == f"{replay_base}/{stamp(newest['fetched_at'])}/{newest['url']}"

        replayed = dom(tmp_path, href)

    # The banner names the capture's own title (which pywb reads from the replayed page
    # in the frame below it, so the capture loaded) and its date.
    banner = text_of(replayed.cssselect("#second-navbar")[0])
    body = body_of(crawled, newest["body_sha256"])
    title = text_of(lxml.html.fromstring(body).cssselect("title")[0])
    fetched = datetime.fromisoformat(newest["fetched_at"]).astimezone(UTC)
    assert f"Current Capture: {title}" in banner
    assert f"{fetched.month}/{fetched.day}/{fetched.year}" in banner
    assert fetched.strftime(":%M:%S") in banner
    [frame] = replayed.cssselect("iframe#replay_iframe")
    src = frame.get("src")
    assert src == href.replace(
        f"/{stamp(newest['fetched_at'])}/", f"/{stamp(newest['fetched_at'])}mp_/"
    )
    status, _, inner = fetch(src)
    assert status == 200 and EN_TEXT in " ".join(inner.decode("utf-8").split())
