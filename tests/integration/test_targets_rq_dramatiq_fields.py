"""What a fire of an ``rq:`` or ``dramatiq:`` job writes, read back with rq's and
dramatiq's own code: each schedule setting lands in the field the library reads
(docs/targets.md). Dispatched in-process, against a real Redis, by the fenced script."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.dispatch.runloop import RunLoop
from scheduler.keys import Keys
from scheduler.ops.control import Control
from scheduler.schedule.loader import parse_schedule
from scheduler.targets.base import pack_writes
from scheduler.targets.load import load_target
from scheduler.transport.scripts import Scripts
from tests.integration.test_targets import T0, loop_on, run_process  # noqa: F401 - the fixture

rq_job = pytest.importorskip("rq.job")
dramatiq_message = pytest.importorskip("dramatiq.message")
resolve_serializer = pytest.importorskip("rq.serializers").resolve_serializer

RQ = """\
jobs:
  reindex:
    rq: tests.rq_tasks.tick
    every: 15s
    args: ["café", 2]
    kwargs: {{full: true}}
    queue: {queue}
    timeout: 30
    expires: 10m
    retries: 2
    result_ttl: 1h
    failure_ttl: 1d
    description: reindex everything
  later:
    rq: tests.rq_tasks.tick
    every: 15s
    queue: {queue}
    jitter: 10m
    retries: 0
"""

DRAMATIQ = """\
targets:
  dramatiq: {{namespace: "{namespace}"}}
jobs:
  digest:
    dramatiq: tick
    every: 15s
    args: ["café"]
    kwargs: {{period: month}}
    timeout: 30
    expires: 10m
    retries: 2
  later:
    dramatiq: tick
    every: 15s
    jitter: 10m
