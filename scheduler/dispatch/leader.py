"""Leadership: one lease per namespace, an epoch that fences off every earlier leader.

The lease is a Redis key holding ``{id, epoch, host, pid, since, client}`` with a TTL.
Whoever sets it first is the leader; ``epoch`` grows with every new leader and every
enqueue script checks (id, epoch) against the lease, so a leader that lost the lease
(paused past it, cut off) can no longer enqueue anything, whatever it believes.

Failover: a leader stopped with SIGTERM releases the lease and pushes a token that wakes a
standby at once. A leader killed outright leaves its lease behind, but its connection to
Redis closes with it: standbys poll the lease every ``poll_every`` seconds and take it over
as soon as the holder's connection (``client``, its CLIENT ID) is gone from CLIENT LIST.
A leader that is alive but stuck (SIGSTOP) keeps its connection, so its lease simply runs
out after ``lease`` seconds. Every renew and release is a compare-and-set in Lua.
A standby says once per leader that it stands by, and who leads.

Across a Redis failover (Sentinel, Cluster; docs/operations.md) the lease records the
run id of the server its connection id belongs to (``server``): a connection id read on
another server proves nothing, so a standby waits for the leader to renew on the new
primary, or for its lease to run out. The epoch counter may lose its last increments with
the old primary, so every process carries the highest epoch it has seen (its own, and
each lease it read) as a floor, and a new term's epoch is above it: epochs never go
backwards while a scheduler that saw them is alive.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

import redis

from ..clock import Clock
from ..documents import read_object
from ..keys import Keys, as_text
from ..transport.scripts import Scripts
from ..transport.urls import is_cluster

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    """Lease timing, in seconds. A standby takes over within ``lease`` of a silent death."""

    lease: float = 3.0
    renew_every: float = 1.0
    poll_every: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.renew_every * 2 <= self.lease:
            raise ValueError("renew at least twice per lease time")


def holder_id() -> str:
    """A process-unique holder id: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


