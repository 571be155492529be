"""Running the commands measured: wall time, exit status, output and peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Ran:
    started: float  # wall clock (time.time()) when the command was started
    ended: float  # and when it had exited
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float  # RSS high-water mark of the largest process of the run

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def run(command: list[str], cwd: Path = REPO, timeout: float = 600) -> Ran:
    """Run a command to its end; its peak RSS comes from wait4's resource usage.

    wait4 reports the child and the descendants it waited for, so this is the largest
    of the crawl process and its reaped helpers, for this run alone.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.time_ns()}"
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        started = time.time()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        ended = time.time()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    Path(f"{out_path}.out").unlink(missing_ok=True)
    Path(f"{out_path}.err").unlink(missing_ok=True)
    return Ran(started, ended, process.returncode, stdout, stderr, round(usage.ru_maxrss / 1024, 1))


def communique(*args: str) -> list[str]:
    return [str(BIN / "communique"), *args]


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
