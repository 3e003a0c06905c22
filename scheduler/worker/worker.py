"""The worker: fetch jobs reliably, run them on N threads, settle them, stop cleanly.

Threads of a worker process:

- the fetcher does all the job traffic with Redis. One ``fetch`` script call acknowledges
  the jobs that finished since the last call, promotes due delayed jobs and moves new jobs
  from the queues (strict priority) into this worker's in-progress lists; the jobs go to
  the job threads' buffer (``scheduler.worker.pool``). With the queues empty it blocks on their
  wake lists (BLPOP), so a new job starts within milliseconds; a job thread that finishes
  meanwhile wakes it with a poke.
- ``concurrency`` job threads run the jobs (``pool``, ``execution``).
- housekeeping: heartbeat every ``heartbeat_interval``, putting back the jobs of workers
  whose heartbeat expired, and the timeouts of sync tasks. When more than ``max_stuck``
  threads abandoned after a timeout still run their task, the worker stops (exit code 3)
  so its supervisor starts a fresh process. A run past its hard timeout is failed, and
  the process ends at once (exit code 4): the only way to stop its thread. Its other
  unfinished jobs go back when its supervisor (``scheduler.worker.supervisor``) or
  another worker's reaper puts them back.
- the main thread (``run``) waits for SIGTERM/SIGINT or the end of a burst, then shuts
  down: stop fetching, let running jobs finish up to ``shutdown_timeout``, put the rest
  back at the front of their queues, deregister. A second signal stops at once.
  SIGTSTP or SIGUSR1 make the worker quiet: it puts back the jobs it fetched ahead and
  fetches no more, while running jobs finish (``quiet``).

Tests drive the same steps by hand, without threads: ``fetch_once``, ``run_pending``,
``flush``, ``heartbeat``, ``check_timeouts``, ``shutdown``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import redis

from ..clock import Clock, RedisClock
from ..hooks import Hooks
from ..jobs import MAX_PAYLOAD_BYTES
from ..keys import Keys
from ..registry import AllowList
from ..transport.durability import Durability
from ..transport.urls import REDIS_RETRY_MAX
from .execution import RetryPolicy, TaskRunner
from .fetcher import Fetcher
from .pool import JobPool
from .redis_calls import Consumer

log = logging.getLogger(__name__)

EXIT_STUCK = 3
EXIT_ERROR = 1
EXIT_HARD_TIMEOUT = 4
EXIT_RECYCLED = 5  # ran its max_jobs: its supervisor starts a fresh process at once
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
QUIET_SIGNALS = (signal.SIGTSTP, signal.SIGUSR1)


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs; defaults are the CLI's defaults."""

    queues: tuple[str, ...] = ("default",)
    weights: tuple[int, ...] | None = None  # one per queue; None: strict priority order
    concurrency: int = 10
    prefetch: int | None = None  # jobs held beyond the running ones; default: concurrency
    burst: bool = False
    shutdown_timeout: float = 25.0
    heartbeat_interval: float = 2.0
    heartbeat_expiry: float = 10.0
    idle_timeout: float = 5.0  # longest single wait on the wake lists
    backoff_base: float = 10.0
    backoff_max: float = 3600.0
    dead_cap: int = 10_000
    max_stuck: int | None = None  # abandoned threads tolerated; default: concurrency
    max_payload_bytes: int = MAX_PAYLOAD_BYTES  # a larger payload is dead-lettered unread
    durability: str = "local"  # "replicated": acknowledgements wait for a replica
    hard_timeout: float | None = None  # for jobs without a timeout_hard of their own
    max_jobs: int | None = None  # stop after this many jobs (--max-jobs-per-child)
    parent_pid: int | None = None  # a supervisor's child stops once this process is gone

    @property
    def capacity(self) -> int:
        """Jobs this worker holds at most: running plus buffered."""
        prefetch = self.concurrency if self.prefetch is None else self.prefetch
        return self.concurrency + max(0, prefetch)


def _queue_texts(settings: WorkerSettings) -> list[str]:
    """The queues as given on the command line: ``name`` or ``name:weight``."""
    if settings.weights is None:
        return list(settings.queues)
    return [f"{q}:{w}" for q, w in zip(settings.queues, settings.weights, strict=True)]


