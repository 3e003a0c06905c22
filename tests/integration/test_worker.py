"""The worker, in-process and by hand: fetch, run, acknowledge, retry, bury, reap, stop.

Time is a FakeClock passed to the queue and the worker (and so into every script).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading

import pytest
import redis

from scheduler.cli.dev import free_port
from scheduler.clock import FakeClock
from scheduler.jobs import build_payload, encode
from scheduler.queue import Queue
from scheduler.registry import AllowList
from scheduler.worker.worker import Worker, WorkerSettings
from tests import tasks
from tests.helpers import wait_until
from tests.redis_server import RedisServer

from .conftest import START, WorkerFactory


@pytest.fixture(autouse=True)
def _clean_task_state() -> None:
    tasks.SEEN.clear()
    tasks.CALLS.clear()
    tasks.GATES.clear()


def in_progress(client: redis.Redis, queue: Queue, worker_id: str, name: str = "default") -> int:
    return int(client.llen(queue.keys.worker_jobs(worker_id, name)))


def test_a_job_is_fetched_run_and_acknowledged(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:add", 2, 3)
    worker = make_worker()

    assert worker.fetch_once() == 1
    assert (queue.depth(), in_progress(client, queue, worker.id)) == (0, 1)
    assert worker.run_pending() == 1
    assert tasks.CALLS == [(2, 3)]
    worker.flush()
    assert in_progress(client, queue, worker.id) == 0
    assert queue.dead_count() == 0


def test_queues_are_served_in_strict_priority_order(
    queue: Queue, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:add", 1, 0, queue="low")
    queue.enqueue("tests.tasks:add", 2, 0, queue="high")
    queue.enqueue("tests.tasks:add", 3, 0, queue="low")
    queue.enqueue("tests.tasks:add", 4, 0, queue="high")
    worker = make_worker("high", "low")

    for _ in range(4):
        assert worker.fetch_once(limit=1) == 1
        worker.run_pending()
    assert tasks.CALLS == [(2, 0), (4, 0), (1, 0), (3, 0)]


def test_one_fetch_takes_a_batch_in_priority_order(
    queue: Queue, make_worker: WorkerFactory
) -> None:
    for i in range(3):
        queue.enqueue("tests.tasks:add", i, 0, queue="low")
    queue.enqueue("tests.tasks:add", 9, 0, queue="high")
    worker = make_worker("high", "low", concurrency=2, prefetch=1)

    assert worker.fetch_once() == 3
    worker.run_pending()
    assert tasks.CALLS == [(9, 0), (0, 0), (1, 0)]
    assert queue.depth("low") == 1


def test_a_delayed_job_runs_once_due(
    queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:add", 1, 1, delay=60)
    worker = make_worker()

    assert worker.fetch_once() == 0
    clock.advance(59)
    assert worker.fetch_once() == 0
    clock.advance(1)
    assert worker.fetch_once() == 1
    worker.run_pending()
    assert tasks.CALLS == [(1, 1)]
    assert queue.delayed_count() == 0


def test_any_worker_of_the_queue_promotes_a_due_job_once(
    queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:noop", delay=5)
    one, two = make_worker(), make_worker()
    clock.advance(5)
    assert one.fetch_once() + two.fetch_once() == 1


def test_failures_retry_with_exponential_backoff_then_die(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue("tests.tasks:fail", "nope", retries=2)
    worker = make_worker()
    delayed = queue.keys.delayed("default")

    for attempt, base in ((1, 10), (2, 20)):
        worker.fetch_once()
        worker.run_pending()
        worker.flush()
        [(raw, due)] = client.zrange(delayed, 0, -1, withscores=True)
        payload = json.loads(raw)
        assert (payload["id"], payload["attempt"]) == (job_id, attempt + 1)
        assert payload["error"] == "ValueError: nope"
        assert base <= due - clock.now() <= base * 1.25
        clock.set(due)

    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert queue.delayed_count() == 0
    [dead] = queue.dead()
    assert dead.id == job_id
    assert dead.error == "ValueError: nope"
    assert dead.record["attempt"] == 3
    assert "Traceback" in dead.record["traceback"] and "fail" in dead.record["traceback"]
    assert dead.failed_at == clock.now()


def test_a_dead_job_can_be_retried(queue: Queue, make_worker: WorkerFactory) -> None:
    job_id = queue.enqueue("tests.tasks:fail", retries=0)
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()

    assert queue.retry_dead(job_id) is True
    assert queue.retry_dead(job_id) is False
    assert (queue.dead_count(), queue.depth()) == (0, 1)


def test_the_dead_set_keeps_only_the_newest(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    ids = [queue.enqueue("tests.tasks:fail", retries=0) for _ in range(5)]
    worker = make_worker(dead_cap=3)
    for _ in ids:
        worker.fetch_once(limit=1)
        worker.run_pending()
        worker.flush()
        clock.advance(1)

    assert [d.id for d in queue.dead()] == ids[:1:-1]
    assert client.hlen(queue.keys.dead_jobs()) == 3


def test_a_payload_that_cannot_be_decoded_goes_to_the_dead_set_and_the_worker_goes_on(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    client.lpush(queue.keys.queue("default"), b"\xff not json")
    queue.enqueue("tests.tasks:add", 1, 2)
    worker = make_worker()

    assert worker.fetch_once() == 2
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(1, 2)]
    [dead] = queue.dead()
    assert dead.error.startswith("bad payload: payload is not UTF-8")
    assert dead.record["raw"] == "\ufffd not json"
    assert in_progress(client, queue, worker.id) == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"v": 2, "id": "x", "task": "tests.tasks:noop"}, "unsupported payload version 2"),
        ({"v": 1, "id": "x", "task": "tests.tasks:noop"}, "payload has no 'args' field"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_payloads_of_another_version_or_shape_are_dead_with_the_reason(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory, payload: object, reason: str
) -> None:
    client.lpush(queue.keys.queue("default"), json.dumps(payload))
    worker = make_worker()
    worker.fetch_once()
    worker.flush()
    [dead] = queue.dead()
    assert reason in dead.error


def test_a_task_that_is_not_allowed_is_dead_and_never_imported(
    queue: Queue, make_worker: WorkerFactory
) -> None:
    sys.modules.pop("tests.forbidden_tasks", None)
    queue.enqueue("tests.forbidden_tasks:run")
    worker = make_worker(allow=AllowList(prefixes=["tests.tasks"]))

    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    [dead] = queue.dead()
    assert dead.error.startswith("task not allowed: tests.forbidden_tasks:run (name it in")
    assert "tests.forbidden_tasks" not in sys.modules


@pytest.mark.parametrize(
    "allow",
    [
        AllowList(tasks=["tests.tasks:add"]),
        AllowList(prefixes=["tests"]),
        AllowList(prefixes=["tests.tasks"]),
        AllowList(prefixes=["tests.tasks:add"]),
    ],
)
def test_a_task_is_allowed_by_the_schedule_or_a_prefix(
    queue: Queue, make_worker: WorkerFactory, allow: AllowList
) -> None:
    queue.enqueue("tests.tasks:add", 1, 1)
    worker = make_worker(allow=allow)
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert (tasks.CALLS, queue.dead_count()) == ([(1, 1)], 0)


def test_a_task_registered_in_code_is_allowed(queue: Queue, make_worker: WorkerFactory) -> None:
    queue.enqueue("tests.tasks:registered", 5)
    worker = make_worker(allow=AllowList())
    worker.fetch_once()
    worker.run_pending()
    assert tasks.CALLS == [("registered", 5)]


def test_an_allowed_task_that_cannot_be_imported_is_retried(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:missing", retries=1)
    worker = make_worker(allow=AllowList(["tests.tasks:missing"]))
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    [raw] = client.zrange(queue.keys.delayed("default"), 0, -1)
    assert "cannot import task tests.tasks:missing" in json.loads(raw)["error"]


def test_current_job_describes_the_running_job(queue: Queue, make_worker: WorkerFactory) -> None:
    job_id = queue.enqueue("tests.tasks:record", queue="q1", retries=4)
    worker = make_worker("q1")
    worker.fetch_once()
    worker.run_pending()

    [job] = tasks.SEEN
    assert job is not None
    assert (job.id, job.task, job.attempt, job.queue, job.retries) == (
        job_id,
        "tests.tasks:record",
        1,
        "q1",
        4,
    )
    assert (job.schedule, job.scheduled_for) == (None, None)
    assert job.enqueued_at.timestamp() == START


def test_an_async_task_runs_with_current_job_set(queue: Queue, make_worker: WorkerFactory) -> None:
    job_id = queue.enqueue("tests.tasks:async_record", 0.001)
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    worker.pool.runner.close()

    [job] = tasks.SEEN
    assert job is not None and job.id == job_id
    assert queue.dead_count() == 0


def test_an_async_task_past_its_timeout_is_cancelled_and_retried(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:async_sleep", 30, timeout=0.05, retries=1)
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    worker.pool.runner.close()

    [raw] = client.zrange(queue.keys.delayed("default"), 0, -1)
    assert json.loads(raw)["error"] == "JobTimeout: task ran past its timeout of 0.05s"


def test_a_sync_task_past_its_timeout_is_failed_and_its_thread_abandoned(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:wait_gate", "slow", timeout=5, retries=0)
    worker = make_worker()
    worker.fetch_once()
    runner = threading.Thread(target=worker.run_pending)
    runner.start()
    wait_until(lambda: "slow" in tasks.GATES, what="the task to start")

    assert worker.check_timeouts() == 0
    clock.advance(5)
    assert worker.check_timeouts() == 1
    worker.flush()
    [dead] = queue.dead()
    assert dead.error.startswith("JobTimeout: task ran past its timeout of 5s")

    tasks.GATES["slow"].set()
    runner.join(5)
    worker.flush()
    assert tasks.CALLS == [("gate", "slow")]
    assert queue.dead_count() == 1 and in_progress(client, queue, worker.id) == 0


class Abandoned:
    """A job run by hand on a thread of the test (as a job thread would), until its timeout
    abandons it; ``finish`` lets its task return."""

    def __init__(self, worker: Worker, clock: FakeClock, gate: str, timeout: float) -> None:
        self.worker, self.gate = worker, gate
        worker.fetch_once()
        self.thread = threading.Thread(target=worker.run_pending)
        self.thread.start()
        wait_until(lambda: gate in tasks.GATES, what="the task to start")
        clock.advance(timeout)
        assert worker.check_timeouts() == 1
        worker.flush()

    def finish(self) -> None:
        tasks.GATES[self.gate].set()
        self.thread.join(5)
        self.worker.flush()


def test_a_timed_out_run_that_finishes_later_is_logged_as_late_and_settled_once(
    queue: Queue,
    client: redis.Redis,
    clock: FakeClock,
    make_worker: WorkerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "scheduler")
    job_id = queue.enqueue("tests.tasks:wait_gate", "slow", timeout=5, retries=0)
    worker = make_worker()
    run = Abandoned(worker, clock, "slow", 5)
    assert [d.id for d in queue.dead()] == [job_id]
    assert f"job thread abandoned id={job_id} task=tests.tasks:wait_gate abandoned=1" in caplog.text
    assert worker.pool.stuck() == 1

    run.finish()
    assert f"job finished after its timeout id={job_id} task=tests.tasks:wait_gate" in caplog.text
    assert "duration=5.000s attempt=1 result=returned error=''" in caplog.text
    assert "job succeeded" not in caplog.text
    assert worker.pool.stuck() == 0
    [counts] = worker.pool.stats.totals().values()
    assert (counts.started, counts.succeeded, counts.dead) == (1, 0, 1)
    assert queue.dead_count() == 1 and in_progress(client, queue, worker.id) == 0


def scheduled_payload(now: float, **overrides: object) -> str:
    fields: dict[str, object] = {
        "task": "tests.tasks:record",
        "enqueued_at": now,
        "schedule": "nightly",
        "scheduled_for": int(now) - 10,
        "job_id": "run-1",
    }
    fields.update(overrides)
    return encode(build_payload(**fields))  # type: ignore[arg-type]


def push_scheduled(client: redis.Redis, queue: Queue, payload: str) -> None:
    """What the dispatcher does: push the payload and set the active marker."""
    client.lpush(queue.keys.queue("default"), payload)
    client.set(queue.keys.active("nightly"), json.loads(payload)["id"])


def last(client: redis.Redis, queue: Queue) -> dict[str, str]:
    raw = client.hgetall(queue.keys.last("nightly"))
    return {k.decode(): v.decode() for k, v in raw.items()}


def test_a_scheduled_run_sees_its_schedule_and_records_its_outcome(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    push_scheduled(client, queue, scheduled_payload(clock.now()))
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()

    [job] = tasks.SEEN
    assert job is not None and job.schedule == "nightly"
    assert job.scheduled_for is not None
    assert job.scheduled_for.timestamp() == START - 10
    assert job.scheduled_for.tzinfo is not None and job.scheduled_for.utcoffset().seconds == 0  # type: ignore[union-attr]
    assert last(client, queue) == {
        "status": "ok",
        "finished_at": f"{START:.3f}",
        "duration": "0.000",
        "fire": str(int(START) - 10),
        "error": "",
        "job_id": "run-1",
    }
    assert client.exists(queue.keys.active("nightly")) == 0


def test_the_active_marker_of_another_run_is_left_alone(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    push_scheduled(client, queue, scheduled_payload(clock.now()))
    client.set(queue.keys.active("nightly"), "run-2")
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert client.get(queue.keys.active("nightly")) == b"run-2"


def test_a_failing_scheduled_run_keeps_its_marker_until_it_is_dead(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    push_scheduled(
        client, queue, scheduled_payload(clock.now(), task="tests.tasks:fail", retries=1)
    )
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert last(client, queue)["status"] == "failed"
    assert client.get(queue.keys.active("nightly")) == b"run-1"

    clock.advance(60)
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert last(client, queue)["status"] == "dead"
    assert last(client, queue)["error"] == "ValueError: boom"
    assert client.exists(queue.keys.active("nightly")) == 0


def test_overlap_holds_while_the_thread_of_a_timed_out_run_still_runs(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    payload = scheduled_payload(
        clock.now(), task="tests.tasks:wait_gate", args=["slow"], timeout=5, retries=0
    )
    push_scheduled(client, queue, payload)
    run = Abandoned(make_worker(), clock, "slow", 5)
    assert last(client, queue)["status"] == "dead"
    assert client.get(queue.keys.active("nightly")) == b"run-1"  # the task still runs

    run.finish()
    assert client.exists(queue.keys.active("nightly"), queue.keys.held()) == 0


def test_a_retried_run_keeps_its_marker_until_every_thread_of_it_has_ended(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    task = "tests.tasks:wait_gate_on_first_attempt"
    payload = scheduled_payload(clock.now(), task=task, args=["first"], timeout=5, retries=1)
    push_scheduled(client, queue, payload)
    worker = make_worker()
    first = Abandoned(worker, clock, "first", 5)
    assert last(client, queue)["status"] == "failed"

    clock.advance(60)  # the retry is due; the first attempt's thread still runs
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert last(client, queue)["status"] == "ok"
    assert client.get(queue.keys.active("nightly")) == b"run-1"

    first.finish()
    assert client.exists(queue.keys.active("nightly"), queue.keys.held()) == 0


def test_the_markers_held_by_a_worker_whose_heartbeat_expired_are_released(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    payload = scheduled_payload(
        clock.now(), task="tests.tasks:wait_gate", args=["frozen"], timeout=5, retries=0
    )
    push_scheduled(client, queue, payload)
    frozen = make_worker(worker_id="frozen")
    run = Abandoned(frozen, clock, "frozen", 5)
    assert client.get(queue.keys.active("nightly")) == b"run-1"

    clock.advance(11)
    make_worker(worker_id="alive").heartbeat()
    assert client.exists(queue.keys.active("nightly"), queue.keys.held()) == 0
    run.finish()  # its late release changes nothing
    assert client.exists(queue.keys.active("nightly"), queue.keys.held()) == 0


def test_a_stopping_worker_releases_the_markers_its_abandoned_threads_held(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    payload = scheduled_payload(
        clock.now(), task="tests.tasks:wait_gate", args=["exiting"], timeout=5, retries=0
    )
    push_scheduled(client, queue, payload)
    worker = make_worker()
    run = Abandoned(worker, clock, "exiting", 5)
    worker.shutdown()  # the process exits next, and its threads with it
    assert client.exists(queue.keys.active("nightly"), queue.keys.held()) == 0
    run.finish()


def test_a_run_fetched_after_it_expired_is_dropped_and_recorded(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    push_scheduled(client, queue, scheduled_payload(clock.now(), expires_at=clock.now() - 1))
    worker = make_worker()
    assert worker.fetch_once() == 1
    assert worker.run_pending() == 0
    worker.flush()
    assert tasks.SEEN == []
    assert last(client, queue)["status"] == "expired"
    assert client.exists(queue.keys.active("nightly")) == 0
    assert (queue.dead_count(), in_progress(client, queue, worker.id)) == (0, 0)


def test_a_bad_payload_with_a_readable_schedule_releases_its_marker(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    bad = json.dumps({"v": 1, "id": "run-1", "schedule": "nightly", "task": 5})
    push_scheduled(client, queue, bad)
    worker = make_worker()
    worker.fetch_once()
    worker.flush()
    assert last(client, queue)["status"] == "dead"
    assert client.exists(queue.keys.active("nightly")) == 0
    assert [d.id for d in queue.dead()] == ["run-1"]


def test_the_jobs_of_a_worker_whose_heartbeat_expired_go_back_to_the_front(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    for i in range(3):
        queue.enqueue("tests.tasks:add", i, 0)
    dead = make_worker(worker_id="dead-worker", concurrency=1, prefetch=1)
    assert dead.fetch_once() == 2
    queue.enqueue("tests.tasks:add", 9, 0)
    alive = make_worker(worker_id="alive")

    clock.advance(9)
    alive.heartbeat()
    assert in_progress(client, queue, "dead-worker") == 2
    clock.advance(2)
    alive.heartbeat()

    assert in_progress(client, queue, "dead-worker") == 0
    assert client.zscore(queue.keys.workers(), "dead-worker") is None
    assert client.exists(queue.keys.worker("dead-worker")) == 0
    alive.fetch_once()
    alive.run_pending()
    assert tasks.CALLS == [(0, 0), (1, 0), (2, 0), (9, 0)]


def test_a_worker_presumed_dead_registers_again_and_does_not_settle_twice(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:fail", retries=0)
    slow = make_worker(worker_id="slow")
    slow.fetch_once()
    clock.advance(11)
    make_worker(worker_id="other").heartbeat()
    assert queue.depth() == 1

    slow.run_pending()
    slow.flush()
    assert queue.dead_count() == 0
    assert client.zscore(queue.keys.workers(), "slow") is not None
    assert queue.depth() == 1


def test_shutdown_puts_unfinished_jobs_back_at_the_front_in_order(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    for i in range(4):
        queue.enqueue("tests.tasks:add", i, 0)
    worker = make_worker(concurrency=1, prefetch=2)
    assert worker.fetch_once() == 3
    queue.enqueue("tests.tasks:add", 9, 0)

    assert worker.shutdown() == 3
    assert client.zscore(queue.keys.workers(), worker.id) is None
    assert client.keys(f"*{queue.keys.namespace}*worker*") == []
    other = make_worker(concurrency=10)
    other.fetch_once()
    other.run_pending()
    assert tasks.CALLS == [(0, 0), (1, 0), (2, 0), (3, 0), (9, 0)]


def test_shutdown_sends_pending_acknowledgements_first(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    queue.enqueue("tests.tasks:add", 1, 1)
    queue.enqueue("tests.tasks:add", 2, 2)
    worker = make_worker(concurrency=1, prefetch=1)
    worker.fetch_once()
    worker.run_pending()
    assert worker.shutdown() == 0
    assert queue.depth() == 0


def test_a_burst_worker_runs_every_job_on_its_threads_and_stops(
    client: redis.Redis, namespace: str
) -> None:
    q = Queue(client, namespace)
    for i in range(50):
        q.enqueue("tests.tasks:add", i, 1)
    q.enqueue("tests.tasks:async_record")
    settings = WorkerSettings(concurrency=4, burst=True)
    worker = Worker(client, AllowList(prefixes=["tests"]), settings, namespace=namespace)

    assert worker.run() == 0
    assert sorted(tasks.CALLS) == [(i, 1) for i in range(50)]
    assert len(tasks.SEEN) == 1
    assert client.keys(f"*{namespace}*worker*") == []
    assert q.depth() == 0


def test_a_worker_with_too_many_stuck_threads_exits_for_a_fresh_process(
    client: redis.Redis, namespace: str
) -> None:
    q = Queue(client, namespace)
    q.enqueue("tests.tasks:wait_gate", "stuck", timeout=0.1, retries=0)
    settings = WorkerSettings(concurrency=1, max_stuck=0, shutdown_timeout=1)
    worker = Worker(client, AllowList(prefixes=["tests"]), settings, namespace=namespace)
    try:
        assert worker.run() == 3
    finally:
        tasks.GATES.setdefault("stuck", threading.Event()).set()
    assert q.dead()[0].error.startswith("JobTimeout")


def test_a_worker_registers_again_when_redis_lost_its_data(
    own_redis: RedisServer, clock: FakeClock
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    q = Queue(client, "lost", clock=clock)
    worker = Worker(
        client, AllowList(prefixes=["tests"]), WorkerSettings(), namespace="lost", clock=clock
    )
    worker.register()
    own_redis.stop(kill=True)
    (own_redis.folder / "appendonly.aof").unlink(missing_ok=True)
    shutil.rmtree(own_redis.folder / "appendonlydir", ignore_errors=True)
    own_redis.start()
    q.enqueue("tests.tasks:add", 4, 4)

    assert worker.fetch_once() == 1
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(4, 4)]
    assert client.zscore(q.keys.workers(), worker.id) is not None
    worker.consumer.close()
    client.close()


def test_jobs_of_a_fetch_whose_reply_was_lost_are_put_back_at_the_next_round(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        queue.enqueue("tests.tasks:add", i, 0)
    worker = make_worker(concurrency=1, prefetch=1)
    assert worker.fetch_once() == 2
    worker.run_pending()
    real_fetch = worker.consumer.fetch

    def fetch_then_lose_the_reply(*args: object, **kwargs: object) -> object:
        real_fetch(*args, **kwargs)  # type: ignore[arg-type]
        raise redis.ConnectionError("connection reset")

    monkeypatch.setattr(worker.consumer, "fetch", fetch_then_lose_the_reply)
    with pytest.raises(redis.ConnectionError):
        worker.fetch_once()
    assert (queue.depth(), in_progress(client, queue, worker.id)) == (0, 1)

    monkeypatch.setattr(worker.consumer, "fetch", real_fetch)
    assert worker.fetch_once() == 1
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(0, 0), (1, 0), (2, 0)]
    assert (queue.depth(), in_progress(client, queue, worker.id)) == (0, 0)


def test_a_burst_worker_gives_up_once_redis_has_been_away_for_the_heartbeat_expiry(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    settings = WorkerSettings(burst=True, heartbeat_expiry=10)
    worker = Worker(client, AllowList(prefixes=["tests"]), settings, clock=clock)
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(worker.run()), daemon=True)
    runner.start()
    wait_until(lambda: codes, what="the burst worker to give up")
    assert codes == [1]
    assert "a burst worker does not wait for it; exit code 1" in caplog.text


def test_idle_workers_are_woken_one_after_another_while_jobs_are_left(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    # A push into an empty queue leaves one wake token; later pushes leave none, and each
    # fetch that leaves jobs behind leaves one for the next idle worker.
    wake = queue.keys.wake("default")
    for n in range(5):
        queue.enqueue("tests.tasks:add", n, n)
    assert client.llen(wake) == 1
    first, second = make_worker(), make_worker()
    assert client.blpop([wake], timeout=1) is not None  # the first idle worker wakes
    assert first.fetch_once(limit=2) == 2
    assert client.llen(wake) == 1  # jobs are left: the second is woken
    assert client.blpop([wake], timeout=1) is not None
    assert second.fetch_once(limit=3) == 3
    assert client.exists(wake) == 0  # the queue is empty: no worker is woken for nothing
    queue.enqueue("tests.tasks:noop")
    assert client.llen(wake) == 1


def test_a_batch_into_an_empty_queue_wakes_as_many_workers_as_jobs_up_to_sixteen(
    queue: Queue, client: redis.Redis
) -> None:
    with queue.batch() as batch:
        for n in range(3):
            batch.enqueue("tests.tasks:add", n, n)
    assert client.llen(queue.keys.wake("default")) == 3
    with queue.batch() as batch:
        for n in range(40):
            batch.enqueue("tests.tasks:add", n, n, queue="wide")
    assert client.llen(queue.keys.wake("wide")) == 16
    assert queue.queues() == {"default": 3, "wide": 40}
