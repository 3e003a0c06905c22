"""Which tasks a real `scheduler worker` finds and runs: the application beside it, the
schedule as it is edited, and hostile payloads written straight into Redis."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.integration.test_worker_process import SCRIPT, StartWorker, q, start_worker

__all__ = ["q", "start_worker"]  # fixtures shared with test_worker_process

TASKS = """\
import logging
import os
import subprocess
from pathlib import Path


def ok(path):
    Path(path).write_text("ok")


def also(path):
    Path(path).write_text("also")
"""

SIDE_EFFECT = """\
from pathlib import Path

Path(__file__).with_name("sideeffect-ran").write_text("module code ran")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A project folder holding the package ``myapp``, as a new user's would."""
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(TASKS)
    (package / "sideeffect.py").write_text(SIDE_EFFECT)
    return tmp_path


def smuggle(q: Queue, task: str, *args: object) -> None:
    """Write a job straight into Redis, as anyone with access to it can."""
    payload = {
        "v": 1,
        "id": os.urandom(16).hex(),
        "task": task,
        "args": list(args),
        "kwargs": {},
        "queue": "default",
        "attempt": 1,
        "retries": 0,
        "enqueued_at": 0,
    }
    q.client.lpush(q.keys.queue("default"), json.dumps(payload))
    q.client.lpush(q.keys.wake("default"), "1")


# --- the application beside the worker -------------------------------------------------


def test_the_console_script_imports_the_app_from_its_working_directory(
    q: Queue, start_worker: StartWorker, app: Path
) -> None:
    (app / "schedule.yml").write_text("jobs:\n  nightly: {task: 'myapp.tasks:ok', every: 1h}\n")
    q.enqueue("myapp.tasks:ok", str(app / "done"))
    worker = start_worker("--burst", script=True)
    assert worker.wait() == 0, worker.text()
    assert (app / "done").read_text() == "ok"
    assert q.dead_count() == 0


def test_a_worker_whose_schedule_names_a_task_it_cannot_import_does_not_start(
    q: Queue, start_worker: StartWorker, app: Path
) -> None:
    (app / "schedule.yml").write_text(
        "jobs:\n  nightly: {task: 'myapp.tasks:ok', every: 1h}\n"
        "  report:\n    task: billing.jobs:build\n    every: 1d\n"
    )
    worker = start_worker("--burst", script=True)
    assert worker.wait() == 2
    [line] = worker.text().strip().splitlines()
    assert line.startswith("schedule.yml:4:11: job 'report': cannot import task billing.jobs:build")
    assert f"no module named 'billing' on sys.path (it starts with {app};" in line
    assert q.client.zcard(q.keys.workers()) == 0


def test_import_and_allow_values_that_cannot_be_imported_are_one_line_each(
    start_worker: StartWorker, app: Path
) -> None:
    worker = start_worker("--import", "myapp.mail", "--allow", "shop", script=True)
    assert worker.wait() == 2
    assert worker.text().strip().splitlines() == [
        "--import myapp.mail: cannot import myapp.mail: no module named 'myapp.mail'",
        "--allow shop: cannot import shop: no module named 'shop' on sys.path (it starts with "
        f"{app}; run from the folder that holds it, or set PYTHONPATH)",
    ]


def test_import_check_warn_starts_the_worker_anyway(
    q: Queue, start_worker: StartWorker, app: Path
) -> None:
    (app / "schedule.yml").write_text("jobs:\n  report: {task: 'billing.jobs:build', every: 1d}\n")
    q.enqueue("myapp.tasks:ok", str(app / "done"))
    options = ("--burst", "--import-check", "warn", "--allow", "myapp.tasks")
    worker = start_worker(*options, script=True)
    assert worker.wait() == 0
    assert "WARNING" in worker.text() and "cannot import task billing.jobs:build" in worker.text()
    assert (app / "done").exists()


# --- the schedule as it is edited ------------------------------------------------------

