"""Running one job: find its task, call it with ``current_job()`` set, judge the result.

Sync tasks run in the calling (worker) thread; async tasks run on one event-loop thread
per worker while the calling thread waits, and their ``timeout`` cancels them
(``asyncio.wait_for``). A sync task past its timeout cannot be stopped (Python cannot kill
a thread): the worker settles the run and abandons the thread (see ``scheduler.worker.pool``).

The result is an ``Outcome``; ``settlement_for`` turns it into what the worker writes to
Redis. A failure is retried after ``RetryPolicy.delay(attempt)`` while
``attempt <= retries``, then the job is dead.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import Clock
from ..documents import raw_text
from ..errors import JobTimeout, PayloadError, TaskNotAllowed, TaskNotFound
from ..hooks import Hooks, event_of, registry
from ..jobs import (
    Cancellation,
    QueuedJob,
    dead_record,
    encode,
    guarded,
    new_job_id,
    peek,
    reset_current,
    retry_payload,
)
from ..jobs import set_current as set_current_job
from ..registry import AllowList
from .redis_calls import Delivery, JobEnd, Settlement

log = logging.getLogger(__name__)

OK, EXPIRED, RETRY, DEAD, CANCELLED = "ok", "expired", "retry", "dead", "cancelled"
# The status a tracked job's record gets for each outcome (docs/api.md#job-status).
RECORD_STATUS = {
    OK: "succeeded",
    EXPIRED: "expired",
    RETRY: "failed",
    DEAD: "dead",
    CANCELLED: "cancelled",
}
_LATE_FIELDS = " id=%s task=%s queue=%s duration=%.3fs attempt=%d result=%s error=%r"
_LATE = (  # by timed_out
    "job finished after shutdown stopped waiting for it" + _LATE_FIELDS,
    "job finished after its timeout" + _LATE_FIELDS,
)
_ERROR_CHARS = 500
MAX_RESULT_TEXT = 512 * 1024  # the longest return value a tracked job's record keeps
_TRACEBACK_CHARS = 16_000
# Failures whose error line says it all: their traceback would be the worker's own frames
# (and the import machinery's), so the final failure is logged without it. The dead set
# keeps it.
_SAID_IN_ONE_LINE = (TaskNotFound, JobTimeout)


@dataclass(slots=True)
class Outcome:
    """How a delivery ended: ``status`` is ok, expired, retry (in ``retry_in`` s), dead or
    cancelled.

    ``held``: the run was settled at its timeout while its thread still runs, so its
    schedule job's active marker stays until that thread ends (docs/workers.md#timeouts).
    ``result``: a tracked job's return value as JSON ("" if none is kept).
    """

    delivery: Delivery
    status: str
    duration: float = 0.0
    error: str = ""
    traceback: str | None = None
    finished: float = 0.0
    retry_in: float | None = None
    schedule: str | None = None
    held: bool = False
    result: str = ""


@dataclass(slots=True)  # not frozen: one is made per job, and frozen fields cost more to set
class Ended:
    """How a task call ended: the exception it raised (None: it returned), how long it
    took, when it finished (monotonic clock), what it returned, and whether its run was
    asked to stop (``Queue.cancel``)."""

    error: BaseException | None
    duration: float
    finished: float
    value: Any = None
    cancelled: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**(attempt-1)`` seconds, at most ``cap``, plus up to
    a quarter more of random jitter."""

    base: float = 10.0
    cap: float = 3600.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the attempt after failed attempt number ``attempt``."""
        delay = min(self.cap, self.base * 2.0 ** min(attempt - 1, 64))
        return delay + self.rng.uniform(0, delay / 4)


@dataclass(frozen=True, slots=True)
class Task:
    """A resolved task: the callable and whether it is ``async def``."""

    fn: Callable[..., Any]
    is_async: bool


class TaskRunner:
    """Resolves and runs the tasks of one worker."""

    def __init__(
        self, allow: AllowList, clock: Clock, retry: RetryPolicy, hooks: Hooks | None = None
    ) -> None:
        self.hooks = registry if hooks is None else hooks
        self._allow = allow
        self._clock = clock
        self._retry = retry
        self._tasks: dict[str, Task] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()

    def resolve(self, name: str) -> Task:
        """The task called ``name``; raises TaskNotAllowed or TaskNotFound."""
        task = self._tasks.get(name)
        if task is None:
            fn = self._allow.resolve(name)
            task = Task(fn, inspect.iscoroutinefunction(fn))
            self._tasks[name] = task
        return task

    def allows(self, name: str) -> bool:
        """Whether this worker may run the task ``name`` (nothing is imported)."""
        return name in self._tasks or self._allow.is_allowed(name)

    def run(self, delivery: Delivery, task: Task) -> Outcome:
        """Call the task of a decoded delivery and judge the result (logs start and end)."""
        ended = self.call(delivery, task, Cancellation())
        outcome = self.judge(delivery, ended)
        self.report(outcome, ended)
        return outcome

    def call(self, delivery: Delivery, task: Task, cancellation: Cancellation) -> Ended:
        """Call the task of a decoded delivery (logs its start); how the call ended.
        ``cancellation``: the run's cancel request, which the task may see or be
        cancelled by."""
        job = delivery.job
        assert job is not None
        log.info(
            "job started id=%s task=%s queue=%s attempt=%d",
            job.id,
            job.task,
            job.queue,
            job.attempt,
        )
        clock = self._clock
        started = clock.monotonic()
        token = set_current_job(job, cancellation)
        try:
            if self.hooks.before_run:
                self.hooks.fire("before_run", event_of(job.to_payload()))
            result = task.fn(*job.args, **job.kwargs)
            if result is not None and inspect.isawaitable(result):
                result = self._await(result, job, cancellation)
        except BaseException as exc:
            finished = clock.monotonic()
            return Ended(exc, finished - started, finished, None, cancellation.requested)
        finally:
            reset_current(token)
        finished = clock.monotonic()
        return Ended(None, finished - started, finished, result, cancellation.requested)

    def failed(self, delivery: Delivery, exc: BaseException, duration: float) -> Outcome:
        """The outcome of a run that raised ``exc``: a retry while attempts remain, else dead
        (logged)."""
        ended = Ended(exc, duration, self._clock.monotonic())
        outcome = self.judge(delivery, ended)
        self.report(outcome, ended)
        return outcome

    def judge(self, delivery: Delivery, ended: Ended) -> Outcome:
        """The outcome of a call (nothing is logged): ok, a retry while attempts remain,
        else dead."""
        job = delivery.job
        assert job is not None
        exc, duration, finished = ended.error, ended.duration, ended.finished
        if ended.cancelled:
            return Outcome(delivery, CANCELLED, duration, finished=finished, schedule=job.schedule)
        if exc is None:
            outcome = Outcome(delivery, OK, duration, finished=finished, schedule=job.schedule)
            if job.result_ttl is not None:
                outcome.result, outcome.error = _kept_result(ended.value)
            return outcome
        if isinstance(exc, TaskNotAllowed):
            return Outcome(delivery, DEAD, 0.0, str(exc), None, finished, schedule=job.schedule)
        error = _describe(exc)
        if job.attempt <= job.retries:
            retry_in = self._retry.delay(job.attempt)
            return Outcome(delivery, RETRY, duration, error, None, finished, retry_in, job.schedule)
        trace = _sendable("".join(traceback.format_exception(exc))[-_TRACEBACK_CHARS:])
        return Outcome(delivery, DEAD, duration, error, trace, finished, schedule=job.schedule)

    def report(self, outcome: Outcome, ended: Ended) -> None:
        """Log how a run ended (one line; a final failure with its traceback), then run the
        hooks of its end."""
        self._log(outcome, ended)
        hooks = self.hooks
        if hooks.after_run or hooks.on_failure or hooks.on_dead:
            self._fire_ended(outcome, ended)

    def _fire_ended(self, outcome: Outcome, ended: Ended) -> None:
        job = outcome.delivery.job
        assert job is not None
        event = event_of(
            job.to_payload(),
            duration=outcome.duration,
            error=outcome.error or None,
            exception=ended.error,
            status=outcome.status,
        )
        self.hooks.fire("after_run", event)
        if outcome.status != OK:
            self.hooks.fire("on_failure", event)
        if outcome.status == DEAD:
            self.hooks.fire("on_dead", event)

    def _log(self, outcome: Outcome, ended: Ended) -> None:
        job = outcome.delivery.job
        assert job is not None
        where = (job.id, job.task, job.queue)
        if outcome.status == OK:
            log.info(
                "job succeeded id=%s task=%s queue=%s duration=%.3fs attempt=%d",
                *where,
                outcome.duration,
                job.attempt,
            )
        elif outcome.status == CANCELLED:
            log.warning(
                "job cancelled id=%s task=%s queue=%s duration=%.3fs attempt=%d",
                *where,
                outcome.duration,
                job.attempt,
            )
        elif isinstance(ended.error, TaskNotAllowed):
            log.error("job dead id=%s task=%s queue=%s reason=%r", *where, outcome.error)
        elif outcome.status == RETRY:
            log.warning(
                "job failed id=%s task=%s queue=%s duration=%.3fs attempt=%d retry_in=%.1fs "
                "error=%r",
                *where,
                outcome.duration,
                job.attempt,
                outcome.retry_in,
                outcome.error,
            )
        else:
            log.error(
                "job failed id=%s task=%s queue=%s duration=%.3fs attempt=%d dead=true error=%r",
                *where,
                outcome.duration,
                job.attempt,
                outcome.error,
                exc_info=None if isinstance(ended.error, _SAID_IN_ONE_LINE) else ended.error,
            )

    def late(self, delivery: Delivery, ended: Ended, *, timed_out: bool) -> None:
        """Log a call that ended after its run was settled without it (at its timeout, or
        by a shutdown that stopped waiting for it): what it returned or raised is discarded."""
        job = delivery.job
        assert job is not None
        error = "" if ended.error is None else _describe(ended.error)
        log.warning(
            _LATE[timed_out],
            job.id,
            job.task,
            job.queue,
            ended.duration,
            job.attempt,
            "returned" if ended.error is None else "raised",
            error,
        )

    def close(self) -> None:
        """Stop the event loop thread, if one was started."""
        with self._loop_lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None

    def _await(self, awaitable: Awaitable[Any], job: QueuedJob, cancellation: Cancellation) -> Any:
        coroutine = guarded(awaitable, job, cancellation)
        future = asyncio.run_coroutine_threadsafe(coroutine, self._event_loop())
        cancellation.attach(future)
        return future.result()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_loop, args=(loop,), name="scheduler-asyncio", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop


def rejected(delivery: Delivery, queue: str, error: str) -> Outcome:
    """The outcome of a payload that cannot be decoded: dead at once, with the reason."""
    raw = delivery.raw
    schedule = peek(raw, "schedule")
    log.error("job dead id=%s queue=%s reason=%r", peek(raw, "id"), queue, error)
    return Outcome(delivery, DEAD, error=error, schedule=schedule)


def expired(delivery: Delivery, now: float) -> Outcome:
    """The outcome of a run fetched after its ``expires_at``: dropped."""
    job = delivery.job
    assert job is not None and job.expires_at is not None
    log.warning(
        "job expired id=%s task=%s queue=%s schedule=%s late=%.1fs",
        job.id,
        job.task,
        job.queue,
        job.schedule,
        now - job.expires_at,
    )
    return Outcome(delivery, EXPIRED, schedule=job.schedule)


def settlement_for(
    outcome: Outcome, queue: str, now: float, finished_at: float
) -> Settlement | None:
    """What to write for ``outcome`` (None: a plain acknowledgement is enough)."""
    delivery, job, status = outcome.delivery, outcome.delivery.job, outcome.status
    if status == OK and (job is None or not job.settles):
        return None
    job_id = job.id if job is not None else peek(delivery.raw, "id") or f"bad-{new_job_id()}"
    document, score = "", 0.0
    if status == RETRY:
        assert job is not None and outcome.retry_in is not None
        document = encode(retry_payload(job, outcome.error))
        score = now + outcome.retry_in
    elif status == DEAD:
        base = job.to_payload() if job is not None else _unreadable(delivery, job_id, queue)
        document = encode(dead_record(base, outcome.error, outcome.traceback, now))
        score = now
    action = {OK: "ack", EXPIRED: "ack", CANCELLED: "ack"}.get(status, status)
    schedule = outcome.schedule
    last = _last_outcome(outcome, job, job_id, finished_at) if schedule is not None else None
    final, held = status != RETRY, outcome.held
    end = _job_end(outcome, job, finished_at)
    return Settlement(delivery, job_id, action, document, score, final, schedule, last, held, end)


def _job_end(outcome: Outcome, job: QueuedJob | None, finished_at: float) -> JobEnd | None:
    """What a tracked or unique job's end writes (None for any other job)."""
    if job is None or (job.result_ttl is None and job.unique is None):
        return None
    status = RECORD_STATUS[outcome.status]
    result = outcome.result if outcome.status == OK else ""
    return JobEnd(job.result_ttl, job.unique, status, result, outcome.error, finished_at)


def _last_outcome(
    outcome: Outcome, job: QueuedJob | None, job_id: str, finished_at: float
) -> dict[str, str]:
    fire = job.scheduled_for if job is not None else None
    return {
        "status": "failed" if outcome.status == RETRY else outcome.status,
        "finished_at": f"{finished_at:.3f}",
        "duration": f"{outcome.duration:.3f}",
        "fire": "" if fire is None else str(fire),
        "error": outcome.error[:200],
        "job_id": job_id,
    }


def _unreadable(delivery: Delivery, job_id: str, queue: str) -> dict[str, Any]:
    raw = delivery.raw
    return {"v": None, "id": job_id, "queue": queue, "raw": raw_text(raw), "size": len(raw)}


def _kept_result(value: Any) -> tuple[str, str]:
    """A tracked job's return value as the JSON its record keeps, or why it cannot be."""
    try:
        return _sendable(encode(value, MAX_RESULT_TEXT)), ""
    except PayloadError as exc:
        return "", f"result not kept: {exc}"


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return _sendable(text[:_ERROR_CHARS])


def _sendable(text: str) -> str:
    """``text`` with unpaired surrogates escaped: Redis takes only valid UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()
