"""The queue doubles of ``scheduler.testing`` (which re-exports their public names;
guide: docs/testing.md).

``RecordingQueue`` keeps what is enqueued, to assert on and to ``drain``; ``InlineQueue``
runs each job as it is enqueued; ``recording()`` / ``inline()`` route every ``Queue`` of
the process to such a double for the length of a ``with`` block.

Not simulated: retries (a task's exception propagates at once), expiry, jitter, overlap,
the dead set and the timeout of a sync task. Importing this module imports neither redis
nor pytest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from unittest import mock

from ..clock import Clock, SystemClock
from ..enqueue import Enqueuer, NewJob
from ..jobs import (
    DEFAULT_QUEUE,
    ENQUEUE_DEDUPE,
    QueuedJob,
    build_payload,
    check_queue_name,
    decode,
    encode,
)
from ..registry import AllowList
from ..tasks import resolve
from .run import (
    epoch_seconds,
    run_job,
    utc,
)

Q = TypeVar("Q", bound="RecordingQueue")
TaskRef = str | Callable[..., Any]  # what names a task: its name, a @task, a function

# The Queue methods that recording() and inline() route to the double.
_ROUTED = (
    "enqueue",
    "enqueue_task",
    "batch",
    "depth",
    "delayed_count",
    "queues",
    "dead",
    "dead_count",
    "retry_dead",
)


# --- queue doubles ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedJob:
    """One enqueued job as a worker reads it: arguments after their JSON round trip,
    ``run_at`` (aware UTC) when a ``delay=``/``at=`` job falls due (None: at once),
    ``payload`` the JSON text a real Queue writes and ``job`` that payload decoded."""

    id: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    run_at: datetime | None
    payload: str = field(repr=False)
    job: QueuedJob = field(repr=False)

    @classmethod
    def read(cls, payload: str, run_at: datetime | None = None) -> RecordedJob:
        """The job of a payload, decoded as a worker decodes it."""
        job = decode(payload)
        return cls(job.id, job.task, job.args, job.kwargs, job.queue, run_at, payload, job)

    def describe(self) -> str:
        """The call, e.g. ``myapp.mail:send(42, lang='en') on mailers``."""
        return f"{_call(self.task, self.args, self.kwargs)} on {self.queue}"


class RecordingQueue(Enqueuer):
    """A stand-in for ``Queue`` that keeps jobs instead of sending them to Redis.

    ``enqueue`` is the Queue's own (same checks, same PayloadError, same payload); the job
    is kept.

    ``jobs`` holds every job enqueued (until ``clear``), in order; ``pending`` those not
    yet run; ``performed`` those run, by ``drain`` or (``InlineQueue``) at once. Jobs run
    through ``allow`` (default: only ``@task``-registered tasks), as on a worker.
    """

    def __init__(self, allow: AllowList | None = None, clock: Clock | None = None) -> None:
        self.allow = allow if allow is not None else AllowList()
        self.clock: Clock = clock or SystemClock()
        self.jobs: list[RecordedJob] = []
        self.pending: list[RecordedJob] = []
        self.performed: list[RecordedJob] = []
        self._enqueued_at: dict[str, float] = {}

    def _now(self) -> float:
        return self.clock.now()

    def _submit(self, job: NewJob) -> None:
        self._accept(_recorded(job))

    @contextmanager
    def batch(self) -> Iterator[RecordingBatch]:
        """Like ``Queue.batch``: the jobs are kept when the block ends, none if it raises."""
        batch = RecordingBatch(self)
        yield batch
        batch.send()

    def jobs_for(self, task: TaskRef, queue: str | None = None) -> list[RecordedJob]:
        """The jobs enqueued for ``task`` (a name, a ``@task`` or a function; on ``queue``,
        if given), in order."""
        name = resolve(task)[0]
        return [j for j in self.jobs if j.task == name and queue in (None, j.queue)]

    def assert_enqueued(
        self, task: TaskRef, /, *args: Any, queue: str | None = None, **kwargs: Any
    ) -> RecordedJob:
        """The first job enqueued for exactly ``task(*args, **kwargs)`` (``task`` a name, a
        ``@task`` or a function; on ``queue``, if given); AssertionError listing what was
        enqueued if there is none.

        Arguments are compared after a JSON round trip (a tuple matches a list).
        """
        task = resolve(task)[0]
        want = decode(encode(build_payload(task, args, kwargs, enqueued_at=0)))
        for job in self.jobs_for(task, queue):
            if (job.args, job.kwargs) == (want.args, want.kwargs):
                return job
        where = "" if queue is None else f" on {queue}"
        seen = ", ".join(job.describe() for job in self.jobs) or "nothing"
        raise AssertionError(
            f"{_call(task, want.args, want.kwargs)}{where} was not enqueued; enqueued: {seen}"
        )

    def clear(self) -> None:
        """Forget every job: enqueued, pending and performed."""
        self.jobs.clear()
        self.pending.clear()
        self.performed.clear()

    def drain(
        self, *, queue: str | None = None, until: datetime | None = None, limit: int = 10_000
    ) -> int:
        """Run the pending jobs, and those they enqueue, earliest due first; return how many ran.

        ``queue`` runs only that queue's jobs; ``until`` (aware) leaves jobs due after it
        pending. A job that raises ends the drain with its exception (it counts as
        performed; there is no retry). RuntimeError after ``limit`` jobs.
        """
        horizon = math.inf if until is None else epoch_seconds(until, "until")
        count = 0
        while (index := self._next_due(queue, horizon)) is not None:
            if count == limit:
                raise RuntimeError(f"drain ran {limit} jobs and more are due: a job loop?")
            count += 1
            self._perform(self.pending.pop(index))
        return count

    def depth(self, queue: str = DEFAULT_QUEUE) -> int:
        """How many pending jobs wait in ``queue`` (not counting delayed ones)."""
        check_queue_name(queue)
        return sum(1 for j in self.pending if j.queue == queue and j.run_at is None)

    def delayed_count(self, queue: str = DEFAULT_QUEUE) -> int:
        """How many pending ``delay=``/``at=`` jobs wait in ``queue``."""
        check_queue_name(queue)
        return sum(1 for j in self.pending if j.queue == queue and j.run_at is not None)

    def queues(self) -> dict[str, int]:
        """The depth of every queue a job was enqueued to, by name."""
        return {name: self.depth(name) for name in sorted({j.queue for j in self.jobs})}

    def dead(self, limit: int = 50, where: Any = None) -> list[Any]:
        """Always empty: a double has no dead set."""
        return []

    def dead_count(self) -> int:
        """Always 0: a double has no dead set."""
        return 0

    def retry_dead(self, job_id: str) -> bool:
        """Always False: a double has no dead set."""
        return False

    def _accept(self, job: RecordedJob) -> None:
        if self._admit(job):
            self.jobs.append(job)
            self.pending.append(job)

    def _admit(self, job: RecordedJob) -> bool:
        """False for a job id enqueued within ENQUEUE_DEDUPE seconds, as a Queue does."""
        now = self.clock.now()
        if now - self._enqueued_at.get(job.id, -ENQUEUE_DEDUPE) < ENQUEUE_DEDUPE:
            return False
        self._enqueued_at[job.id] = now
        return True

    def _next_due(self, queue: str | None, horizon: float) -> int | None:
        """The index in ``pending`` of the job to run next, if one is due."""
        ready = [
            (_due_at(job), index)
            for index, job in enumerate(self.pending)
            if queue in (None, job.queue) and (job.run_at is None or _due_at(job) <= horizon)
        ]
        return min(ready)[1] if ready else None

    def _perform(self, job: RecordedJob) -> Any:
        self.performed.append(job)
        return run_job(job.job, self.allow)


class InlineQueue(RecordingQueue):
    """A stand-in for ``Queue`` that runs each job in this thread as it is enqueued.

    ``delay=`` and ``at=`` are checked but not waited for. The task's exception
    propagates out of ``enqueue`` (or out of the ``batch`` block); there are no retries.
    """

    def _accept(self, job: RecordedJob) -> None:
        if self._admit(job):
            self.jobs.append(job)
            self._perform(job)


class RecordingBatch(Enqueuer):
    """Enqueues collected by ``RecordingQueue.batch()``: checked when enqueued, kept (or
    run) when the batch ends."""

    def __init__(self, queue: RecordingQueue) -> None:
        self._queue = queue
        self._pending: list[RecordedJob] = []

    def _now(self) -> float:
        return self._queue.clock.now()

    def _submit(self, job: NewJob) -> None:
        self._pending.append(_recorded(job))

    def send(self) -> None:
        """Hand the collected jobs to the queue and start a new batch."""
        pending, self._pending = self._pending, []
        for job in pending:
            self._queue._accept(job)


@contextmanager
def recording(
    allow: AllowList | None = None, clock: Clock | None = None
) -> Iterator[RecordingQueue]:
    """Within the block, every ``Queue`` (however and whenever made) keeps its jobs in the
    ``RecordingQueue`` this yields instead of sending them to Redis."""
    with _routed(RecordingQueue(allow, clock)) as double:
        yield double


@contextmanager
def inline(allow: AllowList | None = None) -> Iterator[InlineQueue]:
    """Within the block, every ``Queue`` runs its jobs at once, through the ``InlineQueue``
    this yields."""
    with _routed(InlineQueue(allow)) as double:
        yield double


@contextmanager
def _routed(double: Q) -> Iterator[Q]:
    forwards: dict[str, Any] = {name: _forward(getattr(double, name)) for name in _ROUTED}
    with mock.patch.multiple("scheduler.queue.Queue", **forwards):
        yield double


def _forward(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(_queue: object, /, *args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return call


def _recorded(job: NewJob) -> RecordedJob:
    """A prepared job as a worker would read it from Redis."""
    return RecordedJob.read(job.text, None if job.due is None else utc(round(job.due, 3)))


def _due_at(job: RecordedJob) -> float:
    return job.job.enqueued_at if job.run_at is None else job.run_at.timestamp()


def _call(task: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{task}({', '.join(shown)})"
