"""`scheduler status`: leader, scheduler processes, each job's next and last fire, queues.

Everything is read from Redis in a few round trips. The jobs come from the schedule the
leader published (``{ns}:schedule``), else from a schedule file the caller passes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import redis

from .control import read_pause
from .describe import utc_text
from .documents import read_object, read_seconds
from .errors import ScheduleInvalid
from .keys import Keys, as_text
from .schedule import Job, Schedule, parse_schedule

SCHEDULER_FRESH = 10.0  # a scheduler whose heartbeat is older than this is not listed


def iso(instant: object) -> str | None:
    """``2026-11-23T09:00:00Z`` (whole seconds), or None (also for what is no instant)."""
    seconds = read_seconds(instant)
    return None if seconds is None else utc_text(seconds)


def published_schedule(client: redis.Redis, keys: Keys) -> Schedule | None:
    """The schedule the leader runs, as it published it; None if there is none (or bad)."""
    snapshot = read_object(client.get(keys.schedule())) or {}
    text, path = snapshot.get("text"), snapshot.get("path", "<published>")
    if not isinstance(text, str) or not isinstance(path, str):
        return None
    try:
        return parse_schedule(text, path)
    except ScheduleInvalid:
        return None


def gather(
    client: redis.Redis, keys: Keys, now: float, schedule: Schedule | None
) -> dict[str, Any]:
    """The status document of SPEC section 3 (``scheduler status --json``)."""
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.lease())
    pipe.zrangebyscore(keys.schedulers(), now - SCHEDULER_FRESH, "+inf")
    pipe.smembers(keys.queues())
    pipe.hgetall(keys.paused())
    lease, scheduler_ids, queue_names, paused = pipe.execute()
    return {
        "leader": _leader(lease),
        "schedulers": _schedulers(client, keys, [as_text(i) for i in scheduler_ids]),
        "jobs": _jobs(client, keys, now, schedule, paused) if schedule else [],
        "queues": _queues(client, keys, sorted(as_text(q) for q in queue_names)),
        "schedule": {"path": schedule.path, "digest": schedule.digest} if schedule else None,
    }


def _leader(lease: bytes | None) -> dict[str, Any] | None:
    if lease is None:
        return None
    value = read_object(lease)
    if value is None:  # written straight into Redis: no scheduler leads until it expires
        return {"id": None, "host": None, "pid": None, "since": None, "epoch": None,
                "unreadable": True}  # fmt: skip
    return {
        "id": value.get("id"),
        "host": value.get("host"),
        "pid": value.get("pid"),
        "since": iso(value.get("since")),
        "epoch": value.get("epoch"),
    }


def _schedulers(client: redis.Redis, keys: Keys, ids: list[str]) -> list[dict[str, Any]]:
    pipe = client.pipeline(transaction=False)
    for scheduler_id in ids:
        pipe.hgetall(keys.scheduler(scheduler_id))
    rows = []
    for scheduler_id, info in zip(ids, pipe.execute(), strict=True):
        fields = {as_text(k): as_text(v) for k, v in info.items()}
        rows.append(
            {
                "id": scheduler_id,
                "host": fields.get("host"),
                "pid": int(fields["pid"]) if fields.get("pid", "").isdigit() else None,
                "role": fields.get("role"),
                "digest": fields.get("digest"),
                "started": iso(fields.get("started")),
            }
        )
    return rows


def _jobs(
    client: redis.Redis, keys: Keys, now: float, schedule: Schedule, paused: dict[bytes, bytes]
) -> list[dict[str, Any]]:
    jobs = list(schedule.jobs.values())
    pipe = client.pipeline(transaction=False)
    for job in jobs:
        pipe.hget(keys.state(job.name), "watermark")
        pipe.zrange(keys.fired(job.name), -1, -1)
        pipe.hgetall(keys.last(job.name))
    replies = pipe.execute()
    pauses = {as_text(k): asdict(read_pause(as_text(k), v)) for k, v in paused.items()}
    rows = []
    for i, job in enumerate(jobs):
        watermark, last_fired, last_run = replies[3 * i : 3 * i + 3]
        rows.append(
            _job_row(
                job,
                now,
                watermark=watermark,
                last_fired=last_fired,
                last_run=last_run,
                pause=pauses.get(job.name),
            )
        )
    return rows


def _job_row(
    job: Job,
    now: float,
    *,
    watermark: bytes | None,
    last_fired: list[bytes],
    last_run: dict[bytes, bytes],
    pause: dict[str, Any] | None,
) -> dict[str, Any]:
    seen = read_seconds(watermark)
    after = int(now if seen is None else seen)
    run = {as_text(k): as_text(v) for k, v in last_run.items()}
    return {
        "job": job.name,
        "rule": f"{job.rule.kind}: {job.rule.text}",
        "description": job.rule.describe(),
        "timezone": job.timezone,
        "next": iso(job.rule.next_after(after)) if job.enabled else None,
        "last": iso(last_fired[0]) if last_fired else None,
        "last_status": run.get("status"),
        "last_finished": iso(run.get("finished_at")),
        "last_error": run.get("error") or None,
        "enabled": job.enabled,
        "paused": pause,
    }


def _queues(client: redis.Redis, keys: Keys, names: list[str]) -> dict[str, int]:
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(keys.queue(name))
    return {name: int(depth) for name, depth in zip(names, pipe.execute(), strict=True)}


def render(status: dict[str, Any]) -> str:
    """The status document as a readable page."""
    leader = status["leader"]
    lines = ["leader: " + _leader_text(leader)]
    for row in status["schedulers"]:
        lines.append(f"  {row['role'] or '?':8} {row['id']}  schedule {row['digest']}")
    lines.append("jobs:")
    for job in status["jobs"]:
        state = "disabled" if not job["enabled"] else "paused" if job["paused"] else ""
        lines.append(
            f"  {job['job']:<24} next {job['next'] or '-':<21} last {job['last'] or '-':<21}"
            f" {job['last_status'] or '-':<8} {state}".rstrip()
        )
    lines.append("queues: " + (", ".join(f"{q}={d}" for q, d in status["queues"].items()) or "-"))
    return "\n".join(lines)


def _leader_text(leader: dict[str, Any] | None) -> str:
    if leader is None:
        return "none"
    if leader.get("unreadable"):
        return (
            "unreadable lease (not written by a scheduler; it blocks leadership until it expires)"
        )
    return f"{leader['id']} (epoch {leader['epoch']}, since {leader['since']})"
