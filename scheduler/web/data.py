"""What the dashboard reads from Redis: one or two pipelined round trips per page.

Each function returns plain values for the templates; nothing here renders or decides
who may see what.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from ..deadset import DeadFilter, read_dead, read_one
from ..documents import load_object, read_object, read_seconds
from ..errors import PayloadError, ScheduleInvalid
from ..keys import Keys, as_text
from ..ops.control import read_pause
from ..ops.status import SCHEDULER_FRESH, reload_refusal, worker_queues
from ..queue import QueueReadout
from ..schedule.loader import Job, Schedule, parse_schedule

CHART_MINUTES = 60
RECENT_RUNS = 20
RETRIES_SCANNED = 200  # delayed entries read per queue for the retries page


@dataclass(frozen=True)
class JobRow:
    """One schedule job with what Redis knows of it."""

    job: Job
    next: list[int]
    last_fire: int | None
    lateness: float | None
    last_run: dict[str, str]
    paused: dict[str, Any] | None
    overdue: int | None = None


@dataclass(frozen=True)
class Page:
    """A slice of a longer list: ``items`` of page ``number`` (1-based) of ``pages``."""

    items: list[Any]
    number: int
    pages: int
    total: int
    extra: dict[str, Any] = field(default_factory=dict)


class ScheduleSource:
    """The schedule the leader published (parsed once per digest), else ``fallback``."""

    def __init__(self, client: redis.Redis, keys: Keys, fallback: Schedule | None) -> None:
        self._client = client
        self._keys = keys
        self._fallback = fallback
        self._cached: tuple[str, Schedule | None] | None = None

    def get(self) -> Schedule | None:
        """The current schedule, or None if there is none to show."""
        raw = self._client.get(self._keys.schedule())
        if raw is None:
            return self._fallback
        snapshot = read_object(raw)
        if snapshot is None:  # written straight into Redis: the leader rewrites it
            return self._fallback
        digest = str(snapshot.get("digest"))
        cached = self._cached
        if cached is None or cached[0] != digest:
            cached = self._cached = (digest, self._parse(snapshot))
        return cached[1]

    def _parse(self, snapshot: dict[str, Any]) -> Schedule | None:
        text, path = snapshot.get("text"), snapshot.get("path", "<published>")
        if not isinstance(text, str) or not isinstance(path, str):
            return self._fallback
        try:
            return parse_schedule(text, path)
        except ScheduleInvalid:
            return self._fallback


def _text_map(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in raw.items()}


def _record(raw: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object from Redis, or one whose ``error`` says why it cannot be read."""
    try:
        return load_object(raw, what)
    except PayloadError as exc:
        return {"unreadable": True, "error": f"unreadable: {exc}"}


def _count(value: bytes | None) -> int:
    return int(value) if value is not None and value.isdigit() else 0


# -- the overview ------------------------------------------------------------------------


def overview(client: redis.Redis, keys: Keys, now: float) -> dict[str, Any]:
    """Leader, standbys, workers, queues, the last hour's counts and the latest runs, and the
    scheduler processes whose schedule file was refused."""
    minute = int(now // 60)
    minutes = list(range(minute - CHART_MINUTES + 1, minute + 1))
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.lease())
    pipe.zrangebyscore(keys.schedulers(), now - SCHEDULER_FRESH, "+inf")
    pipe.zrange(keys.workers(), 0, -1, withscores=True)
    pipe.smembers(keys.queues())
    pipe.smembers(keys.paused_queues())  # SUNION is refused in a cluster's pipeline
    stat_keys = [keys.stats(kind, m) for kind in ("processed", "failed") for m in minutes]
    pipe.mget(stat_keys)
    pipe.lrange(keys.runs(), 0, RECENT_RUNS - 1)
    lease, scheduler_ids, workers, queue_names, paused_queues, counts, runs = pipe.execute()
    leader = _record(lease, "lease") if lease else None
    ids = [as_text(i) for i in scheduler_ids]
    worker_scores = [(as_text(w), float(score)) for w, score in workers]
    queues = sorted({as_text(q) for q in queue_names | paused_queues})
    details = _overview_details(client, keys, ids, [w for w, _ in worker_scores], queues, now=now)
    numbers = [_count(c) for c in counts]
    return {
        "leader": leader,
        "schedulers": details["schedulers"],
        "standbys": [s for s in details["schedulers"] if not leader or s["id"] != leader.get("id")],
        "refused": [s for s in details["schedulers"] if s["refused"]],
        "workers": [
            {**info, "heartbeat_age": now - score}
            for (_, score), info in zip(worker_scores, details["workers"], strict=True)
        ],
        "queues": details["queues"],
        "chart": list(zip(minutes, numbers[:CHART_MINUTES], numbers[CHART_MINUTES:], strict=True)),
        "runs": [_record(r, "run record") for r in runs],
    }


def _overview_details(
    client: redis.Redis,
    keys: Keys,
    scheduler_ids: list[str],
    worker_ids: list[str],
    queues: list[str],
    *,
    now: float,
) -> dict[str, Any]:
    readout = QueueReadout(keys, queues, worker_ids)
    pipe = client.pipeline(transaction=False)
    for scheduler_id in scheduler_ids:
        pipe.hgetall(keys.scheduler(scheduler_id))
    for worker_id in worker_ids:
        pipe.hgetall(keys.worker(worker_id))
    readout.send(pipe)
    replies = iter(pipe.execute())
    schedulers = [_scheduler(i, _text_map(next(replies))) for i in scheduler_ids]
    infos = [_text_map(next(replies)) for _ in worker_ids]
    rows, held = readout.read(replies, now)
    workers = [
        {
            "id": worker_id,
            **info,
            "queues": worker_queues(info.get("queues")),
            "held": held[worker_id],
        }
        for worker_id, info in zip(worker_ids, infos, strict=True)
    ]
    return {"schedulers": schedulers, "workers": workers, "queues": rows}


