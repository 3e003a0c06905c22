"""The application's side of the job queue: enqueue jobs, read queue depths and the dead set
(whose entries ``scheduler.deadset`` reads).

>>> with Queue.from_url("redis://localhost:6379/0", namespace="scheduler") as q:
...     q.enqueue("myapp.jobs:send_welcome", 42, queue="mailers")
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import Pipeline

from .clock import Clock, RedisClock
from .deadset import DeadFilter, DeadJob, read_dead, retry_dead_steps
from .documents import read_object, read_seconds
from .enqueue import CollectedJobs, Enqueuer, NewJob, held_by, script_call
from .hooks import Hooks
from .jobs import DEFAULT_QUEUE, MAX_PAYLOAD_BYTES, check_queue_name
from .jobstate import JobInfo, read_job, wait_result
from .keys import Keys, as_text
from .transport.durability import Durability
from .transport.scripts import Scripts
from .transport.steps import run_steps
from .transport.urls import client_from_url
from .waiting import Canceller, WaitingJob, read_delayed, read_waiting

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_NAMESPACE = "scheduler"


def redis_url_or_default(url: str | None) -> str:
    """``url``, else ``$SCHEDULER_REDIS_URL``, else localhost."""
    return url or os.environ.get("SCHEDULER_REDIS_URL") or DEFAULT_REDIS_URL


def namespace_or_default(namespace: str | None) -> str:
    """``namespace``, else ``$SCHEDULER_NAMESPACE``, else ``scheduler``."""
    return namespace or os.environ.get("SCHEDULER_NAMESPACE") or DEFAULT_NAMESPACE


def redis_from_url(url: str | None = None, **options: Any) -> redis.Redis:
    """A client for ``url`` (default ``$SCHEDULER_REDIS_URL``, else localhost): one server,
    Sentinel or Cluster (``scheduler.transport.urls``)."""
    options.setdefault("health_check_interval", 30)
    return client_from_url(redis_url_or_default(url), **options)


@dataclass(frozen=True)
class QueueRow:
    """One queue at a glance: jobs waiting, the age of the oldest (None: empty, or not
    read), delayed jobs and retries, and jobs held by workers (running or fetched ahead)."""

    name: str
    depth: int
    oldest_age: float | None
    delayed: int
    in_progress: int
    paused: bool = False


@dataclass(frozen=True)
class QueueReadout:
    """The one way queue depths are read: for each of ``names``, LLEN of the queue and
    ZCARD of its delayed set and, unless ``workers`` is None, its oldest job (LINDEX) and
    the jobs each of ``workers`` holds from it.

    ``send`` puts the commands on a pipeline, so a caller can read more in the same round
    trip; ``read`` takes the replies, in order, from that pipeline's results.
    """

    keys: Keys
    names: Sequence[str]
    workers: Sequence[str] | None = None

    def send(self, pipe: Pipeline) -> None:
        """Add the reads to ``pipe``."""
        k = self.keys
        for name in self.names:
            pipe.llen(k.queue(name))
            pipe.zcard(k.delayed(name))
            pipe.sismember(k.paused_queues(), name)
            if self.workers is not None:
                pipe.lindex(k.queue(name), -1)
                for worker in self.workers:
                    pipe.llen(k.worker_jobs(worker, name))

    def read(
        self, replies: Iterator[Any], now: float = 0.0
    ) -> tuple[list[QueueRow], dict[str, int]]:
        """The rows, by name, from the replies to ``send`` (``now`` dates the oldest jobs,
        read only with ``workers``); and the jobs each worker holds, over every queue."""
        workers = self.workers or ()
        rows, held = [], dict.fromkeys(workers, 0)
        for name in self.names:
            depth, delayed = int(next(replies)), int(next(replies))
            paused = bool(next(replies))
            age = _oldest_age(next(replies), now) if self.workers is not None else None
            counts = [int(next(replies)) for _ in workers]
            for worker, count in zip(workers, counts, strict=True):
                held[worker] += count
            rows.append(QueueRow(name, depth, age, delayed, sum(counts), paused))
        return rows, held

    def fetch(self, client: redis.Redis, now: float = 0.0) -> tuple[list[QueueRow], dict[str, int]]:
        """``send`` and ``read`` in a pipeline of their own: one round trip."""
        with client.pipeline(transaction=False) as pipe:
            self.send(pipe)
            return self.read(iter(pipe.execute()), now)


def read_queues(client: redis.Redis, keys: Keys, now: float | None = None) -> list[QueueRow]:
    """Every known or paused queue, by name. Given ``now``, each row also has the age of
    its oldest job and the jobs the registered workers hold from it (``scheduler queues``)."""
    with client.pipeline(transaction=False) as pipe:
        pipe.smembers(keys.queues())  # SUNION is refused in a cluster's pipeline
        pipe.smembers(keys.paused_queues())
        if now is not None:
            pipe.zrange(keys.workers(), 0, -1)
        names, paused, *workers = pipe.execute()
    held_by = [as_text(w) for w in workers[0]] if workers else None
    readout = QueueReadout(keys, sorted({as_text(n) for n in names | paused}), held_by)
    return readout.fetch(client, now or 0.0)[0]


class Queue(Enqueuer):
    """Enqueue jobs into a namespace of one Redis, and inspect its queues.

    ``enqueue(task, *args, queue=, delay=, at=, retries=, timeout=, job_id=, unique_for=,
    key=, result_ttl=, timeout_hard=, **kwargs)`` puts a job on a queue and returns its id
    (see ``Enqueuer.enqueue``); ``task`` is a ``@task``, a module-level function or its
    ``"package.module:name"``. With ``durability="replicated"`` each enqueue (each batch)
    then waits until a replica has it, and goes on unconfirmed if none does in time
    (``transport.durability``).
    """

    def __init__(
        self,
        client: redis.Redis,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        durability: str | Durability = "local",
        hooks: Hooks | None = None,
    ) -> None:
        self.client = client
        self.keys = Keys(namespace)
        self.clock: Clock = clock or RedisClock(client)
        self.max_payload_bytes = max_payload_bytes
        if isinstance(durability, str):
            durability = Durability(durability)
        self.durability = durability  # "replicated": each enqueue waits for a replica
        self._scripts = Scripts(client, durability)
        if hooks is not None:
            self.hooks = hooks

    def close(self) -> None:
        """Close the client's connections (a Queue made by ``from_url`` owns its client)."""
        self.client.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def from_url(
        cls,
        url: str | None = None,
        namespace: str | None = None,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        durability: str = "local",
    ) -> Queue:
        """A Queue on ``url`` (default ``$SCHEDULER_REDIS_URL``, else localhost:6379/0) in
        ``namespace`` (default ``$SCHEDULER_NAMESPACE``, else ``scheduler``)."""
        namespace = namespace_or_default(namespace)
        client = redis_from_url(url)
        return cls(client, namespace, max_payload_bytes=max_payload_bytes, durability=durability)

    def _now(self) -> float:
        return self.clock.now()

    def _submit(self, job: NewJob) -> str | None:
        call = self.enqueue_call(job.payload, job.due, job.text, job.unique_for)
        return held_by(self._scripts.run("enqueue", *call))

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
        return {row.name: row.depth for row in read_queues(self.client, self.keys)}

    def job(self, job_id: str) -> JobInfo:
        """Job ``job_id``'s status, attempts, times, last error and, for a job enqueued with
        ``result_ttl``, its return value (``unknown`` for a job without a record that is
        not dead)."""
        return read_job(self.client, self.keys, job_id)

    def result(self, job_id: str, timeout: float | None = None) -> Any:
        """The JSON return value of a job enqueued with ``result_ttl``, waiting for it to
        end for up to ``timeout`` seconds (None: for ever) without polling. Raises
        ResultTimeout, or ResultUnavailable if the job ended without one (dead,
        cancelled) or has no record."""
        return wait_result(self.client, self.keys, job_id, timeout)

    def cancel(self, job_id: str) -> str:
        """Cancel a job: "cancelled" (it waited or was delayed: it will not run),
        "requested" (it runs: its worker stops an async task, a sync one sees
        ``current_job().cancelled``), "finished" or "not_found"."""
        return Canceller(self.client, self.keys, self._scripts).cancel(job_id, self.clock.now())

    def waiting(self, queue: str = DEFAULT_QUEUE, limit: int = 50) -> list[WaitingJob]:
        """The next ``limit`` jobs to run from ``queue``, next first."""
        return read_waiting(self.client, self.keys, check_queue_name(queue), 0, limit)[0]

    def delayed(self, queue: str = DEFAULT_QUEUE, limit: int = 50) -> list[WaitingJob]:
        """The ``limit`` soonest delayed jobs and retries of ``queue``, with when they are
        due."""
        return read_delayed(self.client, self.keys, check_queue_name(queue), 0, limit)[0]

    def dead(self, limit: int = 50, where: DeadFilter | None = None) -> list[DeadJob]:
        """The newest ``limit`` entries of the dead set (those that match ``where``),
        newest first."""
        return read_dead(self.client, self.keys, 0, limit, where)[0]

    def dead_count(self) -> int:
        """How many jobs the dead set holds."""
        return int(self.client.zcard(self.keys.dead()))

    def retry_dead(self, job_id: str) -> bool:
        """Enqueue a dead job again as a fresh first attempt; False if it is not dead.

        Raises PayloadError if its payload cannot be read (it stays in the dead set)."""
        steps = retry_dead_steps(self.keys, [job_id], self.clock.now(), strict=True)
        return run_steps(steps, self.client, self._scripts)[0] > 0

    def retry_dead_many(self, job_ids: Sequence[str], chunk: int = 500) -> tuple[int, int]:
        """Enqueue dead jobs again, ``chunk`` to a round trip: (how many went, how many had
        no readable payload and stayed). Ids no longer dead are skipped."""
        steps = retry_dead_steps(self.keys, job_ids, self.clock.now(), chunk)
        return run_steps(steps, self.client, self._scripts)

    def enqueue_call(
        self,
        payload: dict[str, Any],
        due: float | None = None,
        text: str | None = None,
        unique_for: int | None = None,
    ) -> tuple[list[str], list[str | int]]:
        """The enqueue script's keys and arguments for a built payload (``script_call``)."""
        return script_call(self.keys, payload, due, text, unique_for)


class EnqueueBatch(CollectedJobs):
    """Enqueues collected by ``Queue.batch()``, sent together in one round trip: one
    script call per queue and chunk of jobs (``lua/enqueue_many.lua``); unique and tracked
    jobs, one enqueue script call each, in a second round trip."""

    def __init__(self, queue: Queue) -> None:
        super().__init__(queue.keys, queue.clock.now, queue.max_payload_bytes)
        self._queue = queue
        self.hooks = queue.hooks

    def send(self) -> None:
        """Send the collected jobs (one round trip; unique and tracked jobs, a second) and
        start a new batch."""
        calls = self.take()
        if calls.many:
            self._queue._scripts.run_many("enqueue_many", calls.many)
        if calls.single:
            self._queue._scripts.run_many("enqueue", calls.single)


def _oldest_age(oldest: bytes | None, now: float) -> float | None:
    """How long ago the oldest job of a queue was enqueued; None for an empty queue, or
    an oldest job whose payload cannot be read (written straight into Redis)."""
    enqueued = read_seconds((read_object(oldest) or {}).get("enqueued_at"))
    return None if enqueued is None else now - enqueued
