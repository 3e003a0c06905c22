"""Every command's --help is complete: it runs, and every option says what it does."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scheduler.cli.main import cli


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


ALL = commands(cli)


def resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    return command


def test_the_commands_of_the_spec_are_all_there() -> None:
    names = {path[0] for path in ALL}
    assert {"check", "next", "run", "worker", "status"} <= names


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_help_runs_and_describes_every_option(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = resolve(path)
    assert (command.help or "").strip(), f"{' '.join(path)} has no description"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert (param.help or "").strip(), f"{' '.join(path)} {param.opts[0]} has no help"


CLI_DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_docs_cli_covers_every_command_and_option(path: tuple[str, ...]) -> None:
    assert f"## {path[0]}" in CLI_DOC, f"docs/cli.md has no section for {path[0]}"
    for param in resolve(path).params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.opts[0] in CLI_DOC, f"docs/cli.md does not mention {param.opts[0]}"
