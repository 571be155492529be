"""The shape of the code, as ARCHITECTURE.md states it: imports point down, one way in."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from archive.store import WRITE_METHODS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("communique", "crawler", "archive")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
}


def imported(path: Path) -> set[str]:
    """Our modules a file imports, at the top or inside functions alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from package import submodule` imports the submodule (the package's
            # __init__ only implicitly); `from module import name` imports the module.
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in MODULES
                else node.module
                for alias in node.names
            ]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


GRAPH = {name: imported(path) - {name} for name, path in MODULES.items()}


def test_archive_never_imports_the_crawler_or_the_command() -> None:
    wrong = {
        (name, target)
        for name, targets in GRAPH.items()
        if name.startswith("archive")
        for target in targets
        if target.startswith(("crawler", "communique"))
    }
    assert wrong == set()


def test_the_config_imports_nothing_of_ours() -> None:
    assert GRAPH["communique.config"] == set()


def test_the_cleaner_imports_neither_the_store_nor_scrapy() -> None:
    for name, path in MODULES.items():
        if name.startswith("archive.clean."):
            assert GRAPH[name] <= {*MODULES} - {"archive.store", "archive.ingest"}, name
            source = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(from|import) (scrapy|twisted)\b", source, re.M), name
            assert all(
                t.startswith(("archive.clean", "archive.cleaned", "archive.statuses"))
                for t in GRAPH[name]
            ), (name, GRAPH[name])


def test_no_import_circles() -> None:
    # Depth-first search for a back edge; a package's implicit import of its own
    # __init__ by a submodule is not an import written in the code and is not counted.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


def test_only_ingest_calls_the_stores_write_methods() -> None:
    callers = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITE_METHODS
            ):
                callers.add((name, node.func.attr))
    assert {name for name, _ in callers} == {"archive.ingest"}, sorted(callers)
    # and ingest uses each of them: none is a write path nobody takes
    assert {method for _, method in callers} == WRITE_METHODS


def test_no_test_module_imports_another() -> None:
    for path in sorted((ROOT / "tests").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(
            r"^\s*from tests\.test_\w+ import|^\s*import tests\.test_", text, re.M
        ), path.name


def test_architecture_md_names_every_module_and_only_modules() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `((?:communique|crawler|archive)/[\w/]+\.py)` \|", text, re.M))
    files = {
        str(path.relative_to(ROOT))
        for path in MODULES.values()
        # a package's __init__ that only holds its docstring is the package, not a module
        if not (path.name == "__init__.py" and len(ast.parse(path.read_text()).body) <= 1)
    }
    assert sorted(files - named) == [], "modules ARCHITECTURE.md does not describe"
    assert sorted(named - files) == [], "ARCHITECTURE.md names modules that do not exist"
