"""Replay captures as they were served, through pywb in its own virtualenv; links into it.

pywb pins old redis, fakeredis and werkzeug releases that would pull the main
environment's packages back, so it lives in `.venv-replay/` beside the checkout
(`make replay-env`) and runs as a separate process on a collection built from
archive.warc's WARC export. Its framed replay shows each capture under a banner with
the capture's date, from another origin (its own port) than the archive's pages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "COMMUNIQUE_REPLAY_ENV"  # another pywb virtualenv, instead of .venv-replay/
DEFAULT_ENV = REPO_ROOT / ".venv-replay"
MAKE_TARGET = "make replay-env"
COLLECTION = "communique"  # replay URLs are /communique/<timestamp>/<url>
DEFAULT_PORT = 8002
# What a captured URL keeps unescaped in a replay link: its own structure, and
# percent-escapes it already has. Anything else (spaces, quotes, '#') is escaped, so the
# link names exactly the captured URL.
URL_SAFE = ":/?&=%@!$'()*+,;~[]"
# pywb passes a captured response's own Memento-Datetime, Link and Content-Location headers
# through unchanged, beside its own: a page could then tell Memento clients it was archived
# on any date it likes. These are prefixed X-Archive-Orig- like Date and Server, so the only
# such headers are pywb's, from the capture's real time. Then pywb's own `wayback` runs.
PYWB_LAUNCHER = """\
import sys
from pywb.rewrite.header_rewriter import DefaultHeaderRewriter
DefaultHeaderRewriter.header_rules.update(
    {"memento-datetime": "prefix", "link": "prefix", "content-location": "prefix"}
)
from pywb.apps.cli import wayback
sys.argv[0] = "wayback"
sys.exit(wayback())
"""
# pywb reads ./config.yaml: framed replay (the capture in an iframe under a banner with its
# date), Memento headers, and no live web or recording, so nothing is fetched from outside.
PYWB_CONFIG = """\
framed_replay: true
enable_memento: true
"""


class ReplayEnvMissing(FileNotFoundError):
    """pywb's virtualenv is not there; the message names it and the make target."""


class PortUnavailable(OSError):
    """pywb could not listen where asked; the message names the address."""


@dataclass(frozen=True)
class Replay:
    """A collection being served: where, and how many captures it holds."""

    url: str  # the collection's base, for `communique serve --replay-url`
    captures: int


def replay_env() -> Path:
    """The bin/ directory of pywb's virtualenv, or ReplayEnvMissing naming what to run."""
    env = Path(os.environ.get(ENV_VAR) or DEFAULT_ENV)
    bin_dir = env / "bin"
    if not all((bin_dir / name).is_file() for name in ("python", "wayback", "wb-manager")):
        raise ReplayEnvMissing(f"{env}: pywb's environment is missing; run `{MAKE_TARGET}`")
    return bin_dir


def check_replay_url(url: str) -> str:
    """url without a trailing slash if it is an http(s) URL with a host, else ValueError."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r}: the replay URL must be an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: the replay URL must be a collection's base, without ? or #")
    return url.strip().rstrip("/")


def timestamp14(fetched_at: str) -> str:
    """An archive time (ISO 8601, UTC when it has no offset) as a 14-digit replay timestamp."""
    when = datetime.fromisoformat(fetched_at)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def replay_link(base: str, url: str, fetched_at: str) -> str | None:
    """The replay of the capture of url at fetched_at, or None for a non-http(s) URL."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    try:
        stamp = timestamp14(fetched_at)
    except (TypeError, ValueError):
        return None
    return f"{base.rstrip('/')}/{stamp}/{quote(url, safe=URL_SAFE)}"


def build_collection(
    db_path: Path, root: Path, source_ids: list[str], bin_dir: Path | None = None
) -> int:
    """Make root a pywb directory whose one collection holds the archive's captures.

    Returns the number of captures. pywb's own wb-manager creates and indexes it.
    """
    from archive.warc import export_warc

    bin_dir = bin_dir or replay_env()
    (root / "config.yaml").write_text(PYWB_CONFIG, encoding="utf-8")
    _manager(bin_dir, root, "init", COLLECTION)
    warc = root / "collections" / COLLECTION / "archive" / "captures.warc.gz"
    result = export_warc(db_path, warc, source_ids)
    _manager(bin_dir, root, "reindex", COLLECTION)
    return result.captures


def _manager(bin_dir: Path, root: Path, *args: str) -> None:
    done = subprocess.run(
        [str(bin_dir / "wb-manager"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise RuntimeError(f"wb-manager {args[0]} failed: {last}")


def check_port(host: str, port: int) -> None:
    """PortUnavailable unless host:port can be listened on now (before a long export)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise PortUnavailable(f"{host}:{port}: cannot listen ({error.strerror or error})") from None


def wayback_args(bin_dir: Path, root: Path, host: str, port: int) -> list[str]:
    """pywb's server on root, listening only where host says (see PYWB_LAUNCHER)."""
    server = [str(bin_dir / "python"), "-c", PYWB_LAUNCHER]
    return [*server, "--bind", host, "--port", str(port), "--directory", str(root)]


def replay(
    db_path: Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    source_ids: list[str] | None = None,
    ready: Callable[[Replay], None] | None = None,
) -> int:
    """Serve the archive's captures (or the named sources') with pywb until stopped.

    Builds the collection in a temporary directory (removed afterwards), calls ready once
    pywb is starting, and returns pywb's exit code (0 after Ctrl-C, 128 + N after signal N).
    """
    from archive.serve import _wait, check_archive
    from archive.wacz import check_sources

    check_archive(db_path)
    check_sources(db_path, list(source_ids or []))
    bin_dir = replay_env()
    check_port(host, port)
    with tempfile.TemporaryDirectory(prefix="communique-replay-") as work:
        root = Path(work)
        captures = build_collection(db_path, root, list(source_ids or []), bin_dir)
        process = subprocess.Popen(wayback_args(bin_dir, root, host, port), cwd=root)
        if ready is not None:
            ready(Replay(f"http://{host}:{port}/{COLLECTION}", captures))
        code = _wait(process)
    if code == -signal.SIGINT:
        return 0  # Ctrl-C is how a replay is meant to stop; pywb dies of it
    return 128 - code if code < 0 else code
