"""Hostile payloads written straight into Redis (as anyone with Redis access could): in a
queue, a delayed set or an in-progress list, each is dead-lettered with its reason and
the raw bytes (truncated), and the worker runs the next job."""

from __future__ import annotations

import json

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.queue import Queue
from tests import tasks

from .conftest import START, WorkerFactory

DEEP = b"[" * 100_000 + b"]" * 100_000
TOO_BIG = json.dumps({"v": 1, "id": "big", "args": [1.5]}).replace("1.5", "1e999").encode()
FIELDS = {"v": 1, "task": "tests.tasks:add", "args": [1, 2], "kwargs": {}, "queue": "default"}
FIELDS |= {"attempt": 1, "retries": 0, "enqueued_at": START}

HOSTILE = [
    (DEEP, "payload is nested deeper than 100 levels"),
    (b'{"v":1,"id":"n","args":' + DEEP + b"}", "payload is nested deeper than 100 levels"),
    (b"\xff\xfe\x00garbage", "payload is not UTF-8"),
    (json.dumps({**FIELDS, "id": "nan", "args": [float("nan")]}).encode(), "NaN is not a JSON"),
    (TOO_BIG, "number 1e999 is out of range"),
    (json.dumps({**FIELDS, "id": "sur", "args": ["\ud800"]}).encode(), "unpaired surrogate"),
    (json.dumps({**FIELDS, "id": "late", "expires_at": 10**400}).encode(), "expires_at"),
    (json.dumps({**FIELDS, "id": "long", "timeout": 10**400}).encode(), "timeout"),
    (json.dumps({**FIELDS, "id": "shape", "kwargs": [1]}).encode(), "invalid field(s): kwargs"),
]


@pytest.fixture(autouse=True)
def _clean_task_state() -> None:
    tasks.CALLS.clear()


def assert_dead_letter(queue: Queue, reason: str) -> dict[str, object]:
    [dead] = queue.dead()
    assert dead.error.startswith("bad payload: ") and reason in dead.error
    return dead.record


@pytest.mark.parametrize(("raw", "reason"), HOSTILE)
def test_a_hostile_payload_at_the_head_of_the_queue_is_dead_and_the_next_job_runs(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory, raw: bytes, reason: str
) -> None:
    client.lpush(queue.keys.queue("default"), raw)
    queue.enqueue("tests.tasks:add", 3, 4)
    worker = make_worker()

    assert worker.fetch_once() == 2
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(3, 4)]
    record = assert_dead_letter(queue, reason)
    assert record["raw"] == raw[:16_000].decode("utf-8", "replace")
    assert record["size"] == len(raw)
    assert client.llen(queue.keys.worker_jobs(worker.id, "default")) == 0


def test_a_payload_over_the_worker_limit_is_dead_unread_and_the_limit_is_a_setting(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    big = queue.enqueue("tests.tasks:add", "x" * 20_000, "")
    queue.enqueue("tests.tasks:add", 5, 6)
    worker = make_worker(max_payload_bytes=4096)
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(5, 6)]
    record = assert_dead_letter(queue, "over the limit of 4,096")
    assert record["id"] == big
    assert len(str(record["raw"])) == 16_000


def test_a_hostile_entry_of_a_delayed_set_is_dead_once_due(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    client.zadd(queue.keys.delayed("default"), {DEEP: START + 5})
    queue.enqueue("tests.tasks:add", 1, 1, delay=6)
    worker = make_worker()
    clock.advance(10)
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(1, 1)]
    assert_dead_letter(queue, "nested deeper")
    assert client.zcard(queue.keys.delayed("default")) == 0


def test_hostile_entries_of_a_dead_workers_in_progress_list_are_reaped_then_dead(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    keys = queue.keys
    client.zadd(keys.workers(), {"gone": START - 60})
    client.hset(keys.worker("gone"), "queues", json.dumps(["default"]))
    client.lpush(keys.worker_jobs("gone", "default"), DEEP, b"not json")
    queue.enqueue("tests.tasks:add", 2, 2)
    worker = make_worker()

    worker.heartbeat()
    assert worker.fetch_once() == 3
    worker.run_pending()
    worker.flush()
    assert tasks.CALLS == [(2, 2)]
    reasons = sorted(d.error.removeprefix("bad payload: payload is ")[:10] for d in queue.dead())
    assert reasons == ["nested dee", "not JSON: "]


@pytest.mark.parametrize("record", [DEEP, b"not json", b'{"a": 1}', b'["no such queue!"]'])
def test_an_unreadable_worker_record_is_reaped_with_the_reapers_queues(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory, record: bytes
) -> None:
    keys = queue.keys
    client.zadd(keys.workers(), {"gone": START - 60})
    client.hset(keys.worker("gone"), "queues", record)
    client.lpush(keys.worker_jobs("gone", "default"), json.dumps({**FIELDS, "id": "held"}))
    worker = make_worker()

    worker.heartbeat()
    assert client.zscore(keys.workers(), "gone") is None
    worker.fetch_once()
    worker.run_pending()
    assert tasks.CALLS == [(1, 2)]


def test_a_task_failing_with_an_unpaired_surrogate_is_retried_then_dead(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue("tests.tasks:fail_unpaired", retries=1)
    worker = make_worker()
    for _ in range(2):
        worker.fetch_once()
        worker.run_pending()
        worker.flush()
        clock.advance(60)
    [dead] = queue.dead()
    assert (dead.id, dead.error) == (job_id, "ValueError: bad \\ud800")
    assert "ValueError: bad \\ud800" in str(dead.record["traceback"])
