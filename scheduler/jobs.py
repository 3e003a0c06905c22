"""Job payloads: the versioned JSON documents that travel through the queues (never pickle).

A payload is a JSON object; version 1 has these fields (optional ones are left out when
unset, to keep payloads short)::

    v             1
    id            job id: 32 hex digits, or the caller's own (1-128 of A-Z a-z 0-9 _ . : -)
    task          "package.module:callable"
    args          JSON array, kwargs JSON object (the task's arguments)
    queue         queue name
    attempt       1 for the first run, +1 for each retry
    retries       how many times a failure is retried before the job goes to the dead set
    timeout       seconds a run may take (optional)
    timeout_hard  seconds after which the process running it is killed (optional)
    enqueued_at   epoch seconds (Redis clock) when the job was first enqueued
    schedule      the schedule file's job name, for runs the dispatcher enqueued (optional)
    scheduled_for the fire time (epoch seconds, int) such a run stands for (optional)
    expires_at    epoch seconds after which a run not yet started is dropped (optional)
    error         the last failure, on a retried job (optional)
    unique        the unique key the job holds while it waits or runs (optional)
    result_ttl    seconds the job's record and return value are kept after it ends; the
                  job is tracked: it has a record ``Queue.job`` reads (optional)

``build_payload`` and ``encode`` are pure, so the dispatcher's own enqueue script pushes
exactly what ``Queue.enqueue`` pushes. Inside a running task, ``current_job()`` describes
the job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import os
import re
from collections.abc import Awaitable, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .documents import EARLIEST_SECONDS, LATEST_SECONDS, check_nesting, load
from .errors import JobTimeout, PayloadError

PAYLOAD_VERSION = 1
DEFAULT_QUEUE = "default"
DEFAULT_RETRIES = 3
ENQUEUE_DEDUPE = 300  # seconds after an enqueue in which its job id is not enqueued again
MAX_PAYLOAD_BYTES = 1024 * 1024  # the default of Queue(max_payload_bytes=) and the worker's

_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")
_JOB_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}\Z")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_TASK_NAME = re.compile(rf"{_DOTTED}:{_DOTTED}\Z")


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A decoded payload: one run of a task as it travels through a queue."""

    id: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    attempt: int
    retries: int
    enqueued_at: float
    timeout: float | None = None
    schedule: str | None = None
    scheduled_for: int | None = None
    expires_at: float | None = None
    timeout_hard: float | None = None
    unique: str | None = None
    result_ttl: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def settles(self) -> bool:
        """Whether even a success needs more than an acknowledgement: a schedule job's
        run, a tracked job or one holding a unique key."""
        return self.schedule is not None or self.unique is not None or self.result_ttl is not None

    def to_payload(self) -> dict[str, Any]:
        """The payload dict of this job (the inverse of ``decode``)."""
        payload: dict[str, Any] = {
            "v": PAYLOAD_VERSION,
            "id": self.id,
            "task": self.task,
            "args": self.args,
            "kwargs": self.kwargs,
            "queue": self.queue,
            "attempt": self.attempt,
            "retries": self.retries,
            "enqueued_at": self.enqueued_at,
        }
        _put_optional(payload, self.timeout, self.schedule, self.scheduled_for, self.expires_at)
        if self.timeout_hard is not None:
            payload["timeout_hard"] = self.timeout_hard
        _put_tracking(payload, self.unique, self.result_ttl)
        payload.update(self.extra)
        return payload


@dataclass(frozen=True)
class CurrentJob:
    """What a running task can learn about its job (see ``current_job``)."""

    id: str
    task: str
    attempt: int
    queue: str
    retries: int
    enqueued_at: datetime
    schedule: str | None
    scheduled_for: datetime | None
    cancellation: Cancellation | None = field(default=None, repr=False, compare=False)

    @property
    def cancelled(self) -> bool:
        """Whether someone asked to cancel this run (``Queue.cancel``): a sync task that
        checks it can stop early; its run then ends as cancelled."""
        return self.cancellation is not None and self.cancellation.requested


