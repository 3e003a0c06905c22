"""pytest fixtures for an application's tests; enable them in the root ``conftest.py`` with
``pytest_plugins = ["scheduler.pytest_plugin"]`` (docs/testing.md).

- ``scheduler_queue``: every ``Queue`` records its jobs (a ``RecordingQueue``).
- ``scheduler_inline``: every ``Queue`` runs its jobs at once (an ``InlineQueue``).
- ``scheduler_allow``: the tasks jobs may run; override it to match your workers.

Not registered as an entry point on purpose: a plugin that loads itself in every pytest
run of the environment is one nobody asked for (Celery's went opt-in for that reason).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .registry import AllowList
from .testing import InlineQueue, RecordingQueue, inline, recording


@pytest.fixture
def scheduler_allow() -> AllowList:
    """The tasks the doubles may run: only ``@task``-registered ones, unless overridden
    (e.g. ``return allow_list("myapp", schedule="schedule.yml")``)."""
    return AllowList()


@pytest.fixture
def scheduler_queue(scheduler_allow: AllowList) -> Iterator[RecordingQueue]:
    """A ``RecordingQueue`` that every ``Queue`` sends its jobs to during the test."""
    with recording(allow=scheduler_allow) as queue:
        yield queue


@pytest.fixture
def scheduler_inline(scheduler_allow: AllowList) -> Iterator[InlineQueue]:
    """An ``InlineQueue``: every ``Queue`` runs its jobs at once during the test."""
    with inline(allow=scheduler_allow) as queue:
        yield queue
