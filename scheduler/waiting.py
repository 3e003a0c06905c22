"""Jobs that wait: a queue's waiting and delayed jobs, a page at a time, and cancelling one.

The payloads live in the queue's list and delayed set themselves (no index by id), so
finding one job reads them a chunk at a time; the cancel script then removes exactly the
payload seen, or finds it gone (a worker took it) and the cancel becomes a request to the
worker that runs it (docs/api.md#cancel).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from .documents import raw_text, read_seconds
from .errors import PayloadError
from .jobs import MAX_PAYLOAD_BYTES, decode, peek
from .jobstate import FINAL
from .keys import Keys, as_text
from .transport.scripts import Scripts
from .transport.steps import Pipe, Script, Steps, cmd, run_steps

SCAN_CHUNK = 1000  # payloads read per round trip when looking for one job
CANCEL_FLAG_TTL = 24 * 3600  # how long a running job's cancel request waits to be seen
CANCEL_RECORD_TTL = 24 * 3600  # how long a cancelled tracked job's record is kept at least

CANCELLED, REQUESTED, FINISHED, NOT_FOUND = "cancelled", "requested", "finished", "not_found"


@dataclass(frozen=True)
class WaitingJob:
    """One waiting or delayed payload as a reader sees it: ``due`` (epoch seconds) for a
    delayed one; ``problem`` says why a payload cannot be read (``raw``: its start)."""

    id: str | None
    task: str | None
    attempt: int | None
    enqueued_at: float | None
    due: float | None = None
    problem: str | None = None
    raw: str = ""


Page = tuple[list[WaitingJob], int]  # a page of jobs, and how many there are in all


def read_waiting(
    client: redis.Redis, keys: Keys, queue: str, start: int = 0, count: int = 50
) -> tuple[list[WaitingJob], int]:
    """Page ``start``..``start+count`` of ``queue``'s waiting jobs, next to run first, and
    how many wait (``waiting_steps``)."""
    return run_steps(waiting_steps(keys, queue, start, count), client)


def waiting_steps(keys: Keys, queue: str, start: int, count: int) -> Steps[Page]:
    """The steps (``transport/steps.py``) that read a page of ``queue``'s waiting jobs."""
    payloads, total = yield Pipe(
        [
            cmd("lrange", keys.queue(queue), -start - count, -start - 1),
            cmd("llen", keys.queue(queue)),
        ]
    )
    return [_entry(raw) for raw in reversed(payloads)], int(total)


def read_delayed(
    client: redis.Redis, keys: Keys, queue: str, start: int = 0, count: int = 50
) -> tuple[list[WaitingJob], int]:
    """Page ``start``..``start+count`` of ``queue``'s delayed jobs and retries, soonest
    first, and how many there are (``delayed_steps``)."""
    return run_steps(delayed_steps(keys, queue, start, count), client)


def delayed_steps(keys: Keys, queue: str, start: int, count: int) -> Steps[Page]:
    """The steps that read a page of ``queue``'s delayed jobs and retries."""
    pairs, total = yield Pipe(
        [
            cmd("zrange", keys.delayed(queue), start, start + count - 1, withscores=True),
            cmd("zcard", keys.delayed(queue)),
        ]
    )
    return [_entry(raw, float(due)) for raw, due in pairs], int(total)


