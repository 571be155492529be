"""A fixture HTTP server running in a daemon thread, started and stopped with `with`."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Generic, Self, TypeVar

S = TypeVar("S", bound=ThreadingHTTPServer)


class BackgroundServer(Generic[S]):
    """start/stop and `with` for the fixture servers; each says how its server is made."""

    _httpd: S | None = None
    _thread: threading.Thread | None = None

    def _new_server(self) -> S:
        """The server to run, made on the first `start` unless the subclass made it sooner."""
        raise NotImplementedError

    def _before_stop(self, httpd: S) -> None:
        """Called before shutting down, e.g. to let slow handlers give up."""

    @property
    def httpd(self) -> S:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._httpd

    def start(self) -> Self:
        if self._thread is not None:
            return self
        if self._httpd is None:
            self._httpd = self._new_server()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{type(self).__name__}:{self._httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is None:
            return
        self._before_stop(httpd)
        if thread is not None:  # shutdown() waits for a serve_forever that never ran
            httpd.shutdown()
            thread.join(timeout=5)
        httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
