"""`scheduler worker`: run the jobs of some queues (docs/workers.md)."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import click
import redis

from ..errors import TaskNotFound
from ..jobs import MAX_PAYLOAD_BYTES, check_queue_name
from ..registry import (
    AllowList,
    Follow,
    import_problems,
    named_tasks,
    option_problems,
    use_working_directory,
)
from ..schedule.watch import ScheduleFile
from ..worker.supervisor import supervise
from ..worker.worker import Worker, WorkerSettings
from .logs import configure_logging, url_secrets
from .main import optional_schedule_file
from .options import (
    connect,
    durability_option,
    log_options,
    metrics_options,
    redis_options,
    safe_namespace,
)

log = logging.getLogger(__name__)


class Processes(click.ParamType):  # type: ignore[type-arg]
    """A number of worker processes: an integer from 1, or ``auto`` (the CPU count)."""

    name = "processes"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The number of processes ``value`` stands for."""
        if isinstance(value, int):
            return value
        if str(value).strip().lower() == "auto":
            return os.cpu_count() or 1
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"{value!r} is not a number of processes: use 1, 2, ... or auto", param, ctx)
        return number


@click.command()
@click.option(
    "--queue",
    "-q",
    "queues",
    multiple=True,
    metavar="Q",
    help="A queue to serve (repeatable), in strict priority order; Q:WEIGHT (e.g. high:5) "
    "shares fetches by weight instead; default: default.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Job threads.",
)
@click.option(
    "--processes",
    "-p",
    type=Processes(),
    default=1,
    show_default=True,
    metavar="N|auto",
    help="Worker processes, each with --concurrency threads, under one supervisor; auto = "
    "the CPU count; 1 = this process alone, no supervisor (unless --hard-timeout or "
    "--max-jobs-per-child is set).",
)
@click.option(
    "--prefetch",
    type=click.IntRange(0, 10_000),
    default=None,
    help="Jobs fetched ahead of the running ones [default: the concurrency].",
)
@click.option(
    "--schedule",
    "schedule_file",
    default=None,
    metavar="FILE",
    help="Schedule whose tasks may run [default: $SCHEDULER_SCHEDULE, else schedule.yml "
    "if present].",
)
@click.option(
    "--allow",
    "prefixes",
    multiple=True,
    metavar="PREFIX",
    help="Also run tasks of modules under PREFIX (repeatable), e.g. myapp.jobs.",
)
@click.option(
    "--import",
    "imports",
    multiple=True,
    metavar="MODULE",
    help="Import MODULE at start (repeatable), so its @scheduler.task functions may run.",
)
@click.option(
    "--import-check",
    type=click.Choice(["fail", "warn"]),
    default="fail",
    show_default=True,
    help="At start, import every task the schedule names (and each --allow): fail exits 2 "
    "naming what cannot be imported; warn logs it and starts anyway.",
)
@click.option(
    "--burst",
    is_flag=True,
    help="Exit once the queues are empty; exit 1 if Redis cannot be reached at start or "
    "stays away for 10 s.",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(0),
    default=25.0,
    show_default=True,
    help="Seconds running jobs get to finish after SIGTERM/SIGINT.",
)
@click.option(
    "--hard-timeout",
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="S",
    help="Kill the process of a run still going after S seconds (jobs without a "
    "timeout_hard of their own); the run fails as any other. Runs a supervisor [default: off].",
)
@click.option(
    "--max-jobs-per-child",
    type=click.IntRange(1),
    default=None,
    metavar="N",
    help="Replace a worker process after N jobs; runs a supervisor [default: never].",
)
@click.option(
    "--max-payload-bytes",
    type=click.IntRange(1024),
    default=MAX_PAYLOAD_BYTES,
    show_default=True,
    help="A larger payload goes to the dead set unread.",
)
@durability_option
@redis_options
@log_options
@metrics_options
def worker(
    queues: Sequence[str],
    concurrency: int,
    processes: int,
    prefetch: int | None,
    schedule_file: str | None,
    prefixes: Sequence[str],
    imports: Sequence[str],
    import_check: str,
    burst: bool,
    shutdown_timeout: float,
    hard_timeout: float | None,
    max_jobs_per_child: int | None,
    max_payload_bytes: int,
    durability: str,
    redis_url: str,
    namespace: str,
    log_level: str,
    log_format: str,
    metrics_port: int,
    metrics_host: str,
) -> None:
    """Run jobs from the queues (default: default) until SIGTERM/SIGINT; SIGTSTP or
    SIGUSR1 make it quiet (no more fetching, running jobs finish)."""
    secrets = url_secrets(redis_url)
    configure_logging(log_level, log_format, secrets)
    names, weights = queue_weights(queues)
    supervised = processes > 1 or hard_timeout is not None or max_jobs_per_child is not None
    settings = WorkerSettings(
        queues=names,
        weights=weights,
        concurrency=concurrency,
        prefetch=prefetch,
        burst=burst,
        shutdown_timeout=shutdown_timeout,
        max_payload_bytes=max_payload_bytes,
        durability=durability,
        hard_timeout=hard_timeout,
        max_jobs=max_jobs_per_child,
    )
    allow = worker_tasks(schedule_file, prefixes, imports, warn_only=import_check == "warn")
    client = connect(redis_url, wait=not burst)
    ns = safe_namespace(namespace)
    if not supervised:
        job_worker = Worker(client, allow, settings, namespace=ns)
        serve_worker_metrics(metrics_host, metrics_port, job_worker, client)
        sys.exit(job_worker.run())

    def prepare(job_worker: Worker, slot: int) -> None:
        configure_logging(log_level, log_format, secrets)
        port = metrics_port + slot if metrics_port else 0
        serve_worker_metrics(metrics_host, port, job_worker, client)

    sys.exit(supervise(client, allow, settings, ns, processes=processes, prepare=prepare))


