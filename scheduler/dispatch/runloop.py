"""`scheduler run`: the loop around the dispatcher. One pass is ``step()``; ``run()`` waits.

Each pass renews or seeks the lease when due, does the once-a-second housekeeping
(schedule file, registry heartbeat with a refused file's problems, paused jobs, Redis
generation, other replicas' schedules), and ticks the
dispatcher while leader. The loop then sleeps until the next fire, lease renewal or
housekeeping, whichever is first: no polling interval, so fires go in on time. Standbys
sleep in a BLPOP on the lease's release list, so a leader's SIGTERM wakes them at once.

It never gives up: while Redis is unreachable it steps down, logs once, and retries with
backoff; this is the only place that catches broad Redis errors.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass, field

import redis

from ..clock import Clock
from ..documents import read_object
from ..errors import ConfigError, TargetError
from ..keys import Keys, as_text
from ..schedule.watch import Change, Divergence, ScheduleFile
from ..targets.load import senders_for
from ..transport.urls import REDIS_RETRY_MAX
from .dispatcher import Dispatcher, DispatchSettings, TickReport
from .leader import Leadership, LeaseSettings

log = logging.getLogger(__name__)

# Redis unreachable or not serving for now: the loop waits and tries again. A failover
# answers some commands with CLUSTERDOWN or MASTERDOWN (no primary for a slot yet),
# READONLY (a demoted primary) or TRYAGAIN (a slot migrating) until it completes.
REDIS_DOWN = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    redis.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    OSError,
)
REMOVED_JOB_TTL = 7 * 86400


FIRE_FIRST = 0.05  # seconds before a fire in which other work waits until after it


@dataclass(frozen=True)
class RunSettings:
    """Everything `scheduler run` can tune (times in seconds)."""

    lease: LeaseSettings = field(default_factory=LeaseSettings)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    heartbeat_every: float = 1.0
    allow_eviction: bool = False
    divergence_grace: float = 5.0  # replicas may differ this long before a warning


def check_eviction(client: redis.Redis, allow: bool) -> None:
    """Refuse a Redis that may evict keys (our state would vanish) unless ``allow``."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "noeviction")
    except redis.ResponseError as exc:
        log.warning("cannot read maxmemory-policy (%s); make sure it is noeviction", exc)
        return
    if policy != "noeviction" and not allow:
        raise ConfigError(
            f"Redis evicts keys (maxmemory-policy {policy}), which would lose scheduler state; "
            "set maxmemory-policy noeviction, or pass --allow-eviction to run anyway"
        )


