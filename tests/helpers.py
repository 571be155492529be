"""What many tests do: run the `communique` command, read an archive, serve one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from tests.test_serve import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
COMMUNIQUE = str(Path(sys.executable).parent / "communique")


def communique(
    *args: str, cwd: Path = ROOT, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the installed command as a user would; never raises on a non-zero exit."""
    return subprocess.run(
        [COMMUNIQUE, *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=timeout
    )


def rows(db_path: Path, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """The rows a query returns from an archive file, as dicts."""
    db = sqlite_utils.Database(db_path)
    try:
        return list(db.query(sql, params))
    finally:
        db.close()


@contextmanager
def served_archive(db_path: Path) -> Iterator[str]:
    """`communique serve` on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [COMMUNIQUE, "serve", "--db", str(db_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
