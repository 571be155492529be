"""Running the commands measured: wall time, exit status, output and peak memory."""

from __future__ import annotations

import os
import signal
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
    # CPU time (user + system) of the command and the descendants it waited for: unlike
    # wall time, hardly changed by other work on a shared machine.
    cpu_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started


# Runs the command and writes the peak RSS (KiB) and CPU seconds of its processes to the
# file named first: a small process of its own, because a child forked from this (large)
# one keeps this one's high-water mark in its own across exec.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "cpu = usage.ru_utime + usage.ru_stime\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {cpu}')\n"
    "sys.exit(code)\n"
)


def run(command: list[str], cwd: Path = REPO, timeout: float = 600) -> Ran:
    """Run a command to its end, with its wall time, output, peak RSS and CPU time.

    The peak is the largest of the command's process and the descendants it waited for,
    for this run alone (getrusage of a wrapper's children).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.time_ns()}"
    rss_path = Path(f"{out_path}.rss")
    wrapped = [sys.executable, "-S", "-c", _MEASURE, str(rss_path), *command]
    with open(f"{out_path}.out", "w+b") as out, open(f"{out_path}.err", "w+b") as err:
        started = time.time()
        process = subprocess.Popen(
            wrapped, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True
        )
        deadline = started + timeout
        while True:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                os.killpg(process.pid, signal.SIGKILL)  # the command and its helpers
                pid, status = os.waitpid(process.pid, 0)
                break
            time.sleep(0.01)
        ended = time.time()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    measured = (rss_path.read_text() if rss_path.exists() else "").split()
    max_rss_kib, cpu = (int(measured[0]), float(measured[1])) if len(measured) == 2 else (0, 0.0)
    for path in (Path(f"{out_path}.out"), Path(f"{out_path}.err"), rss_path):
        path.unlink(missing_ok=True)
    rss_mb = round(max_rss_kib / 1024, 1)
    return Ran(started, ended, process.returncode, stdout, stderr, rss_mb, round(cpu, 2))


def communique(*args: str) -> list[str]:
    return [str(BIN / "communique"), *args]


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
