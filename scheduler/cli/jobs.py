"""Commands about one job or one queue's waiting jobs: job, cancel, queue show.

They act through ``Queue`` (docs/api.md: job status, cancel), take ``--json``, and show
whatever Redis holds: a record or payload that cannot be read is printed as unreadable.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from ..jobs import check_queue_name
from ..jobstate import JobInfo
from ..waiting import CANCELLED, REQUESTED, WaitingJob, read_delayed, read_waiting
from .control import _control, _emit, _options, _when, queue_pause, queue_resume

_CANCEL_TEXT = {
    "cancelled": "cancelled: taken off its queue, it will not run",
    "requested": "cancel requested: its worker stops it (an async task at once, a sync "
    "one when it checks current_job().cancelled)",
    "finished": "not cancelled: it has already ended",
    "not_found": "not cancelled: it is not waiting, delayed or running",
}


@click.command(name="job")
@click.argument("job_id", metavar="ID")
@_options
def job(job_id: str, as_json: bool, redis_url: str, namespace: str) -> None:
    """A job's status, attempts, times, last error and result (exit 1 if unknown)."""
    info = _control(redis_url, namespace).queue.job(job_id)
    _emit(as_json, info.to_dict(), job_text(info))
    sys.exit(1 if info.status == "unknown" else 0)


def job_text(info: JobInfo) -> str:
    """A job's status, a field a line (times in UTC)."""
    status = info.status + (" (cancel requested)" if info.cancel_requested else "")
    if info.status == "unknown":
        status += " (no record: enqueued without result_ttl and not dead, or expired)"
    lines = [f"id: {info.id}", f"status: {status}"]
    for name in ("task", "queue", "attempt", "error", "problem"):
        value = getattr(info, name)
        if value is not None:
            lines.append(f"{name}: {value}")
    for name in ("enqueued_at", "due", "started_at", "finished_at"):
        value = getattr(info, name)
        if value is not None:
            lines.append(f"{name}: {_when(value)}")
    if info.has_result:
        lines.append(f"result: {json.dumps(info.result)}")
    return "\n".join(lines)


@click.command()
@click.argument("job_id", metavar="ID")
@_options
def cancel(job_id: str, as_json: bool, redis_url: str, namespace: str) -> None:
    """Cancel a waiting or delayed job, or ask the worker running it to stop it."""
    outcome = _control(redis_url, namespace).queue.cancel(job_id)
    _emit(as_json, {"id": job_id, "outcome": outcome}, f"job {job_id} {_CANCEL_TEXT[outcome]}")
    sys.exit(0 if outcome in (CANCELLED, REQUESTED) else 1)


@click.group()
def queue() -> None:
    """Look into a queue, pause or resume it (every worker stops or starts fetching)."""


queue.add_command(queue_pause)
queue.add_command(queue_resume)


@queue.command(name="show")
@click.argument("name", metavar="QUEUE")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="How many waiting and how many delayed jobs to list.",
)
@_options
def queue_show(name: str, limit: int, as_json: bool, redis_url: str, namespace: str) -> None:
    """A queue's next waiting jobs (next to run first) and its soonest delayed ones."""
    check_queue_name(name)
    control = _control(redis_url, namespace)
    waiting, waiting_total = read_waiting(control.client, control.keys, name, 0, limit)
    delayed, delayed_total = read_delayed(control.client, control.keys, name, 0, limit)
    document = {
        "queue": name,
        "waiting": {"total": waiting_total, "jobs": [_row(j) for j in waiting]},
        "delayed": {"total": delayed_total, "jobs": [_row(j) for j in delayed]},
    }
    lines = [f"{name}: {waiting_total} waiting, {delayed_total} delayed"]
    for title, rows, total in (
        ("waiting", waiting, waiting_total),
        ("delayed", delayed, delayed_total),
    ):
        lines.append(f"{title} (next {len(rows)} of {total}):" if rows else f"{title}: none")
        lines += [f"  {_line(row)}" for row in rows]
    _emit(as_json, document, "\n".join(lines))


def _row(entry: WaitingJob) -> dict[str, Any]:
    return dataclasses.asdict(entry)


def _line(entry: WaitingJob) -> str:
    if entry.problem is not None:
        return f"{entry.problem} (starts {entry.raw[:60]!r})"
    due = f" due {_when(entry.due)}" if entry.due is not None else ""
    return f"{entry.id}  {entry.task}  attempt {entry.attempt}{due}"
