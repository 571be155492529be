"""`make demo`: serve the fixture government web, crawl it into data/demo.db, then browse it."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.sites.server import SiteServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_ROOT = REPO_ROOT / "tests" / "sites" / "gov"
CONFIG = REPO_ROOT / "config" / "demo" / "sources.yaml"
DB = REPO_ROOT / "data" / "demo.db"
HOST = "127.0.0.1"
SITE_PORT = 8780
SERVE_PORT = 8001


def fail(message: str, code: int = 2) -> int:
    print(f"demo: error: {message}", file=sys.stderr, flush=True)
    return code


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (checked by binding, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def communique_executable() -> Path:
    """The `communique` script installed next to the running interpreter (the venv's)."""
    name = "communique.exe" if os.name == "nt" else "communique"
    return Path(sys.executable).parent / name


def remove_database(db: Path) -> None:
    """Delete the demo archive and its WAL/SHM side files so every demo starts fresh."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def run_foreground(command: list[str]) -> tuple[int, bool]:
    """Run a child to its end; returns (exit code, whether Ctrl-C interrupted it).

    On Ctrl-C the child receives the same SIGINT from the terminal; it is given time to stop
    cleanly, then terminated, then killed.
    """
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    try:
        return process.wait(), False
    except KeyboardInterrupt:
        for stop in (None, process.terminate, process.kill):
            if stop is not None:
                stop()
            try:
                return process.wait(timeout=10), True
            except subprocess.TimeoutExpired:
                continue
        return process.wait(), True


def publish_updates(root: Path) -> None:
    """What happens on a real site between crawls: an edit, a deletion, a withdrawal.

    Applied to the demo's copy of the site, so the archive has history to show.
    """
    edited = root / "mfa-en/xw/fyrbt/202408/t20240802_11100101.html"
    edited.write_text(
        edited.read_text(encoding="utf-8")
        .replace("deeply saddened by the heavy loss", "profoundly saddened by the tragic loss")
        .replace("within days", "by the end of the week"),
        encoding="utf-8",
    )
    (root / "mfa-en/xw/fyrbt/202407/t20240726_11100075.html").unlink()
    withdrawn = REPO_ROOT / "tests" / "pages" / "wechat" / "deleted_en.html"
    shutil.copy(withdrawn, root / "mss/en/notices/202407/t20240729_2987.html")


def main() -> int:
    """Serve, crawl, serve the archive; returns the process exit code."""
    executable = communique_executable()
    if not executable.exists():
        return fail(f"{executable} not found: install the project first (make install)")
    if port_in_use(HOST, SITE_PORT):
        return fail(f"port {SITE_PORT} on {HOST} is already in use (another demo running?)")
    if port_in_use(HOST, SERVE_PORT):
        return fail(f"port {SERVE_PORT} on {HOST} is already in use (another demo running?)")
    copy = tempfile.TemporaryDirectory(prefix="communique-demo-")
    site_root = Path(copy.name) / "gov"
    shutil.copytree(SITE_ROOT, site_root)
    try:
        site = SiteServer(site_root, HOST, SITE_PORT).start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return fail(f"port {SITE_PORT} on {HOST} is already in use")
        return fail(f"cannot serve the fixture site on {HOST}:{SITE_PORT}: {error}")
    try:
        print(f"demo: fixture government web at {site.base_url}/", flush=True)
        DB.parent.mkdir(parents=True, exist_ok=True)
        remove_database(DB)
        crawl = [str(executable), "crawl", "--config", str(CONFIG), "--db", str(DB)]
        print(f"demo: crawling the demo sources into {DB.relative_to(REPO_ROOT)} …", flush=True)
        # Then the site changes, and two recrawls (a deletion needs two answers in a row)
        # give the archive an edit, a deletion and a withdrawal to show.
        for step in range(3):
            if step == 1:
                publish_updates(site_root)
                print("demo: the site changed; crawling it again …", flush=True)
            code, interrupted = run_foreground(crawl + (["--refetch"] if step else []))
            if interrupted:
                return 130
            if code != 0:
                return fail(f"the crawl failed (exit {code}); see the messages above", code)
        print(
            f"demo: browse the archive at http://{HOST}:{SERVE_PORT}/ "
            f"(archived pages still resolve at {site.base_url}/). Ctrl-C stops everything.",
            flush=True,
        )
        serve = [str(executable), "serve", "--db", str(DB), "--port", str(SERVE_PORT)]
        code, interrupted = run_foreground(serve)
        return 0 if interrupted or code == 0 else code
    except KeyboardInterrupt:
        return 130
    finally:
        site.stop()
        copy.cleanup()
        print("demo: stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
