"""The application's side of the job queue for asyncio apps (FastAPI, Starlette, aiohttp):
``scheduler.aio.Queue``, on ``redis.asyncio``.

It is ``scheduler.Queue`` awaited: the same ``enqueue`` arguments, checked and built by the
same ``JobMaker.prepare_job``, sent by the same ``enqueue.lua`` with the same keys
(``script_call``), so a job enqueued here is byte for byte one the sync Queue would write.

>>> async with Queue.from_url("redis://localhost:6379/0") as q:
...     job_id = await q.enqueue("myapp.jobs:send_welcome", 42, queue="mailers")
...     job_id = await send_welcome.on(q).enqueue(42)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import redis.asyncio

from .clock import AsyncRedisClock, Clock
from .deadset import DeadFilter, DeadJob, dead_steps, retry_dead_steps
from .enqueue import CollectedJobs, JobMaker, held_by, script_call
from .jobs import DEFAULT_QUEUE, MAX_PAYLOAD_BYTES, check_queue_name
from .jobstate import JobInfo, job_steps, result_steps
from .keys import Keys, as_text
from .queue import DEFAULT_NAMESPACE, namespace_or_default, redis_url_or_default
from .tasks import Options
from .transport.durability import Durability
from .transport.scripts import AsyncScripts
from .transport.steps import arun_steps, socket_limit
from .transport.urls import aclose_client, async_client_from_url
from .waiting import WaitingJob, cancel_steps, delayed_steps, waiting_steps


class Queue(JobMaker):
    """Enqueue jobs into a namespace of one Redis from asyncio code, read queue depths,
    follow, wait for and cancel jobs (``job``, ``result``, ``cancel``, ``waiting``,
    ``delayed``) and read and retry the dead set (``dead``, ``dead_count``,
    ``retry_dead``, ``retry_dead_many``): those of ``scheduler.Queue``, on the same steps.

    ``await enqueue(task, *args, queue=, delay=, at=, retries=, timeout=, job_id=,
    unique_for=, key=, result_ttl=, timeout_hard=, **kwargs)`` takes what
    ``scheduler.Queue.enqueue`` takes and returns the job id. With
    ``durability="replicated"`` each write (each batch) then waits until a replica has
    it, as the sync Queue's does (``transport.durability``).
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Clock | None = None,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        durability: str | Durability = "local",
    ) -> None:
        self.client = client
        self.keys = Keys(namespace)
        self._redis_clock: AsyncRedisClock | None = None
        if clock is None:
            clock = self._redis_clock = AsyncRedisClock(client)
        self.clock: Clock = clock
        self.max_payload_bytes = max_payload_bytes
        if isinstance(durability, str):
            durability = Durability(durability)
        self.durability = durability  # "replicated": each write waits for a replica
        self._scripts = AsyncScripts(client, durability)

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
        ``namespace`` (default ``$SCHEDULER_NAMESPACE``, else ``scheduler``); ``url`` takes
        the forms of ``scheduler.Queue.from_url``, ``redis+sentinel://`` and
        ``redis+cluster://`` included (``transport.urls``)."""
        client = async_client_from_url(redis_url_or_default(url), health_check_interval=30)
        namespace = namespace_or_default(namespace)
        return cls(client, namespace, max_payload_bytes=max_payload_bytes, durability=durability)

    async def close(self) -> None:
        """Close the client's connections (a Queue made by ``from_url`` owns its client)."""
        await aclose_client(self.client)

    async def __aenter__(self) -> Queue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _now(self) -> float:
        return self.clock.now()

    async def _clock_ready(self) -> None:
        if self._redis_clock is not None and self._redis_clock.stale:
            await self._redis_clock.sync()

    async def enqueue(
        self,
        task: str | Callable[..., Any],
        /,
        *args: Any,
        queue: str | None = None,
        delay: float | None = None,
        at: datetime | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        job_id: str | None = None,
        unique_for: float | None = None,
        key: str | None = None,
        result_ttl: float | None = None,
        timeout_hard: float | None = None,
        **kwargs: Any,
    ) -> str:
        """Put a job for ``task(*args, **kwargs)`` on ``queue``; return its job id (see
        ``scheduler.Queue.enqueue``: the same arguments, checks and errors)."""
        options = Options(
            queue, delay, at, retries, timeout, job_id, result_ttl, unique_for, key, timeout_hard
        )
        return await self.enqueue_task(task, args, kwargs, options)

    async def enqueue_task(
        self,
        task: str | Callable[..., Any],
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        options: Options,
    ) -> str:
        """``enqueue`` with the task's arguments and the options apart; the job id."""
        await self._clock_ready()
        job = self.prepare_job(task, args, kwargs, options)
        call = script_call(self.keys, job.payload, job.due, job.text, job.unique_for)
        return held_by(await self._scripts.run("enqueue", *call)) or job.id

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[EnqueueBatch]:
        """Collect enqueues and send them in one round trip when the block ends.

        ``async with q.batch() as b: b.enqueue(...)`` (not awaited: it only collects) takes
        the arguments of ``enqueue``; no job is sent if the block raises.
        """
        await self._clock_ready()
        batch = EnqueueBatch(self)
        yield batch
        await batch.send()

    async def depth(self, queue: str = DEFAULT_QUEUE) -> int:
        """How many jobs wait in ``queue`` (not counting delayed ones)."""
        return int(await self.client.llen(self.keys.queue(check_queue_name(queue))))

    async def delayed_count(self, queue: str = DEFAULT_QUEUE) -> int:
        """How many delayed jobs and retries wait for their time in ``queue``."""
        return int(await self.client.zcard(self.keys.delayed(check_queue_name(queue))))

    async def queues(self) -> dict[str, int]:
        """Depth of every known queue, by name."""
        names = sorted(as_text(n) for n in await self.client.smembers(self.keys.queues()))
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(self.keys.queue(name))
            depths = await pipe.execute()
        return dict(zip(names, (int(d) for d in depths), strict=True))

    async def job(self, job_id: str) -> JobInfo:
        """``scheduler.Queue.job``, awaited: job ``job_id``'s status, in one round trip."""
        return await arun_steps(job_steps(self.keys, job_id), self.client, self._scripts)

    async def result(self, job_id: str, timeout: float | None = None) -> Any:
        """``scheduler.Queue.result``, awaited: the return value of a job enqueued with
        ``result_ttl``, once it has ended, waiting up to ``timeout`` seconds (None: for
        ever) in Redis (BLMOVE, no polling) on a connection of its own from the pool, so
        other calls go on meanwhile. Raises ResultTimeout or ResultUnavailable."""
        steps = result_steps(self.keys, job_id, timeout, socket_limit(self.client))
        return await arun_steps(steps, self.client, self._scripts)

    async def cancel(self, job_id: str) -> str:
        """``scheduler.Queue.cancel``, awaited: "cancelled", "requested", "finished" or
        "not_found"."""
        await self._clock_ready()
        steps = cancel_steps(self.keys, job_id, self.clock.now())
        return await arun_steps(steps, self.client, self._scripts)

    async def waiting(self, queue: str = DEFAULT_QUEUE, limit: int = 50) -> list[WaitingJob]:
        """The next ``limit`` jobs to run from ``queue``, next first."""
        steps = waiting_steps(self.keys, check_queue_name(queue), 0, limit)
        return (await arun_steps(steps, self.client, self._scripts))[0]

    async def delayed(self, queue: str = DEFAULT_QUEUE, limit: int = 50) -> list[WaitingJob]:
        """The ``limit`` soonest delayed jobs and retries of ``queue``, with when they are
        due."""
        steps = delayed_steps(self.keys, check_queue_name(queue), 0, limit)
        return (await arun_steps(steps, self.client, self._scripts))[0]

    async def dead(self, limit: int = 50, where: DeadFilter | None = None) -> list[DeadJob]:
        """The newest ``limit`` entries of the dead set (those that match ``where``),
        newest first."""
        steps = dead_steps(self.keys, 0, limit, where)
        return (await arun_steps(steps, self.client, self._scripts))[0]

    async def dead_count(self) -> int:
        """How many jobs the dead set holds."""
        return int(await self.client.zcard(self.keys.dead()))

    async def retry_dead(self, job_id: str) -> bool:
        """Enqueue a dead job again as a fresh first attempt; False if it is not dead.

        Raises PayloadError if its payload cannot be read (it stays in the dead set)."""
        await self._clock_ready()
        steps = retry_dead_steps(self.keys, [job_id], self.clock.now(), strict=True)
        return (await arun_steps(steps, self.client, self._scripts))[0] > 0

    async def retry_dead_many(self, job_ids: Sequence[str], chunk: int = 500) -> tuple[int, int]:
        """Enqueue dead jobs again, ``chunk`` to a round trip: (how many went, how many had
        no readable payload and stayed). Ids no longer dead are skipped."""
        await self._clock_ready()
        steps = retry_dead_steps(self.keys, job_ids, self.clock.now(), chunk)
        return await arun_steps(steps, self.client, self._scripts)


class EnqueueBatch(CollectedJobs):
    """Enqueues collected by ``Queue.batch()``, sent together in one round trip: the
    calls ``scheduler.Queue.batch()`` makes (``CollectedJobs``)."""

    def __init__(self, queue: Queue) -> None:
        super().__init__(queue.keys, queue.clock.now, queue.max_payload_bytes)
        self._queue = queue

    async def send(self) -> None:
        """Send the collected jobs (one round trip; unique and tracked jobs, a second) and
        start a new batch."""
        calls = self.take()
        if calls.many:
            await self._queue._scripts.run_many("enqueue_many", calls.many)
        if calls.single:
            await self._queue._scripts.run_many("enqueue", calls.single)