def _scheduler(scheduler_id: str, info: dict[str, str]) -> dict[str, Any]:
    """A scheduler process's hash, its refused reload (if any) read."""
    return {"id": scheduler_id, **info, "refused": reload_refusal(info.get("refused"))}


def next_up(schedule: Schedule, paused: set[str], now: float, count: int = 10) -> list[Any]:
    """The next ``count`` fires of enabled, unpaused jobs: (instant, job), soonest first."""
    after = int(now)
    fires = []
    for job in schedule.jobs.values():
        if job.enabled and job.name not in paused:
            at = job.rule.next_after(after)
            if at is not None:
                fires.append((at, job.name, job))
    fires.sort(key=lambda f: (f[0], f[1]))
    return [(at, job) for at, _, job in fires[:count]]


def paused_jobs(client: redis.Redis, keys: Keys) -> dict[str, dict[str, Any]]:
    """Every paused job: {by, at, reason}."""
    return _pauses(client.hgetall(keys.paused()))


def _pauses(raw: Mapping[Any, Any]) -> dict[str, dict[str, Any]]:
    return {as_text(k): asdict(read_pause(as_text(k), v)) for k, v in raw.items()}


# -- schedule jobs -----------------------------------------------------------------------


def job_rows(
    client: redis.Redis, keys: Keys, now: float, jobs: list[Job], count: int = 5
) -> list[JobRow]:
    """For each job: its next ``count`` fires, last fire and lateness, last run, pause."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.paused())
    for job in jobs:
        pipe.hmget(keys.state(job.name), "watermark", "enqueued_at")
        pipe.zrange(keys.fired(job.name), -1, -1, withscores=True)
        pipe.hgetall(keys.last(job.name))
    replies = pipe.execute()
    paused = _pauses(replies[0])
    return [
        _job_row(job, now, count, replies[1 + 3 * i : 4 + 3 * i], paused.get(job.name))
        for i, job in enumerate(jobs)
    ]


def _job_row(
    job: Job, now: float, count: int, replies: list[Any], pause: dict[str, Any] | None
) -> JobRow:
    state, fired, last = replies
    watermark, enqueued_at = read_seconds(state[0]), read_seconds(state[1])
    fire = read_seconds(fired[0][1]) if fired else None
    last_fire = None if fire is None else int(fire)
    lateness = enqueued_at - last_fire if last_fire is not None and enqueued_at else None
    nexts: list[int] = []
    at: int | None = int(now)
    while len(nexts) < count and at is not None:
        at = job.rule.next_after(at)
        if at is not None:
            nexts.append(at)
    overdue = None
    if job.enabled and pause is None and watermark is not None:
        due = job.rule.next_after(int(watermark))
        overdue = due if due is not None and due < now - 5 else None
    return JobRow(job, nexts, last_fire, lateness, _text_map(last), pause, overdue)


def job_runs(client: redis.Redis, keys: Keys, name: str, limit: int = 50) -> list[dict[str, Any]]:
    """The job's recent finished runs, newest first."""
    return [_record(raw, "run record") for raw in client.lrange(keys.runs(name), 0, limit - 1)]


# -- retries and the dead set ------------------------------------------------------------


def dead_page(
    client: redis.Redis, keys: Keys, number: int, per_page: int, where: DeadFilter
) -> Page:
    """Page ``number`` of the dead set (of its jobs that match ``where``), newest first."""
    items, total = read_dead(client, keys, (number - 1) * per_page, per_page, where)
    pages = max(1, -(-total // per_page))
    if number > pages:  # past the end (the set shrank): show the last page
        return dead_page(client, keys, pages, per_page, where)
    return Page(items, number, pages, total)


def dead_record(client: redis.Redis, keys: Keys, job_id: str) -> dict[str, Any] | None:
    """One dead job's record (payload, error, traceback, failed_at), or None."""
    dead = read_one(client, keys, job_id)
    if dead is None:
        return None
    return {**dead.record, "id": dead.id, "error": dead.error, "failed_at": dead.failed_at}


def retries(client: redis.Redis, keys: Keys) -> Page:
    """Jobs waiting to be retried (attempt 2 or more), soonest first, from the first
    ``RETRIES_SCANNED`` delayed entries of each queue; ``extra["delayed"]`` counts all."""
    queues = sorted(as_text(q) for q in client.smembers(keys.queues()))
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.zcard(keys.delayed(queue))
        pipe.zrange(keys.delayed(queue), 0, RETRIES_SCANNED - 1, withscores=True)
    replies = pipe.execute()
    items, delayed, unreadable = [], 0, 0
    for i in range(len(queues)):
        delayed += int(replies[2 * i])
        for raw, due in replies[2 * i + 1]:
            payload = read_object(raw)
            attempt = payload.get("attempt") if payload is not None else None
            if payload is None or not isinstance(attempt, int):
                unreadable += 1
            elif attempt > 1:
                items.append({**payload, "due": due})
    items.sort(key=lambda p: p["due"])
    return Page(items, 1, 1, len(items), {"delayed": delayed, "unreadable": unreadable})
