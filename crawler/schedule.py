"""Unattended crawls: the crontab line or systemd user units that run `crawl --due`."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MARKER = "# communique"


class ScheduleError(Exception):
    """Installing or reading the schedule failed; the message says what to do."""


@dataclass(frozen=True)
class Job:
    """One archive's unattended crawl: which config, which database, where the log goes."""

    config: Path
    db: Path
    log_file: Path
    workdir: Path

    @property
    def name(self) -> str:
        return f"communique-crawl-{self.db.stem}"

    def command(self) -> list[str]:
        executable = Path(sys.executable).parent / "communique"
        return [
            str(executable),
            "crawl",
            "--due",
            "--no-progress",
            "--config",
            str(self.config),
            "--db",
            str(self.db),
            "--log-file",
            str(self.log_file),
        ]


def make_job(config: Path, db: Path, log_file: Path | None = None) -> Job:
    config, db = config.resolve(), db.resolve()
    return Job(config, db, (log_file or db.parent / "logs" / "crawl.log").resolve(), Path.cwd())


def _cron_escape(text: str) -> str:
    """cron turns an unescaped `%` anywhere in the command into a newline (the rest going
    to stdin), so a path with one would run something else: `\\%` keeps it a `%`."""
    return text.replace("%", "\\%")


def cron_line(job: Job) -> str:
    """Every minute: `crawl --due` decides what is due and exits at once when nothing is."""
    parts = [*job.command(), str(job.workdir)]
    if any(char in part for part in parts for char in "\n\r"):
        raise ScheduleError("a path with a line break cannot go into a crontab line")
    command = " ".join(shlex.quote(part) for part in job.command())
    workdir = shlex.quote(str(job.workdir))
    return _cron_escape(f"* * * * * cd {workdir} && {command} >/dev/null 2>&1 {MARKER} {job.db}")


def systemd_units(job: Job) -> dict[str, str]:
    """A oneshot service and a timer firing it every minute (user units: no root needed)."""
    command = " ".join(shlex.quote(part) for part in job.command())
    service = f"""[Unit]
Description=Communique: crawl the sources that are due into {job.db}
After=network-online.target

[Service]
Type=oneshot
WorkingDirectory={job.workdir}
ExecStart={command}
# A crawl holding the archive makes the next one exit with 75: not a failure.
SuccessExitStatus=75
Nice=10
"""
    timer = f"""[Unit]
Description=Run {job.name} every minute (it crawls only what is due)

[Timer]
OnCalendar=minutely
Persistent=true
Unit={job.name}.service

[Install]
WantedBy=timers.target
"""
    return {f"{job.name}.service": service, f"{job.name}.timer": timer}


def user_unit_dir() -> Path:
    return Path.home() / ".config" / "systemd" / "user"


def install_systemd(job: Job, unit_dir: Path | None = None, enable: bool = True) -> list[Path]:
    folder = unit_dir or user_unit_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in systemd_units(job).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if enable and unit_dir is None:
        systemctl = shutil.which("systemctl")
        if systemctl is None:
            raise ScheduleError(
                f"wrote {', '.join(map(str, written))} but systemctl is not available to enable it"
            )
        for args in (["daemon-reload"], ["enable", "--now", f"{job.name}.timer"]):
            result = subprocess.run(
                [systemctl, "--user", *args], capture_output=True, text=True, check=False
            )
            if result.returncode:
                raise ScheduleError(
                    f"systemctl --user {' '.join(args)} failed: {result.stderr.strip()}"
                )
    return written


def _crontab() -> str:
    crontab = shutil.which("crontab")
    if crontab is None:
        raise ScheduleError("crontab is not installed here; use --systemd, or --print the line")
    return crontab


def installed_cron_lines() -> list[str]:
    result = subprocess.run([_crontab(), "-l"], capture_output=True, text=True, check=False)
    lines = result.stdout.splitlines() if result.returncode == 0 else []
    return [line for line in lines if MARKER in line]


def install_cron(job: Job) -> str:
    """Add (or replace) this archive's line in the user's crontab, keeping every other line."""
    crontab = _crontab()
    current = subprocess.run([crontab, "-l"], capture_output=True, text=True, check=False)
    lines = current.stdout.splitlines() if current.returncode == 0 else []
    mine = f" {_cron_escape(str(job.db))}"
    kept = [line for line in lines if not (MARKER in line and line.endswith(mine))]
    line = cron_line(job)
    result = subprocess.run(
        [crontab, "-"], input="\n".join([*kept, line]) + "\n", text=True, check=False
    )
    if result.returncode:
        raise ScheduleError("crontab refused the new table")
    return line


def installed_units(unit_dir: Path | None = None) -> list[Path]:
    folder = unit_dir or user_unit_dir()
    return sorted(folder.glob("communique-crawl-*.timer")) if folder.is_dir() else []
