"""Control commands: trigger, pause, resume, backfill, dead, queues, queue, health.

Each acts through Redis (so every scheduler and worker sees it at once) and takes
``--json``. Jobs are looked up in the schedule the leader published, else in the schedule
file (``--schedule``, ``$SCHEDULER_SCHEDULE``, ``schedule.yml``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from ..clock import RedisClock
from ..deadset import DeadFilter
from ..errors import printable, printable_lines
from ..keys import Keys
from ..ops.control import BackfillFire, Control, dead_summary
from ..ops.status import published_schedule
from ..rules.describe import utc_text
from ..schedule.loader import Job, Schedule, load_schedule
from ..schedule.planner import select_jobs
from .main import (
    INSTANT_FORMS,
    Instant,
    When,
    command_clock,
    fire_line,
    job_heading,
    local_text,
    schedule_path,
)
from .options import connect, redis_options, safe_namespace

F = TypeVar("F", bound=Callable[..., Any])


def _options(command: F) -> F:
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)
    return redis_options(command)


def _schedule_option(command: F) -> F:
    return click.option(
        "--schedule",
        "schedule_file",
        default=None,
        metavar="FILE",
        help="Schedule to find the job in when no leader has published one "
        "[default: $SCHEDULER_SCHEDULE, else schedule.yml].",
    )(command)


def _control(redis_url: str, namespace: str) -> Control:
    client = connect(redis_url, timeout=10.0)
    clock = command_clock(RedisClock(client))
    return Control(client, Keys(safe_namespace(namespace)), clock)


def _job(control: Control, name: str, schedule_file: str | None) -> tuple[Job, Schedule]:
    schedule = published_schedule(control.client, control.keys)
    if schedule is None or (schedule_file is not None and name not in schedule.jobs):
        schedule = load_schedule(schedule_path(schedule_file))
    [job] = select_jobs(schedule, [name], include_disabled=True)
    return job, schedule


def _emit(as_json: bool, document: Any, text: str) -> None:
    """Print ``document`` as JSON, or ``text`` with no control character from Redis raw."""
    click.echo(json.dumps(document, indent=2) if as_json else printable_lines(text))


@click.command()
@click.argument("job_name", metavar="JOB")
@_schedule_option
@_options
def trigger(
    job_name: str, schedule_file: str | None, as_json: bool, redis_url: str, namespace: str
) -> None:
    """Run JOB now, outside its schedule (its next fires are unchanged)."""
    control = _control(redis_url, namespace)
    job, schedule = _job(control, job_name, schedule_file)
    job_id = control.trigger(job, schedule.targets)
    _emit(as_json, {"job": job_name, "id": job_id}, f"{job_name}: enqueued now, id {job_id}")


@click.command()
@click.argument("job_name", metavar="JOB")
@click.option("--reason", default=None, help="Why, shown by `scheduler status`.")
@click.option("--by", "by", default=None, help="Who [default: user@host].")
@_schedule_option
@_options
def pause(
    job_name: str,
    reason: str | None,
    by: str | None,
    schedule_file: str | None,
    as_json: bool,
    redis_url: str,
    namespace: str,
) -> None:
    """Pause JOB: no fire is enqueued until `scheduler resume JOB`."""
    control = _control(redis_url, namespace)
    _job(control, job_name, schedule_file)
    who = by or f"{getpass.getuser()}@{socket.gethostname()}"
    done = control.pause(job_name, who, reason)
    why = f" ({done.reason})" if done.reason else ""
    since = "" if done.at is None else f" since {utc_text(done.at)}"
    text = f"{job_name}: paused by {done.by}{why}{since}"
    _emit(as_json, dataclasses.asdict(done), text)


@click.command()
@click.argument("job_name", metavar="JOB")
@_schedule_option
@_options
def resume(
    job_name: str, schedule_file: str | None, as_json: bool, redis_url: str, namespace: str
) -> None:
    """Resume JOB; fires missed while paused follow its misfire settings."""
    control = _control(redis_url, namespace)
    _job(control, job_name, schedule_file)
    was = control.resume(job_name)
    text = f"{job_name}: resumed" if was else f"{job_name}: was not paused"
    _emit(as_json, {"job": job_name, "resumed": was}, text)


@click.command()
@click.argument("job_name", metavar="JOB")
@click.option(
    "--from",
    "start",
    type=Instant(),
    required=True,
    help=f"Window start (exclusive): {INSTANT_FORMS}.",
)
@click.option(
    "--to",
    "end",
    type=Instant(),
    default="now",
    show_default=True,
    help=f"Window end (inclusive): {INSTANT_FORMS}.",
)
@click.option("--dry-run", is_flag=True, help="List what would be enqueued; change nothing.")
@_schedule_option
@_options
def backfill(
    job_name: str,
    start: When,
    end: When,
    dry_run: bool,
    schedule_file: str | None,
    as_json: bool,
    redis_url: str,
    namespace: str,
) -> None:
    """Enqueue JOB's fires between --from and --to that were never enqueued, once each."""
    control = _control(redis_url, namespace)
    now = control.clock.now()
    after, until = start.resolve(now), end.resolve(now)
    if until <= after:
        raise click.BadParameter("--to must be after --from", param_hint="'--to'")
    job, schedule = _job(control, job_name, schedule_file)
    fires = control.backfill(job, after, until, dry_run=dry_run, targets=schedule.targets)
    window = (after, until)
    _emit(
        as_json,
        _backfill_document(job, window, dry_run, fires),
        _backfill_text(job, window, dry_run, fires),
    )


