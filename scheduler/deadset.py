"""Reading the dead set: one decoder for its entries, filters, and id prefixes.

Every reader (``Queue.dead``, the CLI's ``dead`` commands, the dashboard) decodes entries
with ``decode_dead``, so they agree on what a missing field means. Filtering happens here
in Python over the whole set, a chunk at a time: the set is bounded (the newest
``dead_cap`` entries, 10,000 by default), so a filtered listing reads at most that many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from .documents import load_object, raw_text, read_seconds
from .enqueue import RECORD_HOLD
from .errors import PayloadError, UnknownJob
from .jobs import decode, encode
from .keys import Keys, as_text
from .transport.scripts import Arg
from .transport.steps import Pipe, ScriptCalls, Steps, cmd, run_steps

DEAD_CHUNK = 500  # entries read per round trip when a filter must look at all of them


@dataclass(frozen=True)
class DeadJob:
    """One entry of the dead set: the job's payload with why and when it died."""

    id: str
    failed_at: float
    error: str
    record: dict[str, Any]

    @property
    def task(self) -> str | None:
        """The task it ran (None for a payload that could not be read)."""
        return _text_field(self.record, "task")

    @property
    def queue(self) -> str | None:
        """The queue it came from."""
        return _text_field(self.record, "queue")

    @property
    def schedule(self) -> str | None:
        """The schedule job that fired it (None for a job the application enqueued)."""
        return _text_field(self.record, "schedule")


@dataclass(frozen=True)
class DeadFilter:
    """Which dead jobs to list: every field that is set must match; unset ones match all.

    ``task``: a substring of the task name; ``queue`` and ``job`` (the schedule job):
    exact names; ``error``: a substring of the error line, ignoring case."""

    task: str | None = None
    queue: str | None = None
    job: str | None = None
    error: str | None = None

    def __bool__(self) -> bool:
        return any((self.task, self.queue, self.job, self.error))

    def matches(self, dead: DeadJob) -> bool:
        """Whether ``dead`` passes every field that is set."""
        return (
            (not self.task or self.task in (dead.task or ""))
            and (not self.queue or self.queue == dead.queue)
            and (not self.job or self.job == dead.schedule)
            and (not self.error or self.error.casefold() in dead.error.casefold())
        )


def decode_dead(job_id: str, raw: bytes | str, failed_at: float | None = None) -> DeadJob:
    """A dead-set entry from its stored JSON. ``failed_at`` (the dead set's score) wins
    over the record's own; a missing error is "". A record that cannot be read (written
    straight into Redis) has the error "unreadable: <why>" and a ``record`` of ``id``,
    ``unreadable`` (why) and ``raw`` (its start)."""
    try:
        record = load_object(raw, "dead record")
    except PayloadError as exc:
        record = {"id": job_id, "unreadable": str(exc), "raw": raw_text(raw)}
        return DeadJob(job_id, failed_at or 0.0, f"unreadable: {exc}", record)
    if failed_at is None:
        failed_at = read_seconds(record.get("failed_at")) or 0.0
    error = record.get("error")
    return DeadJob(job_id, failed_at, "" if error is None else str(error), record)


def read_dead(
    client: redis.Redis, keys: Keys, start: int, count: int, where: DeadFilter | None = None
) -> tuple[list[DeadJob], int]:
    """Entries ``start`` to ``start + count`` (newest first) of the dead set, or of those
    of its entries that match ``where``, and how many there are in all (``dead_steps``)."""
    return run_steps(dead_steps(keys, start, count, where), client)


def dead_steps(
    keys: Keys, start: int, count: int, where: DeadFilter | None = None
) -> Steps[tuple[list[DeadJob], int]]:
    """The steps (``transport/steps.py``) that read entries ``start`` to ``start + count``
    of the dead set (or of its entries that match ``where``) and how many there are."""
    if not where:
        total, entries = yield Pipe(
            [
                cmd("zcard", keys.dead()),
                cmd("zrevrange", keys.dead(), start, start + count - 1, withscores=True),
            ]
        )
        return (yield from _entries(keys, entries)), int(total)
    found: list[DeadJob] = []
    matched = offset = 0
    while True:
        (entries,) = yield Pipe(
            [cmd("zrevrange", keys.dead(), offset, offset + DEAD_CHUNK - 1, withscores=True)]
        )
        for dead in (yield from _entries(keys, entries)):
            if where.matches(dead):
                if start <= matched < start + count:
                    found.append(dead)
                matched += 1
        if len(entries) < DEAD_CHUNK:
            return found, matched
        offset += DEAD_CHUNK


