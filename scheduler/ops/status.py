"""`scheduler status`: leader, scheduler processes, each job's next and last fire, queues.

Everything is read from Redis in a few round trips. The jobs come from the schedule the
leader published (``{ns}:schedule``), else from a schedule file the caller passes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import redis

from ..documents import load, load_object, read_object, read_seconds
from ..errors import PayloadError, ScheduleInvalid, printable
from ..keys import Keys, as_text
from ..queue import QueueReadout
from ..rules.describe import utc_text
from ..schedule.loader import Job, Schedule, parse_schedule
from .control import read_pause

SCHEDULER_FRESH = 10.0  # a scheduler whose heartbeat is older than this is not listed


def iso(instant: object) -> str | None:
    """``2026-11-23T09:00:00Z`` (whole seconds), or None (also for what is no instant)."""
    seconds = read_seconds(instant)
    return None if seconds is None else utc_text(seconds)


def reload_refusal(raw: bytes | str | None) -> dict[str, Any] | None:
    """A scheduler's refused reload as it published it (its hash's ``refused``): ``{at,
    count, problems}``, the problem lines made printable; None if there is none."""
    if raw is None:
        return None
    try:
        value = load_object(raw, "reload record")
        at, count, problems = float(value["at"]), int(value["count"]), value["problems"]
        utc_text(at)  # a time that can be shown
        if not isinstance(problems, list):
            raise TypeError("problems is not a list")
    except (PayloadError, ValueError, TypeError, KeyError, OverflowError, OSError):
        return {"at": None, "count": 1, "problems": ["(the record in Redis is unreadable)"]}
    return {"at": at, "count": count, "problems": [printable(str(p)) for p in problems]}


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
    """The status document of docs/cli.md (``scheduler status --json``)."""
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.lease())
    pipe.zrangebyscore(keys.schedulers(), now - SCHEDULER_FRESH, "+inf")
    pipe.smembers(keys.queues())
    pipe.hgetall(keys.paused())
    pipe.smembers(keys.paused_queues())
    pipe.zrange(keys.workers(), 0, -1, withscores=True)
    lease, scheduler_ids, queue_names, paused, paused_queues, workers = pipe.execute()
    return {
        "leader": _leader(lease),
        "schedulers": _schedulers(client, keys, [as_text(i) for i in scheduler_ids]),
        "workers": _workers(client, keys, [(as_text(w), beat) for w, beat in workers]),
        "jobs": _jobs(client, keys, now, schedule, paused) if schedule else [],
        "queues": _queues(client, keys, sorted({as_text(q) for q in queue_names | paused_queues})),
        "paused_queues": sorted(as_text(q) for q in paused_queues),
        "schedule": {"path": schedule.path, "digest": schedule.digest} if schedule else None,
    }


def _leader(lease: bytes | None) -> dict[str, Any] | None:
    if lease is None:
        return None
    value = read_object(lease)
    if value is None:  # written straight into Redis: no scheduler leads until it expires
        return {
            "id": None,
            "host": None,
            "pid": None,
            "since": None,
            "epoch": None,
            "unreadable": True,
        }
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
                "pid": _pid(fields.get("pid")),
                "role": fields.get("role"),
                "digest": fields.get("digest"),
                "started": iso(fields.get("started")),
                "reload_refused": refused,
                "durability": fields.get("durability") or "local",
                "unconfirmed": _count(fields.get("unconfirmed")),
            }
        )
    return rows


def _workers(
    client: redis.Redis, keys: Keys, workers: list[tuple[str, float]]
) -> list[dict[str, Any]]:
    """Each registered worker: where it runs, its queues, its last heartbeat, since when it
    is quiet (fetches no more) and the pid of its ``--processes`` supervisor."""
    pipe = client.pipeline(transaction=False)
    for worker_id, _ in workers:
        pipe.hgetall(keys.worker(worker_id))
    rows = []
    for (worker_id, beat), info in zip(workers, pipe.execute(), strict=True):
        fields = {as_text(k): as_text(v) for k, v in info.items()}
        rows.append(
            {
                "id": printable(worker_id),
                "host": printable(fields.get("host") or "?"),
                "pid": _pid(fields.get("pid")),
                "queues": [printable(q) for q in worker_queues(fields.get("queues"))],
                "heartbeat": iso(beat),
                "quiet": iso(fields.get("quiet")),
                "supervisor": _pid(fields.get("supervisor")),
            }
        )
    return rows


def _pid(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


def worker_queues(raw: str | None) -> list[str]:
    """The queues of a worker's record (its own JSON list of names); ``["(unreadable)"]``
    for what is no such list (written straight into Redis)."""
    try:
        names = load(raw or "[]", what="worker record")
    except PayloadError:
        return ["(unreadable)"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return ["(unreadable)"]
    return names


def _jobs(
    client: redis.Redis, keys: Keys, now: float, schedule: Schedule, paused: dict[bytes, bytes]
) -> list[dict[str, Any]]:
    jobs = list(schedule.jobs.values())
    pipe = client.pipeline(transaction=False)
    for job in jobs:
        pipe.hget(keys.state(job.name), "watermark")
        pipe.zrange(keys.fired(job.name), -1, -1, withscores=True)
        pipe.hgetall(keys.last(job.name))
    replies = pipe.execute()
    pauses = {as_text(k): asdict(read_pause(as_text(k), v)) for k, v in paused.items()}
    last_fires = [_fire(fired[0][1]) if fired else None for fired in replies[1::3]]
    last_runs = [{as_text(k): as_text(v) for k, v in run.items()} for run in replies[2::3]]
    fire_runs = _runs_of_fires(client, keys, jobs, last_fires, last_runs)
    rows = []
    for i, job in enumerate(jobs):
        row = _job_row(job, now, replies[3 * i], last_fires[i], pauses.get(job.name))
        row.update(_last_fields(fire_runs[i], last_fires[i] is not None))
        if job.target != "task" and row["last_status"] == "pending":
            row["last_status"] = "sent"  # its own workers run it; no outcome comes back
        row["last_run"] = _run_summary(last_runs[i])
        rows.append(row)
    return rows


def _fire(value: object) -> int | None:
    """A fire instant as Redis stores it (1767225600.0); None for none (a triggered run)
    or what is no instant."""
    seconds = read_seconds(value)
    return None if seconds is None else int(seconds)


def _runs_of_fires(
    client: redis.Redis,
    keys: Keys,
    jobs: list[Job],
    last_fires: list[int | None],
    last_runs: list[dict[str, str]],
) -> list[dict[str, str] | None]:
    """For each job, the latest finished run of its last fire, or None if none has ended.

    The last-outcome hash answers when it is that fire's; otherwise (a manual run ended
    since, or the fire is still queued or running) the job's recent runs are searched."""
    found: list[dict[str, str] | None] = []
    search = []
    for i, (fire, run) in enumerate(zip(last_fires, last_runs, strict=True)):
        mine = fire is not None and _fire(run.get("fire")) == fire
        found.append(run if mine else None)
        if fire is not None and not mine:
            search.append(i)
    pipe = client.pipeline(transaction=False)
    for i in search:
        pipe.lrange(keys.runs(jobs[i].name), 0, -1)
    for i, recent in zip(search, pipe.execute() if search else [], strict=True):
        runs = (read_object(raw) or {} for raw in recent)
        found[i] = next((run for run in runs if _fire(run.get("fire")) == last_fires[i]), None)
    return found


