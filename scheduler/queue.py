"""The application's side of the job queue: enqueue jobs, read queue depths and the dead set.

>>> q = Queue.from_url("redis://localhost:6379/0", namespace="scheduler")
>>> q.enqueue("myapp.jobs:send_welcome", 42, queue="mailers")
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis

from .clock import Clock, RedisClock
from .documents import load_object, raw_text, read_seconds
from .errors import PayloadError
from .jobs import (
    DEFAULT_QUEUE,
    MAX_PAYLOAD_BYTES,
    build_payload,
    check_queue_name,
    decode,
    encode,
    run_at,
)
from .keys import Keys, as_text
from .scripts import Scripts

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_NAMESPACE = "scheduler"


def redis_from_url(url: str | None = None, **options: Any) -> redis.Redis:
    """A client for ``url`` (default ``$SCHEDULER_REDIS_URL``, else localhost)."""
    url = url or os.environ.get("SCHEDULER_REDIS_URL") or DEFAULT_REDIS_URL
    options.setdefault("health_check_interval", 30)
    return redis.Redis.from_url(url, **options)


@dataclass(frozen=True)
class DeadJob:
    """One entry of the dead set: the job's payload with why and when it died."""

    id: str
    failed_at: float
    error: str
    record: dict[str, Any]


class Queue:
    """Enqueue jobs into a namespace of one Redis, and inspect its queues."""

    def __init__(
        self,
        client: redis.Redis,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self.client = client
        self.keys = Keys(namespace)
        self.clock: Clock = clock or RedisClock(client)
        self.max_payload_bytes = max_payload_bytes
        self._scripts = Scripts(client)

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        namespace: str | None = None,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> Queue:
        """A Queue on ``url`` (default ``$SCHEDULER_REDIS_URL``, else localhost:6379/0) in
        ``namespace`` (default ``$SCHEDULER_NAMESPACE``, else ``scheduler``)."""
        namespace = namespace or os.environ.get("SCHEDULER_NAMESPACE") or DEFAULT_NAMESPACE
        return cls(redis_from_url(url), namespace, max_payload_bytes=max_payload_bytes)

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
        **kwargs: Any,
    ) -> str:
        """Put a job for ``task(*args, **kwargs)`` on ``queue``; return its job id.

        ``delay`` (seconds) or ``at`` (an aware datetime) make it wait in Redis until then.
        ``retries`` (default 3) failures are retried with backoff; ``timeout`` is in
        seconds. Raises PayloadError for an invalid argument, or a payload larger than
        ``max_payload_bytes`` or nested too deep for a worker to read (nothing is enqueued).
        """
        new_id, keys, argv = self._prepare(
            task, args, kwargs, queue=queue, delay=delay, at=at, retries=retries,
            timeout=timeout, job_id=job_id,
        )  # fmt: skip
        self._scripts.run("enqueue", keys, argv)
        return new_id

    @contextmanager
    def batch(self) -> Iterator[EnqueueBatch]:
        """Collect enqueues and send them in one round trip when the block ends.

        ``with q.batch() as b: b.enqueue(...)`` takes the arguments of ``enqueue``; no job
        is sent if the block raises.
        """
        batch = EnqueueBatch(self)
        yield batch
        batch.send()

    def depth(self, queue: str = DEFAULT_QUEUE) -> int:
        """How many jobs wait in ``queue`` (not counting delayed ones)."""
        return int(self.client.llen(self.keys.queue(check_queue_name(queue))))

    def delayed_count(self, queue: str = DEFAULT_QUEUE) -> int:
        """How many delayed jobs and retries wait for their time in ``queue``."""
        return int(self.client.zcard(self.keys.delayed(check_queue_name(queue))))

    def queues(self) -> dict[str, int]:
        """Depth of every known queue, by name."""
        names = sorted(as_text(n) for n in self.client.smembers(self.keys.queues()))
        with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(self.keys.queue(name))
            return dict(zip(names, (int(d) for d in pipe.execute()), strict=True))

    def dead(self, limit: int = 50) -> list[DeadJob]:
        """The newest ``limit`` entries of the dead set, newest first (one that cannot be
        read has an ``error`` saying so; see ``read_dead_job``)."""
        entries = self.client.zrevrange(self.keys.dead(), 0, limit - 1, withscores=True)
        died = {as_text(member): float(score) for member, score in cast(Any, entries)}
        ids = list(died)
        records = self.client.hmget(self.keys.dead_jobs(), ids) if ids else []
        return [
            read_dead_job(job_id, raw, died[job_id])
            for job_id, raw in zip(ids, records, strict=True)
            if raw is not None
        ]

    def dead_count(self) -> int:
        """How many jobs the dead set holds."""
        return int(self.client.zcard(self.keys.dead()))

    def retry_dead(self, job_id: str) -> bool:
        """Enqueue a dead job again as a fresh first attempt; False if it is not dead.

        Raises PayloadError if its payload cannot be read (it stays in the dead set)."""
        raw = self.client.hget(self.keys.dead_jobs(), job_id)
        if raw is None:
            return False
        payload = _fresh_payload(job_id, raw, self.clock.now())
        return bool(self._scripts.run("retry_dead", *self._retry_call(job_id, payload)))

    def retry_dead_many(self, job_ids: Sequence[str], chunk: int = 500) -> tuple[int, int]:
        """Enqueue dead jobs again, ``chunk`` to a round trip: (how many went, how many had
        no readable payload and stayed). Ids no longer dead are skipped."""
        sent = unreadable = 0
        for start in range(0, len(job_ids), chunk):
            ids = list(job_ids[start : start + chunk])
            records = self.client.hmget(self.keys.dead_jobs(), ids)
            now = self.clock.now()
            with self.client.pipeline(transaction=False) as pipe:
                for job_id, raw in zip(ids, records, strict=True):
                    if raw is None:
                        continue
                    try:
                        payload = _fresh_payload(job_id, raw, now)
                    except PayloadError:
                        unreadable += 1
                        continue
                    self._scripts.run_on(pipe, "retry_dead", *self._retry_call(job_id, payload))
                sent += sum(int(done) for done in pipe.execute())
        return sent, unreadable

    def _retry_call(self, job_id: str, payload: dict[str, Any]) -> tuple[list[str], list[str]]:
        q = payload["queue"]
        keys = [self.keys.dead(), self.keys.dead_jobs(), self.keys.queue(q), self.keys.wake(q)]
        keys.append(self.keys.queues())
        return keys, [job_id, encode(payload), q]

    def _prepare(
        self,
        task: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        queue: str,
        delay: float | None,
        at: datetime | None,
        retries: int | None,
        timeout: float | None,
        job_id: str | None,
    ) -> tuple[str, list[str], list[str]]:
        now = self.clock.now()
        due = run_at(now, delay, at)
        payload = build_payload(
            task, args, kwargs, queue=queue, enqueued_at=now, retries=retries,
            timeout=timeout, job_id=job_id,
        )  # fmt: skip
        k = self.keys
        keys = [k.queue(queue), k.wake(queue), k.delayed(queue), k.queues()]
        when = "" if due is None or due <= now else f"{due:.3f}"
        return payload["id"], keys, [encode(payload, self.max_payload_bytes), queue, when]


