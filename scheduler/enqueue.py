"""How a new job's payload is prepared, in one place for every path that makes one.

- ``JobMaker.prepare_job`` turns a task (a name, a ``@task`` or a function) with its
  arguments and ``Options`` into a ``NewJob``: ``Queue``, its batch, the test doubles of
  ``scheduler.testing`` and ``scheduler.aio.Queue`` all use it, so they check arguments
  in the same order, raise the same PayloadError and build the same payload; each only
  says what "now" is and what becomes of the prepared job (sent, collected, kept or run).
- ``Enqueuer.enqueue`` is the one synchronous ``enqueue(task, *args, queue=, delay=, at=,
  retries=, timeout=, job_id=, **kwargs)``; ``enqueue_task`` is the same with the task's
  arguments and the options apart, which a ``Task``'s enqueue calls.
- ``script_call`` is the enqueue script's keys and arguments for a prepared job, and
  ``batch_calls`` the ``enqueue_many`` calls of a batch's jobs, for every client that runs
  them (``Queue``, ``scheduler.aio.Queue``).
- ``fire_payload`` is the payload of a run of a schedule job: what the dispatcher enqueues
  for a fire, what ``trigger`` and ``backfill`` enqueue, and what ``perform_fire`` runs.

Pure: no clock and no Redis here; the callers pass ``now``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import PayloadError
from .jobs import DEFAULT_QUEUE, ENQUEUE_DEDUPE, MAX_PAYLOAD_BYTES, build_payload, encode
from .keys import Keys
from .tasks import Options, resolve

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .schedule.loader import Job


@dataclass(frozen=True, slots=True)
class NewJob:
    """A checked, built job before it is sent: its payload, the epoch seconds it falls
    due (None: at once) and the payload's JSON text, as it is sent."""

    payload: dict[str, Any]
    due: float | None
    text: str

    @property
    def id(self) -> str:
        """The job id."""
        return str(self.payload["id"])


