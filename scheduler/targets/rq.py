"""RQ: each fire becomes an RQ job that an unmodified ``rq worker`` runs (docs/targets.md).

A fire writes what rq's own ``Queue.enqueue_job`` writes (rq's ``queue.py``): the job hash
``<prefix>:job:<id>`` (``Job.to_dict()``: the pickled call, status, origin, timeout,
result and failure TTLs, retries), the job id at the tail of ``<prefix>:queue:<q>`` and
that queue's key in ``<prefix>:queues``. A fire delayed by jitter is written ``scheduled``
instead, its id in ``<prefix>:scheduled:<q>`` scored by its due time, where the scheduler
of ``rq worker --with-scheduler`` moves it. A run that expires gets the hash's TTL (rq's
job ``ttl``): a worker skips an id whose hash is gone.

The hash is built once per job by rq's own ``Job`` (so its format follows the installed
rq) and kept; per fire only the id, the time stamps, ``meta`` (the schedule job's name and
the fire time) and the expiry change. Its pickled fields are bytes, sent as they are.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import redis
from rq.job import Job as RqJob
from rq.job import JobStatus, Retry
from rq.queue import Queue as RqQueue
from rq.serializers import resolve_serializer
from rq.utils import import_attribute, utcformat

from ..errors import TargetError
from ..jobs import new_job_id
from ..schedule.loader import Job
from .base import Sender, Target, TargetFire, Write

# The statuses of an RQ job whose run is not over (queued, started, waiting for a retry).
ON = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
PER_FIRE = ("created_at", "enqueued_at", "meta", "ttl", "status")
SERIALIZER = resolve_serializer(None)  # rq's default, the one `rq worker` reads
BACKOFF = (10, 3600)  # our worker's retry waits: 10 s doubling, at most an hour (workers.md)


class RqTarget(Target):
    """RQ workers; file settings ``broker`` and ``prefix`` (rq's key prefix, ``rq``)."""

    key = "rq"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self.prefix = str(settings.get("prefix", "rq"))
        # rq's Job wants a client to be built; it never talks to it here.
        self._client = redis.Redis()
        self._shapes: dict[str, list[Any]] = {}  # jobs alike but for their name share fields

    def sender(self, job: Job) -> Sender:
        """The job's RQ jobs, built by rq (once per distinct shape of job)."""
        shape = json.dumps(
            [
                job.task,
                job.args,
                job.kwargs,
                job.queue,
                job.timeout,
                job.retries,
                job.description,
                sorted(job.options.items()),
            ],
            sort_keys=True,
        )
        shared = self._shapes.get(shape)
        if shared is None:
            shared = self._shapes[shape] = _shared_fields(job, self._client, SERIALIZER)
        return RqSender(job, shared, self.prefix)

    def broker_url(self) -> str | None:
        """``broker`` of the file, else ``RQ_REDIS_URL`` as rq's command line reads it."""
        given = self.settings.get("broker") or os.environ.get("RQ_REDIS_URL")
        return str(given) if given else None

    def missing(self, name: str) -> str | None:
        """Whether ``name`` imports as ``rq worker`` imports a job's function."""
        try:
            import_attribute(name)
        except Exception as error:  # importing runs the module: any error means "cannot"
            return f"rq cannot import {name!r}: {error!r}"
        return None


class RqSender(Sender):
    """One job's RQ job hash, kept, and the writes of each fire."""

    def __init__(self, job: Job, shared: list[Any], prefix: str) -> None:
        self.job = job
        self._shared = shared
        self._queue_key = f"{prefix}:queue:{job.queue}"
        self._queues_key = f"{prefix}:queues"
        self._scheduled_key = f"{prefix}:scheduled:{job.queue}"
        self._job_prefix = f"{prefix}:job:"
        self._stamps: tuple[float, str] = (-1.0, "")

    def fire(self, at: int | None, now: float, delay: int = 0, by_hand: bool = False) -> TargetFire:
        """The writes of the fire at ``at`` (None: by hand) made at ``now``."""
        job_id = new_job_id()
        key = self._job_prefix + job_id
        stamp = self._stamp(now)
        meta = SERIALIZER.dumps({"schedule": self.job.name, "scheduled_for": at})
        fields: Write = ["HSET", key, *self._shared, "created_at", stamp, "meta", meta]
        if delay and at is not None:
            fields += ["status", JobStatus.SCHEDULED.value]
            last = ["ZADD", self._scheduled_key, str(at + delay), job_id]
        else:
            fields += ["status", JobStatus.QUEUED.value, "enqueued_at", stamp]
            last = ["RPUSH", self._queue_key, job_id]
        writes = [fields]
        if self.job.expires is not None:
            due = now if at is None or by_hand else at
            ttl = str(max(1, math.ceil(due + self.job.expires - now)))
            fields += ["ttl", ttl]
            writes.append(["EXPIRE", key, ttl])
        writes += [["SADD", self._queues_key, self._queue_key], last]
        return TargetFire(job_id, writes)

    def keys(self) -> list[str]:
        """The queue lists and registries the job's fires touch (job hashes aside)."""
        return [self._queue_key, self._queues_key, self._scheduled_key]

    def probe(self) -> list[str]:
        """The job hash's status shows the run: queued, started, scheduled or deferred."""
        return ["status", self._job_prefix, *(status.value for status in ON)]

    def _stamp(self, now: float) -> str:
        """``now`` as rq writes its time stamps (the fires of one tick share it)."""
        if self._stamps[0] != now:
            self._stamps = (now, utcformat(datetime.fromtimestamp(now, timezone.utc)))
        return self._stamps[1]


def retry_waits(retries: int) -> list[int]:
    """The wait before each retry, as our own worker's backoff without its random part."""
    base, cap = BACKOFF
    return [min(cap, base * 2**i) for i in range(retries)]


def _shared_fields(job: Job, client: redis.Redis, serializer: Any) -> list[Any]:
    """The hash fields every fire of ``job`` shares, by rq's own ``Job.to_dict``."""
    try:
        template = RqJob.create(
            job.task,
            args=list(job.args),
            kwargs=dict(job.kwargs),
            connection=client,
            timeout=job.timeout or RqQueue.DEFAULT_TIMEOUT,  # as Queue.enqueue_job fills it in
            result_ttl=job.options.get("result_ttl"),
            failure_ttl=job.options.get("failure_ttl"),
            origin=job.queue,
            description=job.description,
            serializer=serializer,
            status=JobStatus.QUEUED,
        )
    except Exception as error:  # rq's own refusal, whatever its class
        raise TargetError(f"job {job.name!r}: rq cannot build its job: {error}") from None
    if job.retries > 0:  # as rq's Queue.create_job applies a Retry
        retry = Retry(max=job.retries, interval=retry_waits(job.retries))
        template.retries_left, template.retry_intervals = retry.max, retry.intervals
    flat: list[Any] = []
    for name, value in template.to_dict().items():
        if name not in PER_FIRE:
            flat += [name, value if isinstance(value, bytes) else str(value)]
    return flat
