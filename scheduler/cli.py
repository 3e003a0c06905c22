"""The `scheduler` command. Thin: parse, build, call one core function, print.

Commands that talk to Redis live in other modules that are imported only when such a
command runs (see ``LazyGroup``), so `check` and `next` never import redis and start fast.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import click

from .describe import utc_text
from .errors import BadSetting, ConfigError, RedisUnavailable, ScheduleInvalid, SchedulerError
from .planner import Fire, select_jobs, upcoming
from .registry import import_problems, use_working_directory
from .schedule import Job, Schedule, load_schedule

# name -> "module:attribute" of a click command, imported on first use.
LAZY_COMMANDS: dict[str, str] = {
    "worker": "scheduler.cli_redis:worker",
    "run": "scheduler.cli_run:run",
    "status": "scheduler.cli_run:status",
    "dev": "scheduler.cli_run:dev",
    "trigger": "scheduler.cli_control:trigger",
    "pause": "scheduler.cli_control:pause",
    "resume": "scheduler.cli_control:resume",
    "backfill": "scheduler.cli_control:backfill",
    "dead": "scheduler.cli_control:dead",
    "queues": "scheduler.cli_control:queues",
    "health": "scheduler.cli_control:health",
    "web": "scheduler.cli_web:web",
}


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


def schedule_path(value: str | None) -> str:
    """The SCHEDULE argument, else ``$SCHEDULER_SCHEDULE``, else ``schedule.yml``."""
    return value or os.environ.get("SCHEDULER_SCHEDULE") or "schedule.yml"


schedule_argument = click.argument("schedule", required=False, metavar="[SCHEDULE]")


@cli.command()
@schedule_argument
@click.option(
    "--import",
    "imports",
    is_flag=True,
    help="Also import each task (from the working directory and sys.path, as a worker "
    "does): a task that cannot be imported is a problem.",
)
def check(schedule: str | None, imports: bool) -> None:
    """Validate SCHEDULE: exit 0, or exit 2 with one line per problem."""
    loaded = load_schedule(schedule_path(schedule))
    if imports:
        use_working_directory()
        problems = import_problems(loaded)
        if problems:
            raise ScheduleInvalid(problems)
    enabled = sum(job.enabled for job in loaded.jobs.values())
    click.echo(
        f"{loaded.path}: OK, {len(loaded.jobs)} jobs ({enabled} enabled), digest {loaded.digest}"
    )


class Instant(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 instant with an offset or Z, as epoch seconds."""

    name = "INSTANT"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(
                text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
            )
        except ValueError:
            self.fail(
                f"'{value}' is not an ISO 8601 instant (e.g. 2026-03-08T09:00:00Z)", param, ctx
            )
        if parsed.tzinfo is None:
            self.fail(f"'{value}' has no offset: add Z or e.g. +01:00", param, ctx)
        return int(parsed.timestamp())


@cli.command(name="next")
@schedule_argument
@click.option(
    "--count",
    "-n",
    default=5,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Fire times per job.",
)
@click.option(
    "--from",
    "after",
    type=Instant(),
    default=None,
    help="List fires strictly after this instant (ISO 8601 with offset; default now).",
)
@click.option("--job", "jobs", multiple=True, metavar="NAME", help="Only this job (repeatable).")
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled jobs, marked.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array sorted by time, then job.")
def next_(
    schedule: str | None, count: int, after: int | None, jobs: Sequence[str],
    include_disabled: bool, as_json: bool,
) -> None:  # fmt: skip
    """List the next fire times of each enabled job, local time and UTC."""
    loaded = load_schedule(schedule_path(schedule))
    start = after if after is not None else int(datetime.now(timezone.utc).timestamp())
    fires = upcoming(select_jobs(loaded, jobs, include_disabled), start, count)
    click.echo(fires_json(fires) if as_json else fires_table(loaded, fires))


def _zone(fire: Fire) -> ZoneInfo:
    return ZoneInfo(fire.job.timezone)


def fires_json(fires: Sequence[Fire]) -> str:
    """SPEC's JSON form: ``[{"job", "at" (UTC), "local" (job zone offset)}...]``."""
    rows = [
        json.dumps({"job": f.job.name, "at": utc_text(f.at), "local": local_text(f.at, _zone(f))})
        for f in fires
    ]
    return "[\n  " + ",\n  ".join(rows) + "\n]" if rows else "[]"


def local_text(instant: int, zone: ZoneInfo) -> str:
    """``2026-11-23T10:00:00+01:00``."""
    return datetime.fromtimestamp(instant, zone).isoformat()


def fires_table(schedule: Schedule, fires: Sequence[Fire]) -> str:
    """A readable table, one block per job in file order: rule in words, local and UTC."""
    by_job: dict[str, list[int]] = {}
    for fire in fires:
        by_job.setdefault(fire.job.name, []).append(fire.at)
    lines: list[str] = []
    for job in schedule.jobs.values():
        if job.name in by_job:
            lines += _job_block(job, by_job[job.name])
    return "\n".join(lines) if lines else "no enabled jobs with upcoming fires"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _job_block(job: Job, instants: Sequence[int]) -> list[str]:
    zone = ZoneInfo(job.timezone)
    state = "  [disabled]" if not job.enabled else ""
    lines = [f"{job.name}: {job.rule.describe()} ({job.rule.kind}: {job.rule.text}){state}"]
    for instant in instants:
        moment = datetime.fromtimestamp(instant, zone)
        local = moment.isoformat()  # 2026-11-23T10:00:00+01:00
        when = f"{_WEEKDAYS[moment.weekday()]} {local[:10]} {local[11:19]} {local[19:]}"
        lines.append(f"  {when} {job.timezone:<20} {utc_text(instant)}")
    return lines


def main() -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        code = 130
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "scheduler"
        click.echo(f"{command}: {exc.format_message()} (see {command} --help)", err=True)
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except BadSetting as exc:
        click.echo(f"error: {exc}", err=True)
        code = 2
    except (RedisUnavailable, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        code = 1
    except SchedulerError as exc:
        click.echo(str(exc), err=True)
        code = 2
    except Exception as exc:
        if not type(exc).__module__.startswith("redis"):
            raise
        click.echo(f"error: Redis: {exc}", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
