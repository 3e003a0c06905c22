"""Which tasks a worker may run, and finding them: the allow-list and the task registry.

A payload names its task as text (``package.module:callable``), and anyone who can write
to Redis can write a payload, so a worker calls only tasks it was told about
(docs/workers.md, "The allow-list"):

- the tasks named in the schedule file, exactly (followed as the file is edited);
- the tasks registered in code with ``@task`` (their modules are imported already);
- under ``--allow PREFIX``: a public function defined in a module under the prefix, named
  ``module:function``, in a module this process has imported already.

Only a task named exactly (in the schedule, or ``--allow module:function``) is imported on
demand. A prefix imports nothing, since importing a module runs its code and a payload
must not choose which code runs; nor does it reach through attributes
(``module:os.system``), to a class, or to a function some other package defines.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from .enqueue import JobOptions
from .errors import PayloadError, Problem, SchedulerError, TaskNotAllowed, TaskNotFound
from .jobs import DEFAULT_QUEUE, build_payload
from .tasks import Options, Task

if TYPE_CHECKING:  # for types only: `from scheduler import task` must stay light
    from .schedule.loader import Schedule

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# The task registry: "module:qualname" -> Task, filled by @task at import time.
_REGISTERED: dict[str, Task[..., Any]] = {}


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...
@overload
def task(
    *,
    name: str | None = None,
    queue: str | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    result_ttl: float | None = None,
    unique_for: float | None = None,
    timeout_hard: float | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...
def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    result_ttl: float | None = None,
    unique_for: float | None = None,
    timeout_hard: float | None = None,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Register a function as a task that workers may run, under ``module:qualname``.

    Use as ``@task`` or ``@task(name=, queue=, retries=, timeout=, result_ttl=,
    unique_for=, timeout_hard=)``: the options are the defaults of its enqueues. Returns a
    ``Task``, which calls like the function and has ``.enqueue(...)`` (docs/tasks.md).
    PayloadError, at import, for an invalid option.
    """
    defaults = Options(
        queue=queue,
        retries=retries,
        timeout=timeout,
        result_ttl=result_ttl,
        unique_for=unique_for,
        timeout_hard=timeout_hard,
    )

    def register(func: Callable[P, R]) -> Task[P, R]:
        task_name = name or f"{func.__module__}:{func.__qualname__}"
        _check_options(task_name, defaults)
        made = Task(func, task_name, defaults)
        _REGISTERED[task_name] = made
        return made

    return register(fn) if fn is not None else register


def _check_options(task_name: str, o: Options) -> None:
    """PayloadError if a job of these ``@task`` options could not be built."""
    try:
        build_payload(
            __name__ + ":task",  # the options alone: a nested function's name is no task name
            queue=DEFAULT_QUEUE if o.queue is None else o.queue,
            enqueued_at=0,
            retries=o.retries,
            timeout=o.timeout,
            timeout_hard=o.timeout_hard,
        )
        JobOptions(o.unique_for, o.key, o.result_ttl)
    except PayloadError as exc:
        raise PayloadError(f"@task {task_name}: {exc}") from None


def registered_tasks() -> dict[str, Task[..., Any]]:
    """A copy of the task registry."""
    return dict(_REGISTERED)


Follow = Callable[[], Iterable[str] | None]


class AllowList:
    """The tasks a worker may run, and a cache of the ones it has found.

    ``prefixes`` are the ``--allow`` values (``module:function`` allows that one task).
    ``follow``, if given, returns the tasks of the schedule in force when it changed
    (else None); it is asked when a job names a task not allowed yet, and what it returns
    is added: a task stays allowed until the worker restarts.
    """

    def __init__(
        self,
        tasks: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        *,
        follow: Follow | None = None,
    ) -> None:
        given = tuple(prefixes)
        self.tasks = frozenset([*tasks, *(p for p in given if ":" in p)])
        self.prefixes = tuple(p.rstrip(".") for p in given if ":" not in p)
        self._follow = follow
        self._lock = threading.Lock()
        self._found: dict[str, Callable[..., Any]] = {}

    def is_allowed(self, task_name: str) -> bool:
        """Whether ``task_name`` is named exactly, registered, or a function a prefix
        allows in a module imported already (nothing is imported)."""
        if task_name in self.tasks or task_name in _REGISTERED:
            return True
        prefix = self._prefix_of(task_name)
        try:
            return prefix is not None and _under_prefix(task_name, prefix) is not None
        except SchedulerError:
            return False

    def resolve(self, task_name: str) -> Callable[..., Any]:
        """The callable of an allowed task; TaskNotAllowed or TaskNotFound otherwise."""
        found = self._found.get(task_name)
        if found is None:
            found = self._find(task_name)
            self._found[task_name] = found
        return found

    def refresh(self) -> frozenset[str]:
        """Take the tasks of the followed schedule if it changed; the tasks added."""
        if self._follow is None:
            return frozenset()
        with self._lock:
            names = self._follow()
            added = frozenset(names or ()) - self.tasks
            self.tasks |= added
        if added:
            log.info("allow-list follows the schedule tasks_added=%s", ",".join(sorted(added)))
        return added

    def _find(self, task_name: str) -> Callable[..., Any]:
        if task_name in self.tasks or task_name in _REGISTERED:
            return find_task(task_name)
        prefix = self._prefix_of(task_name)
        try:
            if prefix is None:
                raise TaskNotAllowed(_refusal(task_name))
            return _under_prefix(task_name, prefix)
        except SchedulerError:
            self.refresh()
            if task_name in self.tasks:  # the schedule file names it now
                return find_task(task_name)
            raise

    def _prefix_of(self, task_name: str) -> str | None:
        """The prefix that covers ``task_name``, if it is ``module:function`` under one."""
        module, _, attribute = task_name.partition(":")
        if not _public(attribute):
            return None
        for prefix in self.prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return prefix
        return None