def retry_dead_steps(
    keys: Keys, job_ids: Sequence[str], now: float, chunk: int = 500, strict: bool = False
) -> Steps[tuple[int, int]]:
    """The steps that enqueue the dead jobs ``job_ids`` again, each as a fresh first
    attempt, ``chunk`` to a round trip: (how many went, how many had no readable payload
    and stayed). Ids no longer dead are skipped. ``strict``: an unreadable payload raises
    PayloadError saying why, instead of being counted."""
    sent = unreadable = 0
    for first in range(0, len(job_ids), chunk):
        ids = list(job_ids[first : first + chunk])
        (records,) = yield Pipe([cmd("hmget", keys.dead_jobs(), ids)])
        calls = []
        for job_id, raw in zip(ids, records, strict=True):
            if raw is None:
                continue
            try:
                calls.append(_retry_call(keys, job_id, fresh_payload(job_id, raw, now)))
            except PayloadError:
                if strict:
                    raise
                unreadable += 1
        if calls:
            sent += sum(int(done) for done in (yield ScriptCalls("retry_dead", calls)))
    return sent, unreadable


def read_one(client: redis.Redis, keys: Keys, job_id: str) -> DeadJob | None:
    """The dead job ``job_id`` (its full id), or None."""
    raw = client.hget(keys.dead_jobs(), job_id)
    return None if raw is None else decode_dead(job_id, raw)


def resolve_ids(client: redis.Redis, keys: Keys, given: list[str]) -> list[str]:
    """Each of ``given`` as a full id of the dead set: itself if it is one, else the one id
    it is a prefix of (as git takes commits). UnknownJob for a prefix of several ids; one
    that is neither comes back as given (it may have been retried or purged meanwhile)."""
    pipe = client.pipeline(transaction=False)
    for job_id in given:
        pipe.hexists(keys.dead_jobs(), job_id)
    exists = pipe.execute()
    if all(exists):
        return list(given)
    every = [as_text(i) for i in client.zrange(keys.dead(), 0, -1)]
    return [
        job_id if found else _by_prefix(every, job_id)
        for job_id, found in zip(given, exists, strict=True)
    ]


def _by_prefix(every: list[str], prefix: str) -> str:
    matches = [job_id for job_id in every if job_id.startswith(prefix)]
    if len(matches) > 1:
        raise UnknownJob(
            f"dead job id {prefix!r} is ambiguous: {len(matches)} dead jobs start with it "
            "(give more characters)"
        )
    return matches[0] if matches else prefix


def _entries(keys: Keys, entries: Any) -> Steps[list[DeadJob]]:
    ids = [as_text(job_id) for job_id, _ in entries]
    if not ids:
        return []
    (records,) = yield Pipe([cmd("hmget", keys.dead_jobs(), ids)])
    return [
        decode_dead(job_id, raw, score)
        for job_id, (_, score), raw in zip(ids, entries, records, strict=True)
        if raw is not None
    ]


def fresh_payload(job_id: str, raw: bytes | str, now: float) -> dict[str, Any]:
    """The payload that enqueues a dead job again; PayloadError if there is none to read."""
    record = decode_dead(job_id, raw).record
    if "raw" in record:
        raise PayloadError(f"dead job {job_id} has no readable payload to retry")
    payload = {k: v for k, v in record.items() if k not in {"error", "traceback", "failed_at"}}
    payload.update(attempt=1, enqueued_at=round(now, 3))
    try:
        decode(encode(payload), max_bytes=None)
    except PayloadError as exc:
        raise PayloadError(f"dead job {job_id} cannot be retried: {exc}") from None
    return payload


def _retry_call(keys: Keys, job_id: str, payload: dict[str, Any]) -> tuple[list[str], list[Arg]]:
    """The retry_dead script's keys and arguments (a tracked job's record too)."""
    q = payload["queue"]
    names = [keys.dead(), keys.dead_jobs(), keys.queue(q), keys.wake(q), keys.queues()]
    args: list[Arg] = [job_id, encode(payload), q]
    if payload.get("result_ttl") is not None:
        names += [keys.job(job_id), keys.job_done(job_id)]
        args += [RECORD_HOLD, payload["enqueued_at"], payload["task"]]
    return names, args


def _text_field(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value is None else str(value)