@dataclass(eq=False, slots=True)
class Cancellation:
    """A run's cancel request, set by the worker's heartbeat when it sees the job's cancel
    flag: an async task is cancelled at once, a sync one reads ``current_job().cancelled``.
    Its fields are keyword-only, so a subclass (the worker's run) adds its own before."""

    requested: bool = field(default=False, kw_only=True)
    _future: concurrent.futures.Future[Any] | None = field(default=None, kw_only=True)

    def request(self) -> None:
        """Ask the run to stop (an async task's future is cancelled)."""
        self.requested = True
        if self._future is not None:
            self._future.cancel()

    def attach(self, future: concurrent.futures.Future[Any]) -> None:
        """The future of the run's async task: a cancel request cancels it."""
        self._future = future
        if self.requested:
            future.cancel()


def new_job_id() -> str:
    """A fresh random job id (128 bits, hex)."""
    return os.urandom(16).hex()


def check_queue_name(queue: str) -> str:
    """Return ``queue`` if it is a valid queue name, else raise PayloadError."""
    if not isinstance(queue, str) or not _valid(_QUEUE_NAME, queue):
        raise PayloadError(
            f"invalid queue name {queue!r}: use 1-128 of A-Z a-z 0-9 _ . : - "
            "(starting with a letter or digit)"
        )
    return queue


def is_job_id(text: str) -> bool:
    """Is ``text`` a job id of the usual form (1-128 of A-Z a-z 0-9 _ . : -)?"""
    return _JOB_ID.match(text) is not None


def check_task_name(task: str) -> str:
    """Return ``task`` if it looks like ``package.module:callable``, else raise PayloadError."""
    if not isinstance(task, str) or not _valid(_TASK_NAME, task):
        raise PayloadError(f"invalid task {task!r}: expected 'package.module:callable'")
    return task


def build_payload(
    task: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    queue: str = DEFAULT_QUEUE,
    enqueued_at: float,
    retries: int | None = None,
    timeout: float | None = None,
    job_id: str | None = None,
    schedule: str | None = None,
    scheduled_for: int | None = None,
    expires_at: float | None = None,
    timeout_hard: float | None = None,
    unique: str | None = None,
    result_ttl: int | None = None,
) -> dict[str, Any]:
    """The payload dict of a new job (attempt 1); PayloadError if an argument is invalid.

    Pure: the caller passes ``enqueued_at`` (Redis clock) and, for a scheduled run, the
    schedule's job name, the fire time and the expiry instant.
    """
    retries = DEFAULT_RETRIES if retries is None else retries
    _check_build(retries, timeout, job_id, scheduled_for, expires_at)
    _check_seconds("timeout_hard", timeout_hard)
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "id": job_id if job_id is not None else new_job_id(),
        "task": check_task_name(task),
        "args": list(args),
        "kwargs": dict(kwargs or {}),
        "queue": check_queue_name(queue),
        "attempt": 1,
        "retries": retries,
        "enqueued_at": round(enqueued_at, 3),
    }
    _put_optional(payload, timeout, schedule, scheduled_for, expires_at)
    if timeout_hard is not None:
        payload["timeout_hard"] = timeout_hard
    _put_tracking(payload, unique, result_ttl)
    return payload


def encode(payload: Mapping[str, Any], max_bytes: int | None = None) -> str:
    """The compact JSON text of a payload; PayloadError if an argument is not JSON and, with
    ``max_bytes``, if the text is longer or nests deeper than a worker reads."""
    try:
        text = _ENCODER.encode(payload)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"job arguments must be JSON-serialisable: {exc}") from None
    if max_bytes is not None:
        size = len(text) if len(text) * 4 <= max_bytes else len(text.encode())
        if size > max_bytes:
            raise PayloadError(
                f"payload is {size:,} bytes, over the limit of {max_bytes:,} (max_payload_bytes)"
            )
        check_nesting(text, payload, "payload")
    return text


