"""Shared fixtures: the fixture government web site and per-test source configs pointing at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sites.server import SiteServer

REPO_ROOT = Path(__file__).resolve().parent.parent
GOV_ROOT = REPO_ROOT / "tests" / "sites" / "gov"
DEMO_CONFIG = REPO_ROOT / "config" / "demo" / "sources.yaml"
DEMO_BASE_URL = "http://127.0.0.1:8780"

MakeConfig = Callable[..., Path]


@pytest.fixture(scope="session")
def gov_site() -> Iterator[SiteServer]:
    """The fixture government web (tests/sites/gov) served on a random local port."""
    with SiteServer(GOV_ROOT) as site:
        yield site


@pytest.fixture
def make_config(gov_site: SiteServer, tmp_path: Path) -> MakeConfig:
    """Factory writing a sources YAML for the given source ids (all by default), returning its path.

    The demo config is loaded, ``http://127.0.0.1:8780`` is replaced by ``gov_site.base_url``, and
    only the requested sources are kept, in the order asked. ``crawl`` overrides keys of the
    ``crawl:`` section; ``name`` is the file name inside ``tmp_path``.
    """

    def _make(*ids: str, crawl: dict[str, Any] | None = None, name: str = "sources.yaml") -> Path:
        text = DEMO_CONFIG.read_text(encoding="utf-8").replace(DEMO_BASE_URL, gov_site.base_url)
        data: dict[str, Any] = yaml.safe_load(text)
        by_id = {source["id"]: source for source in data["sources"]}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise KeyError(f"unknown source ids {unknown}; known: {sorted(by_id)}")
        data["sources"] = [by_id[i] for i in ids] if ids else list(data["sources"])
        if crawl:
            data["crawl"] = {**data.get("crawl", {}), **crawl}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return _make
