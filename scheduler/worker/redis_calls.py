"""The Redis side of one worker: fetch, acknowledge, settle, heartbeat, reap, wait for work.

Fetching, settling and waiting (the fetcher thread's calls) go through one connection of
their own; heartbeats and pokes, from other threads, through the client's pool.

Every call is one script (or one BLPOP) so a crash between two calls never loses or
duplicates a job: a fetched job is always in exactly one list, the worker's in-progress
list, until a script moves it on. ``now`` is always passed in (Redis clock).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from ..documents import load
from ..errors import PayloadError
from ..jobs import QueuedJob, check_queue_name
from ..keys import Keys, as_text
from ..transport.durability import Durability
from ..transport.faults import fault_point
from ..transport.scripts import Scripts
from ..transport.urls import is_cluster

log = logging.getLogger(__name__)

PROMOTE_BATCH = 100
RECORD_RUNNING = 7 * 24 * 3600  # a running tracked job's record lives this long at least


@dataclass(slots=True)
class Delivery:
    """A payload a worker took from its queue number ``index`` (0-based), and its job."""

    index: int
    raw: bytes
    job: QueuedJob | None = None


@dataclass(frozen=True, slots=True)
class JobEnd:
    """How an attempt of a tracked or unique job ended, for its record and unique key:
    ``kept`` is its ``result_ttl`` (None: no record), ``unique`` the key it holds,
    ``status`` the record's status, ``result`` the JSON return value kept ("" if none)."""

    kept: int | None
    unique: str | None
    status: str
    result: str = ""
    error: str = ""
    finished_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Settlement:
    """How to end one delivery: ``action`` is "ack", "retry" or "dead".

    ``document`` is the retry payload or the dead record (JSON); ``score`` the retry's due
    time or the time of death; ``final`` releases the schedule job's active marker;
    ``last`` holds the last-outcome fields of the schedule job ``schedule``; ``held``:
    the run's thread still runs past its timeout, so the marker waits for ``release``;
    ``end``: what a tracked or unique job's record and key get.
    """

    delivery: Delivery
    job_id: str
    action: str
    document: str = ""
    score: float = 0.0
    final: bool = True
    schedule: str | None = None
    last: Mapping[str, str] | None = None
    held: bool = False
    end: JobEnd | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch brought: payloads, the next delayed due time, and registration."""

    deliveries: list[Delivery]
    next_due: float | None
    registered: bool


class Consumer:
    """The scripts of one worker (``worker_id``) serving ``queues`` in priority order, or
    by ``weights`` (one per queue; see docs/workers.md, "Weighted queues")."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        worker_id: str,
        queues: Sequence[str],
        durability: Durability | None = None,
        *,
        weights: Sequence[int] | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.worker_id = worker_id
        self.queues = tuple(queues)
        self._weights = ",".join(str(w) for w in weights) if weights else ""
        self._credits = ""  # the weighted fetch's state, kept between round trips
        self._scripts = Scripts(client, durability)
        self.durability = self._scripts.durability
        self._own: redis.Redis | None = None
        self._fetch_keys = [keys.workers(), keys.worker_wake(worker_id)]
        for queue in self.queues:
            self._fetch_keys += [
                keys.queue(queue),
                keys.delayed(queue),
                keys.worker_jobs(worker_id, queue),
                keys.wake(queue),
            ]
        self._fetch_keys.append(keys.paused_queues())
        self._wait_keys = [keys.worker_wake(worker_id), *(keys.wake(q) for q in self.queues)]
        self._stats: tuple[int, list[str]] = (-1, [])

    def fetch(
        self,
        now: float,
        limit: int,
        acks: Sequence[tuple[int, bytes]] = (),
        stats: tuple[int, int] = (0, 0),
    ) -> FetchResult:
        """Acknowledge ``acks`` (queue index, payload), count ``stats`` (runs ended, of
        which failed) in this minute's counters, promote due jobs, take ``limit`` jobs."""
        args: list[Any] = [self.worker_id, f"{now:.3f}", limit, PROMOTE_BATCH, *stats]
        args += (self._weights, self._credits)
        for index, raw in acks:
            args += (index + 1, raw)
        keys = self._fetch_keys + self._stats_keys(int(now // 60))
        if acks:
            fault_point("before_ack")
        reply = self._scripts.run_on(self._connection(), "fetch", keys, args)
        self._credits = as_text(reply[2])
        deliveries = [Delivery(reply[i] - 1, reply[i + 1]) for i in range(3, len(reply), 2)]
        if deliveries:
            fault_point("after_fetch")
        next_due = float(reply[1]) if reply[1] else None
        return FetchResult(deliveries, next_due, registered=reply[0] == 1)

    def _stats_keys(self, minute: int) -> list[str]:
        if self._stats[0] != minute:
            kinds = ("processed", "failed")
            self._stats = (minute, [self.keys.stats(kind, minute) for kind in kinds])
        return self._stats[1]

    def settle(self, settlement: Settlement, dead_cap: int) -> bool:
        """End one delivery; False if it was no longer ours (put back by a reaper)."""
        keys, args = self._settle_call(settlement, dead_cap)
        return bool(self._scripts.run_on(self._connection(), "settle", keys, args))

    def settle_many(self, settlements: Sequence[Settlement], dead_cap: int) -> None:
        """End several deliveries in one round trip (a pipeline of settle scripts). Safe to
        send again after a broken connection: a settle whose payload is gone does nothing."""
        if len(settlements) <= 1:
            for settlement in settlements:
                self.settle(settlement, dead_cap)
            return
        calls = [self._settle_call(settlement, dead_cap) for settlement in settlements]
        self._scripts.run_many("settle", calls, self._connection())

    def _settle_call(self, settlement: Settlement, dead_cap: int) -> tuple[list[str], list[Any]]:
        d = settlement.delivery
        queue = self.queues[d.index]
        k, job_id, end = self.keys, settlement.job_id, settlement.end
        keys = [k.worker_jobs(self.worker_id, queue), k.delayed(queue), k.dead(), k.dead_jobs()]
        keys += [
            k.job(job_id),
            k.job_done(job_id),
            k.unique(end.unique if end and end.unique else ""),
        ]
        keys.append(k.cancel(job_id))
        args: list[Any] = [d.raw, settlement.action, settlement.document]
        args += [f"{settlement.score:.3f}", job_id, dead_cap, int(settlement.final)]
        args += _end_args(end)
        if settlement.schedule is not None:
            job = settlement.schedule
            keys += [self.keys.last(job), self.keys.active(job), self.keys.runs(job)]
            keys += [self.keys.runs(), self.keys.held()]
            last = settlement.last or {}
            args.append(json.dumps({"job": job, **last}) if last else "")
            args += [self.held_field(d) if settlement.held else "", job]
            for field, value in last.items():
                args += (field, value)
        return keys, args

    def started(self, jobs: Sequence[QueuedJob], now: float) -> None:
        """Mark tracked jobs running in their records (renewing their lifetime), in one
        round trip, on the fetcher's connection."""
        with self._connection().pipeline(transaction=False) as pipe:
            for job in jobs:
                key = self.keys.job(job.id)
                fields: list[str | int] = ["status", "running", "attempt", job.attempt]
                fields += ["started_at", f"{now:.3f}"]
                pipe.hset(key, items=fields)
                pipe.expire(key, RECORD_RUNNING)
            pipe.execute()

    def cancel_requested(self, job_ids: Sequence[str]) -> list[str]:
        """Those of ``job_ids`` that someone asked to cancel (``Queue.cancel``)."""
        flags = self.client.mget([self.keys.cancel(job_id) for job_id in job_ids])
        return [job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag is not None]

    def held_field(self, delivery: Delivery) -> str:
        """The ``{ns}:held`` field of a decoded delivery's thread: run id, attempt, worker."""
        job = delivery.job
        assert job is not None
        return f"{job.id} {job.attempt} {self.worker_id}"

    def release(self, delivery: Delivery) -> bool:
        """The abandoned thread of a schedule job's run settled with ``held`` has ended:
        release the job's active marker if nothing else keeps it (see lua/_held.lua)."""
        job = delivery.job
        assert job is not None and job.schedule is not None
        keys = [self.keys.held(), self.keys.active(job.schedule)]
        args = [self.held_field(delivery), job.id]
        return bool(self._scripts.run_on(self._connection(), "release", keys, args))

    def register(self, now: float, info: Mapping[str, str]) -> bool:
        """Heartbeat; registers the worker if needed. True if it was registered already."""
        args: list[Any] = [self.worker_id, f"{now:.3f}"]
        for field, value in info.items():
            args += (field, value)
        keys = [self.keys.workers(), self.keys.worker(self.worker_id)]
        return bool(self._scripts.run("register", keys, args))

    def note_quiet(self, since: str) -> None:
        """Record in the worker's hash since when it is quiet (it fetches no more)."""
        self.client.hset(self.keys.worker(self.worker_id), "quiet", since)

    def note_unconfirmed(self) -> None:
        """Record in the worker's hash how many of its writes no replica confirmed yet."""
        key = self.keys.worker(self.worker_id)
        self.client.hset(key, "unconfirmed", self.durability.unconfirmed)

    def reap_expired(self, now: float, expiry: float, limit: int = 10) -> dict[str, int]:
        """Put back the jobs of workers whose heartbeat expired: {worker id: jobs put back}."""
        stale = self.client.zrangebyscore(
            self.keys.workers(), "-inf", f"({now - expiry:.3f}", start=0, num=limit
        )
        reaped = {}
        for raw_id in stale:
            worker_id = as_text(raw_id)
            if worker_id != self.worker_id:
                moved = self._reap(worker_id, now, f"{expiry:.3f}")
                if moved >= 0:
                    reaped[worker_id] = moved
        return reaped

    def in_progress(self, index: int) -> list[bytes]:
        """The payloads of this worker's in-progress list of queue ``index``, newest first."""
        key = self.keys.worker_jobs(self.worker_id, self.queues[index])
        return [
            p if isinstance(p, bytes) else p.encode() for p in self._connection().lrange(key, 0, -1)
        ]

    def put_back(self, index: int, payloads: Sequence[bytes]) -> int:
        """Return payloads of our in-progress list to the front of queue ``index``."""
        queue = self.queues[index]
        keys = [self.keys.worker_jobs(self.worker_id, queue), self.keys.queue(queue)]
        keys.append(self.keys.wake(queue))
        args: list[str | bytes] = [self.keys.prefix, *payloads]
        return int(self._scripts.run_on(self._connection(), "put_back", keys, args))

    def deregister(self, now: float) -> int:
        """Put every unsettled job of this worker back on its queue and forget the worker."""
        return self._reap(self.worker_id, now, "", self.queues)

    def reap_now(self, worker_id: str, now: float) -> int:
        """Put back the unsettled jobs of a worker known to be gone (a supervisor's child
        that exited), dropping its held threads, without waiting for its heartbeat."""
        return self._reap(worker_id, now, "", self.queues)

    def wait_for_work(self, timeout: float) -> bool:
        """Block until a job is pushed to one of our queues, a poke, or ``timeout`` seconds."""
        reply = self._connection().blpop(self._wait_keys, timeout=max(0.01, timeout))
        return reply is not None

    def poke(self) -> None:
        """Wake this worker's blocked ``wait_for_work``."""
        self.client.lpush(self.keys.worker_wake(self.worker_id), "1")

    def close(self) -> None:
        """Give back the fetcher's own connection."""
        if self._own is not None:
            self._own.close()
            self._own = None

    def _connection(self) -> redis.Redis:
        """The fetcher's own connection: no pool round per call (made when first needed,
        so a Redis that is down at start is retried like any other call)."""
        if is_cluster(self.client):
            return self.client  # a cluster client routes each call to its slot's node
        if self._own is None:
            pool = self.client.connection_pool
            self._own = redis.Redis(connection_pool=pool, single_connection_client=True)
        return self._own

    def _queues_of(self, worker_id: str) -> Sequence[str]:
        """The queues a worker registered with; ours if its record cannot be read, so the
        jobs it held of the queues we share still go back."""
        raw = self.client.hget(self.keys.worker(worker_id), "queues")
        if raw is None:
            return []
        try:
            names = load(raw, what="worker record")
            if not isinstance(names, list):
                raise PayloadError("worker record is not a list of queue names")
            return [check_queue_name(name) for name in names]
        except PayloadError as exc:
            log.warning(
                "worker record unreadable id=%s: %s; reaping its %s lists",
                worker_id,
                exc,
                ",".join(self.queues),
            )
            return self.queues

    def _reap(
        self, worker_id: str, now: float, expiry: str, queues: Sequence[str] | None = None
    ) -> int:
        if queues is None:
            queues = self._queues_of(worker_id)
        keys = [self.keys.workers(), self.keys.worker(worker_id), self.keys.worker_wake(worker_id)]
        keys.append(self.keys.held())
        for queue in queues:
            keys += [
                self.keys.worker_jobs(worker_id, queue),
                self.keys.queue(queue),
                self.keys.wake(queue),
            ]
        args = [worker_id, f"{now:.3f}", expiry, self.keys.prefix]
        return int(self._scripts.run("reap", keys, args))


def _end_args(end: JobEnd | None) -> list[Any]:
    """The settle script's arguments for a tracked or unique job's end (ARGV[8..13])."""
    if end is None:
        return ["", "", "", "", "", ""]
    kept = "" if end.kept is None else end.kept
    return [
        kept,
        int(end.unique is not None),
        end.status,
        end.result,
        end.error,
        f"{end.finished_at:.3f}",
    ]
