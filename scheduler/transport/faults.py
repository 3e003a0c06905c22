"""Named failure points, inert unless ``SCHEDULER_FAULTS`` switches them on (tests only).

``SCHEDULER_FAULTS="before_enqueue=kill"`` makes the process SIGKILL itself the first time
it reaches ``before_enqueue``; ``=stop`` sends SIGSTOP instead, ``=exit`` leaves with
``os._exit(70)``; ``kill@3`` acts on the third time. Several are separated by commas.

Points: ``after_plan`` (due fires computed), ``before_enqueue`` and ``after_enqueue`` (around
the dispatch script), ``after_fetch`` (a worker took jobs), ``before_ack`` (a worker is
about to settle finished jobs).
"""

from __future__ import annotations

import functools
import os
import signal
from collections import Counter

POINTS = ("after_plan", "before_enqueue", "after_enqueue", "after_fetch", "before_ack")

_hits: Counter[str] = Counter()


@functools.cache
def _armed() -> dict[str, tuple[str, int]]:
    spec = os.environ.get("SCHEDULER_FAULTS", "")
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, action = item.partition("=")
        action, _, nth = action.partition("@")
        armed[point] = (action or "kill", int(nth or 1))
    return armed


def fault_point(name: str) -> None:
    """Act here if the environment armed this point; otherwise do nothing at all."""
    armed = _armed()
    if name not in armed:
        return
    action, nth = armed[name]
    _hits[name] += 1
    if _hits[name] != nth:
        return
    if action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif action == "exit":
        os._exit(70)
    else:
        os.kill(os.getpid(), signal.SIGKILL)
