"""Which tasks a worker may run, and finding them: the allow-list and the task registry.

A payload names its task as text (``package.module:callable``), and anyone who can write
to Redis can write a payload, so a worker imports and calls only tasks that are allowed:

- the tasks named in the schedule file (``--schedule``),
- the tasks registered in code with ``@task`` (in a module the worker has imported),
- the tasks of modules under a prefix the operator allowed (``--allow PREFIX``).

A task that is not allowed is never imported: importing a module runs its code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from .errors import TaskNotAllowed, TaskNotFound

F = TypeVar("F", bound=Callable[..., Any])

# The task registry: "module:qualname" -> callable, filled by @task at import time.
_REGISTERED: dict[str, Callable[..., Any]] = {}


@overload
def task(fn: F, /) -> F: ...
@overload
def task(*, name: str | None = None) -> Callable[[F], F]: ...
def task(fn: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Register a function as a task that workers may run, under ``module:qualname``.

    Use as ``@task`` or ``@task(name="myapp.jobs:alias")``; returns the function unchanged.
    """

    def register(func: F) -> F:
        _REGISTERED[name or f"{func.__module__}:{func.__qualname__}"] = func
        return func

    return register(fn) if fn is not None else register


def registered_tasks() -> dict[str, Callable[..., Any]]:
    """A copy of the task registry."""
    return dict(_REGISTERED)


class AllowList:
    """The tasks a worker may run, and a cache of the ones it has imported."""

    def __init__(self, tasks: Iterable[str] = (), prefixes: Iterable[str] = ()) -> None:
        self.tasks = frozenset(tasks)
        self.prefixes = tuple(p.rstrip(".") for p in prefixes)
        self._found: dict[str, Callable[..., Any]] = {}

    def is_allowed(self, task_name: str) -> bool:
        """Whether ``task_name`` is named in the schedule, registered, or under a prefix."""
        if task_name in self.tasks or task_name in _REGISTERED:
            return True
        module = task_name.partition(":")[0]
        return any(
            prefix in (task_name, module) or module.startswith(prefix + ".")
            for prefix in self.prefixes
        )

    def resolve(self, task_name: str) -> Callable[..., Any]:
        """The callable of an allowed task; TaskNotAllowed or TaskNotFound otherwise."""
        found = self._found.get(task_name)
        if found is not None:
            return found
        if not self.is_allowed(task_name):
            raise TaskNotAllowed(
                f"task not allowed: {task_name} (allow it with --allow {_module(task_name)}, "
                "by naming it in the schedule, or by registering it with @scheduler.task)"
            )
        found = _REGISTERED.get(task_name) or import_task(task_name)
        self._found[task_name] = found
        return found


def import_task(task_name: str) -> Callable[..., Any]:
    """Import ``package.module:callable``; TaskNotFound if that fails or is not callable."""
    module_name, sep, attr_path = task_name.partition(":")
    if not sep or not module_name or not attr_path:
        raise TaskNotFound(f"invalid task {task_name!r}: expected 'package.module:callable'")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # importing runs the module: any error means "not found"
        raise TaskNotFound(f"cannot import task {task_name}: {exc!r}") from exc
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise TaskNotFound(f"cannot import task {task_name}: no {attr!r}") from None
    if not callable(target):
        raise TaskNotFound(f"task {task_name} is not callable")
    return target  # type: ignore[no-any-return]


def _module(task_name: str) -> str:
    return task_name.partition(":")[0]
