"""Control commands: trigger, pause, resume, backfill, dead, queues, health.

Each acts through Redis (so every scheduler and worker sees it at once) and takes
``--json``. Jobs are looked up in the schedule the leader published, else in the schedule
file (``--schedule``, ``$SCHEDULER_SCHEDULE``, ``schedule.yml``).
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from .cli import Instant, schedule_path
from .cli_redis import connect, redis_options, safe_namespace
from .clock import RedisClock
from .control import Control, dead_summary
from .describe import utc_text
from .keys import Keys
from .planner import select_jobs
from .schedule import Job, load_schedule
from .status import published_schedule

F = TypeVar("F", bound=Callable[..., Any])


def _options(command: F) -> F:
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)
    return redis_options(command)


def _schedule_option(command: F) -> F:
    return click.option(
        "--schedule", "schedule_file", default=None, metavar="FILE",
        help="Schedule to find the job in when no leader has published one "
        "[default: $SCHEDULER_SCHEDULE, else schedule.yml].",
    )(command)  # fmt: skip


def _control(redis_url: str, namespace: str) -> Control:
    client = connect(redis_url, timeout=10.0)
    return Control(client, Keys(safe_namespace(namespace)), RedisClock(client))


def _job(control: Control, name: str, schedule_file: str | None) -> Job:
    schedule = published_schedule(control.client, control.keys)
    if schedule is None or (schedule_file is not None and name not in schedule.jobs):
        schedule = load_schedule(schedule_path(schedule_file))
    [job] = select_jobs(schedule, [name], include_disabled=True)
    return job


def _emit(as_json: bool, document: Any, text: str) -> None:
    click.echo(json.dumps(document, indent=2) if as_json else text)


@click.command()
@click.argument("job_name", metavar="JOB")
@_schedule_option
@_options
def trigger(job_name: str, schedule_file: str | None, as_json: bool, redis_url: str,
            namespace: str) -> None:  # fmt: skip
    """Run JOB now, outside its schedule (its next fires are unchanged)."""
    control = _control(redis_url, namespace)
    job_id = control.trigger(_job(control, job_name, schedule_file))
    _emit(as_json, {"job": job_name, "id": job_id}, f"{job_name}: enqueued now, id {job_id}")


@click.command()
@click.argument("job_name", metavar="JOB")
@click.option("--reason", default=None, help="Why, shown by `scheduler status`.")
@click.option("--by", "by", default=None, help="Who [default: user@host].")
@_schedule_option
@_options
def pause(job_name: str, reason: str | None, by: str | None, schedule_file: str | None,
          as_json: bool, redis_url: str, namespace: str) -> None:  # fmt: skip
    """Pause JOB: no fire is enqueued until `scheduler resume JOB`."""
    control = _control(redis_url, namespace)
    _job(control, job_name, schedule_file)
    who = by or f"{getpass.getuser()}@{socket.gethostname()}"
    done = control.pause(job_name, who, reason)
    why = f" ({reason})" if reason else ""
    _emit(as_json, dataclasses.asdict(done), f"{job_name}: paused by {who}{why}")


@click.command()
@click.argument("job_name", metavar="JOB")
@_schedule_option
@_options
def resume(job_name: str, schedule_file: str | None, as_json: bool, redis_url: str,
           namespace: str) -> None:  # fmt: skip
    """Resume JOB; fires missed while paused follow its misfire settings."""
    control = _control(redis_url, namespace)
    _job(control, job_name, schedule_file)
    was = control.resume(job_name)
    text = f"{job_name}: resumed" if was else f"{job_name}: was not paused"
    _emit(as_json, {"job": job_name, "resumed": was}, text)


@click.command()
@click.argument("job_name", metavar="JOB")
@click.option("--from", "start", type=Instant(), required=True,
              help="Window start (exclusive), ISO 8601 with offset.")  # fmt: skip
@click.option("--to", "end", type=Instant(), required=True,
              help="Window end (inclusive), ISO 8601 with offset.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="List what would be enqueued; change nothing.")
@_schedule_option
@_options
def backfill(job_name: str, start: int, end: int, dry_run: bool, schedule_file: str | None,
             as_json: bool, redis_url: str, namespace: str) -> None:  # fmt: skip
    """Enqueue JOB's fires between --from and --to that were never enqueued, once each."""
    if end <= start:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    control = _control(redis_url, namespace)
    fires = control.backfill(_job(control, job_name, schedule_file), start, end, dry_run=dry_run)
    rows = [{"at": utc_text(f.at), "outcome": f.outcome} for f in fires]
    verb = "would enqueue" if dry_run else "enqueued"
    count = sum(f.outcome == "enqueued" for f in fires)
    lines = [f"{row['at']}  {row['outcome']}" for row in rows]
    lines.append(f"{job_name}: {verb} {count} of {len(fires)} fires in the window")
    _emit(as_json, {"job": job_name, "dry_run": dry_run, "fires": rows}, "\n".join(lines))