class Leadership:
    """This process's view of the lease: are we leader, with which epoch, until when."""

    def __init__(
        self, client: redis.Redis, keys: Keys, clock: Clock, settings: LeaseSettings
    ) -> None:
        self._client = client if is_cluster(client) else _one_connection(client, settings)
        self._scripts = Scripts(self._client)
        self._keys = keys
        self._clock = clock
        self.settings = settings
        self.id = holder_id()
        self.epoch: int | None = None
        self.renew_failures = 0  # renewals refused by Redis or cut off by an error
        self._valid_until = 0.0
        self._client_id = 0
        self._server = ""  # run id of the server that gave ``_client_id``
        self._floor = 0  # the highest epoch seen; a new term's epoch is above it
        # A cluster client has no one connection to name: the lease TTL decides there.
        self._liveness = not is_cluster(client)
        self._following: object = None  # the leader this standby last said it follows
        self._defer_until = 0.0  # until then a free lease is left to the former leader
        self._unreadable: bytes | str | None = None  # the last unreadable lease warned of

    @property
    def is_leader(self) -> bool:
        """Whether we hold the lease now, by our own conservative reckoning."""
        return self.epoch is not None and self._clock.monotonic() < self._valid_until

    def step(self) -> bool:
        """Renew the lease if we hold it, else try to take it; True if we are leader."""
        if self.epoch is not None:
            self._renew()
        else:
            self._try_acquire()
        return self.is_leader

    def release(self) -> None:
        """Step down, waking a standby; harmless if the lease is no longer ours."""
        if self.epoch is None:
            return
        epoch, self.epoch = self.epoch, None
        keys = [self._keys.lease(), self._keys.lease_released()]
        if self._scripts.run("lease_release", keys, [self.id, epoch]):
            log.info("leadership released epoch=%s", epoch)

    def step_down(self, reason: str) -> None:
        """Forget leadership locally (Redis unreachable, lease lost)."""
        if self.epoch is not None:
            log.warning("leadership lost epoch=%s reason=%s", self.epoch, reason)
        self.epoch = None

    def defer_to_former_leader(self, seconds: float) -> None:
        """After a Redis outage, leave a free lease for ``seconds`` to the leader this
        standby followed: that leader remembers the watermarks it advanced, which a
        failover may have lost, so it never sends those fires again (docs/operations.md)."""
        if self.epoch is None and self._following is not None:
            self._defer_until = self._clock.monotonic() + seconds

    def close(self) -> None:
        """Close the lease's own connection (a cluster's client is the caller's to close)."""
        if not is_cluster(self._client):
            self._client.close()

    def current(self) -> dict[str, Any] | None:
        """The lease as stored: id, epoch, host, pid, since, client; None if no leader (or
        the lease cannot be read)."""
        return read_object(self._client.get(self._keys.lease()))

    def wait_for_release(self, seconds: float) -> bool:
        """Block up to ``seconds`` for a leader to step down; True if one did."""
        token = self._client.blpop([self._keys.lease_released()], timeout=max(0.01, seconds))
        return token is not None

    def _renew(self) -> None:
        started = self._clock.monotonic()
        lease_ms = int(self.settings.lease * 1000)
        renewed = False
        try:
            self._identify()
            renewed = self._scripts.run(
                "lease_renew",
                [self._keys.lease()],
                [self.id, self.epoch or 0, lease_ms, self._client_id, self._server],
            )
        finally:
            if not renewed:  # refused, or Redis failed (the caller steps down)
                self.renew_failures += 1
        if renewed:
            self._valid_until = started + self.settings.lease
        else:
            self.step_down("the lease is no longer ours")

    def _try_acquire(self) -> None:
        started = self._clock.monotonic()
        seen = self._takeover_candidate()
        if seen is None:
            return
        self._identify()
        info = {"id": self.id, "host": socket.gethostname(), "pid": os.getpid()}
        info |= {"client": self._client_id, "server": self._server}
        lease_ms = int(self.settings.lease * 1000)
        argv: list[str | int | float] = [
            self.id,
            json.dumps(info),
            lease_ms,
            self._clock.now(),
            seen,
            self._floor,
        ]
        keys = [self._keys.lease(), self._keys.epoch(), self._keys.lease_released()]
        epoch, state = self._scripts.run("lease_acquire", keys, argv)
        if epoch:
            self.epoch = int(epoch)
            self._floor = max(self._floor, self.epoch)
            self._valid_until = started + self.settings.lease
            self._following = None
            if state == b"acquired":
                log.info("leadership acquired epoch=%s id=%s", self.epoch, self.id)

    def _takeover_candidate(self) -> str | None:
        """ "" if the lease is free (and not left to a former leader), the lease value if
        its holder's connection is gone, else None (a live leader holds it)."""
        raw = self._client.get(self._keys.lease())
        if raw is None:
            return "" if self._clock.monotonic() >= self._defer_until else None
        lease = read_object(raw)
        if lease is None:
            self._unreadable_lease(raw)
            return None
        epoch = lease.get("epoch")
        if isinstance(epoch, int):
            self._floor = max(self._floor, epoch)
        if lease.get("id") == self.id:
            return ""
        if self._holder_gone(lease):
            return as_text(raw)
        self._stand_by(lease)
        return None

    def _stand_by(self, lease: dict[str, Any]) -> None:
        """Say once per leader that this process is a standby, and who leads."""
        if lease.get("id") == self._following:
            return
        self._following = lease.get("id")
        log.info(
            "standing by leader=%s epoch=%s host=%s pid=%s",
            lease.get("id"),
            lease.get("epoch"),
            lease.get("host"),
            lease.get("pid"),
        )

    def _unreadable_lease(self, raw: bytes | str) -> None:
        """Warn (once per value) of a lease that is not ours and cannot be read: someone
        wrote it straight into Redis. It is waited out like any other leader's lease."""
        if raw != self._unreadable:
            self._unreadable = raw
            log.warning(
                "lease unreadable key=%s: waiting for it to expire (delete the key if it "
                "has no TTL)",
                self._keys.lease(),
            )

    def _holder_gone(self, lease: dict[str, Any]) -> bool:
        """Whether the holder's connection is gone from the server that gave its id."""
        client_id = lease.get("client")
        if not self._liveness or not isinstance(client_id, int):
            return False
        try:
            listed = self._client.client_list(client_id=[str(client_id)])  # redis-py 5 joins text
        except redis.ResponseError as exc:
            self._liveness = False
            log.info("fast failover off: CLIENT LIST is refused (%s); the lease TTL applies", exc)
            return False
        if listed:
            return False
        self._identify()
        return bool(lease.get("server", "") == self._server)

    def _identify(self) -> None:
        """Read our connection's CLIENT ID and, when it changed, the server's run id."""
        if is_cluster(self._client):
            return
        client_id = int(self._client.client_id())
        if client_id != self._client_id:
            self._client_id, self._server = client_id, _run_id(self._client)


def _one_connection(client: redis.Redis, settings: LeaseSettings) -> redis.Redis:
    """A client of one connection to ``client``'s server (through the same sentinels), so
    CLIENT ID names the connection our lease lives on."""
    source = client.connection_pool
    pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]
        max_connections=1,
        timeout=settings.lease,
        connection_class=source.connection_class,
        **source.connection_kwargs,
    )
    return redis.Redis(connection_pool=pool)


def _run_id(client: redis.Redis) -> str:
    """The server's run id ("" where INFO is refused: connection ids are then trusted)."""
    try:
        return str(client.info("server").get("run_id", ""))
    except redis.ResponseError:
        return ""
