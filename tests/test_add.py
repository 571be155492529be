"""`communique add`: links archived now, through a real crawl, WeChat link forms included."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import wechat_source, write_wechat_config
from tests.helpers import communique, rows
from tests.sites.wechat.site import BIZ, WechatSite

pytestmark = pytest.mark.slow

SHORT = "/s/Ak1xQz"
LONG = (
    f"/s?__biz={BIZ}&mid=2247480001&idx=1&sn=a1b2c3d4e5f60718293a4b5c6d7e8f90&chksm=9a&scene=27#rd"
)
IDENTITY = f"wechat:{BIZ}/2247480001/1"


@pytest.fixture(scope="module")
def site() -> Iterator[WechatSite]:
    with WechatSite() as served:
        yield served


@pytest.fixture
def config(site: WechatSite, tmp_path: Path) -> Path:
    source = wechat_source("jc", [{"feed": f"{site.bridge}/feeds/wewe.atom"}], BIZ)
    path = write_wechat_config(tmp_path / "sources.yaml", [source])
    text = path.read_text(encoding="utf-8").replace(
        "  timeout: 10\n", "  timeout: 10\n  retries: 0\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def add(config: Path, db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return communique("add", "--config", str(config), "--db", str(db_path), *args)


def test_a_short_and_a_long_link_of_one_article_are_one_statement(
    site: WechatSite, config: Path, tmp_path: Path
) -> None:
    db_path = tmp_path / "archive.db"
    result = add(config, db_path, site.wechat + SHORT, site.wechat + LONG)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    [statement] = rows(db_path, "select * from statements")
    assert statement["identity"] == IDENTITY
    assert statement["source_id"] == "manual"
    assert statement["issuer"] == "江城国家安全"
    lines = result.stdout.splitlines()
    # One line per link, in the order given; whichever was fetched first is the new one.
    assert lines[0].endswith(SHORT) and lines[1].endswith(LONG)
    outcomes = sorted(line.split()[0] for line in lines[:2])
    assert outcomes == ["new", "unchanged"]
    for line in lines[:2]:
        assert f" {statement['id']}  live " in line and "江城市国家安全局提示" in line
    assert "2 link(s) archived" in lines[2] and "1 new" in lines[2]
    [manual] = rows(db_path, "select * from sources where id = 'manual'")
    assert manual["name"] == "Added by hand"
    # Known now, and fetched again all the same: the refetch is the point of `add`.
    again = add(config, db_path, site.wechat + SHORT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.startswith(f"unchanged {statement['id']}")
    assert len(rows(db_path, "select * from statements")) == 1


def test_from_file_and_a_named_wechat_source(
    site: WechatSite, config: Path, tmp_path: Path
) -> None:
    links = tmp_path / "links.txt"
    links.write_text(
        f"# two articles of 江城国家安全\n{site.wechat}/s/Bk2yRw\n\n"
        f"{site.wechat}/link?url=dn9a_-gY295K0Rci&type=2&k=Ck3zSv\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "archive.db"
    first = len(site.hits)
    result = add(config, db_path, "--from-file", str(links), "--source", "jc")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    stored = rows(db_path, "select source_id, identity from statements order by identity")
    assert stored == [
        {"source_id": "jc", "identity": f"wechat:{BIZ}/2247480001/2"},
        {"source_id": "jc", "identity": f"wechat:{BIZ}/2247480002/1"},
    ]
    assert result.stdout.count("new ") == 2
    # Only the links: the source's own routes (its feed) are not crawled by `add`.
    assert not [hit for hit in site.hits[first:] if hit.target.startswith("/feeds/")]


def test_an_unreachable_link_is_reported_with_a_nonzero_exit(
    site: WechatSite, config: Path, tmp_path: Path
) -> None:
    db_path = tmp_path / "archive.db"
    dead = "http://127.0.0.1:9/statement.html"
    result = add(config, db_path, site.wechat + "/s/Dk4aTu", dead)
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("new ")
    assert lines[1].startswith("failed ") and lines[1].endswith(dead)
    assert "1 failed" in lines[2]
    assert len(rows(db_path, "select * from statements")) == 1


def test_bad_input_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "archive.db"
    assert add(config, db_path).returncode == 2
    result = add(config, db_path, "ftp://example.org/x")
    assert result.returncode == 2 and "not an http(s) URL" in result.stderr
    result = add(config, db_path, "--source", "nope", "http://127.0.0.1:9/")
    assert result.returncode == 2 and "no source with id nope" in result.stderr
