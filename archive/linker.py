"""The cross-language linker in a process of its own, beside a writer that stores faster.

Linking a statement (archive/links/crosslang.py) is most of what storing it costs. The
writer of a crawl on several machines (crawler/writer.py) stores with `link_later`: each
statement to link goes onto `xlang_queue` in the transaction that stores it, and after the
commit the writer hands its id (and the features its worker computed) to this process.
Here it is linked, in the order stored, on a copy of the linker's index (a SQLite file of
the `xlang_*` tables, made at start beside the archive), while the writer goes on storing.
What linking wrote to the copy comes back, and the writer writes it to the archive as it
was (`languages.apply`: same SQL, same order, each statement's `related` rows after it)
in its next transaction, which also takes the statements off the queue. The archive ends
as linking each statement as it was stored would have left it, and has one writer: this
process only reads it (and waits for no lock).

Nothing is lost: a statement stays queued until its links are committed. Statements a
killed writer left on the queue are linked first by the next writer's linker (their
features computed here). The writer keeps at most `AHEAD` batches ahead of the linker, so
that what waits stays small.

Written by hand (a process, two pipes, a file): what it coordinates is the archive's own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from archive.links import languages
from archive.links.crosslang import ensure_tables, flush, link_statement
from archive.store import Archive

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from archive.links.features import Features

logger = logging.getLogger(__name__)

AHEAD = 3  # batches the writer may hand on before the linker has written the first
_COPIED = ("xlang_docs", "xlang_postings", "xlang_df", "xlang_links")
_WRITES = ("insert", "update", "delete", "replace")


_STOPPED = object()  # the linker's pipe ended
_NOTHING = object()  # no answer has come


class LinkerFailed(RuntimeError):
    """The linker process stopped with an error; what it had not linked stays queued."""


class Linker:
    """The writer's side: starts the linker process, hands it what was stored, and takes
    back what linking wrote, for the writer to write in its own transactions.

    `with Linker(db_path) as linker: … linker.hand_on(queued); apply(linker.linked())
    … apply(linker.finish())`."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._process: BaseProcess | None = None
        self._requests: Connection | None = None  # to the linker
        self._answers: Connection | None = None  # from it
        self._ahead = 0  # batches handed on and not answered
        self._answered: list[languages.Written] = []  # not yet taken by the writer
        # Answers, read as they come by a thread: a batch handed on and a batch answered
        # are each larger than a pipe holds, and would otherwise wait for each other.
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._receiver: threading.Thread | None = None
        self.count = 0  # statements linked

    def __enter__(self) -> Linker:
        context = multiprocessing.get_context("spawn")  # nothing of the writer's state
        requests_in, requests_out = context.Pipe(duplex=False)
        answers_in, answers_out = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run,
            args=(str(self.db_path), requests_in, answers_out),
            name="communique-linker",
            daemon=True,
        )
        self._process.start()
        requests_in.close()
        answers_out.close()
        self._requests, self._answers = requests_out, answers_in
        self._receiver = threading.Thread(
            target=self._receive, args=(answers_in,), name="linker-answers", daemon=True
        )
        self._receiver.start()
        # What a killed writer left queued goes first (its features are computed there).
        store = Archive(self.db_path)
        try:
            left = languages.queued(store.db)
        finally:
            store.close()
        if left:
            logger.info("linking %d statement(s) an earlier writer stored", len(left))
            self.hand_on([(statement_id, at, None) for statement_id, at in left])
        return self

    def hand_on(self, queued: list[tuple[str, str, Features | None]]) -> None:
        """Statements the writer committed to the queue, in order: (id, when queued,
        features). Waits while the linker is `AHEAD` batches behind."""
        if not queued:
            return
        while self._ahead >= AHEAD:
            self._answer()
        self._send(queued)
        self._ahead += 1

    def linked(self) -> list[languages.Written]:
        """What linking wrote since the last call, in order (without waiting)."""
        while self._ahead and self._answer(wait=False) is not _NOTHING:
            pass
        found, self._answered = self._answered, []
        return found

    def finish(self) -> list[languages.Written]:
        """Wait until every statement handed on is linked; what linking wrote since the
        last `linked()`, the term counts it held at the end with it."""
        self._send(None)
        while self._answer() is not None:
            pass
        self._stop()
        found, self._answered = self._answered, []
        return found

    def __exit__(self, *_: object) -> None:
        self._stop()

    @property
    def pid(self) -> int | None:
        """The linker process's id (while it runs)."""
        return self._process.pid if self._process is not None else None

    def _send(self, message: Any) -> None:
        assert self._requests is not None
        try:
            self._requests.send(message)
        except (BrokenPipeError, ConnectionResetError):
            self._answer()  # says why it stopped
            raise self._failed("the linker stopped") from None

    def _receive(self, pipe: Connection) -> None:
        while True:
            try:
                answer = pipe.recv()
            except (EOFError, OSError):
                self._inbox.put(_STOPPED)
                return
            self._inbox.put(answer)
            if answer is None or isinstance(answer, str):
                return

    def _answer(self, wait: bool = True) -> Any:
        """The linker's next answer: what it wrote linking one batch, or None when it has
        finished; without waiting, _NOTHING when none has come."""
        try:
            answer = self._inbox.get(block=wait)
        except queue.Empty:
            return _NOTHING
        if answer is _STOPPED:
            raise self._failed(f"the linker stopped ({self._exit()})")
        if isinstance(answer, str):
            raise self._failed(answer)
        if answer is not None:
            self._answered += answer
            self.count += sum(1 for item in answer if item.statement_id is not None)
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
        if self._requests is not None:
            self._requests.close()  # the linker reads the end of its work, and exits
            self._requests = None
        if self._process is not None:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None
        if self._receiver is not None:
            self._receiver.join(timeout=10)  # the linker gone, its pipe ends
            self._receiver = None
        if self._answers is not None:
            self._answers.close()
            self._answers = None


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


def _run(db_path: str, requests: Connection, answers: Connection) -> None:
    """The linker process: link what the writer hands on, batch by batch, and answer with
    what linking each wrote, until told to finish (then with the term counts it held).
    It only reads the archive: the writer writes."""
    path = Path(db_path)
    reader = sqlite_utils.Database(sqlite3.connect(path, timeout=30))
    try:
        with _index_copy(path) as index:
            while (handed := requests.recv()) is not None:
                answers.send(_link_batch(reader, index, handed))
            answers.send(_flushed(index))
        answers.send(None)
    except EOFError:
        pass  # the writer is gone: what is queued waits for the next one
    except Exception as error:  # told to the writer, which stops on it
        logger.exception("the linker failed")
        with contextlib.suppress(OSError):
            answers.send(f"the linker failed: {type(error).__name__}: {error}")
    finally:
        reader.close()


def _link_batch(
    reader: sqlite_utils.Database,
    index: _Recording,
    batch: list[tuple[str, str, Features | None]],
) -> list[languages.Written]:
    """Link the statements on the copy, one by one: what each wrote there, in order."""
    ids = [sid for sid, _, _ in batch]
    found = {
        row[0]: row
        for row in reader.execute(
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
    return written


def _flushed(index: _Recording) -> list[languages.Written]:
    """Write the term counts the linker still holds in memory to the copy; the same for
    the archive."""
    index.execute("begin")
    flush(index)
    index.execute("commit")
    writes = tuple(index.writes)
    index.writes.clear()
    return [languages.Written(None, "", writes, frozenset())] if writes else []
