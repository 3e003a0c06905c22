"""Tasks declared with ``@task`` and its options, importable as ``tests.typed_tasks`` by
tests and by worker subprocesses (``--import tests.typed_tasks``)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from scheduler import task


@task(queue="mailers", retries=5, timeout=30, result_ttl=600, unique_for=60)
def send_welcome(user_id: int, lang: str = "en") -> str:
    return f"welcome {user_id} ({lang})"


@task
def remind(queue: str, delay: int, at: str = "noon") -> str:
    """A task whose own parameters share the names of enqueue options."""
    return f"{queue} {delay} {at}"


@task
def write(path: str, text: str) -> None:
    Path(path).write_text(text)


@task(queue="async")
async def write_later(path: str, text: str) -> None:
    await asyncio.sleep(0)
    Path(path).write_text(text)


@task(retries=0, result_ttl=600, timeout_hard=2)
def hang(folder: str) -> None:
    """Write this process's id to ``pid`` in ``folder`` and hang: a worker ends its process
    at the task's declared hard timeout."""
    (Path(folder) / "pid").write_text(f"{os.getpid()}\n")
    time.sleep(3600)


def plain(path: str, text: str) -> None:
    """A module-level function that is no @task: enqueued by its module:qualname."""
    Path(path).write_text(text)


class Mailer:
    def send(self, user_id: int) -> None:
        return None


def make_closure() -> object:
    def inner() -> None:
        return None

    return inner