class RunLoop:
    """A scheduler process: leader or standby, until stopped."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        source: ScheduleFile,
        settings: RunSettings | None = None,
    ) -> None:
        self.settings = settings or RunSettings()
        self._client = client
        self._keys = keys
        self._clock = clock
        self.source = source
        self.leadership = Leadership(client, keys, clock, self.settings.lease)
        self.dispatcher = Dispatcher(
            client,
            keys,
            clock,
            self.leadership,
            source.schedule,
            self.settings.dispatch,
            senders_for(source.schedule),
        )
        self.last_report = TickReport()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_requested = False
        self._next_lease = 0.0
        self._next_housekeeping = 0.0
        self._generation: str | None = None
        self._down_since: float | None = None
        self._backoff = 0.0
        self._divergence = Divergence(self.settings.divergence_grace)
        self._refused_at = 0.0
        self._started = clock.now()

    # -- control (signal handlers call these) ---------------------------------------------

    def stop(self) -> None:
        """Finish the current pass, release the lease and leave ``run()``."""
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Read the schedule file again at the next pass (SIGHUP)."""
        self._reload_requested = True
        self._wake.set()

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Loop until ``stop()``; survives Redis going away and coming back."""
        log.info(
            "scheduler started id=%s schedule=%s jobs=%d",
            self.leadership.id,
            self.source.path,
            len(self.source.schedule.jobs),
        )
        while not self._stop.is_set():
            try:
                delay = self.step()
                self._redis_back()
            except REDIS_DOWN as exc:
                delay = self._redis_down(exc)
            self._sleep(delay)
        self._shutdown()

    def step(self) -> float:
        """One pass; returns how long to wait before the next."""
        mono = self._clock.monotonic()
        if self.leadership.is_leader:
            # Due fires go first. The tick is fenced by Redis itself, so a renewal or
            # housekeeping due at the same moment (each second, like many jobs) can wait
            # for it, rather than the fires waiting for their round trips.
            self._tick()
        if mono >= self._next_lease:
            self._lease_step(mono)
        if mono >= self._next_housekeeping or self._reload_requested:
            self._housekeeping()
            self._next_housekeeping = mono + self.settings.heartbeat_every
        if self.leadership.is_leader:  # a new term, a resumed job, a reloaded file
            self._tick()
        return self._wait_time()

    def _tick(self) -> None:
        report = self.dispatcher.tick(self._clock.now())
        if report.enqueued or report.duplicates or report.not_leader:
            self.last_report = report

    def _lease_step(self, mono: float) -> None:
        was_leader = self.leadership.epoch is not None
        leader = self.leadership.step()
        lease = self.settings.lease
        self._next_lease = mono + (lease.renew_every if leader else lease.poll_every)
        if leader and not was_leader:
            self._publish_schedule()
        if was_leader and not leader:
            self.dispatcher.forget_term()

    def _wait_time(self) -> float:
        mono = self._clock.monotonic()
        wake = min(self._next_lease, self._next_housekeeping)
        if self.leadership.is_leader:
            nxt = self.dispatcher.next_fire()
            if nxt is not None:
                fire = mono + (nxt - self._clock.now())
                # A renewal or housekeeping due just before a fire waits for it (step()
                # ticks first), rather than delaying the fire by its round trips.
                wake = fire if fire - FIRE_FIRST <= wake <= fire else min(wake, fire)
        return max(0.0, wake - mono)

    def _sleep(self, seconds: float) -> None:
        if self._stop.is_set():
            return
        if self.leadership.epoch is None and self._down_since is None:
            try:
                poll = self.settings.lease.poll_every
                if self.leadership.wait_for_release(min(seconds, poll)):
                    self._next_lease = 0.0
                return
            except REDIS_DOWN as exc:
                seconds = self._redis_down(exc)
        self._clock.wait(self._wake, seconds)
        self._wake.clear()

    # -- housekeeping ----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        self._reload()  # first, so the heartbeat carries the schedule now in force
        now = self._clock.now()
        pipe = self._client.pipeline(transaction=False)
        self._heartbeat(pipe, now)
        pipe.get(self._keys.generation())
        pipe.hkeys(self._keys.paused())
        pipe.get(self._keys.lease())
        *_, generation, paused, lease = pipe.execute()
        self._check_generation(generation)
        self.dispatcher.set_paused({as_text(p) for p in paused})
        self._compare_schedules(lease)

    def _heartbeat(self, pipe: redis.client.Pipeline, now: float) -> None:
        me = self.leadership.id
        info: dict[str, str | int | float] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self._started,
            "digest": self.source.schedule.digest,
            "schedule": self.source.path,
            "role": "leader" if self.leadership.is_leader else "standby",
            "durability": self.dispatcher.durability.mode,
            "unconfirmed": self.dispatcher.durability.unconfirmed,
        }
        pipe.zadd(self._keys.schedulers(), {me: now})
        pipe.zremrangebyscore(self._keys.schedulers(), "-inf", now - 60)
        pipe.hset(self._keys.scheduler(me), mapping=info)  # type: ignore[arg-type]
        refused = self.source.refused
        if refused is None:
            pipe.hdel(self._keys.scheduler(me), "refused")
        else:
            pipe.hset(self._keys.scheduler(me), "refused", refused.encode(self._refused_at))
        pipe.expire(self._keys.scheduler(me), 60)

    def _check_generation(self, seen: bytes | None) -> None:
        value = as_text(seen) if seen else None
        if value is not None and value == self._generation:
            return
        if value is None:
            if self._generation is not None:
                log.error(
                    "REDIS LOST ITS DATA (generation marker %s is gone): state is rebuilt from "
                    "this process's memory; fires it already enqueued are not enqueued again",
                    self._generation,
                )
            fresh = os.urandom(8).hex()
            self._client.set(self._keys.generation(), fresh, nx=True)
            value = as_text(self._client.get(self._keys.generation()) or fresh)
        elif self._generation is not None:
            log.error("Redis data was replaced (generation %s -> %s)", self._generation, value)
        if self._generation is not None:
            self.dispatcher.forget_term()
        self._generation = value

    def _compare_schedules(self, lease: bytes | None) -> None:
        leader = (read_object(lease) or {}).get("id")
        if not isinstance(leader, str) or leader == self.leadership.id:
            return
        raw = self._client.hget(self._keys.scheduler(leader), "digest")
        theirs, ours = (as_text(raw) if raw else None), self.source.schedule.digest
        if self._divergence.warn(theirs, ours, self._clock.monotonic()):
            log.warning(
                "replicas run different schedules: leader %s has digest=%s, this one "
                "digest=%s; only the leader's schedule fires",
                leader,
                theirs,
                ours,
            )

    def _reload(self) -> None:
        force, self._reload_requested = self._reload_requested, False
        refused = self.source.refused
        change = self.source.reload(force=force)
        if self.source.refused is not refused:
            self._refused_at = self._clock.now()
        if change is None:
            return
        try:
            senders = senders_for(self.source.schedule)
        except TargetError as error:
            log.error("schedule reload cannot be dispatched, the previous one runs on: %s", error)
            return
        self.dispatcher.replace_schedule(self.source.schedule, senders)
        if self.leadership.is_leader:
            self._publish_schedule()
            self._retire(change)

    def _retire(self, change: Change) -> None:
        """Jobs gone from the file stop; their state is kept for a week in case they return."""
        pipe = self._client.pipeline(transaction=False)
        for name in change.removed:
            for key in (self._keys.state(name), self._keys.fired(name), self._keys.last(name)):
                pipe.expire(key, REMOVED_JOB_TTL)
        pipe.execute()

    def _publish_schedule(self) -> None:
        """The leader's schedule in Redis, for `scheduler status` and the dashboard."""
        snapshot = {
            "path": self.source.path,
            "digest": self.source.schedule.digest,
            "text": self.source.text,
            "by": self.leadership.id,
            "at": self._clock.now(),
        }
        self._client.set(self._keys.schedule(), json.dumps(snapshot))

    # -- failure and shutdown --------------------------------------------------------------

    def _redis_down(self, exc: BaseException) -> float:
        mono = self._clock.monotonic()
        if self._down_since is None:
            self._down_since = mono
            log.error("redis unreachable, retrying with backoff: %s", exc)
        self.leadership.step_down("redis unreachable")
        self.dispatcher.forget_term()
        self._backoff = min(REDIS_RETRY_MAX, max(0.1, self._backoff * 2))
        self._next_lease = 0.0
        return self._backoff

    def _redis_back(self) -> None:
        if self._down_since is not None:
            log.info(
                "redis reachable again after %.1fs", self._clock.monotonic() - self._down_since
            )
            self._down_since = None
            self._backoff = 0.0
            self.leadership.defer_to_former_leader(self.settings.lease.lease)

    def _shutdown(self) -> None:
        try:
            self.leadership.release()
            pipe = self._client.pipeline(transaction=False)
            pipe.zrem(self._keys.schedulers(), self.leadership.id)
            pipe.delete(self._keys.scheduler(self.leadership.id))
            pipe.execute()
        except REDIS_DOWN as exc:
            log.warning("could not deregister at shutdown: %s", exc)
        log.info("scheduler stopped id=%s", self.leadership.id)
