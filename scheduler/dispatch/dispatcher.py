"""The leader's work: each due fire of each job enqueued exactly once, fenced by the lease.

``tick(now)`` is one round: take the jobs whose next fire is due from an in-memory heap,
ask the planner what to enqueue (misfire policy), and send those fires to Redis in as few
``dispatch`` script calls as possible. The script refuses everything unless the lease still
names us (holder id and epoch) and refuses any fire at or before the job's watermark, so
neither a stale leader nor a repeated tick can enqueue a fire twice.

This process also remembers every watermark it advanced, across leadership terms, so a
Redis that comes back empty never makes it enqueue again what it already enqueued.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from ..clock import Clock
from ..documents import read_seconds
from ..errors import SchedulerError
from ..keys import FIRED_KEEP, Keys, as_text
from ..rules.describe import utc_text
from ..schedule.loader import Job, Schedule
from ..schedule.planner import Plan, plan_job
from ..stats import DispatchStats
from ..targets.base import Senders
from ..transport.durability import Durability
from ..transport.faults import fault_point
from ..transport.scripts import Call, Scripts
from ..transport.urls import routed_to
from .fires import JobFires, dispatch_call
from .leader import Leadership

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchSettings:
    """Tunables of the dispatcher (times in seconds)."""

    batch: int = 1000  # fires per dispatch script call
    fired_keep: int = FIRED_KEEP  # stretches of enqueued fires kept per job (backfill)
    catch_up_limit: int = 10_000  # fires one job may enqueue in one tick
    durability: str = "local"  # "replicated": each dispatch waits for a replica
    durability_timeout: float = 1.0  # how long it waits


@dataclass
class TickReport:
    """What one tick did, for logs, metrics and tests."""

    enqueued: int = 0
    duplicates: int = 0
    overlap_skipped: int = 0
    missed: int = 0
    paused: list[str] = field(default_factory=list)
    not_leader: bool = False


class NotLeader(SchedulerError):
    """Raised inside a tick when Redis refuses our lease (another leader took over)."""


def job_digest(job: Job) -> str:
    """What makes a job's fire times: if it changes, the job starts afresh from now."""
    rule = job.rule
    text = f"{rule.kind}|{rule.text}|{getattr(rule, 'start', '')}|{job.timezone}|{job.enabled}"
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


