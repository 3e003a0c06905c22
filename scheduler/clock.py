"""The injectable clock: "now" is Redis server time in production, set by hand in tests.

Every loop takes a clock instead of calling ``time.time()``. ``now()`` is wall time (epoch
seconds, float) on the Redis clock; ``monotonic()`` measures elapsed waits; ``wait(event,
seconds)`` is the only way loops sleep, so a fake clock can make waiting instant.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    import redis
    import redis.asyncio

Reading = tuple[float, float, float]  # monotonic before and after a TIME call, server time


class Clock(Protocol):
    """What loops need of time."""

    def now(self) -> float:
        """Wall time in epoch seconds on the shared (Redis) clock."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring waits."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` pass; True if the event was set."""
        ...


class SystemClock:
    """The host's own clock; for tools that have no Redis (and for comparison in tests)."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class RedisClock(SystemClock):
    """Redis server time, read with TIME and carried forward on the monotonic clock.

    The offset between the server's clock and our monotonic clock is measured at most
    every ``resync`` seconds (taking the reading with the shortest round trip of three), so
    ``now()`` normally costs no round trip. Host clock skew changes nothing.
    """

    def __init__(self, client: redis.Redis, resync: float = 10.0) -> None:
        self._client = client
        self._resync = resync
        self._offset: float | None = None
        self._synced_at = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        mono = time.monotonic()
        if self._offset is None or mono - self._synced_at >= self._resync:
            self.sync()
        assert self._offset is not None
        return time.monotonic() + self._offset

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait as the system clock does; the offset is measured again first if it would go
        stale during the wait, so that ``now()`` after waking (when fires are due) costs no
        round trip."""
        started = time.monotonic()
        if self._offset is not None and started + seconds - self._synced_at >= self._resync:
            with contextlib.suppress(Exception):  # now() raises it again, where it is handled
                self.sync()
        return event.wait(max(0.0, seconds - (time.monotonic() - started)))

    def sync(self) -> None:
        """Measure the offset to the server clock now (raises redis errors as they come)."""
        with self._lock:
            readings = []
            for _ in range(3):
                before = time.monotonic()
                seconds, micros = self._client.time()
                readings.append((before, time.monotonic(), seconds + micros / 1e6))
            self._offset = best_offset(readings)
            self._synced_at = time.monotonic()


class AsyncRedisClock(SystemClock):
    """``RedisClock`` for a ``redis.asyncio`` client: ``await sync()`` when ``stale``, then
    ``now()`` costs no round trip."""

    def __init__(self, client: redis.asyncio.Redis, resync: float = 10.0) -> None:
        self._client = client
        self._resync = resync
        self._offset: float | None = None
        self._synced_at = 0.0

    @property
    def stale(self) -> bool:
        """Whether the offset is missing or older than ``resync`` seconds."""
        return self._offset is None or time.monotonic() - self._synced_at >= self._resync

    async def sync(self) -> None:
        """Measure the offset to the server clock now."""
        readings = []
        for _ in range(3):
            before = time.monotonic()
            seconds, micros = await self._client.time()
            readings.append((before, time.monotonic(), seconds + micros / 1e6))
        self._offset = best_offset(readings)
        self._synced_at = time.monotonic()

    def now(self) -> float:
        if self._offset is None:
            raise RuntimeError("AsyncRedisClock.now() before its first sync()")
        return time.monotonic() + self._offset


def best_offset(readings: Sequence[Reading]) -> float:
    """Server time minus monotonic time, from the reading with the shortest round trip."""
    before, after, server = min(readings, key=lambda r: r[1] - r[0])
    return server - (before + after) / 2


class FakeClock:
    """A clock that moves only when told; ``wait`` returns at once and advances it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.advance(max(0.0, seconds))
        return event.is_set()

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self._now += seconds
        self._mono += seconds

    def set(self, now: float) -> None:
        """Jump the wall clock to ``now`` (the monotonic clock moves by the same amount)."""
        self._mono += max(0.0, now - self._now)
        self._now = now
