"""The cross-language linker in a process of its own, behind a writer that stores faster.

Linking a statement (archive/links/crosslang.py) is most of what storing it costs. The
writer of a crawl on several machines (crawler/writer.py) stores with `link_later`: each
statement to link goes onto `xlang_queue` in the transaction that stores it, and after the
commit the writer hands its id (and the features its worker computed) to this process.
Here it is linked, in the order stored, on a copy of the linker's index (a SQLite file of
the `xlang_*` tables, made at start beside the archive), so that the CPU work holds no lock
on the archive. What linking wrote to the copy is then written to the archive as it was
(`languages.apply`: same SQL, same order, each statement's `related` rows after it) in one
short transaction per batch, which also takes the statements off the queue. The archive
ends as linking each statement as it was stored would have left it.

Nothing is lost: a statement stays queued until its links are committed. Statements a
killed writer left on the queue are linked first by the next writer's linker (their
features computed here). The writer keeps at most `AHEAD` batches ahead of the linker, so
that what waits stays small.

Written by hand (a process, a pipe, a file): what it coordinates is the archive's own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.ingest import apply_links
from archive.links import languages
from archive.links.crosslang import ensure_tables, flush, link_statement
from archive.store import Archive

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from archive.links.features import Features

logger = logging.getLogger(__name__)

AHEAD = 2  # batches the writer may hand on before the linker has written the first
_COPIED = ("xlang_docs", "xlang_postings", "xlang_df", "xlang_links")
_WRITES = ("insert", "update", "delete", "replace")


class LinkerFailed(RuntimeError):
    """The linker process stopped with an error; what it had not linked stays queued."""


class Linker:
    """The writer's side: starts the linker process, hands it what was stored, waits for
    it to finish. `with Linker(db_path) as linker: … linker.hand_on(queued)`."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._ahead = 0
        self.linked = 0

    def __enter__(self) -> Linker:
        context = multiprocessing.get_context("spawn")  # nothing of the writer's state
        ours, theirs = context.Pipe()
        self._process = context.Process(
            target=_run,
            args=(str(self.db_path), theirs, os.getpid()),
            name="communique-linker",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        self._pipe = ours
        # What a killed writer left queued goes first (its features are computed there).
        store = Archive(self.db_path)
        try:
            left = languages.queued(store.db)
        finally:
            store.close()
        if left:
            logger.info("linking %d statement(s) an earlier writer stored", len(left))
            self.hand_on([(statement_id, None) for statement_id, _ in left])
        return self

    def hand_on(self, queued: list[tuple[str, Features | None]]) -> None:
        """Statements the writer committed to the queue, in order, with their features."""
        if not queued:
            return
        while self._ahead >= AHEAD:
            self._answer()
        self._send(queued)
        self._ahead += 1

    def finish(self) -> int:
        """Wait until every statement handed on is linked; returns how many were."""
        self._send(None)
        while self._answer() is not None:
            pass
        self._stop()
        return self.linked

    def __exit__(self, *_: object) -> None:
        self._stop()

    def _send(self, message: Any) -> None:
        assert self._pipe is not None
        try:
            self._pipe.send(message)
        except (BrokenPipeError, ConnectionResetError):
            self._answer()  # says why it stopped
            raise self._failed("the linker stopped") from None

    def _answer(self) -> int | None:
        """The linker's next answer: how many it linked (one batch written), or None when
        it has finished."""
        assert self._pipe is not None
        try:
            answer = self._pipe.recv()
        except EOFError:
            raise self._failed(f"the linker stopped ({self._exit()})") from None
        if isinstance(answer, str):
            raise self._failed(answer)
        if answer is not None:
            self.linked += answer
            self._ahead = max(0, self._ahead - 1)
        return answer

    def _failed(self, why: str) -> LinkerFailed:
        return LinkerFailed(
            f"{self.db_path}: {why}; the statements it had not linked stay queued for the "
            "next writer (or `communique link`)"
        )

    def _exit(self) -> str:
        assert self._process is not None
        self._process.join(timeout=5)
        return f"exit code {self._process.exitcode}"

    def _stop(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._process is not None:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None


class _Recording(sqlite3.Connection):
    """A connection that keeps every write made through it, to be made again elsewhere."""

    writes: list[tuple[str, Any, bool, int | None]]

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor = super().execute(sql, parameters)
        if _is_write(sql):
            # A statement's number in the index: the archive's copy must give the same.
            number = cursor.lastrowid if "INTO xlang_docs" in sql else None
            self.writes.append((sql, parameters, False, number))
        return cursor

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        rows = [tuple(row) for row in parameters]
        cursor = super().executemany(sql, rows)
        if _is_write(sql):
            self.writes.append((sql, rows, True, None))
        return cursor


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].lower().startswith(_WRITES)


@contextlib.contextmanager
def _index_copy(db_path: Path) -> Iterator[_Recording]:
    """A copy of the archive's linker index, in a folder beside the archive, removed after."""
    for stale in db_path.parent.glob(f".{db_path.name}.linking-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed writer
    folder = Path(tempfile.mkdtemp(prefix=f".{db_path.name}.linking-", dir=db_path.parent))
    try:
        conn = sqlite3.connect(folder / "index.db", factory=_Recording, isolation_level=None)
        conn.writes = []
        conn.execute("pragma journal_mode = off")  # a copy: it is made again if lost
        conn.execute("pragma synchronous = off")
        ensure_tables(conn)
        conn.execute("attach database ? as archive", [str(db_path)])
        conn.execute("begin")  # one read of the archive: a consistent copy
        for table in _COPIED:
            conn.execute(f"insert into main.{table} select * from archive.{table}")
        conn.execute("commit")
        conn.execute("detach database archive")
        conn.writes.clear()
        try:
            yield conn
        finally:
            conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Orphaned(Exception):
    """The writer died: what is queued waits for the next one (and its lock)."""


def _run(db_path: str, pipe: Connection, writer: int) -> None:
    """The linker process: link what the writer hands on (and what an earlier writer left
    queued), batch by batch, until told to finish; answer how many each batch linked."""
    path = Path(db_path)
    try:
        store = Archive(path)
        try:
            with _index_copy(path) as index:
                while (handed := pipe.recv()) is not None:
                    at = dict(languages.queued(store.db))
                    batch = [(sid, at[sid], found) for sid, found in handed if sid in at]
                    _link_batch(store, index, batch, writer)
                    pipe.send(len(batch))
                _flush(store, index)
        finally:
            store.close()
        pipe.send(None)
    except (EOFError, _Orphaned):
        return  # the writer is gone: what is queued waits for the next one
    except Exception as error:  # told to the writer, which stops on it
        logger.exception("the linker failed")
        with contextlib.suppress(OSError):
            pipe.send(f"the linker failed: {type(error).__name__}: {error}")


def _link_batch(
    store: Archive, index: _Recording, batch: list[tuple[str, str, Features | None]], writer: int
) -> None:
    """Link the statements on the copy, one by one; then write it all to the archive."""
    ids = [sid for sid, _, _ in batch]
    found = {
        row[0]: row
        for row in store.db.execute(
            "select id, language, title, text, published, first_seen from statements "
            "where id in (select value from json_each(?))",
            [json.dumps(ids)],
        ).fetchall()
    }
    written: list[languages.Written] = []
    index.execute("begin")
    for sid, at, features in batch:
        decided: frozenset[str] = frozenset()
        if sid in found:
            doc = languages.doc(*found[sid])
            decided = link_statement(index, doc, features).decided
        written.append(languages.Written(sid, at, tuple(index.writes), decided))
        index.writes.clear()
    index.execute("commit")
    index.writes.clear()
    if os.getppid() != writer:
        # The writer was killed: its lock is gone, and a new writer may be copying the
        # index. What this batch linked stays queued for that one.
        raise _Orphaned
    apply_links(store, written)


def _flush(store: Archive, index: _Recording) -> None:
    """Write the term counts the linker still holds in memory, to the copy and the archive."""
    index.execute("begin")
    flush(index)
    index.execute("commit")
    writes = tuple(index.writes)
    index.writes.clear()
    if writes:
        apply_links(store, [languages.Written(None, "", writes, frozenset())])