def _job_row(
    job: Job, now: float, watermark: bytes | None, last_fire: int | None, pause: Any
) -> dict[str, Any]:
    seen = read_seconds(watermark)
    after = int(now if seen is None else seen)
    if pause is not None:  # no fire goes in while paused: the next is one still to come
        after = max(after, int(now))
    return {
        "job": job.name,
        "target": job.target,
        "task": job.task,
        "queue": job.queue,
        "rule": f"{job.rule.kind}: {job.rule.text}",
        "description": job.rule.describe(),
        "timezone": job.timezone,
        "next": iso(job.rule.next_after(after)) if job.enabled else None,
        "last": iso(last_fire),
        "enabled": job.enabled,
        "paused": pause,
    }


def _last_fields(run: dict[str, Any] | None, fired: bool) -> dict[str, Any]:
    """The outcome of the last fire: ``pending`` while no run of it has ended."""
    if run is None:
        return {
            "last_status": "pending" if fired else None,
            "last_finished": None,
            "last_error": None,
        }
    return {
        "last_status": run.get("status"),
        "last_finished": iso(run.get("finished_at")),
        "last_error": run.get("error") or None,
    }


def _run_summary(run: dict[str, str]) -> dict[str, Any] | None:
    """The latest finished run of the job, whichever fire (or manual trigger) it was."""
    if not run:
        return None
    fire = _fire(run.get("fire"))
    return {
        "fire": iso(fire),
        "status": run.get("status"),
        "finished": iso(run.get("finished_at")),
        "error": run.get("error") or None,
        "job_id": run.get("job_id"),
    }