class Canceller:
    """Cancels jobs of one namespace (``Queue.cancel``, the CLI and the dashboard)."""

    def __init__(self, client: redis.Redis, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        self._scripts = scripts

    def cancel(self, job_id: str, now: float) -> str:
        """Cancel job ``job_id`` (``cancel_steps``)."""
        return run_steps(cancel_steps(self.keys, job_id, now), self.client, self._scripts)

    def remove(self, key: str, job_id: str, payloads: Sequence[bytes], now: float) -> bool:
        """Remove exactly ``payloads`` of job ``job_id`` from ``key`` (its queue list or
        delayed set: a waiting retry the dashboard deletes), ending the job as a cancel
        does: its record says ``cancelled``, its unique key and ``overlap: skip`` marker
        free. False if none was there any more."""
        calls = [_removal(self.keys, job_id, key, raw, now) for raw in payloads]
        return any([bool(self._scripts.run(*call)) for call in calls])


def cancel_steps(keys: Keys, job_id: str, now: float) -> Steps[str]:
    """The steps that cancel job ``job_id``: CANCELLED (taken off its queue: it will not
    run), REQUESTED (it runs: its worker is asked to stop it), FINISHED (its record says it
    ended) or NOT_FOUND (not waiting, delayed or running)."""
    (record,) = yield Pipe([cmd("hmget", keys.job(job_id), ["status", "queue"])])
    if as_text(record[0] or b"") in FINAL:
        return FINISHED
    if record[1]:
        queues = [as_text(record[1])]
    else:
        (names,) = yield Pipe([cmd("smembers", keys.queues())])
        queues = sorted(as_text(name) for name in names)
    for _ in range(3):  # a worker may take it between our read and the script
        found = yield from _find(keys, job_id, queues)
        if found is None:
            break
        if (yield Script(*_removal(keys, job_id, *found, now))):
            return CANCELLED
    yield Pipe([cmd("set", keys.cancel(job_id), "1", ex=CANCEL_FLAG_TTL)])
    return REQUESTED if (yield from _running(keys, job_id, queues)) else NOT_FOUND


def _find(keys: Keys, job_id: str, queues: Sequence[str]) -> Steps[tuple[str, bytes] | None]:
    """(key, payload) of the job's waiting or delayed payload, if any."""
    for queue in queues:
        for key, method in ((keys.queue(queue), "lrange"), (keys.delayed(queue), "zrange")):
            start = 0
            while True:
                (chunk,) = yield Pipe([cmd(method, key, start, start + SCAN_CHUNK - 1)])
                if not chunk:
                    break
                for item in chunk:
                    raw = item if isinstance(item, bytes) else as_text(item).encode()
                    if _is_job(raw, job_id):
                        return key, raw
                start += SCAN_CHUNK
    return None


def _removal(
    keys: Keys, job_id: str, key: str, raw: bytes, now: float
) -> tuple[str, list[str], list[Any]]:
    """The cancel script's call (name, keys, arguments) that removes exactly ``raw`` from
    ``key``."""
    try:
        job = decode(raw, max_bytes=None)
    except PayloadError:
        job = None
    kept = job.result_ttl if job is not None else None
    unique = job.unique if job is not None else None
    schedule = job.schedule if job is not None else None
    names = [key, keys.job(job_id), keys.job_done(job_id), keys.unique(unique or "")]
    names += [keys.active(schedule or ""), keys.held()]
    kind = "delayed" if key.startswith(keys.delayed("")) else "list"
    life = "" if kept is None else str(max(kept, CANCEL_RECORD_TTL))
    args: list[Any] = [kind, raw, job_id, life, int(unique is not None)]
    args += [int(schedule is not None), f"{now:.3f}"]
    return "cancel", names, args


def _running(keys: Keys, job_id: str, queues: Sequence[str]) -> Steps[bool]:
    """Whether a registered worker holds the job (running it, or about to)."""
    (members,) = yield Pipe([cmd("zrange", keys.workers(), 0, -1)])
    workers = [as_text(w) for w in members]
    held = yield Pipe(
        [cmd("lrange", keys.worker_jobs(w, q), 0, -1) for w in workers for q in queues]
    )
    return any(_is_job(raw, job_id) for payloads in held for raw in payloads)


def _is_job(raw: bytes, job_id: str) -> bool:
    return f'"id":"{job_id}"'.encode() in raw and peek(raw, "id") == job_id


def _entry(raw: bytes, due: float | None = None) -> WaitingJob:
    try:
        job = decode(raw, MAX_PAYLOAD_BYTES)
    except PayloadError as exc:
        return WaitingJob(None, None, None, None, due, f"unreadable: {exc}", raw_text(raw)[:500])
    return WaitingJob(job.id, job.task, job.attempt, read_seconds(job.enqueued_at), due)
