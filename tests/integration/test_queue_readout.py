"""Queue depths are read one way: `queues`, `status`, the dashboard, the metrics and
``Queue.queues()`` agree on the same Redis."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis
from prometheus_client.core import Metric

from scheduler.clock import FakeClock
from scheduler.ops.control import Control
from scheduler.ops.metrics import RedisCollector
from scheduler.ops.status import gather
from scheduler.queue import Queue
from scheduler.web.data import overview

from .conftest import WorkerFactory


def test_every_readout_of_the_queues_agrees(
    queue: Queue, client: redis.Redis, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    keys = queue.keys
    for name in ("a", "a", "b", "b"):
        queue.enqueue("tests.tasks:noop", queue=name)
    worker = make_worker("b")
    assert worker.fetch_once(limit=1) == 1  # one job of b is in progress
    clock.advance(30)
    queue.enqueue("tests.tasks:noop", queue="a")
    queue.enqueue("tests.tasks:noop", queue="a", delay=60)
    client.sadd(keys.queues(), "c")  # a payload that does not say when it was enqueued
    client.lpush(keys.queue("c"), '{"v":1,"id":"foreign"}')
    Control(client, keys, clock).pause_queue("b")
    now = clock.now()

    rows = [
        {"name": "a", "depth": 3, "oldest_age": 30.0, "delayed": 1, "in_progress": 0},
        {"name": "b", "depth": 1, "oldest_age": 30.0, "delayed": 0, "in_progress": 1},
        {"name": "c", "depth": 1, "oldest_age": None, "delayed": 0, "in_progress": 0},
    ]
    rows = [{**row, "paused": row["name"] == "b"} for row in rows]
    assert _dicts(Control(client, keys, clock).queues()) == rows
    page = overview(client, keys, now)
    assert _dicts(page["queues"]) == rows
    assert [(w["id"], w["held"]) for w in page["workers"]] == [(worker.id, 1)]

    depths = {"a": 3, "b": 1, "c": 1}
    assert queue.queues() == depths
    assert gather(client, keys, now, None)["queues"] == depths
    assert gather(client, keys, now, None)["paused_queues"] == ["b"]
    metrics = RedisCollector(client, keys, ["idle"]).collect()
    assert _gauge(metrics, "scheduler_queue_depth") == {**depths, "idle": 0}
    assert _gauge(metrics, "scheduler_queue_delayed") == {"a": 1, "b": 0, "c": 0, "idle": 0}
    assert _gauge(metrics, "scheduler_queue_paused") == {"a": 0, "b": 1, "c": 0, "idle": 0}


def _dicts(rows: list[Any]) -> list[dict[str, Any]]:
    return [row if isinstance(row, dict) else dataclasses.asdict(row) for row in rows]


def _gauge(metrics: list[Metric], name: str) -> dict[str, float]:
    [family] = [m for m in metrics if m.name == name]
    return {s.labels["queue"]: s.value for s in family.samples}
