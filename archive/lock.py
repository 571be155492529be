"""One writer at a time: an advisory lock file beside the archive.

`flock` locks vanish with the process that held them, so a run killed with SIGKILL never
leaves a lock behind: the next run simply takes it. The pid and start time written into
the file are only there to tell a person who is running. Within one process the lock is
counted, not taken again: a crawl holds it for its whole run while each of its sources'
ingest sessions (archive/ingest.py, the only user of this module) holds it too.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class ArchiveBusy(Exception):
    """Another process is writing to this archive."""


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


_held: dict[Path, tuple[Any, int]] = {}  # lock file → (open handle, holders in this process)
_guard = threading.Lock()


def _take(path: Path, db_path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ArchiveBusy(f"{db_path}: another crawl is running ({holder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}")
    handle.flush()
    return handle


@contextmanager
def archive_lock(db_path: Path) -> Iterator[None]:
    """Hold the archive's write lock for the block, or raise ArchiveBusy at once."""
    path = lock_path(Path(db_path)).resolve()
    with _guard:
        handle, holders = _held.get(path) or (_take(path, Path(db_path)), 0)
        _held[path] = (handle, holders + 1)
    try:
        yield
    finally:
        with _guard:
            handle, holders = _held[path]
            if holders == 1:
                del _held[path]
                handle.close()  # closing releases the lock
            else:
                _held[path] = (handle, holders - 1)