def _backfill_document(
    job: Job, window: tuple[int, int], dry_run: bool, fires: Sequence[BackfillFire]
) -> dict[str, Any]:
    zone = ZoneInfo(job.timezone)
    rows = [
        {"at": utc_text(f.at), "local": local_text(f.at, zone), "outcome": f.outcome} for f in fires
    ]
    when = {"from": utc_text(window[0]), "to": utc_text(window[1])}
    return {"job": job.name, **when, "dry_run": dry_run, "fires": rows}


def _backfill_text(
    job: Job, window: tuple[int, int], dry_run: bool, fires: Sequence[BackfillFire]
) -> str:
    """Like `next`: the job, then each fire in its zone and in UTC, with its outcome."""
    lines = [job_heading(job), *(f"{fire_line(job, f.at)}  {f.outcome}" for f in fires)]
    verb = "would enqueue" if dry_run else "enqueued"
    count = sum(f.outcome == "enqueued" for f in fires)
    lines.append(
        f"{job.name}: {verb} {count} of {len(fires)} fires after {utc_text(window[0])} "
        f"up to {utc_text(window[1])}"
    )
    return "\n".join(lines)


@click.group()
def dead() -> None:
    """Inspect, retry and purge the dead set (jobs that failed all their retries)."""


@dead.command(name="list")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=50,
    show_default=True,
    help="How many to list.",
)
@click.option("--task", default=None, metavar="TEXT", help="Only tasks whose name contains TEXT.")
@click.option("--queue", default=None, metavar="Q", help="Only jobs of queue Q.")
@click.option("--job", default=None, metavar="NAME", help="Only runs of schedule job NAME.")
@click.option(
    "--error", default=None, metavar="TEXT", help="Only errors that contain TEXT (ignoring case)."
)
@_options
def dead_list(
    limit: int,
    task: str | None,
    queue: str | None,
    job: str | None,
    error: str | None,
    as_json: bool,
    redis_url: str,
    namespace: str,
) -> None:
    """The newest dead jobs (that match the filters), newest first."""
    where = DeadFilter(task=task, queue=queue, job=job, error=error)
    found, total = _control(redis_url, namespace).dead(limit, where)
    rows = [dead_summary(dead) for dead in found]
    _emit(as_json, rows, _dead_lines(rows, total, bool(where)))


def _dead_lines(rows: list[dict[str, Any]], total: int, filtered: bool) -> str:
    lines = [
        printable(
            f"{r['id']}  {_when(r['failed_at'])}  {r['task']}  queue {r['queue']}"
            f"  job {r['schedule'] or '-'}  attempt {r['attempt']}  {r['error']}"
        )
        for r in rows
    ]
    if total > len(rows):
        which = "matching dead jobs" if filtered else "dead jobs"
        lines.append(f"{len(rows)} of {total} {which} shown (--limit for more)")
    if not lines:
        return "no dead job matches" if filtered else "the dead set is empty"
    return "\n".join(lines)


