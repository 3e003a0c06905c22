"""The commands that talk to Redis, imported only when one of them runs (see ``cli.py``).

``redis_options`` (``--redis``, ``--namespace``) is shared by every such command.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import redis

from .errors import BadSetting, ConfigError, RedisUnavailable, ScheduleNotFound
from .jobs import MAX_PAYLOAD_BYTES, check_queue_name
from .keys import Keys
from .logs import configure_logging
from .queue import DEFAULT_NAMESPACE, DEFAULT_REDIS_URL, redis_from_url
from .registry import AllowList
from .schedule import load_schedule
from .worker import Worker, WorkerSettings

F = TypeVar("F", bound=Callable[..., Any])


def redis_options(command: F) -> F:
    """Add ``--redis URL`` and ``--namespace NS`` (with their environment defaults)."""
    command = click.option(
        "--namespace",
        envvar="SCHEDULER_NAMESPACE",
        default=DEFAULT_NAMESPACE,
        show_default=True,
        help="Key namespace, so applications and tests can share one Redis "
        "[env: SCHEDULER_NAMESPACE].",
    )(command)
    return click.option(
        "--redis",
        "redis_url",
        envvar="SCHEDULER_REDIS_URL",
        default=DEFAULT_REDIS_URL,
        show_default=True,
        metavar="URL",
        help="Redis URL; rediss:// and passwords work [env: SCHEDULER_REDIS_URL].",
    )(command)


def log_options(command: F) -> F:
    """Add ``--log-level`` and ``--log-format``."""
    command = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        envvar="SCHEDULER_LOG_FORMAT",
        default="text",
        show_default=True,
        help="text: `time LEVEL logger: event key=value`; json: one JSON object per line "
        "[env: SCHEDULER_LOG_FORMAT].",
    )(command)
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        envvar="SCHEDULER_LOG_LEVEL",
        default="info",
        show_default=True,
        help="Least severe log lines to print, on stderr [env: SCHEDULER_LOG_LEVEL].",
    )(command)


def metrics_options(command: F) -> F:
    """Add ``--metrics-port`` and ``--metrics-host``."""
    command = click.option(
        "--metrics-host",
        default="0.0.0.0",
        show_default=True,
        metavar="HOST",
        help="Address to serve metrics on; the default, every interface, lets a Prometheus "
        "on another host scrape them (127.0.0.1 keeps them on this host).",
    )(command)
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=0,
        metavar="PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (needs the metrics extra: "
        "pip install 'scheduler[metrics]'); 0 = off [default: off].",
    )(command)


def connect(url: str, timeout: float = 30.0) -> redis.Redis:
    """A client for ``url``; RedisUnavailable for a bad URL or refused credentials.

    ``timeout`` bounds every socket read (and a connect, at most 5 s). A server that does
    not answer yet is not an error: the caller keeps trying.
    """
    try:
        client = redis_from_url(
            url, socket_timeout=timeout, socket_connect_timeout=min(5.0, timeout)
        )
        client.ping()
    except (ValueError, redis.AuthenticationError, redis.ResponseError) as exc:
        raise RedisUnavailable(f"cannot use Redis at {_safe(url)}: {exc}") from None
    except redis.ConnectionError as exc:
        logging.getLogger(__name__).warning(
            "redis unavailable at %s, retrying: %s", _safe(url), exc
        )
    return client


@click.command()
@click.option(
    "--queue",
    "-q",
    "queues",
    multiple=True,
    metavar="Q",
    help="A queue to serve (repeatable), in strict priority order; default: default.",
)
@click.option(
    "--concurrency", "-c", type=click.IntRange(1, 1000), default=10, show_default=True,
    help="Job threads.",
)  # fmt: skip
@click.option(
    "--prefetch", type=click.IntRange(0, 10_000), default=None,
    help="Jobs fetched ahead of the running ones [default: the concurrency].",
)  # fmt: skip
@click.option(
    "--schedule",
    "schedule_file",
    default=None,
    metavar="FILE",
    help="Schedule whose tasks may run [default: $SCHEDULER_SCHEDULE, else schedule.yml "
    "if present].",
)
@click.option(
    "--allow", "prefixes", multiple=True, metavar="PREFIX",
    help="Also run tasks of modules under PREFIX (repeatable), e.g. myapp.jobs.",
)  # fmt: skip
@click.option(
    "--import", "imports", multiple=True, metavar="MODULE",
    help="Import MODULE at start (repeatable), so its @scheduler.task functions may run.",
)  # fmt: skip
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option(
    "--shutdown-timeout", type=click.FloatRange(0), default=25.0, show_default=True,
    help="Seconds running jobs get to finish after SIGTERM/SIGINT.",
)  # fmt: skip
@click.option(
    "--max-payload-bytes", type=click.IntRange(1024), default=MAX_PAYLOAD_BYTES,
    show_default=True, help="A larger payload goes to the dead set unread.",
)  # fmt: skip
@redis_options
@log_options
@metrics_options
def worker(
    queues: Sequence[str], concurrency: int, prefetch: int | None, schedule_file: str | None,
    prefixes: Sequence[str], imports: Sequence[str], burst: bool, shutdown_timeout: float,
    max_payload_bytes: int, redis_url: str, namespace: str, log_level: str, log_format: str,
    metrics_port: int, metrics_host: str,
) -> None:  # fmt: skip
    """Run jobs from the queues (default: default) until SIGTERM/SIGINT."""
    configure_logging(log_level, log_format)
    settings = WorkerSettings(
        queues=tuple(check_queue_name(q) for q in queues) or ("default",),
        concurrency=concurrency, prefetch=prefetch, burst=burst,
        shutdown_timeout=shutdown_timeout, max_payload_bytes=max_payload_bytes,
    )  # fmt: skip
    allow = AllowList(schedule_tasks(schedule_file), prefixes)
    import_modules(imports)
    client = connect(redis_url)
    job_worker = Worker(client, allow, settings, namespace=safe_namespace(namespace))
    serve_worker_metrics(metrics_host, metrics_port, job_worker, client)
    sys.exit(job_worker.run())


def serve_worker_metrics(host: str, port: int, worker: Worker, client: redis.Redis) -> None:
    """Serve the worker's metrics if ``port`` is set (only then is the extra imported)."""
    if not port:
        return
    from . import metrics  # noqa: PLC0415 (an optional extra, imported only when asked for)

    queues = metrics.RedisCollector(client, worker.consumer.keys, worker.settings.queues)
    metrics.serve(host, port, metrics.WorkerCollector(worker), queues)


def schedule_tasks(path: str | None) -> list[str]:
    """The tasks named in the schedule at ``path`` (or the default file, if it exists)."""
    explicit = path or os.environ.get("SCHEDULER_SCHEDULE")
    try:
        schedule = load_schedule(explicit or "schedule.yml")
    except ScheduleNotFound:
        if explicit:
            raise
        return []
    return sorted({job.task for job in schedule.jobs.values()})


def import_modules(names: Sequence[str]) -> None:
    """Import the modules named with ``--import``; ConfigError if one fails."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"--import {name}: {exc!r}") from exc


def safe_namespace(namespace: str) -> str:
    """``namespace`` if it is valid, else BadSetting."""
    try:
        Keys(namespace)
    except ValueError as exc:
        raise BadSetting(str(exc)) from None
    return namespace


def _safe(url: str) -> str:
    """``url`` without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':***' if user else '***'}@{tail}"
