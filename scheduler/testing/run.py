"""Fires and task runs for an application's tests, without Redis (part of ``scheduler.testing``,
which re-exports every public name here; guide: docs/testing.md).

- ``fires_between``: the fires a schedule produces in a window of time.
- ``allow_list``: what a worker started with ``--schedule`` and ``--allow`` would run.
- ``perform`` / ``perform_fire`` run a task the way a worker would: through the allow-list,
  with ``current_job()`` set, ``async def`` tasks on an event loop of their own.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..clock import SystemClock
from ..enqueue import fire_payload
from ..errors import TaskNotAllowed
from ..jobs import (
    DEFAULT_QUEUE,
    QueuedJob,
    build_payload,
    decode,
    encode,
    guarded,
    reset_current,
    set_current,
)
from ..registry import AllowList, named_tasks
from ..rules.kinds import load_zone
from ..schedule.loader import Job, Schedule, load_schedule
from ..schedule.planner import select_jobs

ScheduleSource = Schedule | str | os.PathLike[str]


# --- the schedule -------------------------------------------------------------------------


@dataclass(frozen=True)
class FireTime:
    """One fire of a schedule job: its name, the instant (aware UTC) and the job's local time."""

    job: str
    at: datetime
    local: datetime


def fires_between(
    schedule: ScheduleSource,
    start: datetime,
    end: datetime,
    jobs: str | Iterable[str] | None = None,
    *,
    include_disabled: bool = False,
    limit: int = 100_000,
) -> list[FireTime]:
    """The fires at or after ``start`` and before ``end`` (aware datetimes), by time then job.

    ``schedule`` is a loaded ``Schedule`` or the path of a file; ``jobs`` names the jobs to
    look at (default: every enabled one; UnknownJob for a name the file lacks). ValueError
    if the window holds more than ``limit`` fires.
    """
    low, high = epoch_seconds(start, "start"), epoch_seconds(end, "end")
    if high < low:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    names = [jobs] if isinstance(jobs, str) else list(jobs or ())
    found: list[FireTime] = []
    for job in select_jobs(_schedule(schedule), names, include_disabled):
        found += _job_fires(job, low, high, limit + 1)
    if len(found) > limit:
        raise ValueError(f"more than {limit} fires in the window: narrow it, or raise limit=")
    return sorted(found, key=lambda fire: (fire.at, fire.job))


def allow_list(*prefixes: str, schedule: ScheduleSource | None = None) -> AllowList:
    """What ``scheduler worker --schedule FILE --allow PREFIX...`` runs: the schedule's tasks,
    tasks under the prefixes and, as always, tasks registered with ``@task``."""
    tasks = () if schedule is None else named_tasks(_schedule(schedule))
    return AllowList(tasks, prefixes)


def _schedule(source: ScheduleSource) -> Schedule:
    return source if isinstance(source, Schedule) else load_schedule(source)


def _job_fires(job: Job, low: float, high: float, most: int) -> list[FireTime]:
    zone = load_zone(job.timezone)
    fires: list[FireTime] = []
    for at in job.rule.fires(math.ceil(low) - 1):
        if at >= high or len(fires) >= most:
            break
        fires.append(FireTime(job.name, utc(at), datetime.fromtimestamp(at, zone)))
    return fires


def epoch_seconds(value: datetime, name: str) -> float:
    """``value`` as epoch seconds; TypeError or ValueError (naming ``name``) unless it is an
    aware datetime."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), not naive")
    return value.timestamp()


def utc(epoch: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, timezone.utc)


# --- running tasks ------------------------------------------------------------------------


def perform(
    task: str,
    /,
    *args: Any,
    queue: str = DEFAULT_QUEUE,
    attempt: int = 1,
    retries: int | None = None,
    timeout: float | None = None,
    job_id: str | None = None,
    schedule: str | None = None,
    scheduled_for: datetime | None = None,
    allow: AllowList | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``task(*args, **kwargs)`` now, as a worker would run that job; return its result.

    The job's arguments make a JSON round trip, the task must pass ``allow`` (default: only
    ``@task``-registered tasks), and ``current_job()`` tells it ``queue``, ``attempt``,
    ``schedule`` and ``scheduled_for`` (aware, whole seconds). Exceptions propagate.
    """
    payload = build_payload(
        task,
        args,
        kwargs,
        queue=queue,
        enqueued_at=SystemClock().now(),
        retries=retries,
        timeout=timeout,
        job_id=job_id,
        schedule=schedule,
        scheduled_for=None if scheduled_for is None else _second(scheduled_for),
    )
    payload["attempt"] = attempt
    return run_job(decode(encode(payload)), AllowList() if allow is None else allow)


def perform_fire(
    schedule: ScheduleSource, job: str, at: datetime, *, allow: AllowList | None = None
) -> Any:
    """Run the job of ``schedule`` named ``job`` for its fire at ``at``, with the payload
    the dispatcher would enqueue (the file's args, kwargs, queue, retries, timeout).

    ``allow`` defaults to ``allow_list(schedule=schedule)``; ValueError if ``at`` is not
    a fire time of the job, or if the job runs on another system (``celery:``...).
    """
    loaded = _schedule(schedule)
    entry = select_jobs(loaded, [job], include_disabled=True)[0]
    if entry.target != "task":
        raise ValueError(
            f"job {job!r} runs on {entry.target} ({entry.task}), not on scheduler's worker: "
            f"test that task with {entry.target}'s own tools"
        )
    instant = _fire_of(entry, at)
    rules = allow_list(schedule=loaded) if allow is None else allow
    return run_job(decode(encode(fire_payload(entry, instant, instant))), rules)


def _second(value: datetime) -> int:
    instant = epoch_seconds(value, "scheduled_for")
    if instant != int(instant):
        raise ValueError("scheduled_for must be a whole second: fire times are whole seconds")
    return int(instant)


def _fire_of(job: Job, at: datetime) -> int:
    instant = epoch_seconds(at, "at")
    second = math.ceil(instant)
    fire = job.rule.next_after(second - 1)
    if fire != instant:
        after = "none" if fire is None else utc(fire).isoformat()
        raise ValueError(
            f"{at.isoformat()} is not a fire time of job '{job.name}' (the next one is {after})"
        )
    return second


def run_job(job: QueuedJob, allow: AllowList) -> Any:
    """Call the job's task (if ``allow`` lets it) with ``current_job()`` set; wait for an
    ``async def`` one."""
    fn = _resolve(allow, job.task)
    token = set_current(job)
    try:
        result = fn(*job.args, **job.kwargs)
    finally:
        reset_current(token)
    if result is not None and inspect.isawaitable(result):
        return _wait(result, job)
    return result


def _resolve(allow: AllowList, name: str) -> Callable[..., Any]:
    try:
        return allow.resolve(name)
    except TaskNotAllowed as exc:
        module = name.partition(":")[0]
        raise TaskNotAllowed(
            f"{exc}; in tests, pass allow=allow_list({module!r}) "
            "or override the scheduler_allow fixture"
        ) from None


def _wait(awaitable: Awaitable[Any], job: QueuedJob) -> Any:
    """Run on a new event loop: here, or on a thread of its own if a loop runs here."""
    coroutine = guarded(awaitable, job)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="scheduler-testing") as pool:
        return pool.submit(asyncio.run, coroutine).result()