class Worker:
    """One worker process's job loop (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        allow: AllowList,
        settings: WorkerSettings | None = None,
        *,
        namespace: str = "scheduler",
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        worker_id: str | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.settings = s = settings or WorkerSettings()
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.clock: Clock = clock or RedisClock(client)
        durability = Durability(s.durability)
        self.consumer = Consumer(
            client, Keys(namespace), self.id, s.queues, durability, weights=s.weights
        )
        retry = retry or RetryPolicy(s.backoff_base, s.backoff_max)
        runner = TaskRunner(allow, self.clock, retry, hooks)
        self.pool = JobPool(
            runner, self.clock, s.concurrency, s.capacity, self._poke, hard_timeout=s.hard_timeout
        )
        self.fetcher = Fetcher(
            self.consumer,
            self.pool,
            self.clock,
            queues=s.queues,
            dead_cap=s.dead_cap,
            idle_timeout=s.idle_timeout,
            register=self.register,
            max_payload_bytes=s.max_payload_bytes,
        )
        self.exit_code = 0
        self._stopping = threading.Event()  # no more fetching
        self._closing = threading.Event()  # housekeeping ends
        self._stop_requested = threading.Event()
        self._force = threading.Event()
        self._quiet = threading.Event()  # no more fetching; running jobs go on
        self._quieted = False
        self._taken = 0  # jobs fetched, for max_jobs
        self._threads: list[threading.Thread] = []
        self._registered_once = False
        self._outage = _Outage()
        self._info = {
            "host": socket.gethostname(),
            "pid": str(os.getpid()),
            "queues": json.dumps(list(s.queues)),
            "concurrency": str(s.concurrency),
            "durability": s.durability,
            "started_at": "",
        }
        if s.parent_pid is not None:
            self._info["supervisor"] = str(s.parent_pid)  # a child of `--processes`

    # -- the whole life ------------------------------------------------------------------

    def run(self, stop_signals: tuple[int, ...] = STOP_SIGNALS) -> int:
        """Work until one of ``stop_signals``, the end of a burst or a fatal problem;
        return the exit code."""
        self.start()
        with _signals(self, stop_signals):
            while not self._stop_requested.wait(0.5):
                pass
            self.shutdown()
        return self.exit_code

    def start(self) -> None:
        """Start the job threads, the fetcher and housekeeping."""
        s = self.settings
        log.info(
            "worker starting id=%s queues=%s concurrency=%d prefetch=%d",
            self.id,
            ",".join(_queue_texts(s)),
            s.concurrency,
            s.capacity - s.concurrency,
        )
        self.pool.start()
        for name, target in (("fetcher", self._fetch_loop), ("housekeeping", self._housekeep)):
            thread = threading.Thread(target=target, name=f"scheduler-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def request_stop(self, exit_code: int | None = None) -> None:
        """Ask ``run`` to shut down (thread-safe, signal-safe); a second request forces it."""
        if exit_code is not None and self.exit_code == 0:
            self.exit_code = exit_code
        if self._stop_requested.is_set():
            self._force.set()
        self._stop_requested.set()
        self._stopping.set()

    def quiet(self) -> None:
        """Fetch no more jobs and give back those fetched ahead; running jobs finish
        (thread-safe, signal-safe)."""
        self._quiet.set()
        self.pool.wanted.set()
        self._poke()

    def shutdown(self) -> int:
        """Stop fetching, let running jobs finish (up to ``shutdown_timeout``), put every
        unfinished job back at the front of its queue and deregister; returns how many."""
        log.info("worker stopping id=%s running=%d", self.id, self.pool.running())
        self._stop_fetching()
        unfinished = self.pool.stop(self.settings.shutdown_timeout, self._force)
        self._closing.set()
        for thread in self._threads[1:]:
            thread.join(1.0)
        self.pool.runner.close()
        put_back = self._deregister()
        self.consumer.close()
        log.info("worker stopped id=%s unfinished=%d put_back=%d", self.id, unfinished, put_back)
        return put_back

    # -- steps (each also usable by hand in tests) -------------------------------------

    def fetch_once(self, limit: int | None = None) -> int:
        """One round trip to Redis: settle finished jobs, take up to ``limit`` new ones
        (default: room in the buffer); returns how many payloads it took."""
        return self.fetcher.fetch_once(limit)

    def flush(self) -> None:
        """Send every pending acknowledgement and settlement now."""
        self.fetch_once(limit=0)

    def run_pending(self) -> int:
        """Run the fetched jobs in this thread, one after another; returns how many ran."""
        return self.pool.run_pending()

    def check_timeouts(self) -> int:
        """Fail the runs past their timeout and abandon their threads; returns how many."""
        return self.pool.check_timeouts()

    def register(self, now: float | None = None) -> None:
        """Register this worker, or refresh its heartbeat."""
        now = self._now(now)
        if not self._info["started_at"]:
            self._info["started_at"] = f"{now:.3f}"
        was_registered = self.consumer.register(now, self._info)
        if self._quiet.is_set() and "quiet" not in self._info:
            self._info["quiet"] = f"{now:.3f}"  # kept if it registers again
            self.consumer.note_quiet(self._info["quiet"])
        if self.consumer.durability.replicated:
            self.consumer.note_unconfirmed()
        if not was_registered and self._registered_once:
            log.warning(
                "worker registered again id=%s (its heartbeat had expired or Redis lost its "
                "data; jobs it held were put back on their queues)",
                self.id,
            )
        self._registered_once = True

    def heartbeat(self, now: float | None = None) -> None:
        """Refresh the heartbeat, put back the jobs of workers whose heartbeat expired, and
        stop the running jobs someone cancelled."""
        now = self._now(now)
        self.register(now)
        reaped = self.consumer.reap_expired(now, self.settings.heartbeat_expiry)
        for worker_id, moved in reaped.items():
            log.warning("worker reaped id=%s put_back=%d (heartbeat expired)", worker_id, moved)
        running = self.pool.running_ids()
        if running:
            self.pool.cancel(self.consumer.cancel_requested(running))

    # -- the fetcher -----------------------------------------------------------------

    def _fetch_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                limit = self._limit()
                taken = self.fetcher.fetch_once(limit)
                self._taken += taken
                if taken == 0 and not self._stopping.is_set():
                    self._idle(limit)
                self._outage.ended()
            except redis.RedisError as exc:
                self._redis_failed(exc)
            except Exception:
                log.exception("worker fetcher failed id=%s; stopping", self.id)
                self.request_stop(EXIT_ERROR)

    def _stop_fetching(self) -> None:
        """End the fetcher's loop, waking it whether it waits on Redis or on the pool."""
        self._stopping.set()
        self.pool.wanted.set()
        self._poke()
        for thread in self._threads[:1]:
            thread.join(self.settings.idle_timeout + 1)

    def _redis_failed(self, exc: redis.RedisError) -> None:
        """Wait before the next try; a burst worker gives up once Redis has been away for
        ``heartbeat_expiry`` (its jobs are handed on by then anyway)."""
        delay = self._outage.began(exc, self.clock.monotonic())
        away = self._outage.lasted(self.clock.monotonic())
        if self.settings.burst and away >= self.settings.heartbeat_expiry:
            log.error(
                "worker giving up id=%s: redis unavailable for %.1fs and a burst worker does "
                "not wait for it; exit code %d",
                self.id,
                away,
                EXIT_ERROR,
            )
            self.request_stop(EXIT_ERROR)
        else:
            self.clock.wait(self._stopping, delay)

    def _limit(self) -> int | None:
        """How many jobs the next fetch may take: none once quiet (and the jobs fetched
        ahead go back) or once ``max_jobs`` were taken; else as many as there is room."""
        if self._quiet.is_set():
            if not self._quieted:
                self._quieted = True
                log.info("worker quiet id=%s running=%d", self.id, self.pool.running())
            self.fetcher.give_back(self.pool.drain())
            return 0
        if self.settings.max_jobs is not None:
            return max(0, min(self.pool.room(), self.settings.max_jobs - self._taken))
        return None

    def _idle(self, limit: int | None) -> None:
        if self.settings.burst and self.pool.idle():
            log.info("worker burst finished id=%s: queues empty", self.id)
            self.request_stop()
        elif limit == 0 and not self._quiet.is_set() and self.pool.idle():
            log.info("worker recycled id=%s jobs=%d (max jobs per process)", self.id, self._taken)
            self.request_stop(EXIT_RECYCLED)
        elif limit == 0:
            self.pool.wanted.wait(self.settings.idle_timeout)
        else:
            self.fetcher.wait()

    def _poke(self) -> None:
        with suppress(redis.RedisError):
            self.consumer.poke()

    # -- housekeeping ------------------------------------------------------------------

    def _housekeep(self) -> None:
        next_beat = self.clock.monotonic()
        while not self._closing.is_set():
            try:
                next_beat = self._housekeeping_round(next_beat)
            except Exception:  # without heartbeats our jobs would be handed on: stop
                log.exception("worker housekeeping failed id=%s; stopping", self.id)
                self.request_stop(EXIT_ERROR)
                return
            wait = next_beat - self.clock.monotonic()
            if self.pool.has_deadlines():
                wait = min(wait, 0.1)
            self.clock.wait(self._closing, max(0.01, wait))

    def _housekeeping_round(self, next_beat: float) -> float:
        """Heartbeat if due, enforce timeouts; returns when the next heartbeat is due."""
        if self.clock.monotonic() >= next_beat:
            try:
                self.heartbeat()
            except redis.RedisError as exc:
                self._outage.began(exc, self.clock.monotonic())
            next_beat = self.clock.monotonic() + self.settings.heartbeat_interval
            self._check_parent()
        self.pool.check_timeouts()
        if self.pool.check_hard():
            self._end_process()
        self._check_stuck()
        return next_beat

    def _check_parent(self) -> None:
        """A supervisor's child whose supervisor was killed stops as on SIGTERM, rather
        than run on with no one to stop it."""
        parent = self.settings.parent_pid
        if parent is not None and os.getppid() != parent and not self._stop_requested.is_set():
            log.error("worker stopping id=%s: its supervisor pid=%d is gone", self.id, parent)
            self.request_stop(EXIT_ERROR)

    def _end_process(self) -> None:
        """A run is past its hard timeout: settle what finished, and end the process at
        once (its thread cannot be stopped otherwise). Not deregistered: the jobs it still
        holds, and the overlap markers of the killed run, stay until the process is gone
        and the supervisor, or a reaper, puts them back."""
        log.error(
            "worker ending its process id=%s: a run passed its hard timeout; exit code %d",
            self.id,
            EXIT_HARD_TIMEOUT,
        )
        self._stop_fetching()
        self.pool.stop(0.0, self._force)
        try:
            self.flush()
        except redis.RedisError as exc:
            log.error("worker could not settle before ending id=%s: %s", self.id, exc)
        logging.shutdown()
        os._exit(EXIT_HARD_TIMEOUT)

    def _check_stuck(self) -> None:
        stuck = self.pool.stuck()
        limit = self.settings.max_stuck
        limit = self.settings.concurrency if limit is None else limit
        if stuck > limit and not self._stop_requested.is_set():
            log.error(
                "worker stopping id=%s: %d threads still run tasks past their timeout "
                "(limit %d); exit code %d asks the supervisor for a fresh process",
                self.id,
                stuck,
                limit,
                EXIT_STUCK,
            )
            self.request_stop(EXIT_STUCK)

    # -- shutdown ----------------------------------------------------------------------

    def _deregister(self) -> int:
        try:
            self.flush()
            return self.consumer.deregister(self.clock.now())
        except redis.RedisError as exc:
            log.error(
                "worker could not reach Redis to stop cleanly id=%s: %s; its unfinished jobs "
                "go back to their queues when its heartbeat expires",
                self.id,
                exc,
            )
            return 0

    def _now(self, now: float | None) -> float:
        return self.clock.now() if now is None else now


