"""scheduler: recurring jobs from one YAML file, enqueued exactly once per fire time.

The application API (docs/README: "In your application") and the error classes are
re-exported here. ``Queue``, ``configure``, ``current_job``, ``task`` and ``Task`` load on
first use, so ``import scheduler`` (and ``scheduler check``) never imports redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    ConfigError,
    JobTimeout,
    PayloadError,
    RedisUnavailable,
    ResultTimeout,
    ResultUnavailable,
    RuleError,
    ScheduleInvalid,
    ScheduleNotFound,
    SchedulerError,
    TargetError,
    TaskNotAllowed,
    TaskNotFound,
    UnknownJob,
)

if TYPE_CHECKING:
    from .defaults import configure
    from .jobs import current_job
    from .queue import Queue
    from .registry import task
    from .tasks import Task

__version__ = "0.1.0"
__all__ = [
    "ConfigError",
    "JobTimeout",
    "PayloadError",
    "Queue",
    "RedisUnavailable",
    "ResultTimeout",
    "ResultUnavailable",
    "RuleError",
    "ScheduleInvalid",
    "ScheduleNotFound",
    "SchedulerError",
    "TargetError",
    "Task",
    "TaskNotAllowed",
    "TaskNotFound",
    "UnknownJob",
    "configure",
    "current_job",
    "task",
]

_LAZY = {
    "Queue": "queue",
    "Task": "tasks",
    "configure": "defaults",
    "current_job": "jobs",
    "task": "registry",
}


def __getattr__(name: str) -> Any:
    """Load the application API (``Queue``, ``task``, ...) from its modules on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'scheduler' has no attribute {name!r}")
