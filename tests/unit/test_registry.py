"""The allow-list and the task registry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from scheduler.errors import TaskNotAllowed, TaskNotFound
from scheduler.registry import AllowList, import_problems, import_task, registered_tasks, task
from scheduler.schedule.loader import parse_schedule
from tests import tasks


@pytest.mark.parametrize(
    ("allow", "name", "allowed"),
    [
        (AllowList(tasks=["app.jobs:run"]), "app.jobs:run", True),
        (AllowList(tasks=["app.jobs:run"]), "app.jobs:other", False),
        (AllowList(prefixes=["tests"]), "tests.tasks:add", True),
        (AllowList(prefixes=["tests."]), "tests.tasks:add", True),
        (AllowList(prefixes=["tests.tasks"]), "tests.tasks:add", True),
        (AllowList(prefixes=["tests"]), "tests.deploy_to_come:run", False),
        (AllowList(prefixes=["tests"]), "tests.tasks:no_such_function", False),
        (AllowList(prefixes=["test"]), "tests.tasks:add", False),
        (AllowList(prefixes=["app.jobs:run"]), "app.jobs:run", True),
        (AllowList(prefixes=["app.jobs:run"]), "app.jobs:runner", False),
        (AllowList(), "os:system", False),
        (AllowList(prefixes=["tests"]), "tests.tasks:time.sleep", False),
        (AllowList(prefixes=["tests"]), "tests.tasks:Path", False),
        (AllowList(prefixes=["tests"]), "tests.tasks:_private", False),
    ],
)
def test_allowed_tasks(allow: AllowList, name: str, allowed: bool) -> None:
    assert allow.is_allowed(name) is allowed


HOSTILE = [
    "tests.tasks:time.sleep",
    "tests.tasks:asyncio.subprocess.create_subprocess_shell",
    "tests.tasks:threading.Thread",
    "tests:tasks.add",
    "tests:tasks",
    "tests.tasks:Path",
    "tests.tasks:current_job",
    "tests.tasks:add.__class__.__subclasses__",
    "tests.tasks:__builtins__",
    "tests.tasks:__loader__",
    "tests.tasks:SEEN",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_prefix_allows_no_module_class_attribute_path_or_function_from_elsewhere(
    name: str,
) -> None:
    with pytest.raises(TaskNotAllowed) as refused:
        AllowList(prefixes=["tests"]).resolve(name)
    assert str(refused.value).startswith(f"task not allowed: {name} (")
    assert "--allow tests." not in str(refused.value)


def test_a_prefix_allows_the_functions_defined_under_it_and_registered_tasks() -> None:
    allow = AllowList(prefixes=["tests"])
    assert allow.resolve("tests.tasks:add") is tasks.add
    assert allow.resolve("tests.tasks:async_record") is tasks.async_record
    # A @task is resolved to its function: a worker calls that (and sees an async def).
    assert allow.resolve("tests.tasks:registered") is tasks.registered.fn


def test_the_refusal_never_suggests_allowing_what_the_payload_names() -> None:
    with pytest.raises(TaskNotAllowed) as refused:
        AllowList(prefixes=["tests"]).resolve("os:system")
    assert str(refused.value) == (
        "task not allowed: os:system (name it in the schedule, register it with "
        "@scheduler.task, or --allow the package that defines it)"
    )


def test_a_decorated_function_is_registered_under_module_and_qualified_name() -> None:
    @task
    def local_job() -> int:
        return 1

    @task(name="custom.name:job")
    def other() -> int:
        return 2

    assert registered_tasks()[f"{__name__}:{local_job.__qualname__}"] is local_job
    assert AllowList().resolve("custom.name:job") is other.fn


def test_resolving_a_task_that_is_not_allowed_never_imports_it() -> None:
    sys.modules.pop("tests.forbidden_tasks", None)
    with pytest.raises(TaskNotAllowed):
        AllowList(prefixes=["tests.tasks"]).resolve("tests.forbidden_tasks:run")
    assert "tests.forbidden_tasks" not in sys.modules


def test_a_prefix_never_imports_a_module() -> None:
    sys.modules.pop("tests.forbidden_tasks", None)
    with pytest.raises(TaskNotFound, match=r"module tests\.forbidden_tasks is not imported by"):
        AllowList(prefixes=["tests"]).resolve("tests.forbidden_tasks:run")
    assert "tests.forbidden_tasks" not in sys.modules


def test_a_task_named_exactly_is_imported_when_first_run() -> None:
    sys.modules.pop("tests.forbidden_tasks", None)
    allow = AllowList(prefixes=["tests.forbidden_tasks:run"])
    assert allow.resolve("tests.forbidden_tasks:run")() is None
    assert "tests.forbidden_tasks" in sys.modules


def test_a_task_the_followed_schedule_adds_is_allowed_and_earlier_ones_stay() -> None:
    edits: list[set[str]] = []
    allow = AllowList(["tests.tasks:add"], follow=lambda: edits.pop() if edits else None)
    with pytest.raises(TaskNotAllowed):
        allow.resolve("tests.tasks:noop")
    edits.append({"tests.tasks:noop"})
    assert allow.resolve("tests.tasks:noop") is tasks.noop
    assert allow.resolve("tests.tasks:add") is tasks.add
    assert allow.tasks == {"tests.tasks:add", "tests.tasks:noop"}


def test_resolve_imports_an_allowed_task_once() -> None:
    allow = AllowList(tasks=["tests.tasks:add"])
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


def test_import_problems_point_at_each_task_that_cannot_be_imported() -> None:
    schedule = parse_schedule(
        "jobs:\n"
        "  fine: {task: 'tests.tasks:add', every: 1h}\n"
        "  typo:\n"
        "    every: 1h\n"
        "    task: tests.tasks:ad\n"
        "  elsewhere: {every: 1h, task: 'billing.jobs:invoice'}\n"
        "  again: {every: 2h, task: 'billing.jobs:invoice'}\n",
        "schedule.yml",
    )
    assert [str(problem) for problem in import_problems(schedule)] == [
        "schedule.yml:5:11: job 'typo': cannot import task tests.tasks:ad: "
        "tests.tasks:ad has no 'ad'",
        "schedule.yml:6:32: job 'elsewhere': cannot import task billing.jobs:invoice: "
        f"no module named 'billing' on sys.path (it starts with {sys.path[0] or os.getcwd()}; "
        "run from the folder that holds it, or set PYTHONPATH)",
        "schedule.yml:7:28: job 'again': cannot import task billing.jobs:invoice: "
        f"no module named 'billing' on sys.path (it starts with {sys.path[0] or os.getcwd()}; "
        "run from the folder that holds it, or set PYTHONPATH)",
    ]


def test_import_task_tells_a_missing_module_from_one_that_fails_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "mail.py").write_text("import no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TaskNotFound) as missing:
        import_task("shop.jobs:send")
    assert str(missing.value) == "cannot import task shop.jobs:send: no module named 'shop.jobs'"
    with pytest.raises(TaskNotFound) as failing:
        import_task("shop.mail:send")
    assert str(failing.value) == (
        "cannot import task shop.mail:send: importing shop.mail raised "
        "ModuleNotFoundError(\"No module named 'no_such_dependency'\")"
    )


def test_a_job_thread_that_finds_the_edit_already_taken_still_runs_the_task() -> None:
    def follow() -> None:
        allow.tasks |= {"tests.tasks:noop"}  # another job thread took the edit meanwhile

    allow = AllowList(["tests.tasks:add"], follow=follow)
    assert allow.resolve("tests.tasks:noop") is tasks.noop