class _Outage:
    """Logs a Redis outage once when it begins and once when it ends; paces retries."""

    def __init__(self) -> None:
        self.failures = 0
        self.since = 0.0

    def began(self, exc: Exception, now: float) -> float:
        """Count a failed call at ``now`` (monotonic); returns the delay before the next."""
        if self.failures == 0:
            log.warning("redis unavailable, retrying: %s", exc)
            self.since = now
        self.failures += 1
        return min(REDIS_RETRY_MAX, 0.1 * 2.0 ** min(self.failures, 6))

    def lasted(self, now: float) -> float:
        """Seconds since the outage began (0 if there is none)."""
        return now - self.since if self.failures else 0.0

    def ended(self) -> None:
        if self.failures:
            log.info("redis available again")
            self.failures = 0


@contextmanager
def _signals(worker: Worker, stop_signals: tuple[int, ...]) -> Iterator[None]:
    """``stop_signals`` ask the worker to stop, a second one forces it; SIGTSTP and SIGUSR1
    make it quiet (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        worker.request_stop()

    def quiet(signum: int, frame: object) -> None:
        worker.quiet()

    previous = {sig: signal.signal(sig, handle) for sig in stop_signals}
    previous.update({sig: signal.signal(sig, quiet) for sig in QUIET_SIGNALS})
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
