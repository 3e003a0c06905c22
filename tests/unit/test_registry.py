"""The allow-list and the task registry."""

from __future__ import annotations

import sys

import pytest

from scheduler.errors import TaskNotAllowed, TaskNotFound
from scheduler.registry import AllowList, import_task, registered_tasks, task


@pytest.mark.parametrize(
    ("allow", "name", "allowed"),
    [
        (AllowList(tasks=["app.jobs:run"]), "app.jobs:run", True),
        (AllowList(tasks=["app.jobs:run"]), "app.jobs:other", False),
        (AllowList(prefixes=["app"]), "app:run", True),
        (AllowList(prefixes=["app"]), "app.jobs.deep:run", True),
        (AllowList(prefixes=["app."]), "app.jobs:run", True),
        (AllowList(prefixes=["app"]), "apple.jobs:run", False),
        (AllowList(prefixes=["app.jobs:run"]), "app.jobs:run", True),
        (AllowList(prefixes=["app.jobs:run"]), "app.jobs:runner", False),
        (AllowList(), "os:system", False),
    ],
)
def test_allowed_tasks(allow: AllowList, name: str, allowed: bool) -> None:
    assert allow.is_allowed(name) is allowed


def test_a_decorated_function_is_registered_under_module_and_qualified_name() -> None:
    @task
    def local_job() -> int:
        return 1

    @task(name="custom.name:job")
    def other() -> int:
        return 2

    assert registered_tasks()[f"{__name__}:{local_job.__qualname__}"] is local_job
    assert AllowList().resolve("custom.name:job") is other


def test_resolving_a_task_that_is_not_allowed_never_imports_it() -> None:
    sys.modules.pop("tests.forbidden_tasks", None)
    with pytest.raises(TaskNotAllowed, match=r"--allow tests\.forbidden_tasks"):
        AllowList(prefixes=["tests.tasks"]).resolve("tests.forbidden_tasks:run")
    assert "tests.forbidden_tasks" not in sys.modules


def test_resolve_imports_an_allowed_task_once() -> None:
    allow = AllowList(prefixes=["tests"])
    fn = allow.resolve("tests.tasks:add")
    assert fn(1, 2) == 3
    assert allow.resolve("tests.tasks:add") is fn


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tests.no_such_module:x", "cannot import task tests.no_such_module:x"),
        ("tests.tasks:no_such", "no 'no_such'"),
        ("tests.tasks:SEEN", "is not callable"),
        ("tests.tasks", "expected 'package.module:callable'"),
    ],
)
def test_import_task_explains_what_is_wrong(name: str, message: str) -> None:
    with pytest.raises(TaskNotFound, match=message):
        import_task(name)
