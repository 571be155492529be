"""The Scrapy project deploys to a real Scrapyd with `scrapyd-deploy` and crawls from there."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_sources
from tests.helpers import ROOT, free_port
from tests.sites.server import SiteServer

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    base: str, path: str, data: dict[str, str] | None = None, files: bytes | None = None
) -> Any:
    if files is not None:
        boundary = "communique-boundary"
        parts = []
        for name, value in (data or {}).items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="egg"; filename="project.egg"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + files
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            base + path,
            data=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    elif data is not None:
        request = urllib.request.Request(base + path, data=urllib.parse.urlencode(data).encode())
    else:
        request = urllib.request.Request(base + path)
    with OPENER.open(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path: Path, gov_site: SiteServer) -> Iterator[tuple[str, Path]]:
    port = free_port()
    home = tmp_path / "scrapyd"
    home.mkdir()
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\n"
        f"eggs_dir = {home}/eggs\nlogs_dir = {home}/logs\ndbs_dir = {home}/dbs\nitems_dir =\n",
        encoding="utf-8",
    )
    db = tmp_path / "archive.db"
    env = {
        **os.environ,
        "COMMUNIQUE_CONFIG": str(write_sources(gov_site.base_url, tmp_path / "sources.yaml")),
        "COMMUNIQUE_DB": str(db),
    }
    process = subprocess.Popen(
        [str(BIN / "scrapyd")],
        cwd=home,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call(base, "/daemonstatus.json")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield base, db
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_scrapyd_deploy_egg_lists_the_sources_and_crawls_into_the_archive(
    scrapyd: tuple[str, Path], tmp_path: Path
) -> None:
    base, db = scrapyd
    egg = tmp_path / "communique.egg"
    built = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "--build-egg", str(egg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    added = call(
        base, "/addversion.json", {"project": "communique", "version": "1"}, egg.read_bytes()
    )
    assert added["status"] == "ok", added
    assert added["spiders"] == 5
    spiders = call(base, "/listspiders.json?project=communique")["spiders"]
    assert sorted(spiders) == ["cac-urls", "embassy-sitemap", "mfa-en", "mfa-zh", "mss-atom"]
    job = call(base, "/schedule.json", {"project": "communique", "spider": "mss-atom"})["jobid"]
    deadline = time.monotonic() + 120
    while not any(
        j["id"] == job for j in call(base, "/listjobs.json?project=communique")["finished"]
    ):
        assert time.monotonic() < deadline, "the Scrapyd job did not finish"
        time.sleep(0.5)
    count = sqlite3.connect(db).execute(
        "select count(*) from statements where source_id = 'mss-atom'"
    )
    assert count.fetchone()[0] == 4
