"""The process's default Queue: where ``task.enqueue(...)`` sends when given no Queue.

Set once at start-up with ``scheduler.configure(url=..., namespace=...)`` (or
``configure(queue=q)`` with a Queue of your own), as a Celery app or a Dramatiq broker is
set once. Left unset, the first enqueue builds ``Queue.from_url()``, which reads
``SCHEDULER_REDIS_URL`` and ``SCHEDULER_NAMESPACE``. redis-py's pool is thread-safe and
starts new connections in a forked child, so one Queue serves a whole process
(docs/tasks.md, "Which Queue").
"""

from __future__ import annotations

import threading

from .jobs import MAX_PAYLOAD_BYTES
from .queue import Queue

_lock = threading.Lock()
# The default Queue once set or built, and whether it was built here (then it is ours to close).
_default: list[tuple[Queue, bool]] = []


def configure(
    url: str | None = None,
    namespace: str | None = None,
    *,
    queue: Queue | None = None,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
) -> Queue:
    """Make ``queue`` (else a Queue on ``url`` in ``namespace``, see ``Queue.from_url``) the
    default Queue of this process, and return it. A default Queue built here or on first
    use is closed when another replaces it."""
    built = queue is None
    chosen = queue or Queue.from_url(url, namespace, max_payload_bytes=max_payload_bytes)
    with _lock:
        previous, _default[:] = _default[:], [(chosen, built)]
    for old, owned in previous:
        if owned and old is not chosen:
            old.close()
    return chosen


def default_queue() -> Queue:
    """The default Queue, built from the environment on first use if none was configured."""
    with _lock:
        if not _default:
            _default.append((Queue.from_url(), True))
        return _default[0][0]
