"""What a worker records for the dashboard: per-minute counters of runs that ended and
failed (sent with its acknowledgements) and each schedule job's recent runs."""

from __future__ import annotations

import json

import redis

from scheduler.clock import FakeClock
from scheduler.jobs import build_payload, encode
from scheduler.keys import Keys
from scheduler.ops.control import Control
from scheduler.queue import Queue
from scheduler.schedule.loader import parse_schedule
from scheduler.worker.worker import Worker
from tests import tasks  # noqa: F401 (imported, so the worker may run its tasks)

from .conftest import START, WorkerFactory

SCHEDULE = parse_schedule(
    """\
jobs:
  adds:
    task: tests.tasks:add
    every: 1m
    args: [1, 2]
  fails:
    task: tests.tasks:fail
    every: 1m
    retries: 1
""",
    "schedule.yml",
)
MINUTE = int(START // 60)


def counters(client: redis.Redis, keys: Keys, minute: int = MINUTE) -> tuple[int, int]:
    raw = client.mget([keys.stats("processed", minute), keys.stats("failed", minute)])
    return int(raw[0] or 0), int(raw[1] or 0)


def drain(worker: Worker) -> None:
    while worker.fetch_once():
        worker.run_pending()
    worker.flush()


def test_runs_that_end_are_counted_per_minute_with_the_failed_ones_apart(
    client: redis.Redis, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    keys = Keys(queue.keys.namespace)
    for i in range(5):
        queue.enqueue("tests.tasks:add", i, 1)
    queue.enqueue("tests.tasks:fail", retries=0)
    queue.enqueue("tests.tasks:fail", retries=2)
    drain(make_worker())
    assert counters(client, keys) == (7, 2)  # 5 succeeded, 1 dead, 1 failed (retried)
    ttl = client.ttl(keys.stats("processed", MINUTE))
    assert 7000 < ttl <= 7200

    clock.advance(60)
    queue.enqueue("tests.tasks:add", 1, 1)
    drain(make_worker())
    # the next minute: that job, and the retry (due ~11 s after the first attempt) failing again
    assert counters(client, keys, MINUTE + 1) == (2, 1)
    assert counters(client, keys) == (7, 2)


def test_an_expired_run_is_not_counted(
    client: redis.Redis, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    keys = Keys(queue.keys.namespace)
    payload = build_payload(
        "tests.tasks:add",
        [1, 2],
        {},
        queue="default",
        enqueued_at=START,
        schedule="adds",
        scheduled_for=int(START),
        expires_at=START - 1,
    )
    client.lpush(keys.queue("default"), encode(payload))
    drain(make_worker())
    assert counters(client, keys) == (0, 0)
    [run] = [json.loads(r) for r in client.lrange(keys.runs("adds"), 0, -1)]
    assert run["status"] == "expired"


def test_each_run_of_a_schedule_job_is_recorded_newest_first_in_its_list_and_the_shared_one(
    client: redis.Redis, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    keys = Keys(queue.keys.namespace)
    control = Control(client, keys, clock)
    first = control.trigger(SCHEDULE.jobs["adds"])
    second = control.trigger(SCHEDULE.jobs["fails"])
    drain(make_worker())
    [added] = [json.loads(r) for r in client.lrange(keys.runs("adds"), 0, -1)]
    assert added["job"] == "adds" and added["job_id"] == first and added["status"] == "ok"
    assert float(added["finished_at"]) == START and float(added["duration"]) >= 0
    [failed] = [json.loads(r) for r in client.lrange(keys.runs("fails"), 0, -1)]
    assert (failed["job_id"], failed["status"]) == (second, "failed")
    assert failed["error"] == "ValueError: boom"
    shared = [json.loads(r)["job"] for r in client.lrange(keys.runs(), 0, -1)]
    assert sorted(shared) == ["adds", "fails"]


def test_a_run_history_keeps_the_newest_fifty(
    client: redis.Redis, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    keys = Keys(queue.keys.namespace)
    control = Control(client, keys, clock)
    ids = [control.trigger(SCHEDULE.jobs["adds"]) for _ in range(60)]
    drain(make_worker(concurrency=1, prefetch=0))
    runs = [json.loads(r)["job_id"] for r in client.lrange(keys.runs("adds"), 0, -1)]
    assert runs == ids[::-1][:50]
    assert client.llen(keys.runs()) == 50


def test_only_the_newest_runs_keep_their_error_in_full_so_a_failing_job_stays_small(
    client: redis.Redis, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    message = "x" * 47 + "é" * 10 + "y" * 150 + "\nsecond line"  # a character across the cut
    failing = parse_schedule(
        f"jobs:\n  failing:\n    task: tests.tasks:fail\n    every: 1m\n    retries: 0\n"
        f"    args: [{json.dumps(message)}]\n",
        "schedule.yml",
    ).jobs["failing"]
    keys = Keys(queue.keys.namespace)
    control = Control(client, keys, clock)
    ids = [control.trigger(failing) for _ in range(60)]
    drain(make_worker(concurrency=1, prefetch=0))
    runs = [json.loads(r) for r in client.lrange(keys.runs("failing"), 0, -1)]
    assert [run["job_id"] for run in runs] == ids[::-1][:50]
    full = f"ValueError: {message}"[:200]
    short = full.splitlines()[0].encode()[:60].decode("utf-8", "ignore") + "…"
    assert [run["error"] for run in runs] == [full] * 5 + [short] * 45
    assert client.hget(keys.last("failing"), "error") == full.encode()
    shared = [json.loads(r)["error"] for r in client.lrange(keys.runs(), 0, -1)]
    assert shared == [full] * 5 + [short] * 45
    assert client.memory_usage(keys.runs("failing"), samples=0) < 14_000  # of 16 KB a job
