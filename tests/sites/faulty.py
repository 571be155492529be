"""A fixture HTTP server on 127.0.0.1 that misbehaves on request, path by path.

Each path is given a behaviour: a callable that writes the whole exchange on the raw
handler (so it can lie about lengths, reset the connection, never finish, or stream 50 MB
without holding it in memory). Every request is logged with its time, so tests can check
retries, back-off and which server was (never) asked for what.

    with FaultyServer() as server:
        server.route("/ok.html", page(statement_html("Title", "text")))
        server.route("/down.html", status(503, headers={"Retry-After": "1"}))
        ...
        server.hits("/down.html")  # monotonic times of each request for the path

Unrouted paths (robots.txt included) are 404s. A route may have two behaviours: the
normal one, and a `fault` used instead while `server.faulty` is true, so one server can
serve a clean site to a first crawl and the broken one to the next. A route path ending
in `*` matches every path with that prefix.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.sites.background import BackgroundServer

Behaviour = Callable[["FaultyHandler"], None]

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Hit:
    at: float  # time.monotonic() when the request line was read
    method: str
    target: str  # path and query string
    host: str  # the Host header


# -- statement pages ------------------------------------------------------------------------


def statement_html(title: str, text: str, *, charset: str = "utf-8", lang: str = "en") -> str:
    """A small but real-looking statement page (enough text to be archived)."""
    paragraphs = "".join(f"<p>{text} Paragraph {n}.</p>" for n in range(1, 7))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{charset}">'
        f"<title>{title}</title></head><body><article><h1>{title}</h1>"
        f'<p class="date">2024-08-02</p>{paragraphs}</article></body></html>'
    )


# -- behaviours -----------------------------------------------------------------------------


def page(
    body: bytes | str,
    content_type: str = "text/html; charset=utf-8",
    *,
    code: int = 200,
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """An ordinary complete response."""
    data = body.encode("utf-8") if isinstance(body, str) else body

    def respond(handler: FaultyHandler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    return respond


def status(code: int, *, headers: dict[str, str] | None = None) -> Behaviour:
    """An error status with a small HTML body."""
    return page(f"<html><body><h1>{code}</h1></body></html>", code=code, headers=headers)


def redirect(location: str, code: int = 302) -> Behaviour:
    return page(b"", code=code, headers={"Location": location})


def failing(times: int, failure: Behaviour, then: Behaviour) -> Behaviour:
    """`failure` for the first `times` requests of the path, `then` afterwards."""
    count = 0
    lock = threading.Lock()

    def respond(handler: FaultyHandler) -> None:
        nonlocal count
        with lock:
            count += 1
            current = count
        (failure if current <= times else then)(handler)

    return respond


def slow(seconds: float, then: Behaviour) -> Behaviour:
    """Wait before answering (the wait ends early when the server stops)."""

    def respond(handler: FaultyHandler) -> None:
        handler.server.stopping.wait(seconds)
        then(handler)

    return respond


def truncated(body: bytes, declared: int) -> Behaviour:
    """Declare `declared` bytes, send only `body`, then close the connection cleanly (FIN)."""

    def respond(handler: FaultyHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(declared))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        handler.close_connection = True

    return respond


def reset_mid_body(body: bytes, declared: int) -> Behaviour:
    """Send headers and part of the body, then reset the connection (RST, not FIN)."""

    def respond(handler: FaultyHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
        time.sleep(0.05)  # let the partial body reach the client first
        handler.abort()

    return respond


def never_ends(interval: float = 0.2) -> Behaviour:
    """Headers, then one byte every `interval` seconds until the client gives up."""

    def respond(handler: FaultyHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", "100000")  # under any max_page_bytes
        handler.end_headers()
        handler.wfile.write(b"<html><body>")
        try:
            while not handler.server.stopping.wait(interval):
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:
            pass  # the client hung up: what a timeout looks like from here
        handler.close_connection = True

    return respond


def huge(size: int, *, declare_length: bool = True) -> Behaviour:
    """A `size`-byte HTML page streamed in 64 KB chunks, never held in memory.

    With `declare_length` it has a Content-Length; without, it is sent until the
    connection closes (HTTP/1.0 style), so the client only finds out by counting.
    """
    filler = b"<p>" + b"x" * (CHUNK - 8) + b"</p>\n"

    def respond(handler: FaultyHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        if declare_length:
            handler.send_header("Content-Length", str(size))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        sent = 0
        try:
            handler.wfile.write(b"<html><body>")
            sent += 12
            while sent < size and not handler.server.stopping.is_set():
                chunk = filler[: size - sent]
                handler.wfile.write(chunk)
                sent += len(chunk)
                handler.server.bytes_sent += len(chunk)
        except OSError:
            pass  # the client stopped reading, as it should

    return respond


def closed_port_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 where nothing listens: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# -- server ---------------------------------------------------------------------------------


class FaultyHandler(BaseHTTPRequestHandler):
    server: _FaultyHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "FaultyFixture/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.log(Hit(time.monotonic(), self.command, self.path, self.headers["Host"] or ""))
        behaviour = self.server.behaviour_for(urlsplit(self.path).path)
        if behaviour is None:
            status(404)(self)
        else:
            behaviour(self)

    do_HEAD = do_GET

    def abort(self) -> None:
        """Reset the connection: SO_LINGER 0 makes close() send RST."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


@dataclass
class _Route:
    normal: Behaviour
    fault: Behaviour | None


class _FaultyHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), FaultyHandler)
        self.routes: dict[str, _Route] = {}
        self.faulty = False
        self.stopping = threading.Event()
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._hits: list[Hit] = []

    def log(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def behaviour_for(self, path: str) -> Behaviour | None:
        route = self.routes.get(path)
        if route is None:
            prefixes = [
                key for key in self.routes if key.endswith("*") and path.startswith(key[:-1])
            ]
            if not prefixes:
                return None
            route = self.routes[max(prefixes, key=len)]
        return route.fault if self.faulty and route.fault is not None else route.normal

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and hang-ups are the point here; keep test output clean


class FaultyServer(BackgroundServer[_FaultyHTTPServer]):
    """Serve per-path behaviours on 127.0.0.1 in a daemon thread; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._httpd = _FaultyHTTPServer(host, port)  # now: routes are added before start
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}"

    def url(self, path: str, host: str | None = None) -> str:
        """Absolute URL of a path; `host` names this server differently (e.g. localhost)."""
        return f"http://{host}:{self.port}{path}" if host else self.base_url + path

    def route(self, path: str, normal: Behaviour, fault: Behaviour | None = None) -> None:
        """Serve `normal` at `path`, or `fault` instead while the server is faulty."""
        self.httpd.routes[path] = _Route(normal, fault)

    @property
    def faulty(self) -> bool:
        return self.httpd.faulty

    @faulty.setter
    def faulty(self, value: bool) -> None:
        self.httpd.faulty = value

    @property
    def bytes_sent(self) -> int:
        """Bytes of `huge` bodies actually written to clients."""
        return self.httpd.bytes_sent

    @property
    def log(self) -> list[Hit]:
        """Every request so far, in order."""
        return self.httpd.hits()

    def hits(self, path: str, since: float = 0.0) -> list[float]:
        """Times (monotonic) of the requests for a path (query ignored), optionally after `since`."""
        return [hit.at for hit in self.log if urlsplit(hit.target).path == path and hit.at >= since]

    def _before_stop(self, httpd: _FaultyHTTPServer) -> None:
        httpd.stopping.set()  # slow and hanging handlers give up
