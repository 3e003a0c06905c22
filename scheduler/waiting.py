"""Jobs that wait: a queue's waiting and delayed jobs, a page at a time, and cancelling one.

The payloads live in the queue's list and delayed set themselves (no index by id), so
finding one job reads them a chunk at a time; the cancel script then removes exactly the
payload seen, or finds it gone (a worker took it) and the cancel becomes a request to the
worker that runs it (docs/api.md#cancel).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from .documents import raw_text, read_seconds
from .errors import PayloadError
from .jobs import MAX_PAYLOAD_BYTES, decode, peek
from .jobstate import FINAL
from .keys import Keys, as_text
from .transport.scripts import Scripts

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


def read_waiting(
    client: redis.Redis, keys: Keys, queue: str, start: int = 0, count: int = 50
) -> tuple[list[WaitingJob], int]:
    """Page ``start``..``start+count`` of ``queue``'s waiting jobs, next to run first, and
    how many wait."""
    with client.pipeline(transaction=False) as pipe:
        pipe.lrange(keys.queue(queue), -start - count, -start - 1)
        pipe.llen(keys.queue(queue))
        payloads, total = pipe.execute()
    return [_entry(raw) for raw in reversed(payloads)], int(total)


def read_delayed(
    client: redis.Redis, keys: Keys, queue: str, start: int = 0, count: int = 50
) -> tuple[list[WaitingJob], int]:
    """Page ``start``..``start+count`` of ``queue``'s delayed jobs and retries, soonest
    first, and how many there are."""
    with client.pipeline(transaction=False) as pipe:
        pipe.zrange(keys.delayed(queue), start, start + count - 1, withscores=True)
        pipe.zcard(keys.delayed(queue))
        pairs, total = pipe.execute()
    return [_entry(raw, float(due)) for raw, due in pairs], int(total)


class Canceller:
    """Cancels jobs of one namespace (``Queue.cancel``, the CLI and the dashboard)."""

    def __init__(self, client: redis.Redis, keys: Keys, scripts: Scripts) -> None:
        self.client = client
        self.keys = keys
        self._scripts = scripts

    def cancel(self, job_id: str, now: float) -> str:
        """Cancel job ``job_id``: CANCELLED (taken off its queue: it will not run),
        REQUESTED (it runs: its worker is asked to stop it), FINISHED (its record says it
        ended) or NOT_FOUND (not waiting, delayed or running)."""
        record = self.client.hmget(self.keys.job(job_id), ["status", "queue"])
        if as_text(record[0] or b"") in FINAL:
            return FINISHED
        queues = [as_text(record[1])] if record[1] else self._queue_names()
        for _ in range(3):  # a worker may take it between our read and the script
            found = self._find(job_id, queues)
            if found is None:
                break
            if self._remove(job_id, *found, now):
                return CANCELLED
        self.client.set(self.keys.cancel(job_id), "1", ex=CANCEL_FLAG_TTL)
        return REQUESTED if self._running(job_id, queues) else NOT_FOUND

    def _queue_names(self) -> list[str]:
        return sorted(as_text(name) for name in self.client.smembers(self.keys.queues()))

    def _find(self, job_id: str, queues: Sequence[str]) -> tuple[str, bytes] | None:
        """(key, payload) of the job's waiting or delayed payload, if any."""
        for queue in queues:
            for key, chunk in self._chunks(queue):
                for raw in chunk:
                    if _is_job(raw, job_id):
                        return key, raw
        return None

    def _chunks(self, queue: str) -> Iterator[tuple[str, list[bytes]]]:
        for key, read in (
            (self.keys.queue(queue), self.client.lrange),
            (self.keys.delayed(queue), self.client.zrange),
        ):
            start = 0
            while chunk := read(key, start, start + SCAN_CHUNK - 1):
                yield (
                    key,
                    [raw if isinstance(raw, bytes) else as_text(raw).encode() for raw in chunk],
                )
                start += SCAN_CHUNK

    def _remove(self, job_id: str, key: str, raw: bytes, now: float) -> bool:
        try:
            job = decode(raw, max_bytes=None)
        except PayloadError:
            job = None
        kept = job.result_ttl if job is not None else None
        unique = job.unique if job is not None else None
        schedule = job.schedule if job is not None else None
        k = self.keys
        keys = [key, k.job(job_id), k.job_done(job_id), k.unique(unique or "")]
        keys += [k.active(schedule or ""), k.held()]
        kind = "delayed" if key.startswith(k.delayed("")) else "list"
        life = "" if kept is None else str(max(kept, CANCEL_RECORD_TTL))
        args: list[Any] = [kind, raw, job_id, life, int(unique is not None)]
        args += [int(schedule is not None), f"{now:.3f}"]
        return bool(self._scripts.run("cancel", keys, args))

    def _running(self, job_id: str, queues: Sequence[str]) -> bool:
        """Whether a registered worker holds the job (running it, or about to)."""
        workers = [as_text(w) for w in self.client.zrange(self.keys.workers(), 0, -1)]
        with self.client.pipeline(transaction=False) as pipe:
            for worker in workers:
                for queue in queues:
                    pipe.lrange(self.keys.worker_jobs(worker, queue), 0, -1)
            held = pipe.execute()
        return any(_is_job(raw, job_id) for payloads in held for raw in payloads)


def _is_job(raw: bytes, job_id: str) -> bool:
    return f'"id":"{job_id}"'.encode() in raw and peek(raw, "id") == job_id


def _entry(raw: bytes, due: float | None = None) -> WaitingJob:
    try:
        job = decode(raw, MAX_PAYLOAD_BYTES)
    except PayloadError as exc:
        return WaitingJob(None, None, None, None, due, f"unreadable: {exc}", raw_text(raw)[:500])
    return WaitingJob(job.id, job.task, job.attempt, read_seconds(job.enqueued_at), due)
