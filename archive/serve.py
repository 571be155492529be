"""Serve an archive file with Datasette and the archive's plugin (the `communique` entry point).

The plugin brings its pages, templates, CSS and metadata (archive/web/datasette.yml) by
itself, so a plain `datasette archive.db` works too; this adds the settings and modes.
"""

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

from archive.schema import STATEMENTS, UnusableDatabase
from archive.web.metadata import for_database

# Settings passed as `--setting NAME VALUE`; values are strings as on a command line.
SETTINGS: dict[str, str] = {
    "max_csv_mb": "0",  # a streamed CSV of the whole archive must never be cut short
    "allow_csv_stream": "on",
    "default_page_size": "50",  # statements are long; 100 rows make a very heavy page
    "sql_time_limit_ms": "3000",  # full-text search and ad-hoc SQL over a large archive
    # Each facet of a table page gets this long; past it the page says it was skipped
    # (narrow the search). A search's facets read every match: ~50-100 ms each at 100k
    # statements, ~1 s each at 1M for a common word, so there they are skipped and the
    # rows still come within a second (bench/search_speed.py).
    "facet_time_limit_ms": "250",
    "suggest_facets": "off",  # the useful facets are configured; suggestions cost queries
    "truncate_cells_html": "500",  # table pages show an excerpt; row pages the full text
}

# Added by --public: nothing but the archive's own pages, queries and downloads. Reads
# already go through read-only connections (Datasette opens files with ?mode=ro) and the
# archive defines no writable canned queries; arbitrary SQL is off, queries are cut short.
PUBLIC_SETTINGS: dict[str, str] = {
    "default_allow_sql": "off",
    "sql_time_limit_ms": "1500",
    "allow_download": "off",
}

# glibc gives each of Datasette's SQL threads a malloc arena of its own, and rows made in
# one thread and freed in another fragment them: the memory of a 1M-row CSV stream crept
# from 100 to 114 MB. With two arenas it stays at 91–93 MB (`python -m bench --large --only csv`).
MALLOC_ARENAS = "2"

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


def database_metadata(
    db_path: Path,
    *,
    public: bool = False,
    replay_url: str | None = None,
) -> dict[str, Any]:
    """Return the plugin's metadata with its one database entry keyed by db_path's stem.

    With public, arbitrary SQL is refused for everyone (`allow_sql` nobody). replay_url (a
    pywb collection) goes to the plugin's config, for its "View as captured" links.
    """
    metadata = for_database(db_path.stem)
    entry = metadata["databases"][db_path.stem]
    if public:
        metadata["allow_sql"] = False
        entry["allow_sql"] = False
    if replay_url:
        metadata.setdefault("plugins", {}).setdefault("communique", {})["replay_url"] = replay_url
    return metadata


def write_metadata(
    db_path: Path, metadata_dir: Path, *, public: bool = False, replay_url: str | None = None
) -> Path:
    """Write the metadata for db_path as JSON into metadata_dir and return its path."""
    metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # One file per archive path (and mode), so runs on different files never overwrite
    # each other.
    key = (
        f"{db_path.resolve()}{' public' if public else ''}{' ' + replay_url if replay_url else ''}"
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = metadata_dir / f"{db_path.stem}-{digest}.json"
    metadata = database_metadata(db_path, public=public, replay_url=replay_url)
    text = json.dumps(metadata, ensure_ascii=False, indent=2)
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
    public: bool = False,
    replay_url: str | None = None,
) -> list[str]:
    """Build the command line that serves db_path with Datasette and the archive's plugin.

    Writes the metadata for db_path's stem into metadata_dir (a per-user temporary
    directory by default) and points Datasette at it. public adds PUBLIC_SETTINGS.
    """
    metadata = write_metadata(
        db_path, metadata_dir or default_metadata_dir(), public=public, replay_url=replay_url
    )
    # Published, the file is opened immutable (`-i`): read only, and never locked or
    # checked for changes, so nothing a visitor does can write to it.
    args = [sys.executable, "-m", "datasette", "serve"]
    args += ["-i", str(db_path)] if public else [str(db_path)]
    args += ["--metadata", str(metadata), "--host", host, "--port", str(port)]
    settings = {**SETTINGS, **PUBLIC_SETTINGS} if public else SETTINGS
    for name, value in settings.items():
        args += ["--setting", name, value]
    return args


def datasette_env() -> dict[str, str]:
    """The environment to start Datasette in: this one, with MALLOC_ARENA_MAX set unless
    the operator set it."""
    return {"MALLOC_ARENA_MAX": MALLOC_ARENAS, **os.environ}


def prepare_search(db_path: Path) -> bool:
    """Bring the archive's schema and search index up to date; False if it cannot be written.

    A no-op on an up-to-date archive (the store keeps the index current after every write).
    A read-only file is served as it is.
    """
    from archive.schema import open_archive
    from archive.search import ensure_search_index

    try:
        db = open_archive(str(db_path))
    except (UnusableDatabase, sqlite3.Error):
        return False
    try:
        ensure_search_index(db)
        return True
    except sqlite3.Error:
        return False
    finally:
        db.close()


def serve(
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    *,
    public: bool = False,
    replay_url: str | None = None,
) -> int:
    """Run Datasette on db_path in the foreground until it stops; return its exit code.

    Ctrl-C stops it cleanly (exit code 0); death by a signal gives 128 + the signal
    number, as a shell reports it. public serves it safely to the world (see
    PUBLIC_SETTINGS); where it listens is only ever what host says. replay_url: see
    database_metadata.
    """
    check_archive(db_path)
    prepare_search(db_path)
    with tempfile.TemporaryDirectory(prefix="communique-datasette-") as metadata_dir:
        args = datasette_args(
            db_path,
            host,
            port,
            metadata_dir=Path(metadata_dir),
            public=public,
            replay_url=replay_url,
        )
        process = subprocess.Popen(args, env=datasette_env())
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
