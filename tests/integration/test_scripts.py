"""Scripts through redis-py against a real redis-server: reloads after a flush, error
replies, and enqueues that a broken connection makes redis-py send again."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from scheduler.jobs import build_payload, encode
from scheduler.keys import Keys
from scheduler.queue import Queue
from scheduler.transport.scripts import Call, Scripts
from tests.conftest import RedisServer
from tests.cutting_proxy import cutting_proxy


def payload_ids(client: redis.Redis, queue: Queue, name: str = "default") -> list[str]:
    return [json.loads(raw)["id"] for raw in client.lrange(queue.keys.queue(name), 0, -1)]


def send(queue: Queue, jobs: list[tuple[str, int]]) -> None:
    with queue.batch() as batch:
        for job_id, n in jobs:
            batch.enqueue("tests.tasks:add", n, n, job_id=job_id)


def test_a_flushed_script_is_loaded_again_for_one_call_or_many(
    client: redis.Redis, queue: Queue
) -> None:
    client.script_flush()
    queue.enqueue("tests.tasks:noop")
    client.script_flush()
    with queue.batch() as batch:
        for n in range(3):
            batch.enqueue("tests.tasks:add", n, n)
    assert queue.depth() == 4


def test_an_error_reply_in_many_calls_is_raised(client: redis.Redis, namespace: str) -> None:
    scripts = Scripts(client)
    wrong = f"{{{namespace}}}:queue:default"
    client.set(wrong, "not a list")
    keys = [wrong, f"{{{namespace}}}:wake:default", f"{{{namespace}}}:delayed:default"]
    keys += [f"{{{namespace}}}:queues", f"{{{namespace}}}:enqueued:x"]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        scripts.run_many("enqueue", [(keys, ["{}", "default", "", 300])])


def test_a_job_id_enqueued_twice_is_one_job(client: redis.Redis, queue: Queue) -> None:
    assert queue.enqueue("tests.tasks:noop", job_id="invoice-42") == "invoice-42"
    assert queue.enqueue("tests.tasks:noop", job_id="invoice-42") == "invoice-42"
    with queue.batch() as batch:
        batch.enqueue("tests.tasks:noop", job_id="invoice-42")
        batch.enqueue("tests.tasks:noop", job_id="invoice-43")
    assert payload_ids(client, queue) == ["invoice-43", "invoice-42"]


def test_a_batch_cut_in_the_middle_of_its_replies_enqueues_each_job_once(
    redis_server: RedisServer, namespace: str
) -> None:
    # The first connection breaks after about half the batch's replies (one script call
    # per 200 jobs, each replying ":200\r\n"), once Redis ran the commands; redis-py
    # sends the whole pipeline again on a new connection.
    with redis.Redis(port=redis_server.port) as client:
        Scripts(client).load("enqueue_many")
    with cutting_proxy("127.0.0.1", redis_server.port, cut_after=1 << 30) as proxy:
        with redis.Redis(port=proxy.port) as client:
            queue = Queue(client, namespace)
            queue.clock.now()
            proxy.cut_after = proxy.replied + 300
            with queue.batch() as batch:
                for n in range(20_000):
                    batch.enqueue("tests.tasks:add", n, n)
        assert proxy.cuts == 1
    with redis.Redis(port=redis_server.port) as client:
        ids = payload_ids(client, Queue(client, namespace))
    assert len(ids) == 20_000
    assert len(set(ids)) == 20_000


def test_an_enqueue_retried_by_the_application_after_a_failure_is_one_job(
    redis_server: RedisServer, namespace: str
) -> None:
    jobs = [(f"report-{n}", n) for n in range(5_000)]
    with redis.Redis(port=redis_server.port) as client:
        Scripts(client).load("enqueue_many")  # so the cut falls among the batch's replies
    with cutting_proxy("127.0.0.1", redis_server.port, cut_after=1 << 30) as proxy:
        no_retry = redis.Redis(port=proxy.port, retry_on_error=[], retry=None)
        with no_retry as client, pytest.raises(redis.ConnectionError):
            queue = Queue(client, namespace)
            queue.clock.now()  # the handshake and the clock's TIME go through whole
            proxy.cut_after = proxy.replied + 75  # about half of 25 replies ":200\r\n"
            send(queue, jobs)
    with redis.Redis(port=redis_server.port) as client:
        queue = Queue(client, namespace)
        assert 0 < queue.depth() < len(jobs)
        send(queue, jobs)  # the application sends the same jobs again
        assert sorted(payload_ids(client, queue)) == sorted(job_id for job_id, _ in jobs)


def enqueue_calls(k: Keys, ids: list[str]) -> list[Call]:
    """One ``enqueue`` script call per job id (lua/enqueue.lua)."""
    calls: list[Call] = []
    for job_id in ids:
        payload = encode(build_payload("tests.tasks:noop", job_id=job_id, enqueued_at=0))
        keys = [k.queue("default"), k.wake("default"), k.delayed("default"), k.queues()]
        calls.append(([*keys, k.enqueued(job_id)], [payload, "default", "", 300]))
    return calls


def test_streamed_calls_load_a_script_flushed_before_or_between_them(
    client: redis.Redis, queue: Queue
) -> None:
    scripts = Scripts(client)
    client.script_flush()
    assert list(scripts.stream("enqueue", enqueue_calls(queue.keys, ["a", "b"]))) == [1, 1]

    def flushed_between() -> Iterator[Call]:
        first, second, third = enqueue_calls(queue.keys, ["c", "d", "e"])
        yield first
        client.script_flush()  # the first is sent; the next two find no script
        yield second
        yield third

    assert list(scripts.stream("enqueue", flushed_between())) == [1, 1, 1]
    assert sorted(payload_ids(client, queue)) == ["a", "b", "c", "d", "e"]


def test_an_error_reply_in_streamed_calls_is_raised_and_the_client_works_on(
    client: redis.Redis, queue: Queue
) -> None:
    scripts = Scripts(client)
    calls = enqueue_calls(queue.keys, ["f", "g", "h"])
    wrong = queue.keys.queue("other")
    client.set(wrong, "not a list")
    calls[1] = ([wrong, *calls[1][0][1:]], calls[1][1])
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        list(scripts.stream("enqueue", calls))
    assert client.ping()
    assert list(scripts.stream("enqueue", enqueue_calls(queue.keys, ["i"]))) == [1]
    assert "g" not in payload_ids(client, queue)
