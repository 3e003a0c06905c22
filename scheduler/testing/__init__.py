"""Helpers for an application's own tests: no Redis server needed (guide: docs/testing.md).

- ``fires_between``: the fires a schedule produces in a window of time.
- ``RecordingQueue`` keeps what is enqueued, to assert on and to ``drain``;
  ``InlineQueue`` runs each job as it is enqueued. Both check and JSON-encode exactly as
  ``Queue.enqueue`` does, so an argument that would fail in production fails in the test.
- ``recording()`` / ``inline()`` route every ``Queue`` of the process to such a double for
  the length of a ``with`` block; ``scheduler.pytest_plugin`` wraps them in fixtures.
- ``perform`` / ``perform_fire`` run a task the way a worker would: through the allow-list,
  with ``current_job()`` set, ``async def`` tasks on an event loop of their own.

The queue doubles are in ``doubles.py``, fires and task runs in ``run.py``; this package
re-exports the public names of both.

Not simulated: retries (a task's exception propagates at once), expiry, jitter, overlap,
the dead set and the timeout of a sync task. Importing this package imports neither redis
nor pytest.
"""

from .doubles import InlineQueue, RecordedJob, RecordingBatch, RecordingQueue, inline, recording
from .run import FireTime, allow_list, fires_between, perform, perform_fire

__all__ = [
    "FireTime",
    "InlineQueue",
    "RecordedJob",
    "RecordingBatch",
    "RecordingQueue",
    "allow_list",
    "fires_between",
    "inline",
    "perform",
    "perform_fire",
    "recording",
]
