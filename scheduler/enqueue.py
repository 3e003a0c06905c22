"""How a new job's payload is prepared, in one place for every path that makes one.

- ``JobMaker.prepare_job`` turns a task (a name, a ``@task`` or a function) with its
  arguments and ``Options`` into a ``NewJob``: ``Queue``, its batch, the test doubles of
  ``scheduler.testing`` and ``scheduler.aio.Queue`` all use it, so they check arguments
  in the same order, raise the same PayloadError and build the same payload; each only
  says what "now" is and what becomes of the prepared job (sent, collected, kept or run).
- ``Enqueuer.enqueue`` is the one synchronous ``enqueue(task, *args, queue=, delay=, at=,
  retries=, timeout=, job_id=, unique_for=, key=, result_ttl=, timeout_hard=, **kwargs)``;
  ``enqueue_task`` is the same with the task's arguments and the options apart, which a
  ``Task``'s enqueue calls.
- ``script_call`` is the enqueue script's keys and arguments for a prepared job, and
  ``CollectedJobs`` the calls of a batch's jobs, for every client that runs them
  (``Queue``, ``scheduler.aio.Queue``).
- ``fire_payload`` is the payload of a run of a schedule job: what the dispatcher enqueues
  for a fire, what ``trigger`` and ``backfill`` enqueue, and what ``perform_fire`` runs.

Pure: no clock and no Redis here; the callers pass ``now``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import PayloadError
from .hooks import Hooks, event_of, registry
from .jobs import (
    DEFAULT_QUEUE,
    ENQUEUE_DEDUPE,
    MAX_PAYLOAD_BYTES,
    build_payload,
    encode,
    is_job_id,
)
from .keys import Keys, as_text
from .tasks import Options, resolve

# How long a unique key given without ``unique_for`` is held at most (after the job is due):
# the job frees it when it ends, this only bounds a key whose job was lost with its worker.
UNIQUE_KEY_HOLD = 24 * 3600
# How long a tracked job's record lives while the job waits to run (after it is due): a
# worker renews it when it starts the job, and settles it to ``result_ttl`` when it ends.
RECORD_HOLD = 7 * 24 * 3600

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
    unique_for: int | None = None

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
    timeout_hard: float | None = None,
    job_id: str | None = None,
    options: JobOptions | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> NewJob:
    """The job an ``enqueue`` call made at ``now`` stands for; PayloadError for an invalid
    argument, or a payload longer than ``max_bytes`` or nested deeper than a worker reads.
    A ``delay=``/``at=`` that is not after ``now`` means at once."""
    due = run_at(now, delay, at)
    unique, hold, kept = None, None, None
    if options is not None:
        unique, hold = options.unique(task, args, kwargs, max(0.0, (due or now) - now))
        kept = options.seconds_kept
    payload = build_payload(
        task,
        args,
        kwargs,
        queue=queue,
        enqueued_at=now,
        retries=retries,
        timeout=timeout,
        timeout_hard=timeout_hard,
        job_id=job_id,
        unique=unique,
        result_ttl=kept,
    )
    text = encode(payload, max_bytes)
    return NewJob(payload, due if due is not None and due > now else None, text, hold)


@dataclass(frozen=True, slots=True)
class JobOptions:
    """What an enqueue may ask beyond running the task (docs/api.md, unique jobs, job
    status): a unique ``key`` held ``unique_for`` seconds at most, and ``result_ttl``
    seconds for which the job's record and return value are kept once it ends."""

    unique_for: float | None = None
    key: str | None = None
    result_ttl: float | None = None

    def __post_init__(self) -> None:
        for name in ("unique_for", "result_ttl"):
            value = getattr(self, name)
            if value is not None and not _positive(value):
                raise PayloadError(f"{name}= must be seconds > 0, not {value!r}")
        if self.key is not None and (not isinstance(self.key, str) or not is_job_id(self.key)):
            raise PayloadError(f"invalid key {self.key!r}: use 1-128 of A-Z a-z 0-9 _ . : -")

    def unique(
        self, task: str, args: Sequence[Any], kwargs: Mapping[str, Any], wait: float
    ) -> tuple[str | None, int | None]:
        """The unique key of a job (``key``, else one made of the task and its arguments)
        and the seconds it is held at most, for a job due in ``wait`` seconds; (None, None)
        for a job that is not unique."""
        if self.key is None and self.unique_for is None:
            return None, None
        key = self.key or _arguments_key(task, args, kwargs)
        hold = self.unique_for if self.unique_for is not None else wait + UNIQUE_KEY_HOLD
        return key, max(1, int(-(-hold // 1)))

    @property
    def seconds_kept(self) -> int | None:
        """``result_ttl`` in whole seconds (rounded up), as the payload carries it."""
        return None if self.result_ttl is None else max(1, int(-(-self.result_ttl // 1)))


def _options(
    unique_for: float | None, key: str | None, result_ttl: float | None
) -> JobOptions | None:
    if unique_for is None and key is None and result_ttl is None:
        return None
    return JobOptions(unique_for, key, result_ttl)


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 2**31


def _arguments_key(task: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """The unique key of ``unique_for`` without ``key``: the task and its arguments."""
    text = encode({"task": task, "args": list(args), "kwargs": dict(sorted(kwargs.items()))})
    return "args:" + hashlib.sha256(text.encode()).hexdigest()[:40]


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
    """What prepares jobs: it knows "now", the longest payload it takes
    (``max_payload_bytes``, docs/workers.md, payload limits) and whose ``before_enqueue``
    hooks run for each job (``hooks``, docs/workers.md, hooks)."""

    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    hooks: Hooks = registry

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
        job = prepare(
            self._now(),
            name,
            args,
            kwargs,
            queue=DEFAULT_QUEUE if o.queue is None else o.queue,
            delay=o.delay,
            at=o.at,
            retries=o.retries,
            timeout=o.timeout,
            timeout_hard=o.timeout_hard,
            job_id=o.job_id,
            options=_options(o.unique_for, o.key, o.result_ttl),
            max_bytes=self.max_payload_bytes,
        )
        return self._before_enqueue(job) if self.hooks.before_enqueue else job

    def _before_enqueue(self, job: NewJob) -> NewJob:
        """Run the ``before_enqueue`` hooks; the ``headers`` they set travel in the payload."""
        headers: dict[str, str] = {}
        self.hooks.fire("before_enqueue", event_of(job.payload, headers=headers))
        if not headers:
            return job
        payload = {**job.payload, "headers": headers}
        return NewJob(payload, job.due, encode(payload, self.max_payload_bytes), job.unique_for)

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
        unique_for: float | None = None,
        key: str | None = None,
        result_ttl: float | None = None,
        timeout_hard: float | None = None,
        **kwargs: Any,
    ) -> str:
        """Put a job for ``task(*args, **kwargs)`` on ``queue``; return its job id.

        ``task`` is a ``@task``, a module-level function or its ``"package.module:name"``.
        ``queue`` defaults to the ``@task``'s, else ``default``. ``delay`` (seconds) or
        ``at`` (an aware datetime) make it wait in Redis until then. ``retries`` (default
        3) failures are retried with backoff; ``timeout`` is in seconds; past
        ``timeout_hard`` seconds the worker process running it is killed (docs/workers.md,
        hard timeouts). Raises PayloadError for an invalid argument, a callable a worker
        cannot import by name, or a payload larger than ``max_payload_bytes`` or nested too
        deep for a worker to read (nothing is enqueued). A ``job_id`` enqueued in the last
        five minutes is not enqueued again, so a call retried after a broken connection
        never makes two jobs.
        In a batch, the job is sent when the batch ends.

        ``key`` (or ``unique_for`` seconds, whose key is the task and its arguments) makes
        the job unique: while a job holding the key waits or runs, the call enqueues
        nothing and returns that job's id (in a batch: the id the job would have had). The
        key frees when the job ends, or after ``unique_for`` seconds. ``result_ttl`` tracks
        the job: ``job(id)`` tells its status and ``result(id)`` its return value, kept
        ``result_ttl`` seconds after it ends (docs/api.md).
        """
        options = Options(
            queue, delay, at, retries, timeout, job_id, result_ttl, unique_for, key, timeout_hard
        )
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
        return self._submit(job) or job.id

    @abstractmethod
    def _submit(self, job: NewJob) -> str | None:
        """Send, collect or keep a prepared job (it is checked and built already); the id
        of another job that stands for it (a unique key held), else None."""


def script_call(
    keys: Keys,
    payload: Mapping[str, Any],
    due: float | None = None,
    text: str | None = None,
    unique_for: int | None = None,
) -> tuple[list[str], list[str | int]]:
    """The enqueue script's keys and arguments for a built payload, due at ``due`` (epoch
    seconds; None: now); ``text`` is the payload's JSON when it is encoded already;
    ``unique_for``: the seconds its unique key is held at most."""
    queue, job_id = payload["queue"], payload["id"]
    names = [keys.queue(queue), keys.wake(queue), keys.delayed(queue), keys.queues()]
    names.append(keys.enqueued(job_id))
    when = "" if due is None else f"{due:.3f}"
    args: list[str | int] = [text if text is not None else encode(payload), queue, when]
    args.append(ENQUEUE_DEDUPE)
    unique, kept = payload.get("unique"), payload.get("result_ttl")
    if unique is None and kept is None:
        return names, args
    names += [keys.unique(unique or ""), keys.job(job_id)]
    wait = int(max(0.0, (due or 0) - payload["enqueued_at"]))
    life = "" if kept is None else str(wait + RECORD_HOLD)
    args += ["" if unique is None else unique_for or UNIQUE_KEY_HOLD, life, job_id]
    args += [f"{payload['enqueued_at']:.3f}", payload["task"]]
    return names, args


def held_by(reply: Any) -> str | None:
    """The id of the job holding the unique key that the enqueue script's ``reply`` says
    kept a new job out; None if the job was enqueued."""
    return None if isinstance(reply, int) else as_text(reply)


BATCH_CHUNK = 200  # jobs per enqueue_many call: Redis serves nobody else while one runs


class CollectedJobs(Enqueuer):
    """Enqueues collected to be sent together (a Queue's batch): ``take`` gives the calls
    that send the jobs collected so far and starts afresh. Plain jobs go in ``enqueue_many``
    calls; unique and tracked jobs in one ``enqueue`` call each (``script_call``), sent
    after them in a second round trip."""

    chunk = BATCH_CHUNK

    def __init__(self, keys: Keys, now: Callable[[], float], max_payload_bytes: int) -> None:
        self._keys = keys
        self._clock_now = now
        self.max_payload_bytes = max_payload_bytes
        self._pending: dict[str, list[NewJob]] = {}
        self._single: list[tuple[list[str], list[str | int]]] = []

    def _now(self) -> float:
        return self._clock_now()

    def _submit(self, job: NewJob) -> None:
        if job.unique_for is None and "result_ttl" not in job.payload:
            self._pending.setdefault(job.payload["queue"], []).append(job)
        else:
            self._single.append(
                script_call(self._keys, job.payload, job.due, job.text, job.unique_for)
            )

    def take(self) -> Batched:
        """The calls that send the collected jobs (empty lists if there are none)."""
        pending, self._pending = self._pending, {}
        single, self._single = self._single, []
        return Batched(batch_calls(self._keys, pending, self.chunk), single)


@dataclass(frozen=True, slots=True)
class Batched:
    """A batch's calls: ``many`` of ``enqueue_many`` (plain jobs), then ``single`` of
    ``enqueue`` (unique and tracked jobs)."""

    many: list[tuple[list[str], list[str | int]]]
    single: list[tuple[list[str], list[str | int]]]


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
        timeout_hard=job.timeout_hard,
    )
