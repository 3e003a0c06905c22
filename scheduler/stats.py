"""Running totals of a scheduler or worker process, for metrics: plain counters, no I/O.

The dispatcher counts what it does with fires in ``DispatchStats``; a worker's job
threads count runs in ``RunStats``. An exporter (``scheduler.ops.metrics``) reads them when
scraped; nothing here knows about Prometheus, and counting takes no lock on the hot path:

- ``DispatchStats`` has one writer, the run loop's thread;
- ``RunStats`` is split in shards, one per job thread, each written by its thread alone;
  the rare outcomes decided elsewhere (a timeout, an expired run, a bad payload) go to a
  shared shard under a lock.

A reader copies a dict or list (one C call, atomic under the GIL) before it sums, so a
scrape never sees a torn count, only one that is a few increments behind.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable
from typing import TypeVar

from .schedule.planner import Plan
from .worker.execution import DEAD, EXPIRED, OK, RETRY

K = TypeVar("K")

# Bucket upper bounds, in seconds.
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DURATION_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
)

# A fire enqueued later than this was missed (no leader, Redis away, job paused) and is
# counted as caught up; a leader on duty enqueues within milliseconds.
CAUGHT_UP_AFTER = 1.0

# The task label of runs whose task name is not one this worker may run.
NOT_ALLOWED = "(not allowed)"
BAD_PAYLOAD = "(bad payload)"


class Histogram:
    """Counts of observed values by bucket: ``counts[i]`` counts the values at most
    ``bounds[i]`` (and above the bound before); the last one, those above every bound."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one value."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def add(self, other: Histogram) -> None:
        """Add the counts of ``other`` (same bounds) to these."""
        for i, count in enumerate(list(other.counts)):
            self.counts[i] += count
        self.total += other.total


def _add(counts: dict[K, int], key: K, n: int) -> None:
    if n:
        counts[key] = counts.get(key, 0) + n


class DispatchStats:
    """What the dispatcher did with fires since the process started, by schedule job."""

    def __init__(self) -> None:
        self.enqueued: dict[str, int] = {}
        self.caught_up: dict[str, int] = {}
        self.duplicates: dict[str, int] = {}
        self.missed: dict[tuple[str, str], int] = {}  # (job, misfire policy)
        self.skipped: dict[tuple[str, str], int] = {}  # (job, reason: misfire or overlap)
        self.lateness = Histogram(LATENESS_BUCKETS)

    def count(self, plan: Plan, enqueued: int, duplicates: int, skipped: int, now: float) -> None:
        """The dispatch script's verdict on ``plan``'s fires at ``now`` (Redis clock)."""
        name = plan.job.name
        _add(self.enqueued, name, enqueued)
        _add(self.duplicates, name, duplicates)
        _add(self.skipped, (name, "overlap"), skipped)
        _add(self.skipped, (name, "misfire"), plan.missed_count)
        _add(self.missed, (name, plan.job.misfire), plan.missed_count + plan.missed_enqueued)
        # The fires are in ascending order, so the refused ones (at or before the
        # watermark) come first, then the enqueued ones, then those skipped for overlap.
        late = 0
        for at in plan.enqueue[duplicates : duplicates + enqueued]:
            self.lateness.observe(now - at)
            if now - at > CAUGHT_UP_AFTER:
                late += 1
        _add(self.caught_up, name, late)


class RunCounts:
    """What became of the runs of one task taken from one queue."""

    __slots__ = ("dead", "duration", "expired", "failed", "retried", "started", "succeeded")

    def __init__(self) -> None:
        self.started = self.succeeded = self.failed = self.retried = 0
        self.dead = self.expired = 0
        self.duration = Histogram(DURATION_BUCKETS)

    def ended(self, status: str, duration: float | None = None) -> None:
        """Count an outcome (``execution`` status); ``duration`` if the task ran."""
        if status == OK:
            self.succeeded += 1
        elif status == RETRY:
            self.failed += 1
            self.retried += 1
        elif status == DEAD:
            self.failed += 1
            self.dead += 1
        elif status == EXPIRED:
            self.expired += 1
        if duration is not None:
            self.duration.observe(duration)

    def add(self, other: RunCounts) -> None:
        """Add the counts of ``other`` to these."""
        for name in ("started", "succeeded", "failed", "retried", "dead", "expired"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.duration.add(other.duration)


class Shard(dict[tuple[int, str], RunCounts]):
    """The counts one thread writes, by (queue index, task)."""

    def of(self, index: int, task: str) -> RunCounts:
        """The counts of ``task`` run from queue number ``index``."""
        found = self.get((index, task))
        if found is None:
            found = self[(index, task)] = RunCounts()
        return found


class RunStats:
    """A worker's run counts, in shards (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shards: list[Shard] = []
        self._shared = self.shard()

    def shard(self) -> Shard:
        """A new shard, for one thread to write."""
        shard = Shard()
        with self._lock:
            self._shards.append(shard)
        return shard

    def retire(self, shard: Shard) -> None:
        """Fold the shard of a thread that ended into the shared one."""
        with self._lock:
            self._shards = [s for s in self._shards if s is not shard]  # not by ==: dicts
            _fold(self._shared, shard.items())

    def ended(self, index: int, task: str, status: str, duration: float | None = None) -> None:
        """Count an outcome decided outside the job threads (thread-safe)."""
        with self._lock:
            self._shared.of(index, task).ended(status, duration)

    def totals(self) -> dict[tuple[int, str], RunCounts]:
        """Every shard's counts added up, by (queue index, task)."""
        totals = Shard()
        with self._lock:
            for shard in self._shards:
                _fold(totals, list(shard.items()))
        return totals


def _fold(into: Shard, items: Iterable[tuple[tuple[int, str], RunCounts]]) -> None:
    for (index, task), counts in items:
        into.of(index, task).add(counts)
