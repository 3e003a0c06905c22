"""Typed tasks without Redis: what ``@task`` returns, the names callables enqueue under,
options that never clash with a task's parameters, and mypy checking an enqueue."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler import Task, task
from scheduler.errors import PayloadError
from scheduler.tasks import function_name
from scheduler.testing import RecordingQueue, recording
from tests import typed_tasks
from tests.typed_tasks import Mailer, hang, make_closure, plain, remind, send_welcome

ROOT = Path(__file__).resolve().parents[2]


def test_a_task_calls_like_its_function_and_is_named_module_colon_qualname() -> None:
    assert isinstance(send_welcome, Task)
    assert send_welcome(7, lang="fr") == "welcome 7 (fr)"
    assert send_welcome.name == "tests.typed_tasks:send_welcome"
    assert send_welcome.__doc__ == typed_tasks.send_welcome.fn.__doc__
    assert send_welcome.__name__ == "send_welcome"


def test_enqueue_carries_the_options_given_to_the_task() -> None:
    rq = RecordingQueue()
    job_id = send_welcome.on(rq).enqueue(7, lang="fr")
    (job,) = rq.jobs
    assert (job.id, job.task) == (job_id, send_welcome.name)
    assert (job.args, job.kwargs) == ([7], {"lang": "fr"})
    assert job.queue == "mailers"
    assert (job.job.retries, job.job.timeout) == (5, 30)
    assert (job.job.result_ttl, job.job.extra) == (600, {})
    assert str(job.job.unique).startswith("args:")  # unique_for without key: by arguments


def test_options_of_one_enqueue_never_clash_with_the_tasks_parameters() -> None:
    rq = RecordingQueue()
    remind.on(rq).enqueue("urgent", 5, at="dawn")
    remind.on(rq).options(queue="later", retries=0).enqueue(queue="q", delay=1)
    first, second = rq.jobs
    assert (first.args, first.kwargs) == (["urgent", 5], {"at": "dawn"})
    assert (first.queue, first.run_at) == ("default", None)
    assert second.kwargs == {"queue": "q", "delay": 1}
    assert (second.queue, second.job.retries, second.run_at) == ("later", 0, None)


def test_options_given_later_win_and_a_task_call_can_be_used_again() -> None:
    rq = RecordingQueue()
    to_ops = send_welcome.options(queue="ops", timeout=5).on(rq)
    to_ops.enqueue(1)
    to_ops.options(queue="vip").enqueue(2)
    expected = [("ops", 5, 5), ("vip", 5, 5)]
    assert [(j.queue, j.job.timeout, j.job.retries) for j in rq.jobs] == expected


def test_a_hard_timeout_comes_from_the_task_its_options_or_the_enqueue() -> None:
    rq = RecordingQueue()
    hang.on(rq).enqueue("/tmp/x")
    hang.on(rq).options(timeout_hard=30).enqueue("/tmp/x")
    send_welcome.on(rq).options(timeout_hard=45.5).enqueue(1)
    rq.enqueue(hang, "/tmp/x", timeout_hard=60)
    rq.enqueue("tests.typed_tasks:plain", "/tmp/x", "text")
    assert [j.job.timeout_hard for j in rq.jobs] == [2, 30, 45.5, 60, None]
    assert [j.job.extra for j in rq.jobs] == [{}] * 5  # a setting, never a task's keyword
    assert rq.jobs[0].job.to_payload()["timeout_hard"] == 2
    assert "timeout_hard" not in rq.jobs[4].job.to_payload()


def test_queue_enqueue_takes_a_task_or_a_module_level_function() -> None:
    rq = RecordingQueue()
    rq.enqueue(send_welcome, 1, queue="other")
    rq.enqueue(plain, "/tmp/x", "text")
    assert [(j.task, j.queue) for j in rq.jobs] == [
        ("tests.typed_tasks:send_welcome", "other"),
        ("tests.typed_tasks:plain", "default"),
    ]
    assert (rq.jobs[0].job.result_ttl, rq.jobs[0].job.extra) == (600, {})
    assert rq.jobs[0].job.unique is not None


@pytest.mark.parametrize(
    ("callable_", "why"),
    [
        (lambda: None, "a lambda has no name a worker can import"),
        (make_closure(), "a function defined inside another function cannot be imported"),
        (Mailer().send, "a worker imports tasks by name, and this is no plain function"),
        (Mailer.send, "a method cannot be imported by a worker"),
        (functools.partial(plain, "/tmp/x"), "this is no plain function"),
        (print, "this is no plain function"),
    ],
)
def test_a_callable_a_worker_cannot_import_by_name_is_refused_in_one_line(
    callable_: object, why: str
) -> None:
    with pytest.raises(PayloadError) as refused:
        RecordingQueue().enqueue(callable_)  # type: ignore[arg-type]
    message = str(refused.value)
    assert message.startswith("cannot enqueue ") and why in message
    assert message.endswith(
        "; enqueue a module-level function, a @task, or a 'package.module:callable' string"
    )
    assert "\n" not in message


def test_a_function_a_decorator_replaced_is_refused() -> None:
    def wrapper() -> None:
        return None

    wrapper.__module__, wrapper.__qualname__ = plain.__module__, "plain"
    with pytest.raises(PayloadError, match=r"tests\.typed_tasks\.plain is not this function"):
        function_name(wrapper)


def test_an_invalid_task_option_is_refused_where_the_task_is_declared() -> None:
    with pytest.raises(PayloadError, match=r"^@task .*:bad: result_ttl= must be seconds > 0"):

        @task(name="tests.unit:bad", result_ttl=0)
        def bad() -> None:
            return None

    with pytest.raises(PayloadError, match="invalid queue name 'no spaces'"):
        task(queue="no spaces")(plain)
    with pytest.raises(PayloadError, match=r"^@task .*:plain: timeout_hard must be a number"):
        task(timeout_hard=0)(plain)
    with pytest.raises(PayloadError, match=r"^timeout_hard must be a number of seconds > 0"):
        hang.on(RecordingQueue()).options(timeout_hard=-1).enqueue("/tmp/x")


def test_recording_takes_the_enqueues_of_tasks_too() -> None:
    with recording() as rq:
        send_welcome.enqueue(3)
        send_welcome.options(delay=60).enqueue(4)
    assert [j.args for j in rq.jobs] == [[3], [4]]
    assert rq.jobs[1].run_at is not None


TYPED = """\
from scheduler import Queue, task


