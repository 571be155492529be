"""Serve an archive file with Datasette, configured from config/datasette.yml."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from archive.schema import STATEMENTS, UnusableDatabase

REPO_ROOT = Path(__file__).resolve().parent.parent
METADATA_PATH = REPO_ROOT / "config" / "datasette.yml"

# Settings passed as `--setting NAME VALUE`; values are strings as on a command line.
SETTINGS: dict[str, str] = {
    "max_csv_mb": "0",  # a streamed CSV of the whole archive must never be cut short
    "allow_csv_stream": "on",
    "default_page_size": "50",  # statements are long; 100 rows make a very heavy page
    "sql_time_limit_ms": "3000",  # full-text search and ad-hoc SQL over a large archive
    "facet_time_limit_ms": "1000",  # the default 200 ms is too tight for 100k+ rows
    "suggest_facets": "off",  # the useful facets are configured; suggestions cost queries
    "truncate_cells_html": "500",  # table pages show an excerpt; row pages the full text
}

# Grace period for Datasette to shut down after Ctrl-C before it is killed.
SHUTDOWN_TIMEOUT_S = 10.0


class ArchiveNotFound(FileNotFoundError):
    """The archive file to serve or export does not exist."""


def check_archive(db_path: Path) -> None:
    """Raise ArchiveNotFound or UnusableDatabase, naming the file, unless it is an archive.

    Opens the file read-only, so checking never creates or changes anything.
    """
    if not db_path.is_file():
        raise ArchiveNotFound(f"{db_path}: archive not found")
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {row[0] for row in conn.execute("select name from sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise UnusableDatabase(f"{db_path}: not a usable SQLite database ({error})") from error
    if STATEMENTS not in names:
        raise UnusableDatabase(f"{db_path}: not a Communique archive (no '{STATEMENTS}' table)")


def database_metadata(db_path: Path, metadata_path: Path = METADATA_PATH) -> dict[str, Any]:
    """Return the metadata with its one database entry keyed by db_path's stem.

    Datasette names a database after its file stem and looks metadata up by that exact
    name (there is no wildcard), so the entry must carry the real stem to apply.
    """
    metadata: dict[str, Any] = yaml.safe_load(metadata_path.read_text(encoding="utf-8"))
    databases = metadata.get("databases") or {}
    if len(databases) != 1:
        raise ValueError(f"{metadata_path}: expected exactly one database entry")
    (entry,) = databases.values()
    metadata["databases"] = {db_path.stem: entry}
    return metadata


def write_metadata(db_path: Path, metadata_dir: Path) -> Path:
    """Write the metadata for db_path as JSON into metadata_dir and return its path."""
    metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # One file per archive path, so runs on different files never overwrite each other.
    digest = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:12]
    path = metadata_dir / f"{db_path.stem}-{digest}.json"
    text = json.dumps(database_metadata(db_path), ensure_ascii=False, indent=2)
    # Write then rename, so a concurrent run on the same file never reads half of it.
    fd, tmp_name = tempfile.mkstemp(dir=metadata_dir, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def default_metadata_dir() -> Path:
    """Where datasette_args writes per-archive metadata when not told otherwise."""
    return Path(tempfile.gettempdir()) / f"communique-datasette-{os.getuid()}"


def datasette_args(
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    *,
    metadata_dir: Path | None = None,
) -> list[str]:
    """Build the command line that serves db_path with Datasette.

    Writes the metadata for db_path's stem into metadata_dir (a per-user temporary
    directory by default) and points Datasette at it.
    """
    metadata = write_metadata(db_path, metadata_dir or default_metadata_dir())
    args = [sys.executable, "-m", "datasette", "serve", str(db_path)]
    args += ["--metadata", str(metadata), "--host", host, "--port", str(port)]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def serve(db_path: Path, host: str = "127.0.0.1", port: int = 8001) -> int:
    """Run Datasette on db_path in the foreground until it stops; return its exit code.

    Ctrl-C stops it cleanly (exit code 0); death by a signal gives 128 + the signal
    number, as a shell reports it.
    """
    check_archive(db_path)
    with tempfile.TemporaryDirectory(prefix="communique-datasette-") as metadata_dir:
        args = datasette_args(db_path, host, port, metadata_dir=Path(metadata_dir))
        process = subprocess.Popen(args)
        code = _wait(process)
    # Popen reports death by signal N as -N, which is not a valid exit status.
    return 128 - code if code < 0 else code


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for Datasette, handing SIGTERM and Ctrl-C on to it so it shuts down cleanly."""
    previous = None
    if threading.current_thread() is threading.main_thread():

        def forward_term(signum: int, frame: FrameType | None) -> None:
            process.send_signal(signum)

        # Without this a `kill` of this process would leave Datasette running.
        previous = signal.signal(signal.SIGTERM, forward_term)
    try:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl-C in a terminal reaches Datasette too; only signal it if it did not.
            try:
                return process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)
            try:
                return process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                return process.wait()
    except KeyboardInterrupt:
        # A second Ctrl-C while waiting for shutdown: stop at once.
        process.kill()
        return process.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
