"""A stream of application enqueues that goes on through a Redis failover, the way an
application would: a call that raised is not acknowledged, and the same job id is sent
again until one is (an enqueue is idempotent by job id). Each job appends its id to a
file when it runs (tests.tasks:append_line), so what ran survives whatever happens to
Redis; ``counts`` then says which acknowledged jobs never ran and which ran twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import redis

from scheduler.queue import Queue, read_queues
from tests.helpers import wait_until
from tests.topologies import Fleet

GAP = 0.02  # seconds between two enqueues (and before a failed one is sent again)
WORKER_OPTIONS = ("--allow", "tests.tasks")  # what a worker needs to run these jobs


class EnqueueStream:
    """A thread enqueueing ``tests.tasks:append_line`` jobs ``app-0``, ``app-1``... into
    ``namespace`` on ``url`` with ``durability``, until ``stop``."""

    def __init__(self, url: str, namespace: str, folder: Path, durability: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.queue = Queue.from_url(url, namespace, durability=durability)
        self.ran_log = folder / "app-jobs.log"
        self.ran_log.touch()
        self.acknowledged: list[str] = []
        self.failed_calls = 0
        self.crash: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="enqueue-stream", daemon=True)

    def start(self) -> EnqueueStream:
        """Start enqueueing."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                job_id = f"app-{len(self.acknowledged)}"
                try:
                    self.queue.enqueue(
                        "tests.tasks:append_line", str(self.ran_log), job_id, job_id=job_id
                    )
                except redis.RedisError:
                    self.failed_calls += 1  # not acknowledged: the same id goes again
                else:
                    self.acknowledged.append(job_id)
                self._stop.wait(GAP)
        except BaseException as error:  # the test fails on it rather than hangs
            self.crash = error

    def stop(self) -> None:
        """Stop enqueueing (the call under way ends first)."""
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the enqueue stream did not stop"
        assert self.crash is None, f"the enqueue stream crashed: {self.crash!r}"

    def ran(self) -> Counter[str]:
        """How many times each job ran so far."""
        return Counter(self.ran_log.read_text().split())

    def settled(self) -> bool:
        """Whether every acknowledged job ran, or nothing is left that could run one (no
        job waits, is delayed or is held by a worker): the jobs still missing are lost."""
        ran = self.ran()
        if all(job_id in ran for job_id in self.acknowledged):
            return True
        try:
            rows = read_queues(self.queue.client, self.queue.keys, now=0.0)
        except redis.RedisError:
            return False
        return all(row.depth == row.delayed == row.in_progress == 0 for row in rows)

    def counts(self) -> dict[str, object]:
        """Acknowledged enqueues, calls that raised, acknowledged jobs that never ran
        (lost) and jobs that ran more than once (twice)."""
        ran = self.ran()
        return {
            "acknowledged": len(self.acknowledged),
            "failed_calls": self.failed_calls,
            "lost": [job_id for job_id in self.acknowledged if job_id not in ran],
            "twice": sorted(job_id for job_id, times in ran.items() if times > 1),
        }

    def close(self) -> None:
        """Close the stream's Redis connections."""
        self.queue.close()


def kill_under_load(
    fleet: Fleet, stream: EnqueueStream, kill: Callable[[], object], ready: Callable[[], bool]
) -> tuple[dict[str, object], dict[str, object]]:
    """With fires and the stream's jobs running (and ``ready``), ``kill`` a primary; let
    five seconds of fires run after it and the application jobs drain; stop everything:
    (fire counts, application job counts)."""
    try:
        wait_until(lambda: len(fleet.runs()) >= 3, 30, f"three fires run\n{fleet.logs()}")
        wait_until(lambda: len(stream.ran()) >= 20, 30, f"application jobs\n{fleet.logs()}")
        wait_until(ready, 30, "ready for the kill")
        killed_at = time.time()
        kill()
        wait_until(lambda: fleet.ran_after(killed_at + 5), 30, f"fires\n{fleet.logs()}")
        stream.stop()
        wait_until(stream.settled, 30, f"the application jobs drained\n{fleet.logs()}")
    finally:
        stream.stop()
        stream.close()
        fleet.stop()
    return fleet.counts(killed_at), stream.counts()
