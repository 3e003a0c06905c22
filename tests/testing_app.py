"""A tiny application for tests/unit/test_testing.py: a module-level Queue and some tasks.

The Queue points at a port nothing listens on: a test that reached Redis would fail.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scheduler import Queue, current_job, task
from scheduler.jobs import CurrentJob

queue = Queue.from_url("redis://127.0.0.1:9/0", namespace="testing-app")

SEEN: list[CurrentJob | None] = []
CALLS: list[tuple[Any, ...]] = []


def sign_up(user_id: int) -> None:
    """Application code that enqueues, as an application does."""
    queue.enqueue("tests.testing_app:welcome", user_id, queue="mailers")
    queue.enqueue("tests.testing_app:follow_up", user_id, delay=3600)


@task
def welcome(user_id: int) -> None:
    SEEN.append(current_job())
    CALLS.append(("welcome", user_id))


@task
def follow_up(user_id: int) -> None:
    CALLS.append(("follow_up", user_id))


@task
def chain(n: int) -> int:
    """Enqueues itself with n - 1 until 0: jobs that enqueue jobs."""
    CALLS.append(("chain", n))
    if n > 0:
        queue.enqueue("tests.testing_app:chain", n - 1)
    return n


@task
async def slow_hello(name: str, pause: float = 0.0) -> str:
    await asyncio.sleep(pause)
    SEEN.append(current_job())
    return f"hello {name}"


@task
def broken(message: str) -> None:
    raise ValueError(message)


def unregistered(x: int) -> int:
    """Not registered: allowed only by the allow-list's prefixes or schedule."""
    CALLS.append(("unregistered", x))
    return x * 2


def reset() -> None:
    SEEN.clear()
    CALLS.clear()
