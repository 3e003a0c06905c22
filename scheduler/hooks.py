"""Hooks: callables run around each job, on the enqueue side and in the worker.

``before_enqueue`` runs in the application before a job is sent; ``before_run``,
``after_run``, ``on_failure`` and ``on_dead`` run in the worker's job thread around each
run (docs/workers.md, "Hooks"). Each is given a ``JobEvent``. An exception in a hook is
logged and the job goes on as if the hook had returned: a hook never loses a job.

Hooks are registered on a ``Hooks`` object. ``Queue`` and ``Worker`` use ``registry``
unless given their own, because a worker started by ``scheduler worker`` learns about the
application only by importing its modules (``--import``), as it does for ``@task``: a
module registers its hooks when imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

KINDS = ("before_enqueue", "before_run", "after_run", "on_failure", "on_dead")


@dataclass(frozen=True)
class JobEvent:
    """A job at one point of its life, as hooks see it.

    ``duration`` (seconds), ``error`` (its one-line description) and ``exception`` are set
    once a run ended (``after_run``, ``on_failure``, ``on_dead``); ``status`` is then "ok",
    "retry" or "dead". ``scheduled_for`` is the fire time (epoch seconds) of a schedule
    job's run. ``payload`` is the job's payload as sent or fetched. ``headers`` are strings
    that travel with the job: a ``before_enqueue`` hook may add to them (a trace context),
    the worker's hooks read them.
    """

    id: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    attempt: int
    schedule: str | None = None
    scheduled_for: int | None = None
    duration: float | None = None
    error: str | None = None
    exception: BaseException | None = None
    status: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False)


Hook = Callable[[JobEvent], object]


class Hooks:
    """Registered hooks, by kind, run in the order they were added."""

    def __init__(self) -> None:
        self.before_enqueue: list[Hook] = []
        self.before_run: list[Hook] = []
        self.after_run: list[Hook] = []
        self.on_failure: list[Hook] = []
        self.on_dead: list[Hook] = []

    def add(self, kind: str, hook: Hook) -> Hook:
        """Register ``hook`` for ``kind`` (one of ``KINDS``); returns it, so it decorates."""
        if kind not in KINDS:
            raise ValueError(f"unknown hook kind {kind!r}: use one of {', '.join(KINDS)}")
        self._of(kind).append(hook)
        return hook

    def remove(self, kind: str, hook: Hook) -> None:
        """Unregister ``hook`` from ``kind`` (ValueError if it is not registered)."""
        self._of(kind).remove(hook)

    def clear(self) -> None:
        """Unregister every hook."""
        for kind in KINDS:
            self._of(kind).clear()

    def fire(self, kind: str, event: JobEvent) -> None:
        """Run the hooks of ``kind`` with ``event``; an exception is logged, never raised."""
        for hook in list(self._of(kind)):
            try:
                hook(event)
            except Exception:
                log.exception(
                    "hook failed kind=%s hook=%s id=%s task=%s",
                    kind,
                    getattr(hook, "__qualname__", repr(hook)),
                    event.id,
                    event.task,
                )

    def _of(self, kind: str) -> list[Hook]:
        hooks: list[Hook] = getattr(self, kind)
        return hooks


def event_of(payload: Mapping[str, Any], **ended: Any) -> JobEvent:
    """The event of a job from its payload (``ended``: duration, error, exception, status,
    or the ``headers`` to fill)."""
    if "headers" not in ended:
        given = payload.get("headers")
        ended["headers"] = (
            {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
        )
    return JobEvent(
        id=str(payload.get("id")),
        task=str(payload.get("task")),
        args=list(payload.get("args") or []),
        kwargs=dict(payload.get("kwargs") or {}),
        queue=str(payload.get("queue")),
        attempt=int(payload.get("attempt") or 1),
        schedule=payload.get("schedule"),
        scheduled_for=payload.get("scheduled_for"),
        payload=payload,
        **ended,
    )


registry = Hooks()


def before_enqueue(hook: Hook) -> Hook:
    """Register ``hook`` to run before a job is enqueued by the application (decorator)."""
    return registry.add("before_enqueue", hook)


def before_run(hook: Hook) -> Hook:
    """Register ``hook`` to run in the worker before each run of a job (decorator)."""
    return registry.add("before_run", hook)


def after_run(hook: Hook) -> Hook:
    """Register ``hook`` to run in the worker after each run, whatever its end (decorator)."""
    return registry.add("after_run", hook)


def on_failure(hook: Hook) -> Hook:
    """Register ``hook`` to run in the worker after each run that failed (decorator)."""
    return registry.add("on_failure", hook)


def on_dead(hook: Hook) -> Hook:
    """Register ``hook`` to run in the worker when a job goes to the dead set (decorator)."""
    return registry.add("on_dead", hook)
