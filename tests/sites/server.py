"""Static HTTP server for fixture web sites, with base-URL substitution and a request log."""

from __future__ import annotations

import argparse
import fnmatch
import json
import mimetypes
import posixpath
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.sites.background import BackgroundServer

PLACEHOLDER = b"{{base}}"
HEADERS_FILE = "_headers.json"

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".json": "application/json",
    ".css": "text/css",
    ".js": "text/javascript",
}

NOT_FOUND_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
    b"<body><h1>404 Not Found</h1><p>The requested page does not exist.</p></body></html>\n"
)


def content_type_for(path: Path) -> str:
    """Return the Content-Type for a file, by extension (HTML is sent without a charset)."""
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class RequestLog:
    """A thread-safe, append-only list of request targets (path plus query string)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[str] = []

    def append(self, target: str) -> None:
        with self._lock:
            self._items.append(target)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class _Handler(BaseHTTPRequestHandler):
    """Serves files under the server's root; see SiteServer for the rules."""

    server: _SiteHTTPServer
    server_version = "CommuniqueFixture/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _respond(self, *, send_body: bool) -> None:
        self.server.request_log.append(self.path)
        url_path = unquote(urlsplit(self.path).path) or "/"
        file_path = self._resolve(url_path)
        if file_path is None:
            self._send(HTTPStatus.NOT_FOUND, NOT_FOUND_BODY, "text/html", {}, send_body)
            return
        if file_path.is_dir():
            location = urlsplit(self.path).path + "/"
            query = urlsplit(self.path).query
            if query:
                location += "?" + query
            self._send(
                HTTPStatus.MOVED_PERMANENTLY, b"", "text/html", {"Location": location}, send_body
            )
            return
        body = file_path.read_bytes().replace(PLACEHOLDER, self.server.base_url.encode("ascii"))
        extra = self.server.headers_for(url_path)
        self._send(HTTPStatus.OK, body, content_type_for(file_path), extra, send_body)

    def _resolve(self, url_path: str) -> Path | None:
        """Map a URL path to an existing file (or a directory needing a slash), else None."""
        normalized = posixpath.normpath(url_path)
        parts = [p for p in normalized.split("/") if p and p not in (".", "..")]
        if parts and parts[0] == HEADERS_FILE:
            return None
        root = self.server.root
        candidate = root.joinpath(*parts)
        try:
            candidate.resolve().relative_to(root.resolve())
        except ValueError:
            return None
        if url_path.endswith("/"):
            index = candidate / "index.html"
            return index if index.is_file() else None
        if candidate.is_file():
            return candidate
        if candidate.is_dir() and (candidate / "index.html").is_file():
            return candidate
        return None

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        extra_headers: dict[str, str],
        send_body: bool,
    ) -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        for name, value in extra_headers.items():
            for existing in list(headers):
                if existing.lower() == name.lower():
                    del headers[existing]
            headers[name] = value
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)


class _SiteHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the fixture root, the header overrides and the request log."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], root: Path, request_log: RequestLog, verbose: bool
    ) -> None:
        super().__init__(address, _Handler)
        self.root = root
        self.request_log = request_log
        self.verbose = verbose
        host, port = self.server_address[:2]
        host_text = host.decode("ascii") if isinstance(host, bytes) else str(host)
        self.base_url = f"http://{host_text}:{port}"
        self.header_rules = self._load_header_rules(root)

    @staticmethod
    def _load_header_rules(root: Path) -> dict[str, dict[str, str]]:
        path = root / HEADERS_FILE
        if not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): {str(n): str(v) for n, v in dict(h).items()} for k, h in data.items()}

    def headers_for(self, url_path: str) -> dict[str, str]:
        """Extra headers for a path: glob keys (containing *) first, then the exact key wins."""
        merged: dict[str, str] = {}
        for key, headers in self.header_rules.items():
            if "*" in key and fnmatch.fnmatchcase(url_path, key):
                merged.update(headers)
        merged.update(self.header_rules.get(url_path, {}))
        return merged


class SiteServer(BackgroundServer[_SiteHTTPServer]):
    """Serve a fixture directory over HTTP in a daemon thread.

    Rules: files under ``root``; ``/dir/`` serves ``dir/index.html`` (``/dir`` redirects to
    ``/dir/``); the query string is ignored for lookup; ``{{base}}`` in a file is replaced by
    ``base_url``; Content-Type comes from the extension (HTML without a charset); the optional
    ``root/_headers.json`` maps URL paths (exact, or globs with ``*``) to extra headers; a missing
    file is a 404 with a small HTML body. Every request target is appended to ``requests``.
    """

    def __init__(
        self, root: Path, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"fixture root is not a directory: {self.root}")
        self.host = host
        self.port = port
        self.verbose = verbose
        self._log = RequestLog()

    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    @property
    def requests(self) -> list[str]:
        """A copy of the request targets seen so far (path and query string), in order."""
        return self._log.snapshot()

    def clear_requests(self) -> None:
        self._log.clear()

    def url(self, path: str = "/") -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def _new_server(self) -> _SiteHTTPServer:
        httpd = _SiteHTTPServer((self.host, self.port), self.root, self._log, self.verbose)
        self.port = httpd.server_address[1]
        return httpd


def main(argv: list[str] | None = None) -> int:
    """Command line: serve a fixture root until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve a fixture web site.")
    parser.add_argument("--root", type=Path, default=Path(__file__).parent / "gov")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    try:
        server = SiteServer(args.root, args.host, args.port, verbose=not args.quiet).start()
    except OSError as exc:
        print(
            f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    print(f"Serving {args.root} at {server.base_url}/ (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
