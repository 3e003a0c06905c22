"""Dramatiq: each fire becomes a message that an unmodified ``dramatiq`` worker runs
(docs/targets.md).

A fire writes what dramatiq's ``RedisBroker.enqueue`` writes (its ``dispatch.lua``,
command ``enqueue``): the encoded message in the hash ``<namespace>:<q>.msgs`` under a
fresh ``redis_message_id``, and that id at the tail of the list ``<namespace>:<q>``. A fire
delayed by jitter goes to the delay queue ``<q>.DQ`` with its ``eta``, as
``actor.send_with_options(delay=...)`` puts it, where the worker's delay consumer moves it
when due.

The message is dramatiq's own ``Message``, encoded by dramatiq's encoder, so its format
follows the installed dramatiq. The schedule's settings become the message options the
default middleware reads: ``retries`` → ``max_retries``, ``timeout`` → ``time_limit``,
``expires`` → ``max_age`` (counted from the fire time); ``schedule`` and
``scheduled_for`` tell the actor which fire it runs.

Encoding a message costs more than the rest of a fire, so each job's message is encoded
once with a marker in every field that changes per fire, and a fire fills the markers in.
The filled template is checked against dramatiq's own encoding once; if they differ (an
encoder of another shape), every fire is encoded by dramatiq instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dramatiq
from dramatiq.common import dq_name
from dramatiq.message import Message

from ..errors import TargetError
from ..jobs import new_job_id
from ..schedule.loader import Job
from .base import Sender, Target, TargetFire
from .imports import load_app, unknown

# The fields a fire fills in; each a JSON value in the message.
HOLES = (
    "schedule",
    "message_id",
    "redis_message_id",
    "message_timestamp",
    "scheduled_for",
    "eta",
    "max_age",
)


class DramatiqTarget(Target):
    """Dramatiq workers on the Redis broker; file settings ``broker`` and ``namespace``
    (the broker's key prefix, ``dramatiq``)."""

    key = "dramatiq"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self.namespace = str(settings.get("namespace", "dramatiq"))
        self._shapes: dict[str, tuple[_Filler, _Filler]] = {}  # jobs alike but for the name
        self._actors: frozenset[str] | None = None  # the app's actors (check --import)

    def sender(self, job: Job) -> Sender:
        """The job's messages, encoded by dramatiq (once per distinct shape of job)."""
        shape = json.dumps(
            [job.task, job.args, job.kwargs, job.queue, job.timeout, job.retries, job.expires],
            sort_keys=True,
        )
        fillers = self._shapes.get(shape)
        if fillers is None:
            try:
                fillers = (_Filler(job, delayed=False), _Filler(job, delayed=True))
            except Exception as error:  # dramatiq's own refusal, whatever its class
                raise TargetError(
                    f"job {job.name!r}: dramatiq cannot build its message: {error}"
                ) from None
            self._shapes[shape] = fillers
        return DramatiqSender(job, self.namespace, fillers)

    def broker_url(self) -> str | None:
        """``broker`` of the file (a Dramatiq application names its broker in code)."""
        given = self.settings.get("broker")
        return str(given) if given else None

    def missing(self, name: str) -> str | None:
        """Whether the broker of ``targets: dramatiq: app:`` (``module``, its global broker,
        or ``module:broker``, as ``dramatiq`` takes them) declares the actor ``name``."""
        if self._actors is None:
            spec = self.settings.get("app")
            if not spec:
                raise TargetError(
                    "check --import needs the module your Dramatiq workers import: set "
                    "targets: dramatiq: app: (as the dramatiq command names it, "
                    'e.g. "myproj.tasks")'
                )
            found = load_app(str(spec), "the Dramatiq application")
            broker = found if ":" in str(spec) else dramatiq.get_broker()
            if not isinstance(broker, dramatiq.Broker):
                raise TargetError(f"targets: dramatiq: app: {spec!r} is not a Dramatiq broker")
            self._actors = frozenset(broker.get_declared_actors())
        return unknown(name, self._actors, f"the Dramatiq broker of {self.settings['app']!r}")


class DramatiqSender(Sender):
    """The messages of the fires of one schedule job; what does not change is kept."""

    def __init__(self, job: Job, namespace: str, fillers: tuple[_Filler, _Filler]) -> None:
        self.job = job
        self.namespace = namespace
        self._now, self._later = fillers

    def fire(self, at: int | None, now: float, delay: int = 0, by_hand: bool = False) -> TargetFire:
        """The writes of the fire at ``at`` (None: by hand) made at ``now``: the message in
        its queue's hash and its id at the tail of the queue (or of its delay queue)."""
        redis_id = new_job_id()
        values: dict[str, Any] = {
            "schedule": self.job.name,
            "message_id": new_job_id(),
            "redis_message_id": redis_id,
            "message_timestamp": int(now * 1000),
            "scheduled_for": at,
        }
        filler = self._now
        if delay and at is not None:
            filler = self._later
            values["eta"] = (at + delay) * 1000
        if self.job.expires is not None:
            due = now if at is None or by_hand else at
            values["max_age"] = max(1, round((due + self.job.expires - now) * 1000))
        queue = f"{self.namespace}:{filler.queue}"
        message = filler.fill(values).decode()
        writes = [["HSET", queue + ".msgs", redis_id, message], ["RPUSH", queue, redis_id]]
        return TargetFire(redis_id, writes)

    def keys(self) -> list[str]:
        """The lists and hashes of the job's queue and of its delay queue."""
        keys = []
        for filler in (self._now, self._later):
            queue = f"{self.namespace}:{filler.queue}"
            keys += [queue, queue + ".msgs"]
        return keys

    def probe(self) -> list[str]:
        """The broker keeps a message in its queue's ``.msgs`` hash until it is acked."""
        return ["held", *(key for key in self.keys() if key.endswith(".msgs"))]


class _Filler:
    """One job's encoded message with holes, for fires due now or delayed."""

    def __init__(self, job: Job, delayed: bool) -> None:
        self.job, self.delayed = job, delayed
        self.queue = dq_name(job.queue) if delayed else job.queue
        holes = [*HOLES[:5], *(["eta"] if delayed else []), *(["max_age"] if job.expires else [])]
        markers = {hole: f"\x00{hole}\x00" for hole in holes}
        self.holes, self._pieces = _split(self._encode(markers), markers)
        sample = {hole: f"sample {hole}" for hole in holes}
        if self._pieces and self._join(sample) != self._encode(sample):
            self._pieces = []

    def fill(self, values: dict[str, Any]) -> bytes:
        """The encoded message with these values in its holes."""
        if not self._pieces:
            return self._encode(values)
        return self._join(values)

    def _join(self, values: dict[str, Any]) -> bytes:
        pieces = self._pieces
        out = [pieces[0]]
        for i, hole in enumerate(self.holes):
            value = values[hole]
            text = b"%d" % value if type(value) is int else json.dumps(value).encode()
            out += [text, pieces[i + 1]]
        return b"".join(out)

    def _encode(self, values: dict[str, Any]) -> bytes:
        job = self.job
        options: dict[str, Any] = {"schedule": values["schedule"], "max_retries": job.retries}
        if job.timeout is not None:
            options["time_limit"] = job.timeout * 1000
        for name in ("redis_message_id", "scheduled_for", "eta", "max_age"):
            if name in values and (name != "eta" or self.delayed):
                options[name] = values[name]
        message: Message[Any] = Message(
            queue_name=self.queue,
            actor_name=job.task,
            args=tuple(job.args),
            kwargs=dict(job.kwargs),
            options=options,
            message_id=values["message_id"],
            message_timestamp=values["message_timestamp"],
        )
        return message.encode()


def _split(encoded: bytes, markers: dict[str, str]) -> tuple[list[str], list[bytes]]:
    """The holes in the order they appear in ``encoded`` and the bytes around them; no
    pieces when a marker is not there exactly once (not a JSON encoding)."""
    found = {}
    for hole, marker in markers.items():
        text = json.dumps(marker).encode()
        if encoded.count(text) != 1:
            return list(markers), []
        found[encoded.index(text)] = (hole, text)
    holes, pieces, start = [], [], 0
    for at in sorted(found):
        hole, text = found[at]
        holes.append(hole)
        pieces.append(encoded[start:at])
        start = at + len(text)
    pieces.append(encoded[start:])
    return holes, pieces