@task
def send_welcome(user_id: int, lang: str = "en") -> str:
    return str(user_id) + lang


def use(q: Queue) -> None:
    job_id: str = send_welcome.enqueue(42, lang="fr")
    send_welcome.options(queue="mailers", delay=5).enqueue(42)
    send_welcome.on(q).enqueue(1)
    shown: str = send_welcome(1)
"""

# Each wrong line, and what mypy must say about it.
WRONG = {
    'send_welcome.enqueue("42")': 'Argument 1 to "enqueue" of "Task" has incompatible type "str"',
    "send_welcome.enqueue()": 'Missing positional argument "user_id" in call to "enqueue"',
    "send_welcome.enqueue(1, language='fr')": 'Unexpected keyword argument "language"',
    "send_welcome.options(queue='q').enqueue('x')": 'incompatible type "str"; expected "int"',
    "send_welcome.on(q).enqueue(1, 2, 3)": 'Argument 2 to "enqueue" of "TaskCall"',
    "send_welcome.options(delay='soon')": 'Argument "delay" to "options" of "Task"',
    "send_welcome.options(timeout_hard='1m')": 'Argument "timeout_hard" to "options" of "Task"',
}


def test_mypy_strict_catches_a_wrong_argument_to_enqueue(tmp_path: Path) -> None:
    first = TYPED.count("\n") + 1
    lines = [f"    {wrong}" for wrong in WRONG]
    (tmp_path / "typed.py").write_text(TYPED + "\n".join(lines) + "\n")
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    command += ["--cache-dir", str(tmp_path / ".mypy_cache"), "--config-file", os.devnull]
    command.append(str(tmp_path / "typed.py"))
    found = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT)
    errors = [line for line in found.stdout.splitlines() if ": error: " in line]
    by_line = {int(line.split(":")[1]): line for line in errors}
    # Every wrong line is caught, and nothing else: the right uses above type-check.
    assert sorted(by_line) == list(range(first, first + len(WRONG))), found.stdout
    for number, message in enumerate(WRONG.values(), start=first):
        assert message in by_line[number]


def test_the_recording_queue_finds_jobs_by_task_object_or_function() -> None:
    rq = RecordingQueue()
    send_welcome.on(rq).enqueue(5)
    rq.enqueue(plain, "/tmp/x", "y")
    assert rq.assert_enqueued(send_welcome, 5, queue="mailers").args == [5]
    assert rq.jobs_for(plain) == rq.jobs_for("tests.typed_tasks:plain") == [rq.jobs[1]]
    with pytest.raises(AssertionError, match=r"send_welcome\(6\) was not enqueued"):
        rq.assert_enqueued(send_welcome, 6)
