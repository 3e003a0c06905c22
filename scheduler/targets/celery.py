"""Celery: protocol v2 messages on kombu's Redis transport (docs/targets.md).

The message of a job is built once by Celery itself (``send_task`` onto kombu's in-memory
transport, which shares the Redis transport's message preparation), with markers where a
fire's id, times and delivery tag go; each fire then fills them in. It is pushed to the
list kombu's Redis transport reads for its queue and priority, after the file's
``global_keyprefix``.
"""

from __future__ import annotations

import json
import os
import uuid
from bisect import bisect
from datetime import datetime, timezone
from typing import Any

from celery import Celery
from celery.app.utils import find_app
from kombu.connection import Connection
from kombu.transport import redis as kombu_redis

from ..errors import TargetError
from ..schedule.loader import Job
from .base import Sender, Target, TargetFire
from .imports import load_app, unknown

_ID = "@@scheduler-id@@"
_JOB = "@@scheduler-job@@"  # job names need no escaping in JSON (docs/schedule.md)
_TAG = "@@scheduler-tag@@"
_EXPIRATION = "@@scheduler-expiration@@"
_FIRE = '"@@scheduler-fire@@"'  # quoted: a fire is a number, or null for a triggered run
_EXPIRES = datetime(2999, 1, 1, tzinfo=timezone.utc)  # markers no real fire reaches
_ETA = datetime(2998, 1, 1, tzinfo=timezone.utc)


def iso(instant: float) -> str:
    """An instant as Celery writes ``eta`` and ``expires``."""
    return datetime.fromtimestamp(instant, timezone.utc).isoformat()


_EXPIRES_TEXT, _ETA_TEXT = iso(_EXPIRES.timestamp()), iso(_ETA.timestamp())


def queue_key(queue: str, priority: int | None, prefix: str = "") -> str:
    """The list kombu's Redis transport reads for ``queue`` at ``priority``."""
    steps = kombu_redis.PRIORITY_STEPS
    step = steps[bisect(steps, priority or 0) - 1]
    return f"{prefix}{queue}{kombu_redis.Channel.sep}{step}" if step else f"{prefix}{queue}"


class CeleryTarget(Target):
    """Celery workers on the Redis broker; settings ``broker`` and ``global_keyprefix``.

    Jobs whose messages differ only by job name share one message built by Celery."""

    key = "celery"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.prefix = str(settings.get("global_keyprefix", ""))
        self._app = Celery("scheduler", set_as_current=False)
        self._made: dict[tuple[Any, ...], str] = {}
        self._tasks: frozenset[str] | None = None  # the app's task names (check --import)

    def sender(self, job: Job) -> Sender:
        """The job's messages, built by Celery."""
        return CelerySender(job, self)

    def broker_url(self) -> str | None:
        """``broker`` of the file, else ``CELERY_BROKER_URL`` as Celery reads it."""
        given = self.settings.get("broker") or os.environ.get("CELERY_BROKER_URL")
        return str(given) if given else None

    def missing(self, name: str) -> str | None:
        """Whether the app of ``targets: celery: app:`` registers the task ``name`` once
        its task modules are imported as a worker imports them."""
        if self._tasks is None:
            spec = self.settings.get("app")
            if not spec:
                raise TargetError(
                    "check --import needs the Celery app your workers run: set targets: "
                    'celery: app: (as celery -A names it, e.g. "myproj.celery:app")'
                )
            app = load_app(str(spec), "the Celery app", find_app)
            if not isinstance(app, Celery):
                raise TargetError(f"targets: celery: app: {spec!r} is not a Celery app")
            try:  # what a worker does at start: the imports, include and autodiscovery
                app.loader.import_default_modules()
                self._tasks = frozenset(app.tasks)
            except Exception as error:
                raise TargetError(
                    f"cannot load the tasks of Celery app {spec!r}: {error!r}"
                ) from None
        return unknown(name, self._tasks, f"Celery app {self.settings['app']!r}")

    def message(self, job: Job, eta: bool) -> str:
        """The JSON text of ``job``'s message with the markers a fire fills in."""
        shape = (
            job.task,
            json.dumps([job.args, job.kwargs, job.options], sort_keys=True),
            job.queue,
            job.timeout,
            job.expires is not None,
            eta,
        )
        made = self._made.get(shape)
        if made is None:
            made = self._made[shape] = self._build(job, eta)
        return made.replace(_JOB, job.name)

    def _build(self, job: Job, eta: bool) -> str:
        options: dict[str, Any] = {
            "queue": job.queue,
            "task_id": _ID,
            "headers": {
                **job.options.get("headers", {}),
                "schedule": _JOB,
                "scheduled_for": _FIRE[1:-1],
            },
            "priority": job.options.get("priority"),
            "time_limit": job.timeout,
            "expires": _EXPIRES if job.expires is not None else None,
            "eta": _ETA if eta else None,
        }
        try:
            # A connection of our own: the app's would follow $CELERY_BROKER_URL, which
            # Celery reads before its broker argument, and publish to the real broker.
            with Connection("memory://") as connection:  # type: ignore[no-untyped-call]
                self._app.send_task(
                    job.task, list(job.args), dict(job.kwargs), connection=connection, **options
                )
                message = connection.default_channel._get(job.queue)
        except Exception as error:  # Celery's own refusal, whatever its class
            raise TargetError(
                f"job {job.name!r}: Celery cannot build its message: {error}"
            ) from None
        properties = message["properties"]
        properties["delivery_tag"] = _TAG
        if "expiration" in properties:
            properties["expiration"] = _EXPIRATION
        return json.dumps(message)


class CelerySender(Sender):
    """One job's Celery message, as a template filled in per fire."""

    def __init__(self, job: Job, target: CeleryTarget) -> None:
        self._job = job
        self._target = target
        self._key = queue_key(job.queue, job.options.get("priority"), target.prefix)
        self._plain = target.message(job, eta=False)
        self._delayed: str | None = None

    def fire(self, at: int | None, now: float, delay: int = 0, by_hand: bool = False) -> TargetFire:
        """The fire's message: a new task id, its expiry, and an ``eta`` for jitter."""
        job = self._job
        task_id = str(uuid.uuid4())
        text = self._plain
        if delay and at is not None:
            if self._delayed is None:
                self._delayed = self._target.message(job, eta=True)
            text = self._delayed.replace(_ETA_TEXT, iso(at + delay))
        if job.expires is not None:
            due = now if at is None or by_hand else at
            left = max(0.0, due + job.expires - now)
            text = text.replace(_EXPIRES_TEXT, iso(due + job.expires))
            text = text.replace(_EXPIRATION, str(int(left * 1000)))
        text = text.replace(_FIRE, "null" if at is None else str(at))
        text = text.replace(_ID, task_id).replace(_TAG, str(uuid.uuid4()))
        return TargetFire(task_id, [["LPUSH", self._key, text]])

    def keys(self) -> list[str]:
        """The one list kombu reads for the job's queue and priority."""
        return [self._key]
