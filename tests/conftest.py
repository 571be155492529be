"""Shared fixtures: the fixture government web site and per-test source configs pointing at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sites.server import SiteServer

# The redis-server fixtures of the tests of crawls on several machines.
pytest_plugins = ["tests.redis_server"]

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


def write_sources(
    base_url: str,
    path: Path,
    *ids: str,
    crawl: dict[str, Any] | None = None,
    extra_sources: list[dict[str, Any]] | None = None,
) -> Path:
    """Write the demo sources pointed at `base_url`: only `ids` (all by default), plus extras.

    ``crawl`` overrides keys of the ``crawl:`` section; ``extra_sources`` are appended as
    they are.
    """
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace(DEMO_BASE_URL, base_url)
    data: dict[str, Any] = yaml.safe_load(text)
    by_id = {source["id"]: source for source in data["sources"]}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise KeyError(f"unknown source ids {unknown}; known: {sorted(by_id)}")
    data["sources"] = [by_id[i] for i in ids] if ids else list(data["sources"])
    data["sources"] += extra_sources or []
    if crawl:
        data["crawl"] = {**data.get("crawl", {}), **crawl}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def make_config(gov_site: SiteServer, tmp_path: Path) -> MakeConfig:
    """Factory: `make_config(*ids, crawl=None, extra_sources=None, name="sources.yaml")`.

    Writes the demo sources served by `gov_site` into tmp_path (see `write_sources`).
    """

    def _make(*ids: str, name: str = "sources.yaml", **options: Any) -> Path:
        return write_sources(gov_site.base_url, tmp_path / name, *ids, **options)

    return _make
