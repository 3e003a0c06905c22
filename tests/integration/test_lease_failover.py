"""The lease across a Redis failover, in-process on one real Redis: the state a failover
leaves (a lease and an epoch counter lost with the old primary, a lease whose connection id
belongs to another server) is written by hand, and the schedulers are stepped by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import Leadership, LeaseSettings
from scheduler.keys import Keys

SETTINGS = LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as c:
        yield c


@pytest.fixture
def keys(namespace: str) -> Keys:
    return Keys(namespace)


def schedulers(client: redis.Redis, keys: Keys) -> tuple[Leadership, Leadership]:
    clock = FakeClock(1_767_225_600)
    return Leadership(client, keys, clock, SETTINGS), Leadership(client, keys, clock, SETTINGS)


def test_an_epoch_lost_with_the_old_primary_never_goes_backwards(
    client: redis.Redis, keys: Keys
) -> None:
    a, b = schedulers(client, keys)
    client.set(keys.epoch(), 41)
    assert a.step() and a.epoch == 42
    assert not b.step()  # b stands by and has seen epoch 42

    client.delete(keys.lease(), keys.epoch())  # the failover lost both
    assert b.step()
    assert b.epoch == 43
    assert not a.step()  # a's renewal is refused: the lease is b's
    assert not a.step()  # a stands by and has seen epoch 43

    client.delete(keys.lease(), keys.epoch())
    assert a.step()
    assert a.epoch == 44
    assert int(client.get(keys.epoch()) or 0) == 44


def test_a_standby_waits_for_a_leader_whose_connection_id_is_from_another_server(
    client: redis.Redis, keys: Keys
) -> None:
    a, b = schedulers(client, keys)
    assert a.step()
    lease = json.loads(client.get(keys.lease()) or b"{}")
    # As replicated to a new primary: the id of a connection on the server that died.
    lease |= {"client": 10**9, "server": "0" * 40}
    client.set(keys.lease(), json.dumps(lease), px=3000)
    assert not b.step()
    assert json.loads(client.get(keys.lease()) or b"{}")["id"] == a.id

    assert a.step()  # a renews on this server: its lease names its connection here again
    renewed = json.loads(client.get(keys.lease()) or b"{}")
    assert renewed["server"] == client.info("server")["run_id"]
    assert renewed["client"] != 10**9


def test_a_standby_takes_over_at_once_when_the_leader_connection_is_gone_here(
    client: redis.Redis, keys: Keys
) -> None:
    a, b = schedulers(client, keys)
    assert a.step()
    lease = json.loads(client.get(keys.lease()) or b"{}")
    client.set(keys.lease(), json.dumps(lease | {"client": 10**9}), px=300_000)
    assert b.step()
    assert b.epoch == (a.epoch or 0) + 1
