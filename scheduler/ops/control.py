"""Steering a running system through Redis, so every scheduler and worker sees it at once:
trigger a job now, pause and resume it, backfill past fires, inspect and retry the dead
set, read the queues, and answer health probes.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import redis

from ..clock import Clock
from ..deadset import DeadFilter, DeadJob, read_dead, read_one, resolve_ids
from ..documents import read_object, read_seconds
from ..enqueue import fire_payload
from ..errors import UnknownJob
from ..jobs import check_queue_name, encode
from ..keys import FIRED_KEEP, Keys, as_text
from ..queue import Queue, QueueRow, read_queues
from ..schedule.loader import Job
from ..schedule.planner import rule_tag
from ..targets.base import Sender, pack_writes
from ..targets.broker import check_brokers
from ..targets.load import load_target
from ..transport.scripts import Scripts

Targets = Mapping[str, Mapping[str, Any]] | None  # a schedule's settings of other targets
BACKFILL_CODES = {"e": "enqueued", "a": "already enqueued", "p": "pending", "u": "unknown"}


@dataclass(frozen=True)
class Pause:
    """Why and since when a job is paused, and by whom."""

    job: str
    by: str
    at: float | None  # None for a pause record that cannot be read
    reason: str | None


def _pause_of(name: str, raw: bytes | str | None) -> Pause | None:
    """The pause record of ``name``; None if there is none or it cannot be read."""
    if raw is None:
        return None
    pause = read_pause(name, raw)
    return None if pause.at is None else pause


@dataclass(frozen=True)
class BackfillFire:
    """One fire of a backfill window and what happened to it (see ``BACKFILL_CODES``)."""

    at: int
    outcome: str


class Control:
    """Operations on one namespace of one Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, clock: Clock) -> None:
        self.client = client
        self.keys = keys
        self.clock = clock
        self.queue = Queue(client, keys.namespace, clock)
        self._scripts = Scripts(client)

    # -- schedule jobs ---------------------------------------------------------------------

    def trigger(self, job: Job, targets: Targets = None) -> str:
        """Enqueue one run of ``job`` now, outside its schedule; its watermark is untouched.

        Works with no leader: it is a plain enqueue. ``targets``: the schedule's settings
        of other targets (``Schedule.targets``), for a job that is not a ``task:``. Returns
        the job id (a Celery job's task id)."""
        if job.target != "task":
            fire = self._sender(job, targets).fire(None, self.clock.now())
            touched = [write[1] for write in fire.writes]
            words: list[Any] = []
            packed = pack_writes(fire.writes, words, {}, 2)
            self._scripts.run("send", touched, [json.dumps(packed), *words])
            return fire.id
        payload = fire_payload(job, None, self.clock.now())
        self._scripts.run("enqueue", *self.queue.enqueue_call(payload))
        return str(payload["id"])

    def pause(self, name: str, by: str, reason: str | None = None) -> Pause:
        """Pause a job: the leader enqueues none of its fires until it is resumed.

        Pausing a paused job keeps when it was paused; a ``reason`` replaces the reason
        and who paused it, no reason keeps both. Returns the pause in force."""
        key = self.keys.paused()
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    old = _pause_of(name, pipe.hget(key, name))
                    pause = Pause(name, by, self.clock.now(), reason)
                    if old is not None:
                        pause = old if reason is None else replace(pause, at=old.at)
                    pipe.multi()
                    pipe.hset(key, name, json.dumps(asdict(pause)))
                    pipe.execute()
                    return pause
                except redis.WatchError:
                    continue  # paused or resumed meanwhile: read it again

    def resume(self, name: str) -> bool:
        """Resume a job; its missed fires then follow its misfire settings. False if it was
        not paused."""
        return bool(self.client.hdel(self.keys.paused(), name))

    def pauses(self) -> dict[str, Pause]:
        """Every paused job (see ``read_pause``)."""
        raw = self.client.hgetall(self.keys.paused())
        return {as_text(k): read_pause(as_text(k), v) for k, v in raw.items()}

    def _sender(self, job: Job, targets: Targets) -> Sender:
        """The sender of a job of another target, once its broker is checked to be ours."""
        target = load_target(job.target, (targets or {}).get(job.target, {}))
        check_brokers(self.client, {job.target: target})
        return target.sender(job)

    def backfill(
        self, job: Job, start: int, end: int, *, dry_run: bool, targets: Targets = None
    ) -> list[BackfillFire]:
        """Enqueue the fires of ``job`` in (start, end] that were never enqueued, each once.

        Fires after the job's watermark are left to the dispatcher; fires the record of
        enqueued fires cannot vouch for (older than it keeps, or where another rule of the
        job enqueued) are refused. A dry run only says what would happen."""
        fires = []
        for at in job.rule.fires(start):
            if at > end:
                break
            fires.append(at)
        outcomes: list[BackfillFire] = []
        sender = self._sender(job, targets) if job.target != "task" else None
        for i in range(0, len(fires), 1000):
            after = fires[i - 1] if i else start  # the rule has no fire in between
            outcomes += self._backfill_chunk(job, fires[i : i + 1000], after, dry_run, sender)
        return outcomes

    def _backfill_chunk(
        self, job: Job, fires: list[int], after: int, dry_run: bool, sender: Sender | None
    ) -> list[BackfillFire]:
        now = self.clock.now()
        k = self.keys
        keys = [k.state(job.name), k.fired(job.name), k.queue(job.queue), k.wake(job.queue)]
        keys.append(k.queues())
        queue = job.queue if sender is None else ""
        argv: list[str | int | float] = ["1" if dry_run else "0", int(now), queue]
        argv += [rule_tag(job), after, FIRED_KEEP, len(fires)]
        words: list[Any] = []
        index: dict[Any, int] = {}
        first = len(argv) + 2 * len(fires) + 1  # where the words start (ARGV is 1-based)
        for at in fires:
            if sender is None:
                argv += [at, encode(fire_payload(job, at, now, by_hand=True))]
            else:
                writes = sender.fire(at, now, by_hand=True).writes
                argv += [at, json.dumps(pack_writes(writes, words, index, first))]
        codes = as_text(self._scripts.run("backfill", keys, [*argv, *words]))
        return [BackfillFire(at, BACKFILL_CODES[c]) for at, c in zip(fires, codes, strict=True)]

    # -- the dead set ----------------------------------------------------------------------

    def dead(self, limit: int = 50, where: DeadFilter | None = None) -> tuple[list[DeadJob], int]:
        """The newest ``limit`` dead jobs that match ``where``, newest first, and how many
        match in all."""
        return read_dead(self.client, self.keys, 0, limit, where)

    def dead_job(self, job_id: str) -> DeadJob:
        """One dead job, by its id or a unique prefix of it; UnknownJob if the dead set
        holds none, or several with that prefix. One that cannot be read says so in its
        ``error`` (see ``deadset.decode_dead``)."""
        [full] = resolve_ids(self.client, self.keys, [job_id])
        dead = read_one(self.client, self.keys, full)
        if dead is None:
            raise UnknownJob(f"no dead job with an id that is or starts with {job_id!r}")
        return dead

    def retry_dead(self, job_ids: list[str] | None = None) -> tuple[int, int]:
        """Enqueue dead jobs again (all of them when ``job_ids`` is None): (how many went,
        how many had no readable payload and stayed)."""
        ids = job_ids if job_ids is not None else self.dead_ids()
        if len(ids) == 1:  # one id: an unreadable payload raises PayloadError saying why
            return int(self.queue.retry_dead(ids[0])), 0
        return self.queue.retry_dead_many(ids)

    def purge_dead(self, job_ids: list[str] | None = None) -> int:
        """Delete dead jobs (all of them when ``job_ids`` is None); how many were deleted."""
        ids = job_ids if job_ids is not None else self.dead_ids()
        if not ids:
            return 0
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.keys.dead(), *ids)
        pipe.hdel(self.keys.dead_jobs(), *ids)
        removed, _ = pipe.execute()
        return int(removed)

    def resolve_dead_ids(self, given: list[str]) -> list[str]:
        """Ids as a user types them (whole, or a unique prefix) as full ids; see
        ``deadset.resolve_ids``."""
        return resolve_ids(self.client, self.keys, given)

    def dead_ids(self, where: DeadFilter | None = None) -> list[str]:
        """Every id of the dead set, or of its jobs that match ``where``."""
        if not where:
            return [as_text(i) for i in self.client.zrange(self.keys.dead(), 0, -1)]
        return [dead.id for dead in read_dead(self.client, self.keys, 0, sys.maxsize, where)[0]]

    # -- queues and health -----------------------------------------------------------------

    def queues(self) -> list[QueueRow]:
        """Every known queue: depth, age of its oldest job, delayed and in-progress counts."""
        return read_queues(self.client, self.keys, self.clock.now())

    def pause_queue(self, name: str) -> bool:
        """Pause queue ``name``: no worker fetches from it until it is resumed (jobs are
        still enqueued, and the ones running finish). False if it was paused already."""
        return bool(self.client.sadd(self.keys.paused_queues(), check_queue_name(name)))

    def resume_queue(self, name: str) -> bool:
        """Resume queue ``name`` and wake an idle worker for its jobs. False if it was not
        paused."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.srem(self.keys.paused_queues(), check_queue_name(name))
            pipe.lpush(self.keys.wake(name), "1")
            pipe.ltrim(self.keys.wake(name), 0, 15)
            was, *_ = pipe.execute()
        return bool(was)

    def health(self, role: str, max_age: float, host: str | None = None) -> tuple[bool, str]:
        """Is a ``role`` ("scheduler" or "worker") process of ``host`` (default: this host)
        alive: its heartbeat no older than ``max_age`` seconds? With role "redis", only
        whether Redis answers."""
        self.client.ping()
        if role == "redis":
            return True, "redis answers"
        host = host or socket.gethostname()
        now = self.clock.now()
        registry = self.keys.schedulers() if role == "scheduler" else self.keys.workers()
        fresh = [as_text(i) for i in self.client.zrangebyscore(registry, now - max_age, "+inf")]
        info = self.keys.scheduler if role == "scheduler" else self.keys.worker
        pipe = self.client.pipeline(transaction=False)
        for member in fresh:
            pipe.hget(info(member), "host")
        hosts = [as_text(h) if h is not None else None for h in pipe.execute()]
        mine = [m for m, h in zip(fresh, hosts, strict=True) if h == host]
        if mine:
            return True, f"{role} {mine[0]} on {host}: heartbeat within {max_age:g}s"
        return False, f"no {role} on {host} with a heartbeat within the last {max_age:g}s"


def read_pause(job: str, raw: bytes | str) -> Pause:
    """The pause record of ``job``; one that cannot be read (written straight into Redis)
    says so in its ``reason``. The job is paused either way."""
    record = read_object(raw) or {}
    by, at, reason = record.get("by"), read_seconds(record.get("at")), record.get("reason")
    if isinstance(by, str) and at is not None and isinstance(reason, (str, type(None))):
        return Pause(job, by, at, reason)
    return Pause(job, "?", None, "unreadable pause record")


def dead_summary(job: DeadJob) -> dict[str, Any]:
    """The fields of a dead job worth a line in a list."""
    return {
        "id": job.id,
        "task": job.task,
        "queue": job.queue,
        "schedule": job.schedule,
        "attempt": job.record.get("attempt"),
        "failed_at": job.failed_at,
        "error": job.error,
    }