def _queues(client: redis.Redis, keys: Keys, names: list[str]) -> dict[str, int]:
    rows, _ = QueueReadout(keys, names).fetch(client)
    return {row.name: row.depth for row in rows}


def _count(raw: str | None) -> int:
    """A count from a heartbeat record; 0 for none or what is no count."""
    return int(raw) if raw is not None and raw.isdigit() else 0


def _unconfirmed_line(row: dict[str, Any]) -> list[str]:
    if not row["unconfirmed"]:
        return []
    return [f"    UNCONFIRMED: {row['unconfirmed']} writes no replica has confirmed yet"]


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
    lines = ["leader: " + _leader_text(leader)]
    for row in status["schedulers"]:
        lines.append(f"  {row['role'] or '?':8} {row['id']}  schedule {row['digest']}")
        lines += _unconfirmed_line(row) + _refusal_lines(row)
    lines.append("jobs:")
    for job in status["jobs"]:
        state = "disabled" if not job["enabled"] else "paused" if job["paused"] else ""
        if job["target"] != "task":
            state = f"-> {job['target']} {job['queue']} {state}"
        lines.append(
            f"  {job['job']:<24} next {job['next'] or '-':<21} last {job['last'] or '-':<21}"
            f" {job['last_status'] or '-':<8} {state}".rstrip()
        )
        if job["paused"]:
            lines.append(f"    {_pause_text(job['paused'])}")
    held = set(status["paused_queues"])
    depths = [f"{q}={d}" + (" (paused)" if q in held else "") for q, d in status["queues"].items()]
    lines.append("queues: " + (", ".join(depths) or "-"))
    lines.append("workers:" + ("" if status["workers"] else " -"))
    lines += [_worker_text(worker) for worker in status["workers"]]
    return "\n".join(lines)


def _worker_text(worker: dict[str, Any]) -> str:
    """``  host:1:ab  host pid 1  queues a,b  heartbeat T  quiet since T  child of pid 9``."""
    text = f"  {worker['id']}  {worker['host']} pid {worker['pid'] or '?'}"
    text += f"  queues {','.join(worker['queues']) or '-'}  heartbeat {worker['heartbeat']}"
    if worker["quiet"]:
        text += f"  quiet since {worker['quiet']}"
    if worker["supervisor"]:
        text += f"  child of supervisor pid {worker['supervisor']}"
    return text


def _pause_text(pause: dict[str, Any]) -> str:
    """``paused by ops@host since 2026-01-01T00:00:00Z: maintenance window``."""
    if not isinstance(pause, dict):
        return "paused (its pause record cannot be read)"
    at = pause.get("at")
    since = f" since {iso(at)}" if isinstance(at, (int, float)) else ""
    reason = pause.get("reason")
    return f"paused by {pause.get('by') or '?'}{since}: {reason or '(no reason given)'}"


def _leader_text(leader: dict[str, Any] | None) -> str:
    if leader is None:
        return "none"
    if leader.get("unreadable"):
        return (
            "unreadable lease (not written by a scheduler; it blocks leadership until it expires)"
        )
    return f"{leader['id']} (epoch {leader['epoch']}, since {leader['since']})"
