"""``scheduler import``: another scheduler's schedule as a schedule file (docs/migrating.md).

Each command loads its source the way that scheduler does (the Celery app's module, the
sidekiq YAML file, rq's own config loader), hands it to a pure converter
(``scheduler.migrate``) and prints the file, or writes it with ``-o``. What cannot be
converted exactly is a comment in the file; a source that cannot be read is one line on
stderr and exit 2.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from pathlib import Path
from typing import Any

import click
import redis

from ..errors import BadSetting, RuleError, printable
from ..migrate.celery_beat import convert_app
from ..migrate.entries import Converted
from ..migrate.render import render
from ..migrate.rq_cron import convert_jobs
from ..migrate.sidekiq import convert_yaml
from ..registry import import_module, use_working_directory
from ..rules.kinds import load_zone
from ..schedule.loader import read_schedule_file

output_option = click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write the schedule file to FILE instead of standard output.",
)


@click.group(name="import")
def import_group() -> None:
    """Print a schedule file converted from another scheduler's schedule."""


@import_group.command(name="celery-beat")
@click.argument("app", metavar="MODULE[:APP]")
@output_option
def celery_beat(app: str, output: str | None) -> None:
    """Convert the beat_schedule of a Celery app (as celery -A takes it) to celery: jobs."""
    loaded = load_celery_app(app)
    emit(convert_app(loaded, app, host_zone()), output)


@import_group.command(name="sidekiq-cron")
@click.argument("path", metavar="FILE.yml")
@click.option(
    "--module",
    metavar="PACKAGE",
    help="Package of the Python tasks: Admin::ReportWorker becomes "
    "PACKAGE.admin.report_worker:perform.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    help="Zone of the cron lines that name none (default UTC, as sidekiq-cron reads them).",
)
@output_option
def sidekiq_cron(path: str, module: str | None, timezone: str | None, output: str | None) -> None:
    """Convert a sidekiq-cron or sidekiq-scheduler YAML schedule to task: jobs (disabled
    until their Python tasks exist)."""
    if module is not None and not all(part.isidentifier() for part in module.split(".")):
        raise BadSetting(f"--module {module!r} is not a Python package name like myapp.jobs")
    if timezone is not None:
        try:
            load_zone(timezone)
        except RuleError as error:
            raise BadSetting(f"--timezone: {error.message}") from None
    emit(convert_yaml(read_schedule_file(path), path, module, timezone), output)


@import_group.command(name="rq-cron")
@click.argument("config", metavar="CONFIG")
@output_option
def rq_cron(config: str, output: str | None) -> None:
    """Convert an rq cron config (a file or module of rq.cron.register calls) to rq: jobs."""
    jobs = load_rq_cron(config)
    emit(convert_jobs(jobs, config, host_zone() if _rq_major() >= 3 else "UTC"), output)


def emit(converted: Converted, output: str | None) -> None:
    """Print the schedule file (or write it to ``output``) and a count on stderr."""
    text = render(converted)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise BadSetting(f"{output}: cannot write it ({error.strerror or error})") from None
    skipped = sum(entry.skipped is not None for entry in converted.entries)
    done = len(converted.entries) - skipped
    note = f", {skipped} left as comments (see '# not converted')" if skipped else ""
    click.echo(f"{done} jobs converted{note}", err=True)


def load_celery_app(spec: str) -> Any:
    """The Celery app ``MODULE:APP`` names (``MODULE`` alone: its ``app`` or ``celery``,
    else that of ``MODULE.celery``, as ``celery -A`` looks); BadSetting if it is not one."""
    use_working_directory()
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise BadSetting(f"{spec!r}: write the app as MODULE:APP, e.g. proj.celery:app")
    found = _app_in(import_module(module_name, f"Celery app {spec}"), attribute)
    if found is None and not attribute:
        found = _app_in(import_module(f"{module_name}.celery", f"Celery app {spec}"), "")
    if found is None or not _is_celery_app(found):
        what = "nothing called app or celery" if found is None else type(found).__name__
        raise BadSetting(f"{spec} is not a Celery app (found {what})")
    try:
        found.conf.beat_schedule  # noqa: B018 (reading it runs the app's configuration)
    except Exception as error:  # the app's own configuration code runs here
        raise BadSetting(f"{spec}: reading its configuration raised {error!r}") from None
    return found


def _app_in(module: Any, attribute: str) -> Any:
    for name in [attribute] if attribute else ["app", "celery"]:
        target = module
        for part in name.split("."):
            target = getattr(target, part, None)
        if target is not None:
            return target
    return None


def _is_celery_app(value: Any) -> bool:
    return any(
        cls.__name__ == "Celery" and cls.__module__ == "celery.app.base"
        for cls in type(value).__mro__
    )


def load_rq_cron(config: str) -> list[Any]:
    """The jobs (rq ``CronJob``) the rq cron config ``config`` registers, loaded by rq
    itself. A job rq's loader skips (it logs why and goes on, as ``rq cron`` does) is a
    warning on stderr."""
    rq_cron = _optional("rq.cron", "rq", "rq 2.5 or newer, which has rq cron")
    use_working_directory()
    if config.endswith(".py") and not os.path.isfile(config):
        raise BadSetting(f"{config}: no such file")
    skipped = _Collect()
    rq_log = logging.getLogger("rq.cron")
    rq_log.addHandler(skipped)  # rq then adds no handler of its own
    try:
        # A client that never connects: rq's loader only needs one to exist.
        cron = rq_cron.CronScheduler(connection=redis.Redis(), logging_level=logging.WARNING)
        cron.load_config_from_file(config)
    except Exception as error:  # the config's own code runs here
        raise BadSetting(printable(str(error))) from None
    finally:
        rq_log.removeHandler(skipped)
    for message in skipped.messages:
        click.echo(printable(f"warning: rq cron skips a job: {message}"), err=True)
    jobs: list[Any] = cron.get_jobs()
    return jobs


def _rq_major() -> int:
    """rq's major version: rq 3 reads cron in the host's local time, rq 2 in UTC."""
    major = str(importlib.import_module("rq").__version__).partition(".")[0]
    return int(major) if major.isdigit() else 0


def _optional(module: str, extra: str, what: str) -> Any:
    """``module`` of an optional library; BadSetting naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BadSetting(f"this needs {what}: pip install -U 'scheduler[{extra}]'") from None


class _Collect(logging.Handler):
    """Keeps the messages of rq's loader that say it skipped a job."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None:  # a job it could not register; the rest is said again
            self.messages.append(record.getMessage())


def host_zone() -> str | None:
    """This host's time zone name (``TZ``, else ``/etc/localtime``, else ``/etc/timezone``),
    which Celery without a timezone and rq cron read cron in; None if it cannot be named."""
    given = os.environ.get("TZ")
    candidates: list[str] = []
    if given is not None:
        candidates.append(given.removeprefix(":") or "UTC")
    elif not os.path.lexists("/etc/localtime"):
        candidates.append("UTC")  # what the C library uses without either
    else:
        real = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in real:
            candidates.append(real.split("/zoneinfo/", 1)[1])
        with contextlib.suppress(OSError):
            candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        try:
            load_zone(name)
        except RuleError:
            continue
        return name
    return None
