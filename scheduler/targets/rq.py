"""RQ as a target: each fire becomes an RQ job that an unmodified ``rq worker`` runs
(docs/targets.md, "RQ").

A fire writes what rq's own ``Queue.enqueue_job`` writes (rq's ``queue.py``): the job hash
``<prefix>:job:<id>`` (``Job.to_dict()``: the pickled call, status, origin, timeout,
result and failure TTLs, retries), the job id at the tail of ``<prefix>:queue:<q>`` and
that queue's key in ``<prefix>:queues``. A fire delayed by jitter is written ``scheduled``
instead, its id in ``<prefix>:scheduled:<q>`` scored by its due time, where the scheduler
of ``rq worker --with-scheduler`` picks it up. A run that expires gets the hash's TTL (rq's
job ``ttl``): a worker skips an id whose hash is gone.

The hash is built once per job by rq's own ``Job`` (so its format follows the installed
rq) and kept; per fire only the id, the timestamps, ``meta`` (the schedule job's name and
the fire time) and the expiry change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis
from rq.job import Job as RqJob
from rq.job import JobStatus, Retry
from rq.queue import Queue as RqQueue
from rq.serializers import resolve_serializer
from rq.utils import utcformat

from ..jobs import new_job_id
from ..schedule.loader import Job

FieldValue = bytes | str | int
PER_FIRE = ("created_at", "enqueued_at", "meta", "ttl", "status")


@dataclass(frozen=True, slots=True)
class RqFire:
    """One fire as RQ keeps it: the job id, the hash fields that change per fire (flat:
    name, value, ...), the hash's TTL in seconds (0: none) and when it is due (0: now)."""

    id: str
    fields: list[FieldValue]
    ttl: int
    due: int


class RqJobs:
    """What the fires of one schedule job write into RQ's keys; built once per job."""

    def __init__(
        self,
        job: Job,
        client: redis.Redis,
        backoff: list[int],
        serializer: str | None = None,
    ) -> None:
        self.job = job
        self._serializer = resolve_serializer(serializer)
        self.fields = _constant_fields(job, client, backoff, self._serializer)
        self._stamps: tuple[float, str] = (-1.0, "")

    def _stamp(self, now: float) -> str:
        """``now`` as rq writes its timestamps (the fires of one tick share it)."""
        if self._stamps[0] != now:
            self._stamps = (now, utcformat(datetime.fromtimestamp(now, timezone.utc)))
        return self._stamps[1]

    def fire(self, at: int, now: float, due: int) -> RqFire:
        """The job for the fire at ``at`` pushed at ``now`` (Redis clock), due at ``due``
        (0: at once, else epoch seconds)."""
        stamp = self._stamp(now)
        meta = self._serializer.dumps({"schedule": self.job.name, "scheduled_for": at})
        fields: list[FieldValue] = ["created_at", stamp, "meta", meta]
        if due:
            fields += ["status", JobStatus.SCHEDULED.value]
        else:
            fields += ["status", JobStatus.QUEUED.value, "enqueued_at", stamp]
        ttl = 0
        if self.job.expires is not None:
            ttl = max(1, math.ceil(at + self.job.expires - now))
            fields += ["ttl", ttl]
        return RqFire(new_job_id(), fields, ttl, due)


def retry_intervals(retries: int, backoff: list[int]) -> list[int]:
    """The wait before each of ``retries`` retries: ``backoff`` as far as it goes, then its
    last value."""
    return [backoff[min(i, len(backoff) - 1)] for i in range(retries)]


def _constant_fields(
    job: Job, client: redis.Redis, backoff: list[int], serializer: Any
) -> list[FieldValue]:
    """The hash fields every fire of ``job`` shares, by rq's own ``Job.to_dict``."""
    template = RqJob.create(
        job.task,
        args=list(job.args),
        kwargs=dict(job.kwargs),
        connection=client,
        timeout=job.timeout or RqQueue.DEFAULT_TIMEOUT,  # as Queue.enqueue_job fills it in
        origin=job.queue,
        description=job.description,
        serializer=serializer,
        status=JobStatus.QUEUED,
    )
    if job.retries > 0:  # as rq's Queue.create_job applies a Retry
        retry = Retry(max=job.retries, interval=retry_intervals(job.retries, backoff))
        template.retries_left, template.retry_intervals = retry.max, retry.intervals
    flat: list[FieldValue] = []
    for name, value in template.to_dict().items():
        if name not in PER_FIRE:
            flat += [name, value]
    return flat
