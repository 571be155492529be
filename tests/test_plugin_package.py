"""The plugin the Datasette way: the `communique` entry point brings statement pages, search,
feeds, templates, CSS and metadata to a plain `datasette archive.db`, from the installed
package, with no path into the checkout."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import lxml.html
import pytest

from tests.builders import crawl, source
from tests.helpers import ROOT, free_port, get, rows, wait_until_up

DATASETTE = str(Path(sys.executable).parent / "datasette")
WEB_FILES = sorted(
    str(path.relative_to(ROOT))
    for pattern in ("templates/*.html", "static/*", "datasette.yml")
    for path in (ROOT / "archive" / "web").glob(pattern)
)


def build(path: Path) -> None:
    with crawl(path, source("gov-en", name="Ministry of Examples")) as c:
        c.statement("https://gov-en.example/a.html", "Sanctions on five firms", "Five firms.")
        c.statement("https://gov-en.example/b.html", "Weather report", "Rain expected.")
    with crawl(path, source("gov-en", name="Ministry of Examples")) as c:
        c.statement("https://gov-en.example/a.html", "Sanctions on seven firms", "Seven firms.")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plain") / "archive.db"
    build(path)
    return path


@pytest.fixture(scope="module")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a wheel would hold (setuptools' build_py, as `pip wheel` runs it)."""
    target = tmp_path_factory.mktemp("build") / "lib"
    done = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
         "--build-lib", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return target


def away_from_checkout(lib: Path | None = None) -> dict[str, str]:
    """An environment in which only `lib` (when given) comes before the installed packages."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if lib is not None:
        env["PYTHONPATH"] = str(lib)
    return env


@contextmanager
def plain_datasette(db_path: Path, env: dict[str, str]) -> Iterator[str]:
    """`datasette archive.db` as anyone would type it, run outside the checkout."""
    port = free_port()
    process = subprocess.Popen(
        [DATASETTE, "serve", db_path.name, "--port", str(port)],
        cwd=db_path.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def page(base: str, path: str) -> lxml.html.HtmlElement:
    response = get(base, path)
    assert response.status == 200, (path, response.body[:300])
    return lxml.html.fromstring(response.text)


@pytest.mark.slow
def test_datasette_plugins_lists_communique(tmp_path: Path) -> None:
    done = subprocess.run(
        [DATASETTE, "plugins"], cwd=tmp_path, env=away_from_checkout(),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    plugins = {plugin["name"]: plugin for plugin in json.loads(done.stdout)}
    ours = plugins["communique"]
    assert ours["templates"] and ours["static"]
    assert {"register_routes", "get_metadata", "extra_css_urls", "render_cell"} <= set(
        ours["hooks"]
    )
    assert "register_output_renderer" in plugins["datasette-atom"]["hooks"]


@pytest.mark.slow
def test_plain_datasette_serves_statements_search_feeds_and_css(
    archive: Path, tmp_path: Path
) -> None:
    (edited,) = rows(archive, "select id, title from statements where version_count = 2")
    with plain_datasette(archive, away_from_checkout()) as base:
        home = page(base, "/")
        assert "An archive of statements" in home.text_content()  # our index.html
        assert home.xpath('//head/link[@type="application/atom+xml"]/@href') == [
            "/archive/newest.atom", "/archive/edited.atom", "/archive/gone.atom"
        ]  # fmt: skip
        css = home.xpath('//head/link[@rel="stylesheet"]/@href')
        assert "/-/static-plugins/communique/communique.css" in css
        assert get(base, "/-/static-plugins/communique/communique.css").status == 200
        statement = page(base, f"/archive/statement/{edited['id']}")
        assert statement.xpath("string(//h1)") == "Sanctions on seven firms"
        assert statement.xpath("//figure[@class='statement-timeline']")
        search = page(base, "/archive/search?q=weather")
        assert [a.text_content() for a in search.xpath("//ol//a | //ul//a")].count(
            "Weather report"
        ) == 1
        # the metadata: titled tables and the canned queries, without --metadata
        statements = page(base, "/archive/statements")
        assert statements.xpath("string(//h1)").strip() == "Statements"
        assert get(base, "/archive/edited.json?_shape=array").status == 200
        for name in ("newest", "edited", "gone"):
            response = get(base, f"/archive/{name}.atom?source=gov-en")
            assert response.status == 200
            assert feedparser.parse(response.body).bozo == 0
        newest = feedparser.parse(get(base, "/archive/newest.atom").body)
        assert {e.title for e in newest.entries} == {"Sanctions on seven firms", "Weather report"}


def test_the_package_holds_every_template_css_and_metadata_file(built_package: Path) -> None:
    assert WEB_FILES  # the globs found the files
    built = sorted(
        str(path.relative_to(built_package))
        for path in (built_package / "archive" / "web").rglob("*")
        if path.is_file() and path.suffix != ".py"
    )
    assert built == WEB_FILES


@pytest.mark.slow
def test_datasette_finds_the_plugin_files_in_the_package_not_the_checkout(
    archive: Path, built_package: Path, tmp_path: Path
) -> None:
    env = away_from_checkout(built_package)
    done = subprocess.run(
        [sys.executable, "-c",
         "import json; from datasette.plugins import get_plugins; "
         "print(json.dumps([p for p in get_plugins() if p['name'] == 'communique']))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (plugin,) = json.loads(done.stdout)
    lib = str(built_package / "archive" / "web")
    assert plugin["templates_path"] == lib + "/templates"
    assert plugin["static_path"] == lib + "/static"
    # and a plain datasette running on that package serves the pages and the CSS
    copy = tmp_path / "served" / "archive.db"
    copy.parent.mkdir()
    shutil.copy(archive, copy)
    with plain_datasette(copy, env) as base:
        assert "An archive of statements" in page(base, "/").text_content()
        assert get(base, "/-/static-plugins/communique/communique.css").status == 200


def test_metadata_follows_whatever_the_archive_is_called(tmp_path: Path) -> None:
    from datasette.app import Datasette

    path = tmp_path / "records.db"
    build(path)

    async def run() -> tuple[str, str]:
        ds = Datasette([str(path)])  # no metadata given: the plugin's, keyed by "records"
        table = (await ds.client.get("/records/statements")).text
        queries = (await ds.client.get("/records.json")).json()
        return table, json.dumps(queries)

    table, database = asyncio.run(run())
    assert lxml.html.fromstring(table).xpath("string(//h1)").strip() == "Statements"
    assert "Newest statements" in database and "Gone statements" in database
