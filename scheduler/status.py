"""`scheduler status`: leader, scheduler processes, each job's next and last fire, queues.

Everything is read from Redis in a few round trips. The jobs come from the schedule the
leader published (``{ns}:schedule``), else from a schedule file the caller passes.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import redis

from .describe import utc_text
from .errors import ScheduleInvalid
from .keys import Keys, as_text
from .queue import QueueReadout
from .schedule import Job, Schedule, parse_schedule

SCHEDULER_FRESH = 10.0  # a scheduler whose heartbeat is older than this is not listed


def iso(instant: float | None) -> str | None:
    """``2026-11-23T09:00:00Z`` (whole seconds), or None."""
    return None if instant is None else utc_text(instant)


def printable(text: str) -> str:
    """``text`` with control and format characters written as escapes (``\\x1b``), so text
    from a schedule file or from Redis can neither drive a terminal nor hide in a page."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch)[0] == "C" else ch
        for ch in text
    )


def reload_refusal(raw: bytes | str | None) -> dict[str, Any] | None:
    """A scheduler's refused reload as it published it (its hash's ``refused``): ``{at,
    count, problems}``, the problem lines made printable; None if there is none."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        at, count, problems = float(value["at"]), int(value["count"]), value["problems"]
        utc_text(at)  # a time that can be shown
        if not isinstance(problems, list):
            raise TypeError("problems is not a list")
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        return {"at": None, "count": 1, "problems": ["(the record in Redis is unreadable)"]}
    return {"at": at, "count": count, "problems": [printable(str(p)) for p in problems]}


def published_schedule(client: redis.Redis, keys: Keys) -> Schedule | None:
    """The schedule the leader runs, as it published it; None if there is none (or bad)."""
    raw = client.get(keys.schedule())
    if raw is None:
        return None
    snapshot = json.loads(raw)
    try:
        return parse_schedule(snapshot["text"], snapshot.get("path", "<published>"))
    except ScheduleInvalid:
        return None


def gather(
    client: redis.Redis, keys: Keys, now: float, schedule: Schedule | None
) -> dict[str, Any]:
    """The status document of docs/cli.md (``scheduler status --json``)."""
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
    value = json.loads(lease)
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
        refused = reload_refusal(fields.get("refused"))
        if refused is not None:
            refused["at"] = iso(refused["at"])
        rows.append(
            {
                "id": scheduler_id,
                "host": fields.get("host"),
                "pid": int(fields["pid"]) if "pid" in fields else None,
                "role": fields.get("role"),
                "digest": fields.get("digest"),
                "started": iso(float(fields["started"])) if "started" in fields else None,
                "reload_refused": refused,
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
    pauses = {as_text(k): json.loads(v) for k, v in paused.items()}
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
    after = int(float(watermark)) if watermark is not None else int(now)
    run = {as_text(k): as_text(v) for k, v in last_run.items()}
    return {
        "job": job.name,
        "rule": f"{job.rule.kind}: {job.rule.text}",
        "description": job.rule.describe(),
        "timezone": job.timezone,
        "next": iso(job.rule.next_after(after)) if job.enabled else None,
        "last": iso(int(float(last_fired[0]))) if last_fired else None,
        "last_status": run.get("status"),
        "last_finished": iso(float(run["finished_at"])) if "finished_at" in run else None,
        "last_error": run.get("error") or None,
        "enabled": job.enabled,
        "paused": pause,
    }


def _queues(client: redis.Redis, keys: Keys, names: list[str]) -> dict[str, int]:
    rows, _ = QueueReadout(keys, names).fetch(client)
    return {row.name: row.depth for row in rows}


def _refusal_lines(row: dict[str, Any]) -> list[str]:
    refused = row.get("reload_refused")
    if not refused:
        return []
    count, problems = refused["count"], refused["problems"]
    lines = [
        f"    schedule reload refused at {refused['at'] or '?'}, still running "
        f"{row['digest']}: {count} problem{'' if count == 1 else 's'}"
    ]
    lines += [f"      {problem}" for problem in problems]
    if count > len(problems):
        lines.append(f"      ... and {count - len(problems)} more (see the process's log)")
    return lines


def render(status: dict[str, Any]) -> str:
    """The status document as a readable page."""
    leader = status["leader"]
    lines = [
        "leader: "
        + (
            f"{leader['id']} (epoch {leader['epoch']}, since {leader['since']})"
            if leader
            else "none"
        )
    ]
    for row in status["schedulers"]:
        lines.append(f"  {row['role'] or '?':8} {row['id']}  schedule {row['digest']}")
        lines += _refusal_lines(row)
    lines.append("jobs:")
    for job in status["jobs"]:
        state = "disabled" if not job["enabled"] else "paused" if job["paused"] else ""
        lines.append(
            f"  {job['job']:<24} next {job['next'] or '-':<21} last {job['last'] or '-':<21}"
            f" {job['last_status'] or '-':<8} {state}".rstrip()
        )
    lines.append("queues: " + (", ".join(f"{q}={d}" for q, d in status["queues"].items()) or "-"))
    return "\n".join(lines)
