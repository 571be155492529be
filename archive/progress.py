"""Progress of a long archive job on stderr: a live line in a terminal, a line a minute in a log.

Crawls have their own table (`crawler/progress.py`); this is for the jobs that walk the
archive or a file: `reextract` and `warc import`.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

LOG_EVERY_S = 60.0
REDRAW_EVERY_S = 0.1


class JobProgress:
    """Counts items as a job finishes them and says how far it is.

    `live`: redraw one line in place (a terminal); otherwise write a line every
    `log_every_s` seconds, so a cron log shows a long job is alive.
    """

    def __init__(
        self,
        label: str,
        unit: str,
        *,
        live: bool | None = None,
        stream: TextIO | None = None,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.log_every_s = log_every_s
        self.total: int | None = None
        self.done = 0
        self.started = time.monotonic()
        self._shown = self.started

    def set_total(self, total: int) -> None:
        self.total = total

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._shown >= (REDRAW_EVERY_S if self.live else self.log_every_s):
            self._shown = now
            self._show(final=False)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        counted = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return f"{self.label}: {counted} {self.unit}{share}, {self.done / elapsed:.0f}/s"

    def _show(self, final: bool) -> None:
        if self.live:
            self.stream.write("\r\x1b[K" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live:  # the finished count stays on screen above the summary
            self._show(final=True)
