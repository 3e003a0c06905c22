"""scheduler: recurring jobs from one YAML file, enqueued exactly once per fire time.

Public application API (SPEC section 5) is re-exported here as it lands. Names are loaded
on first use, so ``import scheduler`` (and ``scheduler check``) never imports redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .jobs import current_job
    from .queue import Queue
    from .registry import task

__version__ = "0.1.0"
__all__ = ["Queue", "current_job", "task"]

_LAZY = {"Queue": "queue", "current_job": "jobs", "task": "registry"}


def __getattr__(name: str) -> Any:
    """Load ``Queue``, ``current_job`` and ``task`` from their modules on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'scheduler' has no attribute {name!r}")
