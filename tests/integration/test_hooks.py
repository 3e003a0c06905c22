"""Hooks (docs/workers.md, "Hooks"): what each kind sees, and that a raising hook loses
no job, in-process and in a real `scheduler worker`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler import hooks
from scheduler.queue import Queue
from tests import tasks

from .conftest import WorkerFactory
from .test_worker_process import StartWorker, q, start_worker  # noqa: F401 (fixtures)

Seen = list[tuple[str, hooks.JobEvent]]


@pytest.fixture
def seen() -> Iterator[Seen]:
    """Every event of every kind, in order, through the process-wide registry."""
    events: Seen = []
    registered = [
        (k, hooks.registry.add(k, lambda e, k=k: events.append((k, e)))) for k in hooks.KINDS
    ]
    yield events
    for kind, hook in registered:
        hooks.registry.remove(kind, hook)


def _recorder(events: Seen, kind: str) -> hooks.Hook:
    return lambda event: events.append((kind, event))


def run_all(make_worker: WorkerFactory) -> None:
    worker = make_worker()
    while worker.fetch_once():
        worker.run_pending()
        worker.flush()


def test_hooks_see_each_enqueue_run_failure_and_death(
    queue: Queue, make_worker: WorkerFactory, seen: Seen
) -> None:
    ok = queue.enqueue("tests.tasks:add", 2, 3)
    bad = queue.enqueue("tests.tasks:fail", "no", retries=0)
    run_all(make_worker)

    assert [(kind, e.id) for kind, e in seen] == [
        ("before_enqueue", ok),
        ("before_enqueue", bad),
        ("before_run", ok),
        ("after_run", ok),
        ("before_run", bad),
        ("after_run", bad),
        ("on_failure", bad),
        ("on_dead", bad),
    ]
    enqueued, started, ended = seen[0][1], seen[2][1], seen[3][1]
    assert (enqueued.task, enqueued.args, enqueued.attempt) == ("tests.tasks:add", [2, 3], 1)
    assert (started.duration, started.error, started.status) == (None, None, None)
    assert ended.status == "ok" and ended.error is None and ended.duration is not None
    dead = seen[-1][1]
    assert (dead.status, dead.error, dead.attempt) == ("dead", "ValueError: no", 1)
    assert isinstance(dead.exception, ValueError)
    assert queue.dead_count() == 1


def test_a_failure_with_retries_left_is_a_failure_not_a_death(
    queue: Queue, make_worker: WorkerFactory, seen: Seen
) -> None:
    queue.enqueue("tests.tasks:fail", retries=2)
    run_all(make_worker)
    assert [(kind, e.status) for kind, e in seen[1:]] == [
        ("before_run", None),
        ("after_run", "retry"),
        ("on_failure", "retry"),
    ]


def test_a_raising_hook_is_logged_and_loses_no_job(
    queue: Queue, make_worker: WorkerFactory, caplog: pytest.LogCaptureFixture
) -> None:

    def broken(event: hooks.JobEvent) -> None:
        raise RuntimeError("hook is broken")

    added = [(kind, hooks.registry.add(kind, broken)) for kind in hooks.KINDS]
    try:
        job_id = queue.enqueue("tests.tasks:add", 1, 1)
        run_all(make_worker)
    finally:
        for kind, hook in added:
            hooks.registry.remove(kind, hook)
    assert queue.depth() == 0 and queue.dead_count() == 0
    failed = [r for r in caplog.records if r.getMessage().startswith("hook failed")]
    assert [r.getMessage().split()[2] for r in failed] == [
        "kind=before_enqueue",
        "kind=before_run",
        "kind=after_run",
    ]
    assert all(f"id={job_id}" in r.getMessage() and r.exc_info for r in failed)
    assert tasks.CALLS[-1] == (1, 1)


def test_a_worker_process_runs_the_hooks_its_imports_register(
    q: Queue,  # noqa: F811
    start_worker: StartWorker,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = tmp_path / "hooks.jsonl"
    monkeypatch.setenv("HOOKS_LOG", str(log))
    ok = q.enqueue("tests.tasks:noop")
    bad = q.enqueue("tests.tasks:fail", retries=0)
    worker = start_worker("--burst", "--allow", "tests.tasks", "--import", "tests.hooks_app")
    assert worker.wait() == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted((line["id"], line["kind"]) for line in lines) == sorted(
        [
            *[(ok, "before_run"), (ok, "after_run"), (bad, "before_run"), (bad, "after_run")],
            *[(bad, "on_failure"), (bad, "on_dead")],
        ]
    )
    dead = next(line for line in lines if line["kind"] == "on_dead")
    assert dead["error"] == "ValueError: boom" and dead["timed"] and dead["status"] == "dead"
    assert q.depth() == 0 and q.dead_count() == 1  # the raising hooks lost nothing
    assert worker.text().count("hook failed") == 6
    assert "Traceback" in worker.text()


def test_a_queue_given_its_own_hooks_runs_those_and_not_the_registry(
    queue: Queue, seen: Seen
) -> None:
    own = hooks.Hooks()
    mine: list[str] = []
    own.add("before_enqueue", lambda event: mine.append(event.task))
    private = Queue(queue.client, queue.keys.namespace, queue.clock, hooks=own)
    private.enqueue("tests.tasks:noop")
    with private.batch() as batch:
        batch.enqueue("tests.tasks:add", 1, 2)
    assert mine == ["tests.tasks:noop", "tests.tasks:add"] and seen == []


def test_an_unknown_hook_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown hook kind 'after': use one of before_enqueue"):
        hooks.Hooks().add("after", print)
