"""The commands that talk to Redis, imported only when one of them runs (see ``cli.py``).

``redis_options`` (``--redis``, ``--namespace``) is shared by every such command.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

import click
import redis

from .errors import ConfigError, RedisUnavailable, ScheduleNotFound
from .jobs import check_queue_name
from .keys import Keys
from .queue import DEFAULT_NAMESPACE, DEFAULT_REDIS_URL, redis_from_url
from .registry import AllowList
from .schedule import load_schedule
from .worker import Worker, WorkerSettings

F = TypeVar("F", bound=Callable[..., Any])

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    """Add ``--log-level``."""
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        default="info",
        show_default=True,
        help="Least severe log lines to print (on stderr).",
    )(command)


def configure_logging(level: str) -> None:
    """Log lines on stderr as ``time LEVEL logger: message``; the CLI's only handler set-up."""
    handler = BufferedStderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    # Fields the format does not show cost a system call or a stack walk per line
    # (the logging HOWTO's "Optimization").
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class BufferedStderrHandler(logging.Handler):
    """Log lines to stderr, written by a thread of their own in batches.

    A worker logs a line when each job starts and ends, from many threads at thousands of
    jobs per second: a lock shared by those threads, and a write per line, would take
    most of its time. Here the logging thread formats its line and queues it, taking no
    lock; the writer thread writes and flushes whatever has queued, then waits ``batch``
    seconds (5 ms) so the next lines go out together.
    """

    def __init__(self, batch: float = 0.005) -> None:
        super().__init__()
        self._lines: SimpleQueue[str | None] = SimpleQueue()
        self._stream = open(  # noqa: SIM115 (closed by the writer thread)
            os.dup(sys.stderr.fileno()), "w", buffering=1 << 16, encoding="utf-8",
            errors="backslashreplace",
        )  # fmt: skip
        self._batch = batch
        self._writer = threading.Thread(target=self._write, name="scheduler-log", daemon=True)
        self._writer.start()

    def handle(self, record: logging.LogRecord) -> bool:
        """Emit without taking the handler's lock: the line queue is the only shared state."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.put(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        if self._writer.is_alive():
            self._lines.put(None)
            self._writer.join(2.0)
        super().close()

    def _write(self) -> None:
        while (line := self._lines.get()) is not None and self._write_queued(line):
            time.sleep(self._batch)
        self._stream.close()

    def _write_queued(self, line: str | None) -> bool:
        """Write ``line`` and every line queued after it, then flush; False once told to
        stop. Lines that cannot be written (stderr closed) are dropped."""
        try:
            while line is not None:
                with suppress(OSError, ValueError):
                    self._stream.write(line)
                line = self._lines.get_nowait()
            return False
        except Empty:
            return True
        finally:
            with suppress(OSError, ValueError):
                self._stream.flush()


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
@redis_options
@log_options
def worker(
    queues: Sequence[str], concurrency: int, prefetch: int | None, schedule_file: str | None,
    prefixes: Sequence[str], imports: Sequence[str], burst: bool, shutdown_timeout: float,
    redis_url: str, namespace: str, log_level: str,
) -> None:  # fmt: skip
    """Run jobs from the queues (default: default) until SIGTERM/SIGINT."""
    configure_logging(log_level)
    settings = WorkerSettings(
        queues=tuple(check_queue_name(q) for q in queues) or ("default",),
        concurrency=concurrency, prefetch=prefetch, burst=burst,
        shutdown_timeout=shutdown_timeout,
    )  # fmt: skip
    allow = AllowList(schedule_tasks(schedule_file), prefixes)
    import_modules(imports)
    client = connect(redis_url)
    sys.exit(Worker(client, allow, settings, namespace=safe_namespace(namespace)).run())


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
    """``namespace`` if it is valid, else ConfigError."""
    try:
        Keys(namespace)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return namespace


def _safe(url: str) -> str:
    """``url`` without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':***' if user else '***'}@{tail}"
