"""What became of one job: its status (``Queue.job``), its result (``Queue.result``).

A tracked job (enqueued with ``result_ttl``) has a record, ``{ns}:job:<id>``, that the
enqueue, the worker and the settle and cancel scripts keep; any other job is known only
while it is dead (the dead set). Records come from Redis, where anyone may have written
anything: a field that cannot be read is shown as unreadable, never raised
(docs/api.md#job-status).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from .deadset import decode_dead
from .documents import load, read_seconds
from .errors import PayloadError, ResultTimeout, ResultUnavailable
from .keys import Keys, as_text
from .transport.steps import Pipe, Steps, cmd, run_steps, socket_limit

STATUSES = (
    "queued",
    "scheduled",
    "running",
    "succeeded",
    "failed",
    "dead",
    "cancelled",
    "expired",
    "unknown",
)
FINAL = frozenset({"succeeded", "dead", "cancelled", "expired"})
MAX_RESULT_BYTES = 1024 * 1024  # a stored return value longer than this is not read


@dataclass(frozen=True)
class JobInfo:
    """A job's status: ``queued``, ``scheduled`` (delayed), ``running``, ``succeeded``,
    ``failed`` (will retry), ``dead``, ``cancelled``, ``expired`` or ``unknown`` (no
    record: enqueued without ``result_ttl`` and not dead, or its record expired).

    Times are epoch seconds; ``result`` is the JSON return value when ``has_result``;
    ``cancel_requested``: ``Queue.cancel`` asked its worker to stop it; ``problem``: what
    in its record could not be read."""

    id: str
    status: str
    task: str | None = None
    queue: str | None = None
    attempt: int | None = None
    enqueued_at: float | None = None
    due: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    result: Any = None
    has_result: bool = False
    cancel_requested: bool = False
    problem: str | None = None

    @property
    def over(self) -> bool:
        """Whether the job has ended for good."""
        return self.status in FINAL

    def to_dict(self) -> dict[str, Any]:
        """The status as a JSON object (``scheduler job --json``, the dashboard)."""
        return asdict(self)


def read_job(client: redis.Redis, keys: Keys, job_id: str) -> JobInfo:
    """Job ``job_id``'s status, in one round trip."""
    return run_steps(job_steps(keys, job_id), client)


def job_steps(keys: Keys, job_id: str) -> Steps[JobInfo]:
    """The steps (``transport/steps.py``) that read job ``job_id``'s status: one round
    trip."""
    record, dead, died, flagged = yield Pipe(
        [
            cmd("hgetall", keys.job(job_id)),
            cmd("hget", keys.dead_jobs(), job_id),
            cmd("zscore", keys.dead(), job_id),
            cmd("exists", keys.cancel(job_id)),
        ]
    )
    if record:
        return _from_record(job_id, record, bool(flagged))
    if dead is not None:
        entry = decode_dead(job_id, dead, read_seconds(died))
        return JobInfo(
            job_id,
            "dead",
            entry.task,
            entry.queue,
            _number(entry.record.get("attempt")),
            read_seconds(entry.record.get("enqueued_at")),
            finished_at=entry.failed_at or None,
            error=entry.error,
            problem=entry.record.get("unreadable"),
        )
    return JobInfo(job_id, "unknown", cancel_requested=bool(flagged))


def wait_result(client: redis.Redis, keys: Keys, job_id: str, timeout: float | None) -> Any:
    """The return value of tracked job ``job_id``, once it has ended (``result_steps``)."""
    steps = result_steps(keys, job_id, timeout, socket_limit(client))
    return run_steps(steps, client)


def result_steps(keys: Keys, job_id: str, timeout: float | None, limit: float | None) -> Steps[Any]:
    """The steps that give the return value of tracked job ``job_id``, once it has ended;
    they block (BLMOVE on its done list, no polling) up to ``timeout`` seconds (None: for
    ever), in waits shorter than ``limit``, the client's socket timeout. Raise
    ResultTimeout, or ResultUnavailable if it ended without one or is not tracked."""
    info = yield from job_steps(keys, job_id)
    if not info.over and info.status != "unknown":
        if not (yield from _done_steps(keys.job_done(job_id), timeout, limit)):
            raise ResultTimeout(f"job {job_id} has not ended within {timeout}s")
        info = yield from job_steps(keys, job_id)
    if info.status == "succeeded" and info.has_result:
        return info.result
    raise ResultUnavailable(job_id, info.status, info.error or info.problem)


def _done_steps(done: str, timeout: float | None, limit: float | None) -> Steps[bool]:
    """Block until ``done`` holds its token (True) or ``timeout`` seconds pass (False).

    BLMOVE rotates the one token in place, so every waiter sees it. A client with a
    socket timeout (``limit``) would give up on a longer block: the wait is then cut in
    slices shorter than it, each still a blocking wait in Redis."""
    piece = max(0.1, limit * 0.8) if limit else None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        wait: Any = min(x for x in (left, piece) if x is not None) if (left or piece) else 0
        (moved,) = yield Pipe([cmd("blmove", done, done, wait, "RIGHT", "LEFT")])
        if moved is not None:
            return True


def _from_record(job_id: str, record: dict[Any, Any], flagged: bool) -> JobInfo:
    fields = {as_text(k): v for k, v in record.items()}
    status = as_text(fields.get("status", b""))
    problems = [] if status in STATUSES else [f"status {status[:40]!r} is not one we write"]
    result, has_result = None, "result" in fields
    if has_result:
        try:
            result = load(fields["result"], MAX_RESULT_BYTES, "result")
        except PayloadError as exc:
            problems.append(str(exc))
            has_result = False
    error = as_text(fields["error"]) if fields.get("error") else None
    return JobInfo(
        job_id,
        status if status in STATUSES else "unknown",
        _text(fields.get("task")),
        _text(fields.get("queue")),
        _number(fields.get("attempt")),
        read_seconds(fields.get("enqueued_at")),
        read_seconds(fields.get("due")),
        read_seconds(fields.get("started_at")),
        read_seconds(fields.get("finished_at")),
        error,
        result,
        has_result,
        flagged,
        "; ".join(problems) or None,
    )


def _text(value: object) -> str | None:
    return None if value is None else as_text(value)


def _number(value: object) -> int | None:
    seconds = read_seconds(value)
    return None if seconds is None or seconds != int(seconds) else int(seconds)