class EnqueueBatch:
    """Enqueues collected by ``Queue.batch()``, sent together in one round trip."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._pending: list[tuple[list[str], list[str]]] = []

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
        **kwargs: Any,
    ) -> str:
        """Like ``Queue.enqueue``; the job is sent when the batch ends."""
        new_id, keys, argv = self._queue._prepare(
            task, args, kwargs, queue=queue, delay=delay, at=at, retries=retries,
            timeout=timeout, job_id=job_id,
        )  # fmt: skip
        self._pending.append((keys, argv))
        return new_id

    def send(self) -> None:
        """Send the collected jobs (one round trip) and start a new batch."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._queue._scripts.run_many("enqueue", pending)


def read_dead_job(job_id: str, raw: bytes | str, died: float = 0.0) -> DeadJob:
    """The dead job of a dead-set record (``died``: its score, the time of death). A record
    that cannot be read (written straight into Redis) gives ``error`` "unreadable: <why>"
    and a ``record`` of ``id``, ``unreadable`` (why) and ``raw`` (its start)."""
    try:
        record = load_object(raw, "dead record")
    except PayloadError as exc:
        record = {"id": job_id, "unreadable": str(exc), "raw": raw_text(raw)}
        return DeadJob(job_id, died, f"unreadable: {exc}", record)
    failed_at = read_seconds(record.get("failed_at"))
    return DeadJob(
        job_id, died if failed_at is None else failed_at, str(record.get("error", "")), record
    )


def _fresh_payload(job_id: str, raw: bytes | str, now: float) -> dict[str, Any]:
    """The payload that enqueues a dead job again; PayloadError if there is none to read."""
    record = read_dead_job(job_id, raw).record
    if "raw" in record:
        raise PayloadError(f"dead job {job_id} has no readable payload to retry")
    payload = {k: v for k, v in record.items() if k not in {"error", "traceback", "failed_at"}}
    payload.update(attempt=1, enqueued_at=round(now, 3))
    try:
        decode(encode(payload), max_bytes=None)
    except PayloadError as exc:
        raise PayloadError(f"dead job {job_id} cannot be retried: {exc}") from None
    return payload