@dead.command(name="show")
@click.argument("job_id", metavar="ID")
@_options
def dead_show(job_id: str, as_json: bool, redis_url: str, namespace: str) -> None:
    """One dead job (ID or a unique start of it): its payload, error and traceback."""
    record = _control(redis_url, namespace).dead_job(job_id).record
    _emit(as_json, record, _dead_text(record))


_TIME_FIELDS = ("enqueued_at", "scheduled_for", "expires_at", "failed_at")


def _dead_text(record: dict[str, Any]) -> str:
    """A dead job's record, a field a line (times in UTC), its traceback last."""
    lines = [
        f"{name}: {_when(value) if name in _TIME_FIELDS else json.dumps(value)}"
        for name, value in record.items()
        if name != "traceback"
    ]
    lines += ["traceback:", str(record.get("traceback") or "").rstrip()]
    return "\n".join(lines)


def _when(value: object) -> str:
    """An instant as UTC text; anything else (a damaged record) as its JSON."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError, OSError):
            return utc_text(value)
    return json.dumps(value)


def _ids_or_all(control: Control, ids: Sequence[str], every: bool) -> list[str] | None:
    if bool(ids) == every:
        raise click.UsageError("give job ids, or --all")
    return None if every else control.resolve_dead_ids(list(ids))


@dead.command(name="retry")
@click.argument("job_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every dead job.")
@_options
def dead_retry(
    job_ids: Sequence[str], every: bool, as_json: bool, redis_url: str, namespace: str
) -> None:
    """Enqueue dead jobs again, as fresh first attempts."""
    control = _control(redis_url, namespace)
    count, unreadable = control.retry_dead(_ids_or_all(control, job_ids, every))
    stayed = f"; {unreadable} unreadable stayed in the dead set" if unreadable else ""
    document = {"retried": count, "unreadable": unreadable}
    _emit(as_json, document, f"{count} dead jobs enqueued again{stayed}")
    sys.exit(0 if count or every else 1)


@dead.command(name="purge")
@click.argument("job_ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every dead job.")
@_options
def dead_purge(
    job_ids: Sequence[str], every: bool, as_json: bool, redis_url: str, namespace: str
) -> None:
    """Delete dead jobs for good."""
    control = _control(redis_url, namespace)
    count = control.purge_dead(_ids_or_all(control, job_ids, every))
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
        line = f"{r.name:<20} {r.depth:>8} {age:>10} {r.delayed:>8} {r.in_progress:>8}"
        lines.append(line + ("  paused" if r.paused else ""))
    _emit(as_json, [dataclasses.asdict(r) for r in rows], "\n".join(lines))


@click.command(name="pause")
@click.argument("name", metavar="NAME")
@_options
def queue_pause(name: str, as_json: bool, redis_url: str, namespace: str) -> None:
    """Pause queue NAME: workers take no job from it until `scheduler queue resume NAME`;
    enqueues go on, running jobs finish."""
    was = not _control(redis_url, namespace).pause_queue(name)
    text = f"queue {name}: " + ("was paused already" if was else "paused")
    _emit(as_json, {"queue": name, "paused": True, "already": was}, text)


@click.command(name="resume")
@click.argument("name", metavar="NAME")
@_options
def queue_resume(name: str, as_json: bool, redis_url: str, namespace: str) -> None:
    """Resume queue NAME: workers fetch from it again."""
    was = _control(redis_url, namespace).resume_queue(name)
    text = f"queue {name}: " + ("resumed" if was else "was not paused")
    _emit(as_json, {"queue": name, "resumed": was}, text)


@click.command()
@click.option(
    "--role",
    type=click.Choice(["scheduler", "worker", "redis"]),
    default="redis",
    show_default=True,
    help="What must be alive on this host.",
)
@click.option(
    "--max-age",
    type=click.FloatRange(0.1),
    default=15.0,
    show_default=True,
    help="Seconds a heartbeat may be old.",
)
@click.option("--host", default=None, help="Host to check [default: this one].")
@_options
def health(
    role: str, max_age: float, host: str | None, as_json: bool, redis_url: str, namespace: str
) -> None:
    """Exit 0 if Redis answers and (with --role) a process of this host heartbeats."""
    ok, message = _control(redis_url, namespace).health(role, max_age, host)
    _emit(as_json, {"ok": ok, "role": role, "message": message}, message)
    sys.exit(0 if ok else 1)