def decode(raw: bytes | str, max_bytes: int | None = MAX_PAYLOAD_BYTES) -> QueuedJob:
    """The job in a payload; PayloadError if it is not a valid payload of a known version,
    is over ``max_bytes`` or cannot be read (see ``scheduler.documents.load``)."""
    data = load(raw, max_bytes, "payload")
    if not isinstance(data, dict):
        raise PayloadError("payload is not a JSON object")
    version = data.get("v")
    if version != PAYLOAD_VERSION:
        raise PayloadError(
            f"unsupported payload version {version!r} (this worker reads {PAYLOAD_VERSION})"
        )
    try:
        job = QueuedJob(
            id=data.pop("id"),
            task=data.pop("task"),
            args=data.pop("args"),
            kwargs=data.pop("kwargs"),
            queue=data.pop("queue"),
            attempt=data.pop("attempt"),
            retries=data.pop("retries"),
            enqueued_at=data.pop("enqueued_at"),
            timeout=data.pop("timeout", None),
            schedule=data.pop("schedule", None),
            scheduled_for=data.pop("scheduled_for", None),
            expires_at=data.pop("expires_at", None),
            timeout_hard=data.pop("timeout_hard", None),
            unique=data.pop("unique", None),
            result_ttl=data.pop("result_ttl", None),
            extra=_extra(data),
        )
    except KeyError as exc:
        raise PayloadError(f"payload has no {exc.args[0]!r} field") from None
    _check_decoded(job)
    return job


def peek(raw: bytes | str, name: str) -> str | None:
    """Field ``name`` of a payload that may not decode, if it is a string; else None."""
    try:
        data = load(raw, MAX_PAYLOAD_BYTES)
    except PayloadError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def retry_payload(job: QueuedJob, error: str) -> dict[str, Any]:
    """The payload of ``job``'s next attempt, carrying the error of the last one."""
    payload = job.to_payload()
    payload["attempt"] = job.attempt + 1
    payload["error"] = error
    return payload


def dead_record(
    payload: Mapping[str, Any], error: str, traceback: str | None, failed_at: float
) -> dict[str, Any]:
    """The dead-set entry of a payload: the payload with the error and the time of death."""
    record = dict(payload)
    record.update(error=error, traceback=traceback, failed_at=round(failed_at, 3))
    return record


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# One variable for the job and its run's cancel state: a worker sets it once per run.
_current: ContextVar[tuple[QueuedJob, Cancellation | None] | None] = ContextVar(
    "scheduler_current_job", default=None
)


def current_job() -> CurrentJob | None:
    """The job whose task is running in this thread or asyncio task; None outside a job."""
    state = _current.get()
    if state is None:
        return None
    job, cancellation = state
    fire = job.scheduled_for
    return CurrentJob(
        id=job.id,
        task=job.task,
        attempt=job.attempt,
        queue=job.queue,
        retries=job.retries,
        enqueued_at=datetime.fromtimestamp(job.enqueued_at, timezone.utc),
        schedule=job.schedule,
        scheduled_for=None if fire is None else datetime.fromtimestamp(fire, timezone.utc),
        cancellation=cancellation,
    )


CurrentToken = Token[tuple[QueuedJob, Cancellation | None] | None]


def set_current(job: QueuedJob, cancellation: Cancellation | None = None) -> CurrentToken:
    """Make ``job`` (and its run's ``cancellation``) current in this context; undo with
    ``reset_current``."""
    return _current.set((job, cancellation))


def reset_current(token: CurrentToken) -> None:
    """Undo ``set_current``."""
    _current.reset(token)


def _put_optional(
    payload: dict[str, Any],
    timeout: float | None,
    schedule: str | None,
    scheduled_for: int | None,
    expires_at: float | None,
) -> None:
    for name, value in (
        ("timeout", timeout),
        ("schedule", schedule),
        ("scheduled_for", scheduled_for),
        ("expires_at", expires_at),
    ):
        if value is not None:
            payload[name] = value


