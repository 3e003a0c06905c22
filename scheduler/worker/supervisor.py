"""The supervisor of ``scheduler worker --processes N`` (docs/workers.md, processes).

It forks N worker processes once the application is imported, as Celery's prefork pool
does: each child starts in milliseconds with the tasks already loaded and shares their
memory with the others until it writes to it, and the import problems were reported once,
before any child started. Spawning would import the application again in every child and
at every restart. The supervisor runs no thread of its own (a child replaces the log
writer it inherits, see ``ChildMain``), and redis-py's connection pool opens new
connections in a forked process, so a child inherits no lock and no socket in use.

Each child is a whole ``Worker`` (its own threads, heartbeat and worker id), so reliable
fetch and the reapers work as for separate processes. The supervisor:

- starts a child again when it exits: at once if ``--max-jobs-per-child`` recycled it
  (EXIT_RECYCLED) or it exited cleanly, else after a delay that doubles with each failure
  in a row; in a burst, a child that ends cleanly (the queues are empty) or could not
  reach Redis is not started again, and the supervisor ends with the last child;
- puts back the jobs of a child that exited, as soon as it is gone (``Consumer.reap_now``),
  rather than when its heartbeat would expire; that also drops the child's held threads,
  so the overlap markers of a run killed at its hard timeout go only then;
- on SIGTERM or SIGINT sends SIGTERM to every child and waits for them; a second signal
  is passed on (the children stop at once); children still there ``shutdown_timeout``
  seconds later (plus a margin for putting their jobs back) are killed and reaped;
- on SIGTSTP or SIGUSR1 makes every child quiet (SIGUSR1) and starts no new ones.

Children ignore SIGINT: a Ctrl-C in a terminal reaches the whole process group, and the
supervisor's SIGTERM must stay their only stop request.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import NoReturn

import redis

from ..clock import RedisClock
from ..keys import Keys
from ..registry import AllowList
from .redis_calls import Consumer
from .worker import EXIT_ERROR, EXIT_RECYCLED, QUIET_SIGNALS, STOP_SIGNALS, Worker, WorkerSettings

log = logging.getLogger(__name__)

# Runs in the child, given its slot and worker id, and returns its exit code; it sets up
# logging again first (the parent's log writer thread is not in the child).
ChildMain = Callable[[int, str], int]
Reap = Callable[[str], int]  # worker id -> jobs put back
STOP_MARGIN = 10.0  # seconds a stopping child gets beyond the shutdown timeout to hand back


@dataclass(frozen=True)
class SupervisorSettings:
    """How the supervisor runs its children."""

    processes: int
    shutdown_timeout: float = 25.0
    burst: bool = False  # a child that exits cleanly is not started again
    restart_delay: float = 0.5  # after the first failure in a row; doubles with each
    restart_max: float = 30.0
    stable_after: float = 30.0  # a child that ran this long starts its failure count anew


@dataclass(slots=True)
class _Child:
    slot: int
    pid: int
    worker_id: str
    started: float


def supervise(
    client: redis.Redis,
    allow: AllowList,
    settings: WorkerSettings,
    namespace: str,
    *,
    processes: int,
    prepare: Callable[[Worker, int], None],
) -> int:
    """Run ``processes`` workers of ``settings`` under a supervisor until it is stopped;
    ``prepare(worker, slot)`` runs in each child first (logging, metrics)."""
    child_settings = dataclasses.replace(settings, parent_pid=os.getpid())

    def child(slot: int, worker_id: str) -> int:
        worker = Worker(client, allow, child_settings, namespace=namespace, worker_id=worker_id)
        prepare(worker, slot)
        return worker.run(stop_signals=(signal.SIGTERM,))

    consumer = Consumer(client, Keys(namespace), "supervisor", settings.queues)
    clock = RedisClock(client)

    def reap(worker_id: str) -> int:
        return consumer.reap_now(worker_id, clock.now())

    own = SupervisorSettings(processes, settings.shutdown_timeout, settings.burst)
    return Supervisor(own, child, reap).run()


class Supervisor:
    """Runs ``child_main`` in ``settings.processes`` forked processes (see the module)."""

    def __init__(
        self,
        settings: SupervisorSettings,
        child_main: ChildMain,
        reap: Reap,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._child_main = child_main
        self._reap = reap
        self._monotonic = monotonic
        self._children: dict[int, _Child] = {}  # by pid
        self._due: dict[int, float] = {}  # slot -> when to start it again
        self._failures: dict[int, int] = {}  # slot -> failures in a row
        self._signals: list[int] = []  # received, handled by the loop
        self._wake = threading.Event()
        self._stop_at: float | None = None
        self._quiet = False
        self.exit_code = 0

    def run(self) -> int:
        """Start the children, keep them running until told to stop (or, in a burst, until
        they end); returns 0, or in a burst 1 if a child could not reach Redis."""
        log.info("supervisor starting pid=%d processes=%d", os.getpid(), self.settings.processes)
        gc.freeze()  # objects made so far stay shared with the children, unwritten by gc
        with self._handlers():
            for slot in range(self.settings.processes):
                self._start(slot)
            while self._children or self._due:
                self._wake.wait(self._timeout())
                self._wake.clear()
                self._step()
        log.info("supervisor stopped pid=%d", os.getpid())
        return self.exit_code

    def _step(self) -> None:
        while self._signals:
            self._handle(self._signals.pop(0))
        self._collect()
        if self._stop_at is not None and self._monotonic() >= self._stop_at:
            self._kill_all()
        now = self._monotonic()
        for slot, due in list(self._due.items()):
            if due <= now:
                del self._due[slot]
                self._start(slot)

    def _timeout(self) -> float:
        times = [*self._due.values(), *([self._stop_at] if self._stop_at is not None else [])]
        until = min(times, default=self._monotonic() + 1.0) - self._monotonic()
        return min(1.0, max(0.01, until))

    # -- signals -----------------------------------------------------------------------

    @contextmanager
    def _handlers(self) -> Iterator[None]:
        def note(signum: int, frame: object) -> None:
            self._signals.append(signum)
            self._wake.set()

        watched = (*STOP_SIGNALS, *QUIET_SIGNALS, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, note) for sig in watched}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int) -> None:
        if signum in STOP_SIGNALS:
            self._stop()
        elif signum in QUIET_SIGNALS and not self._quiet:
            self._quiet = True
            self._due.clear()
            log.info("supervisor quiet: children fetch no more jobs processes=%d", self._count())
            self._send(signal.SIGUSR1)

    def _stop(self) -> None:
        if self._stop_at is None:
            timeout = self.settings.shutdown_timeout
            self._stop_at = self._monotonic() + timeout + STOP_MARGIN
            self._due.clear()
            log.info("supervisor stopping processes=%d timeout=%.1fs", self._count(), timeout)
        else:
            log.info("supervisor stopping at once processes=%d", self._count())
        self._send(signal.SIGTERM)

    def _kill_all(self) -> None:
        self._stop_at = None
        for child in self._children.values():
            log.warning(
                "worker process killed pid=%d id=%s: still running", child.pid, child.worker_id
            )
            with suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)

    def _send(self, signum: int) -> None:
        for pid in self._children:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _count(self) -> int:
        return len(self._children)

    # -- children ----------------------------------------------------------------------

    def _start(self, slot: int) -> None:
        token = os.urandom(3).hex()
        pid = os.fork()
        if pid == 0:
            self._in_child(slot, token)
        worker_id = _worker_id(pid, token)
        self._children[pid] = _Child(slot, pid, worker_id, self._monotonic())
        log.info("worker process started slot=%d pid=%d id=%s", slot, pid, worker_id)

    def _in_child(self, slot: int, token: str) -> NoReturn:
        code = EXIT_ERROR
        try:
            for sig in (*STOP_SIGNALS, *QUIET_SIGNALS, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            code = self._child_main(slot, _worker_id(os.getpid(), token))
        except BaseException:
            log.exception("worker process failed slot=%d", slot)
        finally:
            logging.shutdown()
            os._exit(code)

    def _collect(self) -> None:
        """Wait for the children that exited, put their jobs back, plan their restart."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self._children.pop(pid, None)
            if child is not None:
                self._exited(child, os.waitstatus_to_exitcode(status))

    def _exited(self, child: _Child, code: int) -> None:
        how = f"signal={signal.Signals(-code).name}" if code < 0 else f"code={code}"
        log_at = logging.INFO if code in {0, EXIT_RECYCLED} else logging.WARNING
        log.log(log_at, "worker process exited pid=%d id=%s %s", child.pid, child.worker_id, how)
        try:
            moved = self._reap(child.worker_id)
        except redis.RedisError as exc:
            log.error("supervisor could not put back the jobs of id=%s: %s", child.worker_id, exc)
        else:
            if moved:
                log.warning(
                    "worker process jobs put back id=%s put_back=%d", child.worker_id, moved
                )
        if self.settings.burst and code in {0, EXIT_ERROR}:
            self.exit_code = max(self.exit_code, code)  # the queues are empty, or Redis away
        elif self._stop_at is None and not self._quiet:
            self._plan_restart(child, code)

    def _plan_restart(self, child: _Child, code: int) -> None:
        slot, ran = child.slot, self._monotonic() - child.started
        if code in {0, EXIT_RECYCLED} or ran >= self.settings.stable_after:
            self._failures[slot] = 0
        delay = 0.0
        if code not in {0, EXIT_RECYCLED}:
            failures = self._failures[slot] = self._failures.get(slot, 0) + 1
            s = self.settings
            delay = min(s.restart_max, s.restart_delay * 2.0 ** (failures - 1))
            log.warning(
                "worker process restarting slot=%d in=%.1fs failures=%d", slot, delay, failures
            )
        self._due[slot] = self._monotonic() + delay


def _worker_id(pid: int, token: str) -> str:
    """The worker id of the child ``pid``, as ``Worker`` makes its own."""
    return f"{socket.gethostname()}:{pid}:{token}"