"""


def fire_once(loop_on: Callable[..., RunLoop], text: str) -> FakeClock:  # noqa: F811
    clock = FakeClock(T0 + 1)
    loop = loop_on(text, clock)
    loop.step()
    clock.advance(15)
    loop.step()
    loop.step()  # a second pass at the same instant sends nothing more
    return clock


def rq_jobs(client: redis.Redis, key: str) -> list[Any]:
    return [rq_job.Job.fetch(i.decode(), connection=client) for i in client.lrange(key, 0, -1)]


def test_an_rq_fire_is_the_job_rq_enqueues_with_the_schedules_settings(
    client: redis.Redis,
    namespace: str,
    loop_on: Callable[..., RunLoop],  # noqa: F811
) -> None:
    fire_once(loop_on, RQ.format(queue=namespace))
    [job] = rq_jobs(client, f"rq:queue:{namespace}")
    assert (job.func_name, job.args, job.kwargs) == (
        "tests.rq_tasks.tick",
        ["café", 2],
        {"full": True},
    )
    assert (job.origin, job.get_status(), job.description) == (
        namespace,
        "queued",
        "reindex everything",
    )
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (30, 3600, 86400)
    assert (job.retries_left, job.retry_intervals) == (2, [10, 20])
    assert job.meta == {"schedule": "reindex", "scheduled_for": T0 + 15}
    assert 0 < client.ttl(job.key) <= 600 - 1  # expires counts from the fire time
    assert f"rq:queue:{namespace}".encode() in client.smembers("rq:queues")
    state = client.hgetall(Keys(namespace).state("reindex"))
    assert state[b"job_id"].decode() == job.id
    [(later, due)] = client.zrange(f"rq:scheduled:{namespace}", 0, -1, withscores=True)
    delayed = rq_job.Job.fetch(later.decode(), connection=client)
    assert delayed.get_status() == "scheduled"
    assert T0 + 15 < due <= T0 + 15 + 600
    assert delayed.retries_left is None


def dramatiq_messages(client: redis.Redis, queue: str) -> list[Any]:
    ids = client.lrange(queue, 0, -1)
    return [dramatiq_message.Message.decode(client.hget(f"{queue}.msgs", i)) for i in ids]


def test_a_dramatiq_fire_is_the_message_the_broker_enqueues_with_the_schedules_settings(
    client: redis.Redis,
    namespace: str,
    loop_on: Callable[..., RunLoop],  # noqa: F811
) -> None:
    clock = fire_once(loop_on, DRAMATIQ.format(namespace=namespace))
    [message] = dramatiq_messages(client, f"{namespace}:default")
    assert (message.actor_name, message.queue_name) == ("tick", "default")
    assert (message.args, message.kwargs) == (("café",), {"period": "month"})
    options = message.options
    assert (options["max_retries"], options["time_limit"]) == (2, 30_000)
    assert options["max_age"] == round((T0 + 15 + 600 - clock.now()) * 1000)
    assert (options["schedule"], options["scheduled_for"]) == ("digest", T0 + 15)
    assert message.message_timestamp == int(clock.now() * 1000)
    state = client.hgetall(Keys(namespace).state("digest"))
    assert state[b"job_id"].decode() == options["redis_message_id"]
    [delayed] = dramatiq_messages(client, f"{namespace}:default.DQ")
    assert delayed.queue_name == "default.DQ"
    assert (T0 + 15) * 1000 < delayed.options["eta"] <= (T0 + 15 + 600) * 1000


def test_trigger_and_backfill_send_rq_jobs_and_dramatiq_messages_once(
    client: redis.Redis, namespace: str
) -> None:
    clock = FakeClock(T0 + 100)
    control = Control(client, Keys(namespace), clock)
    for text, queue in [
        (RQ.format(queue=namespace), f"rq:queue:{namespace}"),
        (DRAMATIQ.format(namespace=namespace), f"{namespace}:default"),
    ]:
        schedule = parse_schedule(text)
        job = next(iter(schedule.jobs.values()))
        sent = control.trigger(job, schedule.targets)
        fired = control.backfill(job, T0, T0 + 30, dry_run=False, targets=schedule.targets)
        assert [f.outcome for f in fired] == ["enqueued", "enqueued"]
        again = control.backfill(job, T0, T0 + 30, dry_run=False, targets=schedule.targets)
        assert [f.outcome for f in again] == ["already enqueued", "already enqueued"]
        ids = [i.decode() for i in client.lrange(queue, 0, -1)]
        assert len(ids) == 3 and ids[0] == sent


def test_jobs_alike_but_for_their_name_share_a_prepared_message_yet_name_their_own_fire() -> None:
    schedule = parse_schedule(
        "jobs:\n"
        "  a: {rq: m.f, every: 1m, args: [1]}\n"
        "  b: {rq: m.f, every: 1m, args: [1]}\n"
        "  c: {dramatiq: tick, every: 1m, args: [1]}\n"
        "  d: {dramatiq: tick, every: 1m, args: [1]}\n"
    )
    rq, dramatiq = load_target("rq", {}), load_target("dramatiq", {})
    serializer = resolve_serializer(None)
    for name in "ab":
        [hset, *_] = rq.sender(schedule.jobs[name]).fire(T0, T0 + 0.5).writes
        fields = dict(zip(hset[2::2], hset[3::2], strict=True))
        meta = serializer.loads(fields["meta"])
        assert meta == {"schedule": name, "scheduled_for": T0}
    for name in "cd":
        [hset, _] = dramatiq.sender(schedule.jobs[name]).fire(T0, T0 + 0.5).writes
        message = dramatiq_message.Message.decode(hset[3].encode())
        assert (message.options["schedule"], message.args) == (name, (1,))


def test_every_byte_value_survives_a_targets_write(client: redis.Redis, namespace: str) -> None:
    data = bytes(range(256)) * 2  # a pickled RQ field may hold any byte
    key = f"{namespace}:bytes"
    words: list[object] = []
    packed = pack_writes([["HSET", key, "f", data]], words, {}, 2)
    Scripts(client).run("send", [key], [json.dumps(packed), *words])
    assert client.hget(key, "f") == data


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        (
            "targets: {rq: {broker: 'amqp://guest@rabbit//'}}\njobs:\n  r: {rq: m.f, every: 1m}\n",
            {},
            "rq broker amqp://guest@rabbit// is not Redis: exactly-once needs",
        ),
        ("jobs:\n  r: {rq: m.f, every: 1m}\n", {"RQ_REDIS_URL": "OTHER"}, "is not the Redis"),
        (
            "targets: {dramatiq: {broker: 'OTHER'}}\njobs:\n  d: {dramatiq: tick, every: 1m}\n",
            {},
            "dramatiq broker redis://",
        ),
    ],
)
def test_run_refuses_an_rq_or_dramatiq_broker_that_is_not_the_redis_of_redis(
    redis_url: str, tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    other = redis_url.rsplit("/", 1)[0] + "/5"
    path = tmp_path / "s.yml"
    path.write_text(text.replace("OTHER", other))
    code, err = run_process(
        path, redis_url, **{k: v.replace("OTHER", other) for k, v in env.items()}
    )
    assert code == 2
    assert err.count("\n") == 1, err
    assert expected in err
    assert "exactly-once needs" in err


def test_an_rq_prefix_puts_every_key_of_the_fire_under_it(
    client: redis.Redis, namespace: str
) -> None:
    prefix = f"{namespace}-rq"
    text = f"targets: {{rq: {{prefix: {prefix}}}}}\njobs:\n  r: {{rq: m.f, every: 1m, jitter: 0}}\n"
    schedule = parse_schedule(text)
    control = Control(client, Keys(namespace), FakeClock(T0))
    job_id = control.trigger(schedule.jobs["r"], schedule.targets)
    assert client.lrange(f"{prefix}:queue:default", 0, -1) == [job_id.encode()]
    assert client.hget(f"{prefix}:job:{job_id}", "origin") == b"default"
    assert client.smembers(f"{prefix}:queues") == {f"{prefix}:queue:default".encode()}
