"""Fixtures for the queue and worker tests: clients, a fake clock, queues and workers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.queue import Queue
from scheduler.registry import AllowList
from scheduler.worker.execution import RetryPolicy
from scheduler.worker.worker import Worker, WorkerSettings

START = 1_700_000_000.0


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def queue(client: redis.Redis, namespace: str, clock: FakeClock) -> Queue:
    return Queue(client, namespace, clock=clock)


WorkerFactory = Callable[..., Worker]


@pytest.fixture
def make_worker(client: redis.Redis, namespace: str, clock: FakeClock) -> Iterator[WorkerFactory]:
    """Build in-process workers (driven by hand with the fake clock), allowing tests.*."""
    made: list[Worker] = []

    def make(
        *queues: str,
        allow: AllowList | None = None,
        worker_id: str | None = None,
        retry: RetryPolicy | None = None,
        **options: Any,
    ) -> Worker:
        settings = WorkerSettings(queues=queues or ("default",), **options)
        allow = allow or AllowList(prefixes=["tests.tasks"])
        retry = retry or RetryPolicy(rng=random.Random(7))
        worker = Worker(
            client,
            allow,
            settings,
            namespace=namespace,
            clock=clock,
            retry=retry,
            worker_id=worker_id,
        )
        worker.register()
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.pool.runner.close()
        worker.consumer.close()
