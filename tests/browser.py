"""Headless Chromium for the browser tests: the DOM after scripts ran, screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest

CHROMIUM = Path(os.environ.get("COMMUNIQUE_CHROMIUM", "/usr/bin/chromium"))
NO_BROWSER = (
    f"headless Chromium not found at {CHROMIUM}: run `make browser` (apt-get install chromium) "
    "to run the browser tests"
)
needs_browser = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_BROWSER)


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",  # let load, error and timer events run
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dom(tmp_path: Path, url: str) -> lxml.html.HtmlElement:
    """The page's DOM after its scripts ran, as the browser has it."""
    return lxml.html.fromstring(chromium(tmp_path, "--dump-dom", url))


def screenshot(tmp_path: Path, url: str, name: str, height: int = 1400) -> Path:
    out = tmp_path / name
    chromium(tmp_path, f"--screenshot={out}", f"--window-size=1200,{height}", url)
    assert out.stat().st_size > 5_000
    target = os.environ.get("COMMUNIQUE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(target) / name)
    return out


def text_of(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())
