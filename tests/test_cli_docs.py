"""Every command answers --help with an example, and the README documents it."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from communique.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "communique") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(commands(command, path))
        else:
            found.append((path, command))
    return found


@pytest.mark.parametrize(("path", "command"), commands(main), ids=lambda v: str(v))
def test_command_has_help_with_an_example_and_is_in_the_readme(
    path: str, command: click.Command
) -> None:
    result = CliRunner().invoke(main, [*path.split()[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"{path} --help has no example"
    assert f"`{path}" in README, f"README does not document {path}"
