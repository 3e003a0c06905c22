"""A worker's job threads, and what passes between them and the fetcher.

The fetcher puts fetched jobs in a local buffer; ``concurrency`` job threads take them and
run them (``scheduler.worker.execution``), then leave the result in an outbox: a plain
acknowledgement (queue index, payload) or an ``Outcome`` to settle. The fetcher empties
the outbox on its next round trip to Redis, so acknowledgements travel in batches. A job
thread that finishes while the fetcher waits on Redis wakes it (``wake``).

A sync task past its ``timeout`` cannot be stopped (Python cannot kill a thread): its run
is failed with JobTimeout at once and its thread abandoned. A new job thread takes its
place, so the worker keeps its capacity; the abandoned ones are counted (``stuck``) and
shutdown does not wait for them. Whatever such a thread's task returns later is logged as
a late finish and discarded; for a schedule job's run, its thread ending is sent to Redis
(a release) so the job's active marker, kept until then, can go.

A run past its hard timeout (``timeout_hard``, or the worker's default) is failed the same
way, and ``check_hard`` reports it: the worker then ends its process, the only way to stop
the thread (docs/workers.md, hard timeouts).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue

from ..clock import Clock
from ..errors import JobTimeout, SchedulerError
from ..jobs import Cancellation
from ..stats import BAD_PAYLOAD, NOT_ALLOWED, RunStats, Shard
from .execution import OK, Ended, Outcome, TaskRunner
from .redis_calls import Delivery

log = logging.getLogger(__name__)

Ack = tuple[int, bytes]
TIMED_OUT, SHUT_DOWN = "timeout", "shutdown"  # why a run was ended without its thread
HARD_TIMED_OUT = "hard timeout"


@dataclass(eq=False, slots=True)
class Run(Cancellation):
    """A job running on a thread, with its deadline (monotonic clock) if it has a timeout;
    ``abandoned`` says why the run was ended without its thread (TIMED_OUT, SHUT_DOWN,
    HARD_TIMED_OUT); ``hard`` is its hard deadline, past which its process must end.

    The run is its own cancel state (``Queue.cancel``): no second object per job, as most
    jobs are never cancelled (docs/benchmarks.md, unique jobs and results)."""

    delivery: Delivery
    deadline: float | None
    thread: threading.Thread
    abandoned: str = ""
    hard: float | None = None


@dataclass(slots=True)
class Outbox:
    """What the fetcher sends on its next round trip: acknowledgements, outcomes to settle,
    and the deliveries whose held thread ended (``Consumer.release``), in that order."""

    acks: list[Ack] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    releases: list[Delivery] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.acks or self.outcomes or self.releases)


class JobPool:
    """The job threads of one worker, their buffer and their outbox."""

    def __init__(
        self,
        runner: TaskRunner,
        clock: Clock,
        concurrency: int,
        capacity: int,
        wake: Callable[[], None],
        *,
        hard_timeout: float | None = None,
    ) -> None:
        self.runner = runner
        self.hard_timeout = hard_timeout  # for jobs without a timeout_hard of their own
        self.finished = 0  # runs ended on a job thread, for --max-jobs-per-child
        self.wanted = threading.Event()  # set when the fetcher has something to send
        self.stats = RunStats()  # run counts, for metrics
        self._clock = clock
        self._concurrency = concurrency
        self._capacity = capacity
        self._wake = wake
        self._buffer: SimpleQueue[Delivery | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._out = Outbox()
        self._runs: set[Run] = set()
        self._fetcher_waits = False
        self._threads: list[threading.Thread] = []
        self._stuck: set[threading.Thread] = set()
        self._late: set[Run] = set()  # abandoned at their timeout, with a hard deadline
        self._accepting = True

    # -- the fetcher's side ------------------------------------------------------------

    def put(self, delivery: Delivery) -> None:
        """Hand a fetched job to the job threads."""
        self._buffer.put(delivery)

    def room(self) -> int:
        """How many more jobs the worker may hold (running plus buffered)."""
        return self._capacity - self._buffer.qsize() - len(self._runs)

    def running(self) -> int:
        """How many jobs are running."""
        return len(self._runs)

    def running_ids(self) -> list[str]:
        """The ids of the jobs running now."""
        with self._lock:
            return [run.delivery.job.id for run in self._runs if run.delivery.job is not None]

    def cancel(self, job_ids: Collection[str]) -> int:
        """Ask the running jobs among ``job_ids`` to stop: an async task is cancelled, a
        sync one sees ``current_job().cancelled``; returns how many were asked."""
        with self._lock:
            runs = [r for r in self._runs if r.delivery.job and r.delivery.job.id in job_ids]
        for run in runs:
            if not run.requested:
                run.request()
                job = run.delivery.job
                assert job is not None
                log.info("job cancel requested id=%s task=%s", job.id, job.task)
        return len(runs)

    def idle(self) -> bool:
        """Nothing buffered, running or waiting to be sent."""
        with self._lock:
            busy = bool(self._runs or self._out)
        return not busy and self._buffer.empty()

    def take(self) -> Outbox:
        """Empty the outbox."""
        with self._lock:
            outbox, self._out = self._out, Outbox()
        return outbox

    def restore(self, unsent: Outbox) -> None:
        """Put back what could not be sent, ahead of anything newer."""
        with self._lock:
            self._out.acks[:0] = unsent.acks
            self._out.outcomes[:0] = unsent.outcomes
            self._out.releases[:0] = unsent.releases

    def add_outcome(self, outcome: Outcome, *, ran: bool = False) -> None:
        """Queue an outcome to settle and have the fetcher send it (``ran``: the task ran,
        so its duration is counted)."""
        self._count(outcome, ran=ran)
        with self._lock:
            self._out.outcomes.append(outcome)
            waits = self._fetcher_waits
        self._notify(waits)

    def _count(self, outcome: Outcome, *, ran: bool) -> None:
        job = outcome.delivery.job
        task = job.task if job is not None else BAD_PAYLOAD
        if job is not None and not self.runner.allows(task):
            task = NOT_ALLOWED
        self.stats.ended(
            outcome.delivery.index, task, outcome.status, outcome.duration if ran else None
        )

    @contextmanager
    def fetcher_waiting(self) -> Iterator[bool]:
        """While the fetcher blocks on Redis, finished jobs wake it; yields False (do not
        block) if something is already waiting to be sent."""
        with self._lock:
            if self._out:
                yield False
                return
            self._fetcher_waits = True
        try:
            yield True
        finally:
            with self._lock:
                self._fetcher_waits = False

    # -- job threads -------------------------------------------------------------------

    def start(self) -> None:
        """Start ``concurrency`` job threads."""
        for _ in range(self._concurrency):
            self._start_thread()

    def run_pending(self) -> int:
        """Run the buffered jobs in this thread, one after another; returns how many ran."""
        count = 0
        shard = self.stats.shard()
        try:
            while True:
                try:
                    delivery = self._buffer.get_nowait()
                except Empty:
                    return count
                if delivery is not None:
                    self._execute(delivery, shard)
                    count += 1
        finally:
            self.stats.retire(shard)

    def check_timeouts(self) -> int:
        """Fail the runs past their deadline and abandon their threads; returns how many."""
        now = self._clock.monotonic()
        with self._lock:
            late = [r for r in self._runs if r.deadline is not None and r.deadline <= now]
            ends = [self._time_out(run, now) for run in late]
            waits = self._fetcher_waits
        for run, (outcome, ended) in zip(late, ends, strict=True):
            self.runner.report(outcome, ended)
            self._count(outcome, ran=True)
            self._abandon(run)
        if late:
            self._notify(waits)
        return len(late)

    def check_hard(self) -> list[Run]:
        """Fail the runs past their hard deadline (their threads cannot be stopped: the
        caller ends the process); returns every run whose thread is past it."""
        now = self._clock.monotonic()
        with self._lock:
            killed = [r for r in self._runs if r.hard is not None and r.hard <= now]
            ends = [self._time_out(run, now, hard=True) for run in killed]
            self._late.update(killed)  # reported again until the process is gone
            late = [r for r in self._late if r.hard is not None and r.hard <= now]
        for outcome, ended in ends:
            self.runner.report(outcome, ended)
            self._count(outcome, ran=True)
        return late

    def _time_out(self, run: Run, now: float, *, hard: bool = False) -> tuple[Outcome, Ended]:
        """Settle a run at its timeout (under the lock, so its thread's end comes after)."""
        job = run.delivery.job
        assert job is not None
        run.abandoned = HARD_TIMED_OUT if hard else TIMED_OUT
        self._runs.discard(run)
        if hard:
            limit = job.timeout_hard or self.hard_timeout
            error = JobTimeout(f"task ran past its hard timeout of {limit}s; process killed")
        else:
            limit = job.timeout
            error = JobTimeout(f"task ran past its timeout of {limit}s; thread abandoned")
        ended = Ended(error, float(limit or 0), now)
        outcome = self.runner.judge(run.delivery, ended)
        outcome.held = job.schedule is not None
        self._out.outcomes.append(outcome)
        return outcome, ended

    def _abandon(self, run: Run) -> None:
        """Count the thread of a timed-out run as stuck; a new thread takes its place."""
        thread = run.thread
        with self._lock:
            replace = thread in self._threads
            if replace:
                self._threads.remove(thread)  # shutdown waits for it no more
            if thread.is_alive():
                self._stuck.add(thread)
                if run.hard is not None:
                    self._late.add(run)
            replace = replace and self._accepting
        job = run.delivery.job
        assert job is not None
        log.warning(
            "job thread abandoned id=%s task=%s abandoned=%d: it runs on until its task returns",
            job.id,
            job.task,
            self.stuck(),
        )
        if replace:
            self._start_thread()

    def has_deadlines(self) -> bool:
        """Whether a running job has a timeout, or an abandoned one a hard deadline."""
        return bool(self._late) or any(
            run.deadline is not None or run.hard is not None for run in list(self._runs)
        )

    def stuck(self) -> int:
        """How many abandoned threads are still running their task."""
        with self._lock:
            self._stuck = {t for t in self._stuck if t.is_alive()}
            return len(self._stuck)

    def stop(self, timeout: float, force: threading.Event) -> int:
        """Drop the buffered jobs, let running ones finish for up to ``timeout`` seconds (or
        until ``force``), abandon the rest; returns how many were abandoned. Jobs dropped
        or abandoned stay in the worker's in-progress lists, to be put back."""
        self._accepting = False
        with suppress(Empty):
            while True:
                self._buffer.get_nowait()
        for _ in self._threads:
            self._buffer.put(None)
        self._wait(timeout, force)
        with self._lock:
            unfinished = list(self._runs)
            for run in unfinished:
                run.abandoned = SHUT_DOWN
            self._runs.clear()
        for run in unfinished:
            job = run.delivery.job
            assert job is not None
            log.warning("job interrupted id=%s task=%s queue=%s", job.id, job.task, job.queue)
        return len(unfinished)

    def _wait(self, timeout: float, force: threading.Event) -> None:
        deadline = self._clock.monotonic() + timeout
        if self._runs:
            log.info(
                "worker waiting for running jobs running=%d timeout=%.1fs", len(self._runs), timeout
            )
        while any(t.is_alive() for t in self._threads):
            if force.is_set() or self._clock.monotonic() >= deadline:
                return
            self._clock.wait(force, 0.05)

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._loop, name="scheduler-job", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _loop(self) -> None:
        get = self._buffer.get
        shard = self.stats.shard()  # this thread's counts: written without a lock
        try:
            while (delivery := get()) is not None:
                if not self._execute(delivery, shard):
                    return  # abandoned after a timeout: a new thread has taken its place
        finally:
            self.stats.retire(shard)

    def _execute(self, delivery: Delivery, shard: Shard) -> bool:
        job = delivery.job
        assert job is not None
        try:
            task = self.runner.resolve(job.task)
        except SchedulerError as exc:  # not allowed, or cannot be imported
            outcome = self.runner.failed(delivery, exc, 0.0)
            label = job.task if self.runner.allows(job.task) else NOT_ALLOWED
            shard.of(delivery.index, label).ended(outcome.status)
            return self._finish(None, outcome)
        counts = shard.of(delivery.index, job.task)
        counts.started += 1
        run = self._run_of(delivery, task.is_async)
        with self._lock:
            self._runs.add(run)
        ended = self.runner.call(delivery, task, run)
        outcome = self.runner.judge(delivery, ended)
        if not self._finish(run, outcome):
            self._ended_late(run, ended)
            return False  # abandoned: its end was counted then
        self.runner.report(outcome, ended)
        counts.ended(outcome.status, outcome.duration)
        return True

    def _run_of(self, delivery: Delivery, is_async: bool) -> Run:
        """A run starting now on this thread, with its deadlines."""
        job = delivery.job
        assert job is not None
        now = self._clock.monotonic()
        deadline = hard = None
        if job.timeout is not None:
            deadline = now + job.timeout + (1.0 if is_async else 0.0)
        hard_timeout = job.timeout_hard or self.hard_timeout
        if hard_timeout is not None:
            hard = now + hard_timeout
        return Run(delivery, deadline, threading.current_thread(), hard=hard)

    def drain(self) -> list[Delivery]:
        """Take back the buffered jobs no thread has started (a quiet worker returns them)."""
        taken: list[Delivery] = []
        with suppress(Empty):
            while True:
                delivery = self._buffer.get_nowait()
                if delivery is not None:
                    taken.append(delivery)
        return taken

    def _ended_late(self, run: Run, ended: Ended) -> None:
        """The task of an abandoned run returned: log it as such; a held run's marker may go."""
        self.runner.late(run.delivery, ended, timed_out=run.abandoned == TIMED_OUT)
        job = run.delivery.job
        assert job is not None
        with self._lock:
            self._stuck.discard(run.thread)
            self._late.discard(run)
            if run.abandoned != TIMED_OUT or job.schedule is None:
                return
            self._out.releases.append(run.delivery)
            waits = self._fetcher_waits
        self._notify(waits)

    def _finish(self, run: Run | None, outcome: Outcome) -> bool:
        with self._lock:
            if run is not None:
                self._runs.discard(run)
                if run.abandoned:
                    return False
                self.finished += 1
            job = outcome.delivery.job
            if outcome.status == OK and job is not None and not job.settles:
                self._out.acks.append((outcome.delivery.index, outcome.delivery.raw))
            else:
                self._out.outcomes.append(outcome)
            waits = self._fetcher_waits
        self._notify(waits)
        return True

    def _notify(self, fetcher_waits_on_redis: bool) -> None:
        if not self.wanted.is_set():
            self.wanted.set()
        if fetcher_waits_on_redis:
            self._wake()