FIRST = "  first: {{task: 'myapp.tasks:ok', every: 1s, args: ['{folder}/first']}}\n"
SECOND = "  second: {{task: 'myapp.tasks:also', every: 1s, args: ['{folder}/second']}}\n"
ONE_JOB = "jobs:\n" + FIRST
TWO_JOBS = ONE_JOB + SECOND


@pytest.fixture
def scheduler_run(redis_url: str, namespace: str, app: Path) -> Iterator[Path]:
    """A real `scheduler run` on ``app/schedule.yml`` (one job, a fire every second)."""
    schedule = app / "schedule.yml"
    schedule.write_text(ONE_JOB.format(folder=app))
    command = [str(SCRIPT), "run", "--redis", redis_url, "--namespace", namespace, "--poll", "0.1"]
    with (app / "run.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=app, stderr=log, stdout=log)
    yield schedule
    proc.kill()
    proc.wait()


def test_a_job_added_to_the_schedule_runs_on_a_worker_started_before_the_edit(
    q: Queue, start_worker: StartWorker, app: Path, scheduler_run: Path
) -> None:
    worker = start_worker("--schedule", "schedule.yml", script=True)
    wait_until((app / "first").exists, what="a fire of the first job to run")

    edited = app / "schedule.new"
    edited.write_text(TWO_JOBS.format(folder=app))
    os.replace(edited, scheduler_run)
    wait_until((app / "second").exists, what="a fire of the added job to run")
    assert q.dead() == [], worker.text()
    assert "task not allowed" not in worker.text()


# --- hostile payloads ------------------------------------------------------------------

HOSTILE = [
    ("myapp.tasks:os.system", "touch {marker}"),
    ("myapp.tasks:subprocess.run", ["touch", "{marker}"]),
    ("myapp.tasks:logging.os.system", "touch {marker}"),
    ("myapp:tasks.os.system", "touch {marker}"),
    ("myapp:os.system", "touch {marker}"),
    ("myapp.tasks:Path.touch", "{marker}"),
]


def _filled(value: object, marker: Path) -> object:
    if isinstance(value, list):
        return [str(item).format(marker=marker) for item in value]
    return str(value).format(marker=marker)


def test_allow_runs_no_callable_reached_through_an_attribute_path(
    q: Queue, start_worker: StartWorker, app: Path
) -> None:
    markers = [app / f"pwned-{i}" for i in range(len(HOSTILE))]
    for (task, arg), marker in zip(HOSTILE, markers, strict=True):
        smuggle(q, task, _filled(arg, marker))
    smuggle(q, "myapp.tasks:ok.__class__.__subclasses__")
    smuggle(q, "myapp.tasks:Path", str(app / "pwned-class"))
    smuggle(q, "myapp.tasks:ok", str(app / "done"))
    worker = start_worker("--burst", "--allow", "myapp", "--import", "myapp.tasks")
    assert worker.wait() == 0, worker.text()

    assert (app / "done").exists()
    assert [marker.name for marker in markers if marker.exists()] == []
    dead = q.dead()
    assert len(dead) == len(HOSTILE) + 2
    for job in dead:
        assert job.error.startswith("task not allowed"), job.error
        assert "--allow os" not in job.error and "--allow myapp.tasks:" not in job.error


def test_allow_imports_no_module_that_no_allowed_task_needs(
    q: Queue, start_worker: StartWorker, app: Path
) -> None:
    smuggle(q, "myapp.sideeffect:x")
    smuggle(q, "myapp.sideeffect:__name__")
    smuggle(q, "myapp.tasks:ok", str(app / "done"))
    worker = start_worker("--burst", "--allow", "myapp", "--import", "myapp.tasks")
    assert worker.wait() == 0, worker.text()

    assert (app / "done").exists()
    assert not (app / "myapp" / "sideeffect-ran").exists()
    by_task = {job.record["task"]: job.error for job in q.dead()}
    assert by_task["myapp.sideeffect:__name__"].startswith(
        "task not allowed: myapp.sideeffect:__name__"
    )
    assert by_task["myapp.sideeffect:x"].startswith(
        "TaskNotFound: cannot run task myapp.sideeffect:x: module myapp.sideeffect is not "
        "imported by this worker (--allow imports no module"
    )