_WEIGHTED = re.compile(r"(.+):([0-9]+)\Z")
MAX_WEIGHT = 1000


def queue_weights(values: Sequence[str]) -> tuple[tuple[str, ...], tuple[int, ...] | None]:
    """The ``--queue`` values as names and, if any is ``name:weight``, one weight per queue
    (a queue given without one weighs 1); weights None: strict priority order."""
    names, weights = [], []
    for value in values:
        match = _WEIGHTED.match(value)
        weight = int(match.group(2)) if match else None
        if weight is not None and not 1 <= weight <= MAX_WEIGHT:
            raise click.BadParameter(
                f"weight {weight} of queue {value!r}: use 1-{MAX_WEIGHT}", param_hint="--queue"
            )
        names.append(check_queue_name(match.group(1) if match else value))
        weights.append(weight)
    if len(set(names)) != len(names):
        raise click.BadParameter(f"a queue is given twice in {list(values)}", param_hint="--queue")
    if not names:
        return ("default",), None
    if all(w is None for w in weights):
        return tuple(names), None
    return tuple(names), tuple(w or 1 for w in weights)


def serve_worker_metrics(host: str, port: int, worker: Worker, client: redis.Redis) -> None:
    """Serve the worker's metrics if ``port`` is set (only then is the extra imported)."""
    if not port:
        return
    from ..ops import metrics  # noqa: PLC0415 (an optional extra, imported only when asked for)

    queues = metrics.RedisCollector(client, worker.consumer.keys, worker.settings.queues)
    durability = metrics.DurabilityCollector(worker.consumer.durability)
    metrics.serve(host, port, metrics.WorkerCollector(worker), queues, durability)


def worker_tasks(
    schedule_file: str | None, prefixes: Sequence[str], imports: Sequence[str], *, warn_only: bool
) -> AllowList:
    """The worker's allow-list, once what it names is imported (docs/workers.md): the
    working directory goes on ``sys.path``, the ``--import`` modules, the schedule's tasks
    and each ``--allow`` are imported; TaskNotFound lists what cannot be (unless
    ``warn_only``: then it is logged)."""
    use_working_directory()
    file = worker_schedule(schedule_file)
    problems = option_problems(imports, prefixes)
    problems += [str(p) for p in import_problems(file.schedule)] if file is not None else []
    if problems and not warn_only:
        raise TaskNotFound(problems=problems)
    for problem in problems:
        log.warning("worker starts without a task it cannot import: %s", problem)
    if file is None:
        return AllowList((), prefixes)
    return AllowList(named_tasks(file.schedule), prefixes, follow=follow_tasks(file))


def worker_schedule(path: str | None) -> ScheduleFile | None:
    """The schedule file whose tasks may run, found as by ``optional_schedule``."""
    return optional_schedule_file(path, ScheduleFile)


def follow_tasks(file: ScheduleFile) -> Follow:
    """What the allow-list asks when a job names a task it does not allow yet: the tasks
    of ``file`` if it changed since last read (a broken edit is refused, and logged)."""

    def tasks() -> frozenset[str] | None:
        return named_tasks(file.schedule) if file.reload(force=True) is not None else None

    return tasks
