"""How a new job's payload is prepared, in one place for every path that makes one.

- ``Enqueuer.enqueue`` is the one ``enqueue(task, *args, queue=, delay=, at=, retries=,
  timeout=, job_id=, timeout_hard=, **kwargs)``: ``Queue``, its batch and the test doubles of
  ``scheduler.testing`` inherit it, so they check arguments in the same order, raise the
  same PayloadError and build the same payload; each only says what "now" is and what
  becomes of the prepared job (sent, collected, kept or run).
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
from .hooks import Hooks, event_of, registry
from .jobs import DEFAULT_QUEUE, MAX_PAYLOAD_BYTES, build_payload, encode

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

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
    max_bytes: int = MAX_PAYLOAD_BYTES,
    timeout_hard: float | None = None,
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
        timeout_hard=timeout_hard,
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


class Enqueuer(ABC):
    """What takes ``enqueue`` calls: a Queue, its batch, or a test double standing in.

    ``max_payload_bytes``: the longest payload it takes (docs/workers.md, payload limits);
    ``hooks``: whose ``before_enqueue`` hooks run for each job (docs/workers.md, hooks).
    """

    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    hooks: Hooks = registry

    def enqueue(
        self,
        task: str,
        /,
        *args: Any,
        queue: str = DEFAULT_QUEUE,
        delay: float | None = None,
        at: datetime | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        job_id: str | None = None,
        timeout_hard: float | None = None,
        **kwargs: Any,
    ) -> str:
        """Put a job for ``task(*args, **kwargs)`` on ``queue``; return its job id.

        ``delay`` (seconds) or ``at`` (an aware datetime) make it wait in Redis until then.
        ``retries`` (default 3) failures are retried with backoff; ``timeout`` is in
        seconds; past ``timeout_hard`` seconds the worker process running it is
        killed (docs/workers.md, hard timeouts). Raises PayloadError for an invalid
        argument, or a payload larger than ``max_payload_bytes`` or nested too deep for a
        worker to read (nothing is enqueued).
        A ``job_id`` enqueued in the last five minutes is not enqueued again, so a call
        retried after a broken connection never makes two jobs. In a batch, the job is
        sent when the batch ends.
        """
        job = prepare(
            self._now(),
            task,
            args,
            kwargs,
            queue=queue,
            delay=delay,
            at=at,
            retries=retries,
            timeout=timeout,
            job_id=job_id,
            max_bytes=self.max_payload_bytes,
            timeout_hard=timeout_hard,
        )
        if self.hooks.before_enqueue:
            job = self._before_enqueue(job)
        self._submit(job)
        return job.id

    def _before_enqueue(self, job: NewJob) -> NewJob:
        """Run the ``before_enqueue`` hooks; the ``headers`` they set travel in the payload."""
        headers: dict[str, str] = {}
        self.hooks.fire("before_enqueue", event_of(job.payload, headers=headers))
        if not headers:
            return job
        payload = {**job.payload, "headers": headers}
        return NewJob(payload, job.due, encode(payload, self.max_payload_bytes))

    @abstractmethod
    def _now(self) -> float:
        """Epoch seconds now, by the clock this enqueuer stamps jobs with."""

    @abstractmethod
    def _submit(self, job: NewJob) -> None:
        """Send, collect or keep a prepared job (it is checked and built already)."""


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
        timeout_hard=job.timeout_hard,
    )
