"""What a tick sends: each fire's payload text and the ``dispatch`` script's calls.

What does not change between the fires of a job (its payload but for the id and the
instants, its rule tag) is made once per job, when the job is first due.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..enqueue import fire_payload
from ..jobs import encode, new_job_id
from ..keys import Keys
from ..schedule.loader import Job
from ..schedule.planner import Plan, jitter_delay, rule_tag
from ..targets.base import Sender, Senders, pack_writes
from ..transport.scripts import Arg, Call

_PER_FIRE = ("id", "enqueued_at", "scheduled_for", "expires_at")
Words = tuple[list[Any], dict[Any, int], int]  # pack_writes' words, index and first position


class JobFires:
    """What the fires of a schedule job share: its rule tag and, for a job of our own
    queue, its payload validated and encoded once; each fire fills in its id and instants
    (the same text ``encode(fire_payload(job, at, now))`` gives)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.tag = rule_tag(job)
        self._head = ""
        if job.target == "task":
            fixed = fire_payload(job, 0, 0.0)
            for name in _PER_FIRE:
                fixed.pop(name, None)
            self._head = encode(fixed)[:-1] + ","

    def payload(self, at: int, now: float) -> tuple[str, str]:
        """(job id, payload text) of the fire at ``at``, enqueued at ``now``."""
        job_id = new_job_id()
        expires = self.job.expires
        tail = "" if expires is None else f',"expires_at":{at + expires!r}'
        enqueued = round(now, 3)
        return job_id, (
            f'{self._head}"id":"{job_id}","enqueued_at":{enqueued!r},"scheduled_for":{at}{tail}}}'
        )


def dispatch_call(
    k: Keys,
    head: Sequence[Arg],
    plans: Sequence[Plan],
    *,
    now: float,
    fires_of: Callable[[Job], JobFires],
    senders: Senders,
) -> Call:
    """The keys and arguments of one ``dispatch`` call for ``plans`` (lua/dispatch.lua):
    ``head`` is (holder id, epoch, now, stretches kept); payloads and the words of other
    targets' writes follow the batch as arguments of their own, so that the script does
    not decode them from JSON."""
    queues: dict[str, int] = {}
    batch: list[list[Any]] = []
    payloads: list[Arg] = []  # and the words of other targets' writes
    first = len(head) + 4  # the ARGV position of the first of them
    words: Words = (payloads, {}, first)
    for plan in plans:
        job = plan.job
        if job.target != "task":
            batch.append(_target_entry(plan, now, senders.of(job), fires_of(job).tag, words))
            continue
        made = fires_of(job)
        fires = []
        for at in plan.enqueue:
            job_id, text = made.payload(at, now)
            delay = jitter_delay(job.name, at, job.jitter)
            fires.append([at, job_id, first + len(payloads), at + delay if delay else 0])
            payloads.append(text)
        number = queues.setdefault(job.queue, len(queues))
        overlap = 1 if job.overlap == "skip" else 0
        batch.append([job.name, number, plan.watermark, overlap, fires, plan.after, made.tag])
    keys = [k.lease(), k.paused(), k.queues()]
    for queue in queues:
        keys += [k.queue(queue), k.wake(queue), k.delayed(queue)]
    argv = [*head, k.prefix, json.dumps(batch), json.dumps(list(queues)), *payloads]
    return keys, argv


def _target_entry(plan: Plan, now: float, sender: Sender, tag: str, words: Words) -> list[Any]:
    """A batch entry of a job of another target: its fires as the target's writes (see
    pack_writes) and, for ``overlap: skip``, where the target shows a run still on."""
    job = plan.job
    fires = []
    for at in plan.enqueue:
        fire = sender.fire(at, now, jitter_delay(job.name, at, job.jitter))
        fires.append([at, fire.id, pack_writes(fire.writes, *words), 0])
    overlap = 1 if job.overlap == "skip" else 0
    entry = [job.name, -1, plan.watermark, overlap, fires, plan.after, tag, 1]
    return [*entry, sender.probe()] if overlap else entry
