"""What many tests do: run the `communique` command, read an archive, serve one, fetch a page."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.serve import datasette_args, datasette_env

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0

# Loopback only, and never through a proxy set in the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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
def served_archive(db_path: Path, *options: str) -> Iterator[str]:
    """`communique serve` on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [COMMUNIQUE, "serve", "--db", str(db_path), "--port", str(port), *options],
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def get(base: str, path: str, timeout: float = 30) -> Response:
    try:
        with OPENER.open(base + path, timeout=timeout) as r:
            return Response(r.status, r.headers.get("content-type", ""), r.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers.get("content-type", ""), error.read())


def answers(base: str) -> bool:
    try:
        return get(base, "/-/versions.json", timeout=2).status == 200
    except OSError:
        return False


def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited early with code {process.returncode}")
        if answers(base):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing answered at {base} within {STARTUP_TIMEOUT_S}s")


@contextlib.contextmanager
def running_datasette(
    db_path: Path, metadata_dir: Path, public: bool = False, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """A real datasette as `communique serve` runs it (plus `extra` arguments)."""
    port = free_port()
    process = subprocess.Popen(
        [*datasette_args(db_path, port=port, metadata_dir=metadata_dir, public=public), *extra],
        env=datasette_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, process)
        yield base
    finally:
        process.kill()
        process.wait()


def datasette_app(db_path: Path, public: bool = False) -> Any:
    """The archive's Datasette in this process, configured as `communique serve` does, for
    tests that drive it through `ds.client` (the plugin comes from its entry point)."""
    from datasette.app import Datasette

    from archive import serve

    settings: dict[str, Any] = {}
    for name, value in {**serve.SETTINGS, **(serve.PUBLIC_SETTINGS if public else {})}.items():
        settings[name] = {"on": True, "off": False}.get(
            value, int(value) if value.isdigit() else value
        )
    return Datasette(
        [str(db_path)],
        metadata=serve.database_metadata(db_path, public=public),
        settings=settings,
    )