def _under_prefix(task_name: str, prefix: str) -> Callable[..., Any]:
    """The function a prefix allows; TaskNotFound if its module is not imported or lacks
    it (a deploy may bring it), TaskNotAllowed if it is anything else."""
    module_name, _, attribute = task_name.partition(":")
    module = sys.modules.get(module_name)
    if not isinstance(module, types.ModuleType):  # None blocks an import there
        raise TaskNotFound(
            f"cannot run task {task_name}: module {module_name} is not imported by this "
            f"worker (--allow imports no module: name it with --import)"
        )
    target = vars(module).get(attribute)  # its own namespace: no module __getattr__ runs
    if target is None:
        raise TaskNotFound(
            f"cannot run task {task_name}: module {module_name} has no {attribute!r}"
        )
    if any(target is fn for fn in _REGISTERED.values()):
        return _function(target)
    defined_in = getattr(target, "__module__", None) or ""
    if not isinstance(target, types.FunctionType) or not _covered(defined_in, prefix):
        raise TaskNotAllowed(
            f"task not allowed: {task_name} (--allow {prefix} runs the functions defined in "
            f"modules under {prefix}, each named module:function)"
        )
    return target


def _covered(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _public(attribute: str) -> bool:
    return attribute.isidentifier() and not attribute.startswith("_")


def _refusal(task_name: str) -> str:
    return (
        f"task not allowed: {task_name} (name it in the schedule, register it with "
        "@scheduler.task, or --allow the package that defines it)"
    )


def find_task(task_name: str) -> Callable[..., Any]:
    """A registered task, else ``import_task``; TaskNotFound if neither finds it."""
    found = _REGISTERED.get(task_name)
    if found is not None:
        return found.fn
    try:
        return import_task(task_name)
    except TaskNotFound:
        found = _REGISTERED.get(task_name)  # importing its module may have registered it
        if found is None:
            raise
        return found.fn


def import_task(task_name: str) -> Callable[..., Any]:
    """Import ``package.module:callable``; TaskNotFound if that fails or is not callable."""
    module_name, sep, attr_path = task_name.partition(":")
    if not sep or not module_name or not attr_path:
        raise TaskNotFound(f"invalid task {task_name!r}: expected 'package.module:callable'")
    target: Any = import_module(module_name, f"task {task_name}")
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise TaskNotFound(
                f"cannot import task {task_name}: {module_name}:{attr_path} has no {attr!r}"
            ) from None
    if not callable(target):
        raise TaskNotFound(f"task {task_name} is not callable")
    return _function(target)


def _function(target: Any) -> Callable[..., Any]:
    """What a worker calls for ``target``: a Task's function (so an ``async def`` is seen
    as one), else ``target`` itself."""
    return target.fn if isinstance(target, Task) else target


def import_module(name: str, what: str) -> Any:
    """Import module ``name`` for ``what``; TaskNotFound, saying why, if that fails."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name.partition(".")[0]:
            start = (sys.path[0] or os.getcwd()) if sys.path else "nothing"
            raise TaskNotFound(
                f"cannot import {what}: no module named {exc.name!r} on sys.path (it starts "
                f"with {start}; run from the folder that holds it, or set PYTHONPATH)"
            ) from None
        if exc.name is not None and _covered(name, exc.name):
            raise TaskNotFound(f"cannot import {what}: no module named {exc.name!r}") from None
        raise TaskNotFound(f"cannot import {what}: importing {name} raised {exc!r}") from None
    except Exception as exc:  # importing runs the module: any error means "not found"
        raise TaskNotFound(f"cannot import {what}: importing {name} raised {exc!r}") from None


def use_working_directory() -> None:
    """Put the working directory first on ``sys.path``, as ``python -m`` does, so a
    console script finds the application of the folder it runs in."""
    here = os.getcwd()
    if "" not in sys.path and here not in sys.path:
        sys.path.insert(0, here)


def named_tasks(schedule: Schedule) -> frozenset[str]:
    """The tasks the ``task:`` jobs of ``schedule`` name (other targets' names are not ours
    to run)."""
    return frozenset(job.task for job in schedule.jobs.values() if job.target == "task")


def import_problems(schedule: Schedule) -> list[Problem]:
    """Import every task ``schedule`` names; a problem, at the task, per job whose task
    cannot be imported (shared by `scheduler check --import` and the worker's start).
    Only ``task:`` jobs name tasks of ours."""
    failed: dict[str, str] = {}
    problems: list[Problem] = []
    for job in schedule.jobs.values():
        if job.target != "task":
            continue
        if job.task not in failed:
            try:
                find_task(job.task)
                failed[job.task] = ""
            except TaskNotFound as exc:
                failed[job.task] = str(exc)
        if failed[job.task]:
            line, column = job.task_at
            problems.append(Problem(schedule.path, line, column, failed[job.task], job.name))
    return problems


def option_problems(imports: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """Import each ``--import`` module, then what each ``--allow`` value names (a module,
    or one task); a line for each that cannot be imported."""
    named = [("--import", name) for name in imports] + [("--allow", p) for p in prefixes]
    lines: list[str] = []
    for option, value in named:
        try:
            if option == "--allow" and ":" in value:
                find_task(value)
            else:
                import_module(value.rstrip("."), value.rstrip("."))
        except TaskNotFound as exc:
            lines.append(f"{option} {value}: {exc}")
    return lines
