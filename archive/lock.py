"""One writer at a time: an advisory lock file beside the archive.

`flock` locks vanish with the process that held them, so a run killed with SIGKILL never
leaves a lock behind: the next run simply takes it. The pid and start time written into
the file are only there to tell a person who is running.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


class ArchiveBusy(Exception):
    """Another process is writing to this archive."""


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


@contextmanager
def archive_lock(db_path: Path) -> Iterator[None]:
    """Hold the archive's write lock for the block, or raise ArchiveBusy at once."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ArchiveBusy(f"{db_path}: another crawl is running ({holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}"
        )
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
