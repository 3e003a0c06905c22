"""Hooks an application registers when the worker imports it (`--import tests.hooks_app`):
each writes one JSON line per call to the file named by $HOOKS_LOG, then raises, so the
test sees both that hooks ran and that a raising hook loses no job."""

from __future__ import annotations

import json
import os

from scheduler import hooks


def _write(kind: str, event: hooks.JobEvent) -> None:
    line = {"kind": kind, "id": event.id, "task": event.task, "status": event.status}
    line |= {"attempt": event.attempt, "error": event.error, "timed": event.duration is not None}
    with open(os.environ["HOOKS_LOG"], "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
    raise RuntimeError(f"{kind} hook is broken")


@hooks.before_run
def before_run(event: hooks.JobEvent) -> None:
    _write("before_run", event)


@hooks.after_run
def after_run(event: hooks.JobEvent) -> None:
    _write("after_run", event)


@hooks.on_failure
def on_failure(event: hooks.JobEvent) -> None:
    _write("on_failure", event)


@hooks.on_dead
def on_dead(event: hooks.JobEvent) -> None:
    _write("on_dead", event)
