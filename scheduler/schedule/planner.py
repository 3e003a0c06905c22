"""Pure planning over a schedule: upcoming fires, and which fires are due at a tick.

Nothing here reads a clock or touches Redis: "now" and each job's watermark are passed in.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import UnknownJob
from ..rules.kinds import LAST_INSTANT
from .loader import Job, Schedule


@dataclass(frozen=True)
class Fire:
    """One fire of a job: its fixed identity is (job name, nominal instant)."""

    job: Job
    at: int


def upcoming(jobs: Iterable[Job], after: int, count: int) -> list[Fire]:
    """The next ``count`` fires of each job strictly after ``after``, by time then job name
    (none from year 9999 on, which the calendar cannot show)."""
    fires = []
    for job in jobs:
        at = after
        for _ in range(count):
            nxt = job.rule.next_after(at)
            if nxt is None or nxt >= LAST_INSTANT:
                break
            fires.append(Fire(job, nxt))
            at = nxt
    fires.sort(key=lambda fire: (fire.at, fire.job.name))
    return fires


def select_jobs(schedule: Schedule, names: Iterable[str], include_disabled: bool) -> list[Job]:
    """The named jobs (all when none are named), enabled ones unless ``include_disabled``.

    Raises UnknownJob, with a suggestion, for a name the schedule does not have.
    """
    wanted = list(names)
    for name in wanted:
        if name not in schedule.jobs:
            raise UnknownJob(_unknown_job_message(name, schedule))
    chosen = [schedule.jobs[n] for n in wanted] if wanted else list(schedule.jobs.values())
    return [job for job in chosen if job.enabled or include_disabled]


def _unknown_job_message(name: str, schedule: Schedule) -> str:
    close = difflib.get_close_matches(name, list(schedule.jobs), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"no job named '{name}' in {schedule.path}{hint}"


@dataclass(frozen=True)
class Plan:
    """What to do about one job's fires in (watermark, now]."""

    job: Job
    enqueue: tuple[int, ...]  # fire instants to enqueue now, ascending
    watermark: int  # the last fire this plan accounts for
    missed_first: int | None = None  # oldest fire older than the grace, if any
    missed_count: int = 0  # fires older than the grace not enqueued (capped at MISSED_CAP)
    missed_enqueued: int = 0  # fires older than the grace enqueued all the same (all, once)
    after: int = 0  # the job has no fire in (after, enqueue[0])


MISSED_CAP = 100_000


def plan_job(job: Job, watermark: int, now: int, limit: int = 10_000) -> Plan | None:
    """Which fires of ``job`` after ``watermark`` and at or before ``now`` to enqueue.

    Fires no older than ``misfire_grace`` are all enqueued (late, once each). Older ones
    follow ``misfire``: ``all`` enqueues them too, ``skip`` drops them, ``once`` enqueues
    the most recent of them unless a fire within the grace already runs (the missed
    stretch is then covered by that run). At most ``limit`` fires go in one plan; the
    watermark then stops at the last of them and the rest come next tick.
    """
    first = job.rule.next_after(watermark)
    if first is None or first > now:
        return None
    floor = now - job.misfire_grace  # fires before this are older than the grace
    if first >= floor:
        recent = _fires_between(job, watermark, now, limit)
        return Plan(job, tuple(recent), recent[-1], after=watermark)
    if job.misfire == "all":
        fires = _fires_between(job, watermark, now, limit)
        older = sum(1 for at in fires if at < floor)
        return Plan(job, tuple(fires), fires[-1], first, missed_enqueued=older, after=watermark)
    recent = _fires_between(job, floor - 1, now, limit)
    last_older = last_fire_at_or_before(job, floor - 1, watermark)
    assert last_older is not None  # `first` is one
    missed = _count_between(job, watermark, floor - 1)
    if recent:
        return Plan(job, tuple(recent), recent[-1], first, missed, after=last_older)
    if job.misfire == "once":
        after = watermark if missed == 1 else last_older - 1
        return Plan(job, (last_older,), last_older, first, missed - 1, 1, after)
    return Plan(job, (), last_older, first, missed, after=last_older)


def _fires_between(job: Job, after: int, until: int, limit: int) -> list[int]:
    """Fires in (after, until], at most ``limit``."""
    found: list[int] = []
    for at in job.rule.fires(after):
        if at > until or len(found) >= limit:
            break
        found.append(at)
    return found


def _count_between(job: Job, after: int, until: int) -> int:
    return len(_fires_between(job, after, until, MISSED_CAP))


def last_fire_at_or_before(job: Job, instant: int, floor: int) -> int | None:
    """The last fire in (floor, instant], found by looking back in doubling windows."""
    window = 60
    while True:
        start = max(floor, instant - window)
        found = _fires_between(job, start, instant, MISSED_CAP)
        if found:
            return found[-1]
        if start == floor:
            return None
        window *= 2


def rule_tag(job: Job) -> str:
    """A short name of what makes ``job``'s fire instants (its rule, start and zone), under
    which Redis records the stretches of its fires that were enqueued."""
    rule = job.rule
    text = f"{rule.kind}|{rule.text}|{getattr(rule, 'start', '')}|{job.timezone}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def jitter_delay(name: str, at: int, jitter: int) -> int:
    """Seconds to delay the fire (name, at): fixed by them, so every replica agrees."""
    if jitter <= 0:
        return 0
    digest = hashlib.blake2b(f"{name}@{at}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (jitter + 1)
