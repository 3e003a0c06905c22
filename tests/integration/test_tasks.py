"""Typed tasks against a real Redis and a real `scheduler worker`: the default Queue, the
payload a task's enqueue writes, and the worker running @tasks and plain functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import scheduler
from scheduler import defaults
from scheduler.queue import Queue
from tests.integration.test_worker_process import StartWorker, q, start_worker
from tests.typed_tasks import plain, remind, send_welcome, write, write_later

__all__ = ["q", "start_worker"]  # fixtures shared with test_worker_process


@pytest.fixture(autouse=True)
def no_default_queue() -> Iterator[None]:
    """Each test starts with no default Queue and leaves none behind."""
    saved, defaults._default[:] = defaults._default[:], []
    yield
    for queue, owned in defaults._default:
        if owned:
            queue.close()
    defaults._default[:] = saved


def waiting(q: Queue, name: str) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in q.client.lrange(q.keys.queue(name), 0, -1)]


def test_a_task_enqueues_on_the_configured_queue_with_its_declared_options(
    q: Queue, redis_url: str, namespace: str
) -> None:
    made = scheduler.configure(url=redis_url, namespace=namespace)
    job_id = send_welcome.enqueue(42, lang="fr")
    (payload,) = waiting(q, "mailers")
    assert payload["id"] == job_id
    assert (payload["task"], payload["args"], payload["kwargs"]) == (
        "tests.typed_tasks:send_welcome",
        [42],
        {"lang": "fr"},
    )
    assert (payload["retries"], payload["timeout"]) == (5, 30)
    assert payload["result_ttl"] == 600
    assert 0 < q.client.ttl(q.keys.unique(payload["unique"])) <= 60  # @task(unique_for=60)
    assert defaults.default_queue() is made


def test_without_configure_the_default_queue_comes_from_the_environment(
    q: Queue, redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_REDIS_URL", redis_url)
    monkeypatch.setenv("SCHEDULER_NAMESPACE", namespace)
    remind.options(queue="reminders", delay=60).enqueue("ops", 5)
    assert q.delayed_count("reminders") == 1
    (raw,) = q.client.zrange(q.keys.delayed("reminders"), 0, -1)
    assert json.loads(raw)["args"] == ["ops", 5]


def test_configure_with_a_queue_of_ones_own_uses_it_and_never_closes_it(q: Queue) -> None:
    assert scheduler.configure(queue=q) is q
    write.enqueue("/nowhere", "x")
    scheduler.configure(queue=q)
    assert q.client.ping()
    assert q.depth() == 1


def test_a_worker_runs_tasks_async_tasks_and_plain_functions_enqueued_as_objects(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    write.on(q).enqueue(str(tmp_path / "task"), "from a @task")
    write_later.on(q).enqueue(str(tmp_path / "async"), "from an async @task")
    q.enqueue(plain, str(tmp_path / "plain"), "from a function")
    q.enqueue(write, str(tmp_path / "explicit"), "through Queue.enqueue")
    worker = start_worker(
        "--burst",
        "--import",
        "tests.typed_tasks",
        "--allow",
        "tests.typed_tasks:plain",
        "--queue",
        "default",
        "--queue",
        "async",
    )
    assert worker.wait() == 0, worker.text()
    assert (tmp_path / "task").read_text() == "from a @task"
    assert (tmp_path / "async").read_text() == "from an async @task"
    assert (tmp_path / "plain").read_text() == "from a function"
    assert (tmp_path / "explicit").read_text() == "through Queue.enqueue"
