"""scheduler.testing against a real redis-server: the double records what the Queue writes."""

from __future__ import annotations

import json
from typing import Any

import redis

from scheduler.clock import FakeClock
from scheduler.queue import Queue
from scheduler.testing import RecordingQueue

from .conftest import START


def test_a_recorded_job_is_the_payload_the_real_queue_writes_to_redis(
    queue: Queue, client: redis.Redis, clock: FakeClock
) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (("tests.tasks:add", 1, 2), {"queue": "mailers", "retries": 5, "timeout": 30, "x": "é"}),
        (("tests.tasks:noop", (1, [2]), {"k": None}), {"delay": 90}),
    ]
    double = RecordingQueue(clock=clock)
    for args, kwargs in calls:
        queue.enqueue(*args, **kwargs)
        double.enqueue(*args, **kwargs)

    immediate, delayed = double.jobs
    [written] = client.lrange(queue.keys.queue("mailers"), 0, -1)
    [(parked, due)] = client.zrange(queue.keys.delayed("default"), 0, -1, withscores=True)
    assert _without_id(written) == _without_id(immediate.payload)
    assert _without_id(parked) == _without_id(delayed.payload)
    assert delayed.run_at is not None and delayed.run_at.timestamp() == due == START + 90
    assert (immediate.run_at, double.depth("mailers"), double.delayed_count()) == (None, 1, 1)
    assert (queue.depth("mailers"), queue.delayed_count()) == (1, 1)


def _without_id(raw: bytes | str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(raw)
    assert len(payload.pop("id")) == 32
    return payload