def _put_tracking(payload: dict[str, Any], unique: str | None, result_ttl: int | None) -> None:
    if unique is not None:
        payload["unique"] = unique
    if result_ttl is not None:
        payload["result_ttl"] = result_ttl


def _check_build(
    retries: int,
    timeout: float | None,
    job_id: str | None,
    scheduled_for: int | None,
    expires_at: float | None,
) -> None:
    if not _is_int(retries) or retries < 0:
        raise PayloadError(f"retries must be an integer >= 0, not {retries!r}")
    _check_seconds("timeout", timeout)
    if job_id is not None and (not isinstance(job_id, str) or not is_job_id(job_id)):
        raise PayloadError(f"invalid job id {job_id!r}: use 1-128 of A-Z a-z 0-9 _ . : -")
    if scheduled_for is not None and not _is_int(scheduled_for):
        raise PayloadError(f"scheduled_for must be epoch seconds (int), not {scheduled_for!r}")
    if expires_at is not None and not _is_number(expires_at):
        raise PayloadError(f"expires_at must be epoch seconds, not {expires_at!r}")


def _check_seconds(name: str, value: float | None) -> None:
    if value is not None and (not _is_number(value) or value <= 0):
        raise PayloadError(f"{name} must be a number of seconds > 0, not {value!r}")


def _check_decoded(job: QueuedJob) -> None:
    problems = [
        name
        for name, ok in (
            ("id", isinstance(job.id, str) and job.id != ""),
            ("task", isinstance(job.task, str)),
            ("args", isinstance(job.args, list)),
            ("kwargs", isinstance(job.kwargs, dict)),
            ("queue", isinstance(job.queue, str)),
            ("attempt", _is_int(job.attempt) and job.attempt >= 1),
            ("retries", _is_int(job.retries) and job.retries >= 0),
            ("enqueued_at", _is_seconds(job.enqueued_at)),
            ("timeout", job.timeout is None or _positive(job.timeout)),
            ("schedule", job.schedule is None or isinstance(job.schedule, str)),
            ("scheduled_for", job.scheduled_for is None or _is_fire(job.scheduled_for)),
            ("expires_at", job.expires_at is None or _is_seconds(job.expires_at)),
            ("timeout_hard", job.timeout_hard is None or _positive(job.timeout_hard)),
            ("unique", job.unique is None or (isinstance(job.unique, str) and job.unique != "")),
            (
                "result_ttl",
                job.result_ttl is None or (_is_int(job.result_ttl) and job.result_ttl > 0),
            ),
        )
        if not ok
    ]
    if problems:
        raise PayloadError(f"payload has invalid field(s): {', '.join(problems)}")


def _positive(seconds: object) -> bool:
    return _is_seconds(seconds) and isinstance(seconds, (int, float)) and seconds > 0


@functools.lru_cache(maxsize=4096)
def _valid(pattern: re.Pattern[str], name: str) -> bool:
    """Whether ``name`` matches ``pattern`` (names repeat: the answer is remembered)."""
    return pattern.match(name) is not None


def _extra(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("v", None)
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_fire(value: object) -> bool:
    return _is_int(value) and _is_seconds(value)


def _is_seconds(value: object) -> bool:
    """A number of seconds a float and a datetime can both hold (JSON has no NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return EARLIEST_SECONDS <= value <= LATEST_SECONDS


async def guarded(
    awaitable: Awaitable[Any], job: QueuedJob, cancellation: Cancellation | None = None
) -> Any:
    """Await a task as a worker does: ``current_job()`` set, cancelled at its ``timeout``."""
    token = set_current(job, cancellation)
    try:
        if job.timeout is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, job.timeout)
        except asyncio.TimeoutError:
            raise JobTimeout(f"task ran past its timeout of {job.timeout}s") from None
    finally:
        reset_current(token)
