"""Failed runs reported to Sentry, with the job as context (``pip install scheduler[sentry]``).

``install()`` registers an ``on_failure`` hook (docs/workers.md, "Sentry"): each run that
raises is sent with ``sentry_sdk.capture_exception`` in a scope of its own, tagged with the
task, queue, status and schedule job and carrying the job as the "scheduler job" context.
Sentry itself is set up by the application (``sentry_sdk.init``), in the modules the worker
imports.
"""

from __future__ import annotations

import sentry_sdk

from ..hooks import Hook, Hooks, JobEvent, registry

CONTEXT = "scheduler job"


def install(hooks: Hooks | None = None) -> Hook:
    """Report failed runs to Sentry through ``hooks`` (default: the process-wide
    registry); returns the hook, to remove it again."""
    return (registry if hooks is None else hooks).add("on_failure", report_failure)


def report_failure(event: JobEvent) -> None:
    """Send the exception of a failed run, with the job's context, to Sentry."""
    if event.exception is None:
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("scheduler.task", event.task)
        scope.set_tag("scheduler.queue", event.queue)
        scope.set_tag("scheduler.status", event.status or "")
        if event.schedule is not None:
            scope.set_tag("scheduler.schedule", event.schedule)
        scope.set_context(CONTEXT, job_context(event))
        sentry_sdk.capture_exception(event.exception)


def job_context(event: JobEvent) -> dict[str, object]:
    """The job, as the "scheduler job" context of a Sentry event."""
    return {
        "id": event.id,
        "task": event.task,
        "args": event.args,
        "kwargs": event.kwargs,
        "queue": event.queue,
        "attempt": event.attempt,
        "schedule": event.schedule,
        "scheduled_for": event.scheduled_for,
        "duration": event.duration,
        "error": event.error,
        "status": event.status,
    }
