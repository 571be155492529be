"""The archive's Datasette metadata (titles, descriptions, facets, queries), from datasette.yml.

The file ships inside the package, so a plain `datasette archive.db` gets it through the
`get_metadata` hook, keyed by whatever name the served archive has; `communique serve` also
writes it to a file with its own settings (archive/serve.py). One file, both ways.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

import yaml
from datasette import hookimpl

METADATA_FILE = "datasette.yml"


@functools.cache
def _as_json() -> str:
    path = importlib.resources.files("archive.web") / METADATA_FILE
    return json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))


def load() -> dict[str, Any]:
    """The metadata as written, a fresh copy each time (Datasette merges into what it gets)."""
    found: dict[str, Any] = json.loads(_as_json())
    return found


def for_database(name: str) -> dict[str, Any]:
    """The metadata with its one database entry keyed by `name`.

    Datasette names a database after its file stem and looks metadata up by that exact
    name (there is no wildcard), so the entry must carry the real name to apply.
    """
    metadata = load()
    databases = metadata.get("databases") or {}
    if len(databases) != 1:
        raise ValueError(f"{METADATA_FILE}: expected exactly one database entry")
    (entry,) = databases.values()
    metadata["databases"] = {name: entry}
    return metadata


@hookimpl
def get_metadata(datasette: Any, key: str | None, database: str | None, table: str | None) -> Any:
    names = [name for name in datasette.databases if not name.startswith("_")]
    return for_database(names[0]) if names else {}
