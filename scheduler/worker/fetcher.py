"""A worker's fetcher: every round trip of jobs between Redis and the job threads.

One ``fetch`` script call acknowledges the jobs that finished since the last call (and
settles those that need more, one script each, all in one pipeline: retries, dead jobs,
schedule outcomes, tracked and unique jobs),
promotes due delayed jobs, and moves new jobs from the worker's queues, in strict
priority order, into its in-progress lists. The fetcher decodes them, drops expired runs
and dead-letters undecodable payloads, and hands the rest to the job threads. With the
queues empty it blocks on their wake lists, so a new job starts within milliseconds.

If a round trip fails (Redis went away), its script may still have run: the next round
first puts back whatever the in-progress lists hold that the fetcher never received.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import redis

from ..clock import Clock
from ..errors import PayloadError
from ..jobs import MAX_PAYLOAD_BYTES, QueuedJob, decode
from .execution import DEAD, EXPIRED, RETRY, Outcome, expired, rejected, settlement_for
from .pool import JobPool
from .redis_calls import Consumer, Delivery, FetchResult, Settlement

log = logging.getLogger(__name__)


class Fetcher:
    """The fetcher of one worker (used from one thread at a time)."""

    def __init__(
        self,
        consumer: Consumer,
        pool: JobPool,
        clock: Clock,
        *,
        queues: Sequence[str],
        dead_cap: int,
        idle_timeout: float,
        register: Callable[[float], None],
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self._consumer = consumer
        self._pool = pool
        self._clock = clock
        self._queues = tuple(queues)
        self._dead_cap = dead_cap
        self._idle_timeout = idle_timeout
        self._register = register
        self._max_payload_bytes = max_payload_bytes
        self._next_due: float | None = None
        self._held: dict[bytes, int] = {}  # payloads fetched and not yet settled
        self._reply_lost = False
        self._ended = [0, 0]  # settled runs not yet counted in Redis: ended, failed

    def fetch_once(self, limit: int | None = None) -> int:
        """One round trip: settle finished jobs and take up to ``limit`` (default: room in
        the buffer); returns how many payloads it took."""
        self._pool.wanted.clear()
        now = self._clock.now()
        try:
            if self._reply_lost:
                self._recover()
            result = self._round_trip(now, limit)
            if not result.registered:
                self._register(now)
                result = self._round_trip(now, limit)
        except Exception:
            self._reply_lost = True  # the script may have run: check before the next fetch
            raise
        self._next_due = result.next_due
        tracked = [job for delivery in result.deliveries if (job := self._accept(delivery, now))]
        if tracked:
            self._mark_started(tracked, now)
        return len(result.deliveries)

    def _mark_started(self, jobs: list[QueuedJob], now: float) -> None:
        """Mark tracked jobs running: a worker holds them (they start within the buffer's
        few jobs). A failure only leaves their records saying "queued"."""
        try:
            self._consumer.started(jobs, now)
        except redis.RedisError as exc:
            log.warning("job records not marked running count=%d error=%r", len(jobs), str(exc))

    def wait(self) -> None:
        """Wait for room in the buffer, or (queues empty) for a job or a finished one."""
        if self._pool.room() <= 0:
            self._pool.wanted.wait(self._idle_timeout)
            return
        with self._pool.fetcher_waiting() as may_block:
            if may_block:
                self._consumer.wait_for_work(self._block_timeout())

    def give_back(self, deliveries: list[Delivery]) -> int:
        """Return jobs fetched but never started to the front of their queues, in order
        (a quiet worker's); returns how many went back."""
        moved = 0
        for index in range(len(self._queues)):
            raws = [d.raw for d in reversed(deliveries) if d.index == index]
            if raws:
                moved += self._consumer.put_back(index, raws)
            for raw in raws:
                self._forget(raw)
        if deliveries:
            log.info("worker gave back jobs it fetched ahead count=%d", moved)
        return moved

    def _round_trip(self, now: float, limit: int | None) -> FetchResult:
        outbox = self._pool.take()
        settled = released = 0
        try:
            mono = self._clock.monotonic()
            settlements = [self._settlement(outcome, now, mono) for outcome in outbox.outcomes]
            self._consumer.settle_many([s for s in settlements if s is not None], self._dead_cap)
            for outcome in outbox.outcomes:
                self._forget(outcome.delivery.raw)
                self._count(outcome.status)
            settled = len(outbox.outcomes)
            for delivery in outbox.releases:
                self._consumer.release(delivery)
                released += 1
            room = self._pool.room() if limit is None else limit
            stats = (len(outbox.acks) + self._ended[0], self._ended[1])
            result = self._consumer.fetch(now, room, outbox.acks, stats)
        except BaseException:
            outbox.outcomes, outbox.releases = outbox.outcomes[settled:], outbox.releases[released:]
            self._pool.restore(outbox)
            raise
        self._ended = [0, 0]
        for _, raw in outbox.acks:
            self._forget(raw)
        return result

    def _count(self, status: str) -> None:
        """Count a settled run for the per-minute statistics (expired runs never ran)."""
        if status != EXPIRED:
            self._ended[0] += 1
            self._ended[1] += status in (RETRY, DEAD)

    def _forget(self, raw: bytes) -> None:
        count = self._held.get(raw, 0)
        if count > 1:
            self._held[raw] = count - 1
        else:
            self._held.pop(raw, None)

    def _recover(self) -> None:
        """After a round trip that failed, put back what our in-progress lists hold that
        we never received (a fetch whose reply was lost), so it does not wait there for
        this worker to stop."""
        for index in range(len(self._queues)):
            unknown = dict(self._held)
            orphans = []
            for raw in self._consumer.in_progress(index):
                if unknown.get(raw, 0) > 0:
                    unknown[raw] -= 1
                else:
                    orphans.append(raw)
            if orphans:
                moved = self._consumer.put_back(index, orphans)
                log.warning("worker put back jobs of a lost fetch reply count=%d", moved)
        self._reply_lost = False

    def _settlement(self, outcome: Outcome, now: float, mono: float) -> Settlement | None:
        finished_at = now - max(0.0, mono - outcome.finished) if outcome.finished else now
        queue = self._queues[outcome.delivery.index]
        return settlement_for(outcome, queue, now, finished_at)

    def _accept(self, delivery: Delivery, now: float) -> QueuedJob | None:
        """Hand a fetched job to the job threads (or settle it at once); the job if it is
        tracked (it has a record to mark running)."""
        self._held[delivery.raw] = self._held.get(delivery.raw, 0) + 1
        try:
            job = delivery.job = decode(delivery.raw, self._max_payload_bytes)
        except PayloadError as exc:
            queue = self._queues[delivery.index]
            self._pool.add_outcome(rejected(delivery, queue, f"bad payload: {exc}"))
            return None
        if job.expires_at is not None and job.expires_at < now:
            self._pool.add_outcome(expired(delivery, now))
            return None
        self._pool.put(delivery)
        return job if job.result_ttl is not None else None

    def _block_timeout(self) -> float:
        timeout = self._idle_timeout
        if self._next_due is not None:
            timeout = min(timeout, self._next_due - self._clock.now())
        return max(0.01, timeout)
