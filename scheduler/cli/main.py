"""The `scheduler` command. Thin: parse, build, call one core function, print.

Commands that talk to Redis live in other modules that are imported only when such a
command runs (see ``LazyGroup``), so `check` and `next` never import redis and start fast.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import click
from dateutil.parser import isoparse

from ..clock import Clock, SystemClock
from ..errors import (
    BadSetting,
    ConfigError,
    RedisUnavailable,
    RuleError,
    ScheduleInvalid,
    ScheduleNotFound,
    SchedulerError,
    printable,
)
from ..registry import import_problems, use_working_directory
from ..rules.describe import utc_text
from ..rules.kinds import LAST_INSTANT, parse_duration
from ..schedule.loader import Job, Schedule, load_schedule
from ..schedule.planner import Fire, select_jobs, upcoming
from ..targets.imports import target_import_problems

# name -> "module:attribute" of a click command, imported on first use.
LAZY_COMMANDS: dict[str, str] = {
    "worker": "scheduler.cli.worker:worker",
    "run": "scheduler.cli.run:run",
    "status": "scheduler.cli.run:status",
    "dev": "scheduler.cli.run:dev",
    "trigger": "scheduler.cli.control:trigger",
    "pause": "scheduler.cli.control:pause",
    "resume": "scheduler.cli.control:resume",
    "backfill": "scheduler.cli.control:backfill",
    "dead": "scheduler.cli.control:dead",
    "queues": "scheduler.cli.control:queues",
    "queue": "scheduler.cli.jobs:queue",
    "job": "scheduler.cli.jobs:job",
    "cancel": "scheduler.cli.jobs:cancel",
    "health": "scheduler.cli.control:health",
    "web": "scheduler.cli.web:web",
    "import": "scheduler.cli.imports:import_group",
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


T = TypeVar("T")


def schedule_path(value: str | None) -> str:
    """The SCHEDULE argument, else ``$SCHEDULER_SCHEDULE``, else ``schedule.yml``."""
    return value or os.environ.get("SCHEDULER_SCHEDULE") or "schedule.yml"


def optional_schedule_file(value: str | None, read: Callable[[str], T]) -> T | None:
    """``read`` of the schedule at ``value``, else at ``$SCHEDULER_SCHEDULE`` (either must
    exist), else of ``schedule.yml`` if there is one; None if none was named and there is
    none."""
    explicit = value or os.environ.get("SCHEDULER_SCHEDULE")
    try:
        return read(explicit or "schedule.yml")
    except ScheduleNotFound:
        if explicit:
            raise
        return None


def optional_schedule(value: str | None) -> Schedule | None:
    """The schedule ``optional_schedule_file`` finds, loaded."""
    return optional_schedule_file(value, load_schedule)


schedule_argument = click.argument("schedule", required=False, metavar="[SCHEDULE]")


def loaded_schedule(schedule: str | None) -> Schedule:
    """The schedule SCHEDULE names, its warnings printed on stderr (they do not stop it)."""
    loaded = load_schedule(schedule_path(schedule))
    for warning in loaded.warnings:
        click.echo(str(warning), err=True)
    return loaded


def command_clock(default: Clock) -> Clock:
    """The clock ``main`` was given (tests pin "now" with one), else ``default``."""
    given: Clock | None = click.get_current_context().obj
    return given if given is not None else default


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
    """Validate SCHEDULE: exit 0 (warnings on stderr), or exit 2 with one line per problem."""
    loaded = loaded_schedule(schedule)
    if imports:
        use_working_directory()
        problems = import_problems(loaded) + target_import_problems(loaded)
        if problems:
            raise ScheduleInvalid(problems)
    enabled = sum(job.enabled for job in loaded.jobs.values())
    count = len(loaded.warnings)
    warned = f", {count} warning{'s' if count > 1 else ''}" if count else ""
    click.echo(
        f"{printable(loaded.path)}: OK, {len(loaded.jobs)} jobs ({enabled} enabled), "
        f"digest {loaded.digest}{warned}"
    )


@dataclass(frozen=True)
class When:
    """A time as given on the command line (``text``, to ``option``): ``fixed`` epoch
    seconds, or ``offset`` seconds from now (``now`` itself is offset 0)."""

    text: str
    fixed: int | None = None
    offset: int = 0
    option: str = "--from"

    def resolve(self, now: float) -> int:
        """Epoch seconds, relative forms read against ``now``; BadParameter outside the
        years rules work in (1970 to 9998)."""
        instant = self.fixed if self.fixed is not None else int(now) + self.offset
        if not 0 <= instant < LAST_INSTANT:
            raise click.BadParameter(
                f"{self.text!r} is {'before 1970' if instant < 0 else 'after 9998'}; "
                "times from 1970 to 9998 are accepted",
                click.get_current_context(),
                param_hint=f"'{self.option}'",
            )
        return instant


INSTANT_FORMS = "now, -2h, +30m, +1d2h, or ISO 8601 with an offset (2026-03-08T09:00:00Z)"
_RELATIVE = re.compile(r"(?:now)?([+-])(.+)", re.IGNORECASE)


def parse_when(text: str, option: str = "--from") -> When:
    """``now``, ``-2h`` / ``+30m`` / ``now-1d2h`` (a duration as in the schedule file) or
    an ISO 8601 instant with an offset; ValueError saying what is accepted otherwise."""
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if text.lower() == "now":
        return When(text, option=option)
    if relative is not None:
        try:
            seconds = parse_duration(relative.group(2))
        except RuleError as error:
            raise ValueError(f"{text!r}: {error.message}") from None
        sign = 1 if relative.group(1) == "+" else -1
        return When(text, offset=sign * seconds, option=option)
    try:
        moment = isoparse(text)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a time: write {INSTANT_FORMS}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset: add Z or e.g. +01:00 ({INSTANT_FORMS})")
    return When(text, fixed=int(moment.timestamp()), option=option)


class Instant(click.ParamType):  # type: ignore[type-arg]
    """A time option (``--from``, ``--to``): what ``parse_when`` reads, as a When."""

    name = "TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> When:
        if isinstance(value, When):
            return value
        option = param.opts[0] if param is not None and param.opts else "--from"
        try:
            return parse_when(str(value), option)
        except ValueError as error:
            self.fail(str(error), param, ctx)


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
    default="now",
    show_default=True,
    help="List fires strictly after this time: now, -2h, +30m, +1d2h, or ISO 8601 with "
    "an offset (2026-03-08T09:00:00Z).",
)
@click.option("--job", "jobs", multiple=True, metavar="NAME", help="Only this job (repeatable).")
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled jobs, marked.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array sorted by time, then job.")
def next_(
    schedule: str | None,
    count: int,
    after: When,
    jobs: Sequence[str],
    include_disabled: bool,
    as_json: bool,
) -> None:
    """List the next fire times of each enabled job, local time and UTC."""
    loaded = loaded_schedule(schedule)
    start = after.resolve(command_clock(SystemClock()).now())
    fires = upcoming(select_jobs(loaded, jobs, include_disabled), start, count)
    click.echo(fires_json(fires) if as_json else fires_table(loaded, fires))


def _zone(fire: Fire) -> ZoneInfo:
    return ZoneInfo(fire.job.timezone)


def fires_json(fires: Sequence[Fire]) -> str:
    """The JSON form of docs/cli.md: ``[{"job", "at" (UTC), "local" (job zone offset)}...]``."""
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


def job_heading(job: Job) -> str:
    """``weekly-report: at 09:00 on Monday (cron: 0 9 * * MON)``, marked if disabled; a job
    of another target says which (``-> celery: myproj.tasks.report on reports``)."""
    state = "  [disabled]" if not job.enabled else ""
    runs = "" if job.target == "task" else f" -> {job.target}: {job.task} on {job.queue}"
    return f"{job.name}: {job.rule.describe()} ({job.rule.kind}: {job.rule.text}){runs}{state}"


def fire_line(job: Job, instant: int) -> str:
    """``  Mon 2026-01-05 09:00:00 -05:00 America/New_York     2026-01-05T14:00:00Z``."""
    moment = datetime.fromtimestamp(instant, ZoneInfo(job.timezone))
    local = moment.isoformat()  # 2026-11-23T10:00:00+01:00
    when = f"{_WEEKDAYS[moment.weekday()]} {local[:10]} {local[11:19]} {local[19:]}"
    return f"  {when} {job.timezone:<20} {utc_text(instant)}"


def _job_block(job: Job, instants: Sequence[int]) -> list[str]:
    return [job_heading(job), *(fire_line(job, instant) for instant in instants)]


def main(clock: Clock | None = None) -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit.

    ``clock`` stands in for the host's and Redis's clocks where a command reads "now"
    (tests pin it with a FakeClock). Each line is printed with its control characters
    escaped: it may quote a file name, an option or data read from Redis."""
    try:
        code = cli.main(standalone_mode=False, obj=clock)
    except click.exceptions.Abort:
        code = 130
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "scheduler"
        _say(f"{command}: {exc.format_message()} (see {command} --help)")
        code = exc.exit_code
    except click.ClickException as exc:
        _say(f"error: {exc.format_message()}")
        code = exc.exit_code
    except BadSetting as exc:
        _say(f"error: {exc}")
        code = 2
    except (RedisUnavailable, ConfigError) as exc:
        _say(f"error: {exc}")
        code = 1
    except SchedulerError as exc:
        for line in exc.lines():
            _say(line)
        code = 2
    except Exception as exc:
        if not type(exc).__module__.startswith("redis"):
            raise
        _say(f"error: Redis: {exc}")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def _say(message: str) -> None:
    click.echo(printable(message), err=True)
