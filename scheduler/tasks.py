"""Typed tasks: the object ``@task`` returns, and the name a callable is enqueued under.

A ``Task`` calls like its function and enqueues it: ``send_welcome.enqueue(42)``. Its
arguments and ``.enqueue``'s share one ``ParamSpec``, so mypy checks an enqueue as it checks
a call. Options of one enqueue go through ``.options(queue=, delay=, ...)``, never through
``.enqueue``'s own keywords: a task may have a parameter called ``queue`` or ``delay``, and
every keyword ``.enqueue`` takes is the task's (docs/tasks.md, "Options").

``.enqueue`` sends to the process's default Queue (``scheduler.configure``, else one built
from ``SCHEDULER_REDIS_URL`` on first use); ``.on(queue)`` sends to a given Queue, sync or
``scheduler.aio``, and returns what that Queue's enqueue returns (a job id, or an awaitable
one). Both go through the Queue's ``enqueue_task``, the path ``Queue.enqueue`` takes too.

A plain function enqueues under ``module:qualname`` if a worker can import it by that name;
a lambda, a function defined inside another, a method or a callable object cannot be
found that way and is refused with one PayloadError.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, NamedTuple, ParamSpec, Protocol, TypeVar, cast

from .errors import PayloadError

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
U = TypeVar("U")
T_co = TypeVar("T_co", covariant=True)


class Options(NamedTuple):
    """How one job is enqueued; None leaves a field to the task, then to the Queue's default
    (a tuple: one is made for every enqueue, and a tuple is made fastest).

    ``unique_for``, ``key`` and ``result_ttl`` are those of ``Queue.enqueue`` (a unique
    job, a tracked job: docs/api.md), checked by ``enqueue.JobOptions``; ``timeout_hard``
    is the seconds after which the worker process running the job is killed
    (docs/workers.md, hard timeouts).
    """

    queue: str | None = None
    delay: float | None = None
    at: datetime | None = None
    retries: int | None = None
    timeout: float | None = None
    job_id: str | None = None
    result_ttl: float | None = None
    unique_for: float | None = None
    key: str | None = None
    timeout_hard: float | None = None

    def over(self, defaults: Options) -> Options:
        """These options, with ``defaults`` filling the fields left None."""
        return Options(*map(_first, self, defaults))


def _first(given: Any, default: Any) -> Any:
    return given if given is not None else default


class Sender(Protocol[T_co]):
    """What a task is enqueued through: ``scheduler.Queue`` (returns the job id) or
    ``scheduler.aio.Queue`` (returns an awaitable job id)."""

    def enqueue_task(
        self,
        task: str | Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        options: Options,
    ) -> T_co:
        """Enqueue ``task(*args, **kwargs)`` with ``options``."""
        ...


class Task(Generic[P, R]):
    """A function registered as a task (see ``scheduler.task``): call it to run it here,
    ``.enqueue(...)`` to have a worker run it.

    ``name`` is what payloads call it; ``defaults`` are the options given to ``@task``.
    """

    def __init__(self, fn: Callable[P, R], name: str, defaults: Options) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name
        self.defaults = defaults

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Enqueue a run with these arguments on the default Queue; return its job id."""
        return TaskCall(self, None, Options()).enqueue(*args, **kwargs)

    def options(
        self,
        *,
        queue: str | None = None,
        delay: float | None = None,
        at: datetime | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        job_id: str | None = None,
        result_ttl: float | None = None,
        unique_for: float | None = None,
        key: str | None = None,
        timeout_hard: float | None = None,
    ) -> TaskCall[P, str]:
        """This task with options for the next enqueue (on the default Queue), e.g.
        ``send_welcome.options(queue="mailers", delay=60).enqueue(42)``."""
        given = Options(
            queue, delay, at, retries, timeout, job_id, result_ttl, unique_for, key, timeout_hard
        )
        return TaskCall(self, None, given)

    def on(self, queue: Sender[U]) -> TaskCall[P, U]:
        """This task, enqueued through ``queue`` instead of the default Queue."""
        return TaskCall(self, queue, Options())


class TaskCall(Generic[P, T]):
    """A task with the Queue and options of an enqueue to come (``Task.options``,
    ``Task.on``); ``.enqueue(*args, **kwargs)`` sends it, and it can be used again."""

    def __init__(self, task: Task[P, Any], sender: Sender[T] | None, options: Options) -> None:
        self.task = task
        self._sender = sender
        self._options = options

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Enqueue a run with these arguments; return what the Queue's enqueue returns."""
        sender = self._sender if self._sender is not None else _default_queue()
        return sender.enqueue_task(self.task, args, kwargs, self._options)

    def options(
        self,
        *,
        queue: str | None = None,
        delay: float | None = None,
        at: datetime | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        job_id: str | None = None,
        result_ttl: float | None = None,
        unique_for: float | None = None,
        key: str | None = None,
        timeout_hard: float | None = None,
    ) -> TaskCall[P, T]:
        """These options over the ones given already."""
        given = Options(
            queue, delay, at, retries, timeout, job_id, result_ttl, unique_for, key, timeout_hard
        )
        return TaskCall(self.task, self._sender, given.over(self._options))

    def on(self, queue: Sender[U]) -> TaskCall[P, U]:
        """The same enqueue, through ``queue``."""
        return TaskCall(self.task, queue, self._options)


def _default_queue() -> Sender[Any]:
    # Loaded on the first enqueue, not with this module: `scheduler check --import`
    # imports the modules that define tasks, and must not import redis.
    defaults = importlib.import_module("scheduler.defaults")
    return cast("Sender[Any]", defaults.default_queue())


def resolve(task: str | Callable[..., Any]) -> tuple[str, Options | None]:
    """The task name ``task`` enqueues under, and its ``@task`` options (None: none).
    PayloadError for a callable a worker could not find by name."""
    if type(task) is str:  # the common case first: a name is taken as it is
        return task, None
    if isinstance(task, str):
        return str(task), None
    if isinstance(task, Task):
        return task.name, task.defaults
    return function_name(task), None


def function_name(fn: object) -> str:
    """``module:qualname`` of a module-level function; PayloadError for anything else."""
    what = _unnamable(fn)
    if what is not None:
        raise PayloadError(
            f"cannot enqueue {fn!r}: {what}; enqueue a module-level function, a @task, "
            "or a 'package.module:callable' string"
        )
    assert isinstance(fn, types.FunctionType)
    return f"{fn.__module__}:{fn.__qualname__}"


def _unnamable(fn: object) -> str | None:
    """Why a worker could not import ``fn`` by its name (None: it could)."""
    if not isinstance(fn, types.FunctionType):
        return "a worker imports tasks by name, and this is no plain function"
    name = fn.__qualname__
    if "<lambda>" in name:
        return "a lambda has no name a worker can import"
    if "<locals>" in name:
        return "a function defined inside another function cannot be imported by a worker"
    if "." in name:
        return "a method cannot be imported by a worker (make it a module-level function)"
    if fn.__module__ == "__main__":
        return "it is defined in __main__, which a worker does not import (move it to a module)"
    found = getattr(sys.modules.get(fn.__module__), name, None)
    if found is not fn and not (isinstance(found, Task) and found.fn is fn):
        return f"{fn.__module__}.{name} is not this function (a decorator replaced it)"
    return None
