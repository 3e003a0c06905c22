"""Dramatiq as a target: each fire becomes a message that an unmodified ``dramatiq``
worker runs (docs/targets.md, "Dramatiq").

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
from dataclasses import dataclass
from typing import Any

from dramatiq.common import dq_name
from dramatiq.message import Message

from ..jobs import new_job_id
from ..schedule.loader import Job

# The fields a fire fills in, in this order; each a JSON value in the message.
HOLES = ("message_id", "redis_message_id", "message_timestamp", "scheduled_for", "eta", "max_age")


@dataclass(frozen=True, slots=True)
class DramatiqFire:
    """One fire as the Redis broker keeps it: the broker's message id, the queue it is
    pushed on (``<q>`` or its delay queue ``<q>.DQ``) and the encoded message."""

    id: str
    queue: str
    message: bytes


class DramatiqMessages:
    """The messages of the fires of one schedule job; what does not change is kept."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._now = _Filler(job, delayed=False)
        self._later = _Filler(job, delayed=True)

    def fire(self, at: int, now: float, due: int) -> DramatiqFire:
        """The message for the fire at ``at`` pushed at ``now`` (Redis clock), due at
        ``due`` (0: at once, else epoch seconds)."""
        redis_id = new_job_id()
        values: dict[str, Any] = {
            "message_id": new_job_id(),
            "redis_message_id": redis_id,
            "message_timestamp": int(now * 1000),
            "scheduled_for": at,
            "eta": due * 1000,
        }
        if self.job.expires is not None:
            values["max_age"] = max(1, round((at + self.job.expires - now) * 1000))
        filler = self._later if due else self._now
        return DramatiqFire(redis_id, filler.queue, filler.fill(values))


class _Filler:
    """One job's encoded message with holes, for fires due now or delayed."""

    def __init__(self, job: Job, delayed: bool) -> None:
        self.job, self.delayed = job, delayed
        self.queue = dq_name(job.queue) if delayed else job.queue
        holes = [*HOLES[:4], *(["eta"] if delayed else []), *(["max_age"] if job.expires else [])]
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
        options: dict[str, Any] = {"schedule": job.name, "max_retries": job.retries}
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