def prepare(
    now: float,
    task: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    queue: str = DEFAULT_QUEUE,
    delay: float | None = None,
    at: datetime | None = None,
    retries: int | None = None,
    timeout: float | None = None,
    job_id: str | None = None,
    result_ttl: int | None = None,
    unique_for: float | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> NewJob:
    """The job an ``enqueue`` call made at ``now`` stands for; PayloadError for an invalid
    argument, or a payload longer than ``max_bytes`` or nested deeper than a worker reads.
    A ``delay=``/``at=`` that is not after ``now`` means at once."""
    due = run_at(now, delay, at)
    payload = build_payload(
        task,
        args,
        kwargs,
        queue=queue,
        enqueued_at=now,
        retries=retries,
        timeout=timeout,
        job_id=job_id,
        result_ttl=result_ttl,
        unique_for=unique_for,
    )
    text = encode(payload, max_bytes)
    return NewJob(payload, due if due is not None and due > now else None, text)


def run_at(now: float, delay: float | None, at: datetime | None) -> float | None:
    """When a job enqueued at ``now`` with ``delay=`` or ``at=`` becomes runnable (None: at
    once); PayloadError for both, a naive ``at`` or a negative ``delay``."""
    if delay is not None and at is not None:
        raise PayloadError("give delay= or at=, not both")
    if at is not None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise PayloadError("at= must be an aware datetime (with a time zone), not naive")
        return at.timestamp()
    if delay is not None:
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise PayloadError(f"delay= must be seconds >= 0, not {delay!r}")
        return now + delay
    return None


class JobMaker(ABC):
    """What prepares jobs: it knows "now" and the longest payload it takes
    (``max_payload_bytes``, docs/workers.md, payload limits)."""

    max_payload_bytes: int = MAX_PAYLOAD_BYTES

    def prepare_job(
        self,
        task: str | Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        options: Options,
    ) -> NewJob:
        """The checked job of ``task(*args, **kwargs)`` with ``options`` over the task's
        own (``@task``); PayloadError for an invalid argument or task."""
        name, declared = resolve(task)
        o = options if declared is None else options.over(declared)
        return prepare(
            self._now(),
            name,
            args,
            kwargs,
            queue=DEFAULT_QUEUE if o.queue is None else o.queue,
            delay=o.delay,
            at=o.at,
            retries=o.retries,
            timeout=o.timeout,
            job_id=o.job_id,
            result_ttl=o.result_ttl,
            unique_for=o.unique_for,
            max_bytes=self.max_payload_bytes,
        )

    @abstractmethod
    def _now(self) -> float:
        """Epoch seconds now, by the clock this enqueuer stamps jobs with."""


class Enqueuer(JobMaker):
    """What takes ``enqueue`` calls synchronously: a Queue, its batch, or a test double."""

    def enqueue(
        self,
        task: str | Callable[..., Any],
        /,
        *args: Any,
        queue: str | None = None,
        delay: float | None = None,
        at: datetime | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Put a job for ``task(*args, **kwargs)`` on ``queue``; return its job id.

        ``task`` is a ``@task``, a module-level function or its ``"package.module:name"``.
        ``queue`` defaults to the ``@task``'s, else ``default``. ``delay`` (seconds) or
        ``at`` (an aware datetime) make it wait in Redis until then. ``retries`` (default
        3) failures are retried with backoff; ``timeout`` is in seconds. Raises
        PayloadError for an invalid argument, a callable a worker cannot import by name,
        or a payload larger than ``max_payload_bytes`` or nested too deep for a worker to
        read (nothing is enqueued). A ``job_id`` enqueued in the last five minutes is not
        enqueued again, so a call retried after a broken connection never makes two jobs.
        In a batch, the job is sent when the batch ends.
        """
        options = Options(queue, delay, at, retries, timeout, job_id)
        return self.enqueue_task(task, args, kwargs, options)

    def enqueue_task(
        self,
        task: str | Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        options: Options,
    ) -> str:
        """``enqueue`` with the task's arguments and the options apart; the job id."""
        job = self.prepare_job(task, args, kwargs, options)
        self._submit(job)
        return job.id

    @abstractmethod
    def _submit(self, job: NewJob) -> None:
        """Send, collect or keep a prepared job (it is checked and built already)."""


def script_call(
    keys: Keys, payload: Mapping[str, Any], due: float | None = None, text: str | None = None
) -> tuple[list[str], list[str | int]]:
    """The enqueue script's keys and arguments for a built payload, due at ``due`` (epoch
    seconds; None: now); ``text`` is the payload's JSON when it is encoded already."""
    queue = payload["queue"]
    names = [keys.queue(queue), keys.wake(queue), keys.delayed(queue), keys.queues()]
    names.append(keys.enqueued(payload["id"]))
    when = "" if due is None else f"{due:.3f}"
    return names, [text if text is not None else encode(payload), queue, when, ENQUEUE_DEDUPE]


BATCH_CHUNK = 200  # jobs per enqueue_many call: Redis serves nobody else while one runs


class CollectedJobs(Enqueuer):
    """Enqueues collected to be sent together (a Queue's batch): ``take`` gives the
    ``enqueue_many`` calls of the jobs collected so far and starts afresh."""

    chunk = BATCH_CHUNK

    def __init__(self, keys: Keys, now: Callable[[], float], max_payload_bytes: int) -> None:
        self._keys = keys
        self._clock_now = now
        self.max_payload_bytes = max_payload_bytes
        self._pending: dict[str, list[NewJob]] = {}

    def _now(self) -> float:
        return self._clock_now()

    def _submit(self, job: NewJob) -> None:
        self._pending.setdefault(job.payload["queue"], []).append(job)

    def take(self) -> list[tuple[list[str], list[str | int]]]:
        """The calls that send the collected jobs (none if there are none)."""
        pending, self._pending = self._pending, {}
        return batch_calls(self._keys, pending, self.chunk)


def batch_calls(
    keys: Keys, pending: Mapping[str, Sequence[NewJob]], chunk: int = BATCH_CHUNK
) -> list[tuple[list[str], list[str | int]]]:
    """The ``enqueue_many`` calls that send ``pending`` (jobs by queue name): one per queue
    and ``chunk`` of its jobs."""
    return [
        _many_call(keys, name, jobs[start : start + chunk])
        for name, jobs in pending.items()
        for start in range(0, len(jobs), chunk)
    ]


def _many_call(k: Keys, name: str, jobs: Sequence[NewJob]) -> tuple[list[str], list[str | int]]:
    keys = [k.queue(name), k.wake(name), k.delayed(name), k.queues()]
    keys += [k.enqueued(job.id) for job in jobs]
    args: list[str | int] = [name, ENQUEUE_DEDUPE]
    for job in jobs:
        args += (job.text, "" if job.due is None else f"{job.due:.3f}")
    return keys, args


def fire_payload(job: Job, at: int | None, now: float, *, by_hand: bool = False) -> dict[str, Any]:
    """The payload of a run of schedule job ``job`` for its fire at ``at``, enqueued at
    ``now``; ``at`` is None for a run triggered outside the schedule.

    The run expires ``job.expires`` seconds after it was due (docs/schedule.md,
    ``expires``): after its fire time, or, for a run asked for by hand (``trigger``, and
    ``backfill`` with ``by_hand``), after ``now``, the moment it was asked for.
    """
    due = now if at is None or by_hand else at
    return build_payload(
        job.task,
        job.args,
        job.kwargs,
        queue=job.queue,
        enqueued_at=now,
        retries=job.retries,
        timeout=job.timeout,
        schedule=job.name,
        scheduled_for=at,
        expires_at=None if job.expires is None else due + job.expires,
    )