class Dispatcher:
    """Plans and enqueues the fires of one schedule while this process is leader."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        leadership: Leadership,
        schedule: Schedule,
        settings: DispatchSettings | None = None,
        senders: Senders | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self.leadership = leadership
        self.schedule = schedule
        self.settings = settings or DispatchSettings()
        self.durability = Durability(self.settings.durability, self.settings.durability_timeout)
        self._scripts = Scripts(client, self.durability)
        self.senders = senders or Senders({})  # the messages of jobs of other targets
        self.remembered: dict[str, int] = {}  # watermarks this process advanced, kept for good
        self._unconfirmed: list[tuple[int, str, int]] = []  # (write, job, watermark)
        self._server: str | None = None  # the Redis server's run_id, when replicated
        self.stats = DispatchStats()  # running totals, for metrics
        self._watermarks: dict[str, int] = {}
        self._next: dict[str, int] = {}
        self._due: list[tuple[int, str]] = []
        self._paused: set[str] = set()
        self._adopted_epoch: int | None = None
        self._fires = _fires_of_jobs(schedule)  # per job, what its fires share

    # -- the schedule and leadership terms -------------------------------------------------

    def replace_schedule(self, schedule: Schedule, senders: Senders | None = None) -> None:
        """Use ``schedule`` (and the ``senders`` of its other targets) from the next tick
        on (state is re-read for the new jobs)."""
        self.schedule = schedule
        self.senders = senders or self.senders
        self._adopted_epoch = None
        self._fires = _fires_of_jobs(schedule)

    def forget_term(self) -> None:
        """Drop what was read for the current leadership term (after losing it)."""
        self._adopted_epoch = None

    def next_fire(self) -> int | None:
        """The earliest fire instant waiting in the heap, if any."""
        while self._due and self._next.get(self._due[0][1]) != self._due[0][0]:
            heapq.heappop(self._due)
        return self._due[0][0] if self._due else None

    def set_paused(self, paused: set[str]) -> None:
        """Jobs paused through Redis; a job resumed is planned again at once."""
        resumed = self._paused - paused
        self._paused = set(paused)
        for name in resumed:
            if name in self._watermarks:
                self._plan_next(name)

    # -- one tick --------------------------------------------------------------------------

    def tick(self, now: float) -> TickReport:
        """One round at ``now`` (Redis clock): enqueue what is due. Leader only."""
        epoch = self.leadership.epoch
        if epoch is None:
            return TickReport(not_leader=True)
        try:
            if self.durability.replicated:
                self._check_server()
            if self._adopted_epoch != epoch:
                self._adopt(int(now), epoch)
            plans = self._due_plans(int(now))
            fault_point("after_plan")
            return self._enqueue(plans, now, epoch)
        except NotLeader:
            self.leadership.step_down("Redis refused our lease (another leader took over)")
            self.forget_term()
            return TickReport(not_leader=True)

    def _due_plans(self, now: int) -> list[Plan]:
        plans = []
        while self._due and self._due[0][0] <= now:
            at, name = heapq.heappop(self._due)
            job = self.schedule.jobs.get(name)
            if job is None or self._next.get(name) != at or name in self._paused:
                continue
            del self._next[name]
            plan = plan_job(job, self._watermarks[name], now, self.settings.catch_up_limit)
            if plan is not None:
                plans.append(plan)
        return plans

    def _enqueue(self, plans: list[Plan], now: float, epoch: int) -> TickReport:
        """Enqueue the plans in chunks of ``settings.batch`` fires, one fenced script call
        each, streamed: Redis runs one chunk while the next is made and the last settled."""
        report = TickReport()
        chunks = list(_chunks(plans, self.settings.batch))
        head = (self.leadership.id, epoch, now, self.settings.fired_keep)

        def calls() -> Iterator[Call]:
            for chunk in chunks:
                call = dispatch_call(
                    self._keys, head, chunk, now=now, fires_of=self._fires_of, senders=self.senders
                )
                fault_point("before_enqueue")
                yield call

        replies = self._scripts.stream("dispatch", calls())
        for chunk, results in zip(chunks, replies, strict=True):
            if results == b"NOT_LEADER":
                raise NotLeader()
            fault_point("after_enqueue")
            write = self.durability.sequence  # the write that carried this chunk
            for plan, result in zip(chunk, as_text(results).split(";"), strict=True):
                self._settle(plan, [int(x) for x in result.split()], now, report, write)
        self._remember_confirmed()
        return report

    def _fires_of(self, job: Job) -> JobFires:
        made = self._fires.get(job.name)
        if made is None or made.job is not job:  # a schedule changed without replace_schedule
            made = self._fires[job.name] = JobFires(job)
        return made

    def _settle(
        self, plan: Plan, result: list[int], now: float, report: TickReport, write: int
    ) -> None:
        name = plan.job.name
        status, enqueued, duplicates, skipped = result
        if status == 0:
            self._paused.add(name)
            report.paused.append(name)
            return
        self._advance(name, plan.watermark, write)
        report.enqueued += enqueued
        report.duplicates += duplicates
        report.overlap_skipped += skipped
        report.missed += plan.missed_count
        self.stats.count(plan, enqueued, duplicates, skipped, now)
        _log_plan(plan, enqueued, duplicates, skipped, now)
        self._plan_next(name)

    # -- state -----------------------------------------------------------------------------

    def _adopt(self, now: int, epoch: int) -> None:
        """Read each job's watermark for a new term; new or changed jobs start at ``now``.
        Only the states that change are written (a failover to an unchanged file writes
        none)."""
        jobs = list(self.schedule.jobs.values())
        keys: list[str] = [self._keys.lease()]
        argv: list[Any] = [self.leadership.id, epoch]
        self._watermarks, self._next, self._due = {}, {}, []
        promoted = not self.durability.replicated and self._promoted_since_last_term()
        for job, (mark, digest, expiring) in zip(jobs, self._read_states(jobs), strict=True):
            watermark, fresh = self._starting_point(job, mark, digest, now)
            if promoted and job.name not in self.remembered and watermark < now:
                watermark, fresh = now, True  # the lost primary may have sent what follows
            self._watermarks[job.name] = watermark
            wanted = job_digest(job)
            if fresh or digest != wanted or expiring:
                keys.append(self._keys.state(job.name))
                argv += [watermark if fresh else "", "" if digest == wanted else wanted]
        chunks = _adopt_chunks(keys, argv, self.settings.batch)
        if b"NOT_LEADER" in self._scripts.run_many("adopt", chunks):
            raise NotLeader()
        self._scripts.load("dispatch")  # so that the term's first burst is sent in one go
        for job in jobs:
            self._plan_next(job.name)
        self._adopted_epoch = epoch
        log.info(
            "schedule adopted jobs=%d epoch=%s digest=%s", len(jobs), epoch, self.schedule.digest
        )

    def _promoted_since_last_term(self) -> bool:
        """Whether this Redis is a replica promoted since the last term began (its
        replication id changed, and it keeps a former primary's). Replication is
        asynchronous: the last fires the former primary took, and their watermarks, may
        never have reached this one, yet a worker may have run them. With ``local``
        durability a new leader then skips the fires after each watermark up to now,
        except those it enqueued itself: lost, never run twice (docs/operations.md)."""
        try:
            info = self._client.info("replication", **routed_to(self._client, self._keys.lease()))
        except redis.ResponseError:
            return False  # INFO refused (ACL): see docs/operations.md
        replid = str(info.get("master_replid", ""))
        before = self._client.set(self._keys.primary(), replid, get=True)
        promoted = before is not None and as_text(before) != replid
        if promoted and int(info.get("second_repl_offset", -1)) != -1:
            log.warning(
                "redis primary promoted since the last term: fires after each job's "
                "watermark up to now that this process did not enqueue are skipped (the "
                "former primary may have enqueued them)"
            )
            return True
        return False

    def _read_states(self, jobs: list[Job]) -> list[tuple[int | None, str | None, bool]]:
        """Each job's (watermark, digest, state due to expire), in script calls of
        ``settings.batch`` jobs, all in one pipeline; and which jobs are paused."""
        keys = [self._keys.state(job.name) for job in jobs]
        size = self.settings.batch
        calls: list[Call] = [(keys[i : i + size], ()) for i in range(0, len(keys), size)]
        self._paused = {as_text(p) for p in self._client.hkeys(self._keys.paused())}
        flat = [value for reply in self._scripts.run_many("read_states", calls) for value in reply]
        return [
            (_watermark(flat[i] or None), as_text(flat[i + 1]) or None, flat[i + 2] == 1)
            for i in range(0, len(flat), 3)
        ]

    def _starting_point(
        self, job: Job, mark: int | None, digest: str | None, now: int
    ) -> tuple[int, bool]:
        """(watermark, whether it must be written) for a job at the start of a term."""
        remembered = self.remembered.get(job.name)
        if mark is not None and digest == job_digest(job):
            return max(mark, remembered or mark), remembered is not None and remembered > mark
        if mark is None and remembered is not None:
            log.warning("job state missing in Redis, using this process's memory job=%s", job.name)
            return remembered, True
        if mark is not None:
            log.info("job changed, it starts from now job=%s", job.name)
        return now, True

    def _advance(self, name: str, watermark: int, write: int) -> None:
        self._watermarks[name] = watermark
        if self.durability.replicated and write > self.durability.confirmed_upto:
            self._unconfirmed.append((write, name, watermark))
        elif watermark > self.remembered.get(name, watermark - 1):
            self.remembered[name] = watermark

    def _remember_confirmed(self) -> None:
        """Keep for good the watermarks whose dispatch a replica has confirmed since; the
        others are not remembered, so a failover that loses them re-plans those fires."""
        confirmed = self.durability.confirmed_upto
        waiting = []
        for write, name, watermark in self._unconfirmed:
            if write > confirmed:
                waiting.append((write, name, watermark))
            elif watermark > self.remembered.get(name, watermark - 1):
                self.remembered[name] = watermark
        self._unconfirmed = waiting

    def _check_server(self) -> None:
        """A different Redis server (a failover) may lack the unconfirmed dispatches: the
        next tick reads every job's watermark from it again."""
        if self._server == "":
            return  # INFO refused: see below
        try:
            route = routed_to(self._client, self._keys.lease())
            server = as_text(self._client.info("server", **route).get("run_id", ""))
        except redis.ResponseError as exc:
            log.warning(
                "cannot read INFO server (%s): after a failover, fires no replica confirmed "
                "are not sent again (grant +info)",
                exc,
            )
            self._server = ""
            return
        if self._server is not None and server != self._server:
            log.warning(
                "redis primary changed, reading job states again unconfirmed_writes=%d",
                self.durability.unconfirmed,
            )
            self.forget_term()
        self._server = server

    def _plan_next(self, name: str) -> None:
        job = self.schedule.jobs.get(name)
        if job is None or not job.enabled:
            return
        at = job.rule.next_after(self._watermarks[name])
        if at is not None:
            self._next[name] = at
            heapq.heappush(self._due, (at, name))

    @property
    def watermarks(self) -> dict[str, int]:
        """Each job's watermark as this leader knows it (read-only copy)."""
        return dict(self._watermarks)


def _fires_of_jobs(schedule: Schedule) -> dict[str, JobFires]:
    """Made when a schedule is loaded, by every process, so that a new leader's first
    tick does not make them."""
    return {name: JobFires(job) for name, job in schedule.jobs.items()}


def _chunks(plans: list[Plan], size: int) -> Iterator[list[Plan]]:
    chunk: list[Plan] = []
    fires = 0
    for plan in plans:
        chunk.append(plan)
        fires += max(1, len(plan.enqueue))
        if fires >= size:
            yield chunk
            chunk, fires = [], 0
    if chunk:
        yield chunk


def _adopt_chunks(
    keys: list[str], argv: list[Any], size: int
) -> Iterable[tuple[list[str], list[Any]]]:
    lease, head = keys[0], argv[:2]
    if len(keys) == 1:  # nothing to write: the call still checks the lease
        yield [lease], head
    for start in range(1, len(keys), size):
        end = min(start + size, len(keys))
        yield [lease, *keys[start:end]], [*head, *argv[2 * start : 2 * end]]


def _log_plan(plan: Plan, enqueued: int, duplicates: int, skipped: int, now: float) -> None:
    name = plan.job.name
    if plan.missed_count:
        log.warning(
            "fires missed job=%s count=%d first=%s policy=%s enqueued=%d",
            name,
            plan.missed_count,
            utc_text(plan.missed_first or 0),
            plan.job.misfire,
            enqueued,
        )
    if not log.isEnabledFor(logging.INFO):
        return
    if duplicates:
        log.info("fires already enqueued, refused job=%s count=%d", name, duplicates)
    if skipped:
        log.info("fires skipped, previous run still active job=%s count=%d", name, skipped)
    if enqueued == 1 and len(plan.enqueue) == 1:
        at = plan.enqueue[0]
        log.info("fire enqueued job=%s fire=%s lateness=%.3fs", name, utc_text(at), now - at)
    elif enqueued:
        first, last = plan.enqueue[0], plan.enqueue[-1]
        log.info(
            "fires enqueued job=%s count=%d first=%s last=%s",
            name,
            enqueued,
            utc_text(first),
            utc_text(last),
        )


def _watermark(raw: object) -> int | None:
    """A stored watermark; None when missing or unreadable (the job then starts afresh)."""
    seconds = read_seconds(raw)
    return None if seconds is None else int(seconds)