@click.group()
def dead() -> None:
    """Inspect, retry and purge the dead set (jobs that failed all their retries)."""


@dead.command(name="list")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
    help="How many to list.",
)  # fmt: skip
@_options
def dead_list(limit: int, as_json: bool, redis_url: str, namespace: str) -> None:
    """The newest dead jobs, newest first."""
    rows = [dead_summary(job) for job in _control(redis_url, namespace).dead(limit)]
    lines = [
        f"{r['id']}  {utc_text(r['failed_at'])}  {r['task']}  attempt {r['attempt']}  {r['error']}"
        for r in rows
    ]
    _emit(as_json, rows, "\n".join(lines) or "the dead set is empty")


@dead.command(name="show")
@click.argument("job_id")
@_options
def dead_show(job_id: str, as_json: bool, redis_url: str, namespace: str) -> None:
    """One dead job: its payload, error and traceback."""
    job = _control(redis_url, namespace).dead_job(job_id)
    record = job.record
    text = "\n".join(
        [f"{k}: {json.dumps(v)}" for k, v in record.items() if k != "traceback"]
        + ["traceback:", str(record.get("traceback", "")).rstrip()]
    )
    _emit(as_json, record, text)


def _ids_or_all(ids: Sequence[str], every: bool) -> list[str] | None:
    if bool(ids) == every:
        raise click.UsageError("give job ids, or --all")
    return None if every else list(ids)


@dead.command(name="retry")
@click.argument("job_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every dead job.")
@_options
def dead_retry(job_ids: Sequence[str], every: bool, as_json: bool, redis_url: str,
               namespace: str) -> None:  # fmt: skip
    """Enqueue dead jobs again, as fresh first attempts."""
    count, unreadable = _control(redis_url, namespace).retry_dead(_ids_or_all(job_ids, every))
    stayed = f"; {unreadable} unreadable stayed in the dead set" if unreadable else ""
    document = {"retried": count, "unreadable": unreadable}
    _emit(as_json, document, f"{count} dead jobs enqueued again{stayed}")
    sys.exit(0 if count or every else 1)


@dead.command(name="purge")
@click.argument("job_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every dead job.")
@_options
def dead_purge(job_ids: Sequence[str], every: bool, as_json: bool, redis_url: str,
               namespace: str) -> None:  # fmt: skip
    """Delete dead jobs for good."""
    count = _control(redis_url, namespace).purge_dead(_ids_or_all(job_ids, every))
    _emit(as_json, {"purged": count}, f"{count} dead jobs deleted")
    sys.exit(0 if count or every else 1)


@click.command()
@_options
def queues(as_json: bool, redis_url: str, namespace: str) -> None:
    """Every queue: depth, age of the oldest job, delayed and in-progress counts."""
    rows = _control(redis_url, namespace).queues()
    lines = [f"{'QUEUE':<20} {'DEPTH':>8} {'OLDEST':>10} {'DELAYED':>8} {'RUNNING':>8}"]
    for r in rows:
        age = f"{r.oldest_age:.1f}s" if r.oldest_age is not None else "-"
        lines.append(f"{r.name:<20} {r.depth:>8} {age:>10} {r.delayed:>8} {r.in_progress:>8}")
    _emit(as_json, [dataclasses.asdict(r) for r in rows], "\n".join(lines))


@click.command()
@click.option("--role", type=click.Choice(["scheduler", "worker", "redis"]), default="redis",
              show_default=True, help="What must be alive on this host.")  # fmt: skip
@click.option("--max-age", type=click.FloatRange(0.1), default=15.0, show_default=True,
              help="Seconds a heartbeat may be old.")  # fmt: skip
@click.option("--host", default=None, help="Host to check [default: this one].")
@_options
def health(role: str, max_age: float, host: str | None, as_json: bool, redis_url: str,
           namespace: str) -> None:  # fmt: skip
    """Exit 0 if Redis answers and (with --role) a process of this host heartbeats."""
    ok, message = _control(redis_url, namespace).health(role, max_age, host)
    _emit(as_json, {"ok": ok, "role": role, "message": message}, message)
    sys.exit(0 if ok else 1)
