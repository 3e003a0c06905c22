"""The `scheduler` command. Thin: parse, build, call one core function, print.

Commands that talk to Redis live in other modules that are imported only when such a
command runs (see ``LazyGroup``), so `check` and `next` never import redis and start fast.
"""

from __future__ import annotations

import importlib
import sys

import click

from .errors import SchedulerError

# name -> "module:attribute" of a click command, imported on first use.
LAZY_COMMANDS: dict[str, str] = {}


class LazyGroup(click.Group):
    """A click group whose Redis-side commands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scheduler")
def cli() -> None:
    """Recurring jobs from one YAML file, enqueued exactly once per fire time."""


def main() -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SchedulerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
