"""A fake mp.weixin.qq.com (as `localhost`) and feed bridge (as `127.0.0.1`) on one port.

Articles answer at `/s/<short id>` and `/s?__biz=…&mid=…&idx=…`, album pages at
`/mp/appmsgalbum?…&f=json` (paged by `begin_msgid`), Sogou-style links at `/link?url=…&k=<short
id>` (a script that builds the article URL piece by piece), bridge feeds at `/feeds/…`
and the bridge's own copies at `/bridge/…`. `{{wechat}}` and `{{bridge}}` in the files
become the two base URLs. Walls are set per article (`article:<mid>-<idx>`, whichever link
form asks) or per path: `site.walls["article:2247480002-1"] = ["captcha"]` answers the
next request for that article with a captcha page (`"429"`: Too Many Requests with
Retry-After 1; `"verify"`: a redirect to `/mp/verifycode`). Every request is logged with
the server's monotonic time and the Host it was sent to.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.sites.background import BackgroundServer

FILES = Path(__file__).parent / "files"
SHORT_IDS = {
    "Ak1xQz": ("2247480001", "1"),
    "Bk2yRw": ("2247480001", "2"),
    "Ck3zSv": ("2247480002", "1"),
    "Dk4aTu": ("2247480003", "1"),
    "Ek5bUt": ("2247480004", "1"),
}
BIZ = "MzkxMjM0NTY3OA=="


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the request arrived
    host: str  # the Host header without the port
    target: str  # path and query


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        site.log(Hit(time.monotonic(), host, self.path))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        article = SHORT_IDS.get(parts.path[3:]) if parts.path.startswith("/s/") else None
        if parts.path == "/s":
            article = (query.get("mid", [""])[0], query.get("idx", [""])[0])
        key = f"article:{article[0]}-{article[1]}" if article else parts.path
        wall = site.next_wall(key)
        if wall == "429":
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": "1"})
        elif wall == "verify":
            location = f"{site.wechat}/mp/verifycode?cert=1721700900&nonce=7a8b"
            self._send(302, b"", "text/html", {"Location": location})
        elif wall == "captcha":
            self._file("captcha.html")
        else:
            self._route(parts.path, query)

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        site = self.server.site
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        elif path.startswith("/s/") and path[3:] in SHORT_IDS:
            mid, idx = SHORT_IDS[path[3:]]
            self._file(f"article-{mid}-{idx}.html")
        elif path == "/s" and (FILES / self._long(query)).is_file():
            self._file(self._long(query))
        elif path == "/mp/appmsgalbum":
            page = "album-2.json" if query.get("begin_msgid") == ["2247480003"] else "album-1.json"
            self._file(page)
        elif path == "/mp/verifycode":
            self._file("captcha.html")
        elif path == "/link" and query.get("k", [""])[0] in SHORT_IDS:
            mid, idx = SHORT_IDS[query["k"][0]]
            target = f"{site.wechat}/s?__biz={BIZ}&mid={mid}&idx={idx}&sn=0&chksm=1"
            pieces = "".join(
                f"            url += '{target[i : i + 9]}';\n" for i in range(0, len(target), 9)
            )
            page = (
                "<meta content='always' name='referrer'>\n<script>\n"
                f"            var url = '';\n{pieces}"
                '            url.replace("@", "");\n'
                "            window.location.replace(url)\n</script>\n"
            )
            self._send(200, page.encode(), "text/html; charset=utf-8")
        elif path.startswith("/feeds/") and (FILES / path.lstrip("/")).is_file():
            self._file(path.lstrip("/"))
        elif path.startswith("/bridge/"):
            self._file("bridge.html")
        else:
            self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")

    @staticmethod
    def _long(query: dict[str, list[str]]) -> str:
        mid, idx = query.get("mid", [""])[0], query.get("idx", [""])[0]
        return f"article-{mid}-{idx}.html" if mid.isdigit() and idx.isdigit() else "-"

    def _file(self, name: str) -> None:
        site = self.server.site
        body = (FILES / name).read_bytes()
        body = body.replace(b"{{wechat}}", site.wechat.encode()).replace(
            b"{{bridge}}", site.bridge.encode()
        )
        types = {".json": "application/json", ".xml": "application/rss+xml"}
        types[".atom"] = "application/atom+xml"
        content_type = types.get(Path(name).suffix, "text/html; charset=utf-8")
        if name == "feeds/wewe.json":
            content_type = "application/feed+json"
        self._send(200, body, content_type)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: WechatSite) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site


class WechatSite(BackgroundServer[_Server]):
    """The fixture WeChat and bridge, in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self.walls: dict[str, list[str]] = {}
        self.port = 0

    @property
    def wechat(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def bridge(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def next_wall(self, path: str) -> str | None:
        with self._lock:
            queue = self.walls.get(path)
            return queue.pop(0) if queue else None

    def _new_server(self) -> _Server:
        httpd = _Server(self)
        self.port = httpd.server_address[1]
        return httpd
