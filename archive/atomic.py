"""Files that appear under their name only when complete: snapshots and WARC exports."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(final: Path, mode: str = "w", **options: Any) -> Iterator[IO[Any]]:
    """Write to a hidden temporary file beside `final`, then rename it into place.

    A crash or an error leaves no half-written file under the final name. The unique
    name means two writers at once never share a file; the rename is atomic because
    it stays in one directory; fsyncs make the file and the rename survive a power cut.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        # Explicit mode bits (not mkstemp's 0600): as readable as any file the user makes.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, mode, **options) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (not possible on every platform; the data is synced anyway)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
