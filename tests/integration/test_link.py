"""The Link (scheduler/link.py) against a real redis-server: replies, errors, broken
connections, time-outs, threads, fork and the spin's back-off."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import partial

import pytest
import redis
from redis.exceptions import NoScriptError

from scheduler.link import Link, read_all
from scheduler.queue import Queue
from scheduler.resp import Arg, pack
from scheduler.scripts import Scripts
from tests.helpers import wait_until


@pytest.fixture
def link(client: redis.Redis) -> Iterator[Link]:
    made = Link(client)
    yield made
    made.close()


def client_id(link: Link) -> int:
    return int(link.call(pack("CLIENT", "ID")))


def test_replies_read_as_redis_py_returns_them(
    link: Link, client: redis.Redis, namespace: str
) -> None:
    key = f"{namespace}:n"
    assert link.call(pack("INCR", key)) == 1
    assert link.call(pack("SET", key, "x")) == b"OK"
    assert link.call(pack("MGET", key, f"{namespace}:missing")) == [b"x", None]
    nested = "return {1, 'two', {3, false}}"
    assert link.call(pack("EVAL", nested, 0)) == client.eval(nested, 0) == [1, b"two", [3, None]]


def test_an_error_reply_is_raised_and_the_connection_goes_on(link: Link, namespace: str) -> None:
    before = client_id(link)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        link.call(pack("NOSUCHCOMMAND"))
    with pytest.raises(NoScriptError):
        link.call(pack("EVALSHA", "0" * 40, 0))
    assert client_id(link) == before


def test_commands_and_replies_larger_than_socket_buffers(link: Link, namespace: str) -> None:
    value = os.urandom(3 * 1024 * 1024)
    assert link.call(pack("SET", f"{namespace}:big", value)) == b"OK"
    assert link.call(pack("GET", f"{namespace}:big")) == value


def test_a_time_out_drops_the_connection_and_the_next_call_gets_a_new_one(
    redis_url: str, namespace: str
) -> None:
    with redis.Redis.from_url(redis_url, socket_timeout=0.2) as client:
        link = Link(client)
        before = client_id(link)
        with pytest.raises(redis.TimeoutError):
            link.call(pack("BLPOP", f"{namespace}:never", 5))
        assert client_id(link) != before
        link.close()


def test_a_connection_closed_by_the_server_is_a_connection_error_then_heals(
    link: Link, client: redis.Redis
) -> None:
    client.client_kill_filter(_id=str(client_id(link)))
    with pytest.raises(redis.ConnectionError):
        link.call(pack("PING"))
    assert link.call(pack("PING")) == b"PONG"


def queue_with_a_killed_link(client: redis.Redis, namespace: str) -> Queue:
    """A Queue that has enqueued one job, whose Link connection the server then closed."""
    queue = Queue(client, namespace)
    queue.enqueue("tests.tasks:noop")
    link = queue._scripts.link
    assert link is not None
    client.client_kill_filter(_id=str(client_id(link)))
    return queue


def test_scripts_run_again_through_redis_py_after_a_kill_or_a_script_flush(
    client: redis.Redis, namespace: str
) -> None:
    queue = queue_with_a_killed_link(client, namespace)
    queue.enqueue("tests.tasks:noop")
    client.script_flush()
    queue.enqueue("tests.tasks:noop")
    assert queue.depth() == 3


def test_threads_calling_at_once_each_get_their_own_reply(link: Link, namespace: str) -> None:
    wrong: list[bytes] = []

    def call(n: int) -> None:
        for i in range(300):
            mine = f"{n}-{i}".encode()
            if link.call(pack("ECHO", mine)) != mine:
                wrong.append(mine)
            link.call(pack("INCR", f"{namespace}:count"))

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert link.call(pack("GET", f"{namespace}:count")) == b"2400"
    assert 1 <= len(link._idle) <= 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(link: Link, namespace: str) -> None:
    parent = client_id(link)
    pid = os.fork()
    if pid == 0:  # the child: record which connection it used, and leave at once
        code = 1
        try:
            link.call(pack("SET", f"{namespace}:child", client_id(link)))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child = int(link.call(pack("GET", f"{namespace}:child")))
    assert child != parent
    assert client_id(link) == parent


def test_replies_that_keep_missing_the_spin_stop_it_for_a_while(
    client: redis.Redis, namespace: str
) -> None:
    link = Link(client, spin=1e-6)
    for _ in range(16):  # each reply comes ~10 ms after the command: long after the spin
        link.call(pack("BLPOP", f"{namespace}:never", 0.01))
    [end] = link._idle
    assert end.rest == 1024 and end.misses == 0
    link.call(pack("PING"))
    assert end.rest == 1023
    link.close()


def test_spin_zero_always_blocks(client: redis.Redis) -> None:
    scripts = Scripts(client, spin=0.0)
    assert scripts.link is not None and scripts.link.spin == 0.0
    assert scripts.link.call(pack("PING")) == b"PONG"


def test_call_many_pipelines_and_returns_error_replies_in_place(link: Link, namespace: str) -> None:
    key = f"{namespace}:n"
    commands = (pack("INCR", key), pack("NOSUCHCOMMAND"), pack("INCR", key), pack("GET", key))
    first, error, third, value = link.call_many(iter(commands))
    assert (first, third, value) == (1, 2, b"2")
    assert isinstance(error, redis.ResponseError)
    assert link.call_many(iter(())) == []
    assert link.call(pack("PING")) == b"PONG"


def test_call_many_sends_each_command_before_the_next_is_built(
    link: Link, client: redis.Redis, namespace: str
) -> None:
    key = f"{namespace}:list"

    def commands() -> Iterator[bytes]:
        for i in range(3):  # Redis runs command i while the generator is still to yield i+1
            wait_until(partial(_length_is, client, key, i), what=f"RPUSH {i} to reach Redis")
            yield pack("RPUSH", key, b"x" * 20_000)  # commands under 16 KiB are held

    assert link.call_many(commands()) == [1, 2, 3]
    small = [pack("RPUSH", key, i) for i in range(1000)]
    assert link.call_many(iter(small)) == list(range(4, 1004))


def _length_is(client: redis.Redis, key: str, length: int) -> bool:
    return int(client.llen(key)) == length


def enqueue_calls(queue: Queue, count: int) -> Iterator[tuple[list[str], list[str]]]:
    for _ in range(count):
        _, keys, argv = queue._prepare(
            "tests.tasks:noop", (), {}, queue="default", delay=None, at=None, retries=None,
            timeout=None, job_id=None,
        )  # fmt: skip
        yield keys, argv


def test_run_many_reloads_a_flushed_script_once_and_sends_again(
    client: redis.Redis, namespace: str
) -> None:
    queue = Queue(client, namespace)
    client.script_flush()
    assert queue._scripts.run_many("enqueue", enqueue_calls(queue, 3)) == [1, 1, 1]
    assert queue.depth() == 3


def test_run_many_after_a_broken_connection_runs_every_call_through_redis_py(
    client: redis.Redis, namespace: str
) -> None:
    queue = queue_with_a_killed_link(client, namespace)
    assert queue._scripts.run_many("enqueue", enqueue_calls(queue, 3)) == [1, 1, 1]
    assert queue.depth() == 4


def test_run_many_without_a_link_runs_one_call_at_a_time(redis_url: str, namespace: str) -> None:
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        queue = Queue(client, namespace)
        assert queue._scripts.link is None
        assert queue._scripts.run_many("enqueue", enqueue_calls(queue, 2)) == [1, 1]
        assert queue.depth() == 2


def test_a_batch_after_a_broken_connection_sends_each_job_once(
    client: redis.Redis, namespace: str
) -> None:
    queue = queue_with_a_killed_link(client, namespace)
    with queue.batch() as batch:
        for n in range(3):
            batch.enqueue("tests.tasks:add", n, n)
    assert queue.depth() == 4


def test_read_all_over_a_link_or_a_pipeline_gives_the_same_replies(
    link: Link, client: redis.Redis, namespace: str
) -> None:
    key = f"{namespace}:state"
    client.hset(key, mapping={"watermark": "5"})
    reads: list[list[Arg]] = [["HMGET", key, "watermark", "digest"], ["HKEYS", key]]
    expected = [[b"5", None], [b"watermark"]]
    assert read_all(client, link, reads) == expected
    assert read_all(client, None, reads) == expected
    client.client_kill_filter(_id=str(client_id(link)))
    assert read_all(client, link, reads) == expected  # the broken link: through redis-py
    with pytest.raises(redis.ResponseError, match="wrong kind of value"):
        read_all(client, link, [["LLEN", key]])
