"""``scheduler.aio.Queue`` against a real redis-server: the payloads it writes are the sync
Queue's, batches, typed tasks, enqueues a broken connection makes it send again, and job
status, results, cancel and the waiting and delayed jobs read as the sync Queue reads them."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Awaitable
from typing import TypeVar

import pytest
import redis
import redis.asyncio

from scheduler import aio
from scheduler.clock import FakeClock
from scheduler.deadset import DeadFilter, DeadJob
from scheduler.errors import BadSetting, PayloadError, ResultTimeout, ResultUnavailable
from scheduler.jobstate import JobInfo
from scheduler.queue import Queue
from scheduler.transport.scripts import Scripts
from scheduler.waiting import WaitingJob
from tests import tasks
from tests.cutting_proxy import CuttingProxy, cutting_proxy
from tests.helpers import wait_until
from tests.redis_server import RedisServer
from tests.typed_tasks import plain, send_welcome

from .conftest import START, WorkerFactory

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


def payloads(client: redis.Redis, keys_queue: str) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in client.lrange(keys_queue, 0, -1)]


def test_an_async_enqueue_writes_what_the_sync_queue_writes(
    redis_url: str, namespace: str, queue: Queue, client: redis.Redis, clock: FakeClock
) -> None:
    async def enqueue() -> str:
        async with aio.Queue(redis.asyncio.Redis.from_url(redis_url), namespace, clock) as q:
            return await q.enqueue(
                "tests.tasks:add", 1, 2, job_id="same", queue="q1", timeout_hard=30, b=3
            )

    assert run(enqueue()) == "same"
    queue.enqueue("tests.tasks:add", 1, 2, job_id="same-sync", queue="q2", timeout_hard=30, b=3)
    (from_async,), (from_sync,) = (
        payloads(client, queue.keys.queue("q1")),
        payloads(client, queue.keys.queue("q2")),
    )
    assert {**from_async, "id": "", "queue": ""} == {**from_sync, "id": "", "queue": ""}
    assert (from_async["timeout_hard"], from_async["kwargs"]) == (30, {"b": 3})


def test_the_async_queue_reads_redis_time_and_takes_tasks_and_functions(
    redis_url: str, namespace: str, queue: Queue, client: redis.Redis
) -> None:
    async def enqueue() -> tuple[str, str, int, dict[str, int]]:
        async with aio.Queue.from_url(redis_url, namespace) as q:
            first = await send_welcome.on(q).enqueue(7, lang="de")
            await send_welcome.on(q).options(delay=3600).enqueue(8)
            second = await q.enqueue(plain, "/nowhere", "x", queue="plain")
            return first, second, await q.delayed_count("mailers"), await q.queues()

    first, second, delayed, depths = run(enqueue())
    (welcome,) = payloads(client, queue.keys.queue("mailers"))
    assert (welcome["id"], welcome["args"], welcome["kwargs"]) == (first, [7], {"lang": "de"})
    assert (welcome["retries"], welcome["result_ttl"]) == (5, 600)
    seconds, _ = client.time()
    assert abs(float(welcome["enqueued_at"]) - seconds) < 60  # type: ignore[arg-type]
    assert payloads(client, queue.keys.queue("plain"))[0]["id"] == second
    assert delayed == 1
    assert depths == {"mailers": 1, "plain": 1}


def test_an_async_batch_sends_every_job_at_the_end_and_nothing_if_it_raises(
    redis_url: str, namespace: str, client: redis.Redis, queue: Queue
) -> None:
    async def batches() -> list[str]:
        async with aio.Queue.from_url(redis_url, namespace) as q:
            async with q.batch() as batch:
                ids = [batch.enqueue("tests.tasks:add", n, n) for n in range(50)]
                assert await q.depth() == 0
            with pytest.raises(PayloadError):
                async with q.batch() as batch:
                    batch.enqueue("tests.tasks:add", 1, 1)
                    batch.enqueue(lambda: None)
            return ids

    ids = run(batches())
    assert [p["id"] for p in payloads(client, queue.keys.queue("default"))] == ids[::-1]


def test_a_flushed_script_is_loaded_again(
    redis_url: str, namespace: str, client: redis.Redis, queue: Queue
) -> None:
    async def enqueue() -> None:
        async with aio.Queue.from_url(redis_url, namespace) as q:
            await q.client.script_flush()
            await q.enqueue("tests.tasks:noop")
            await q.client.script_flush()
            async with q.batch() as batch:
                batch.enqueue("tests.tasks:noop")

    run(enqueue())
    assert queue.depth() == 2


# redis.asyncio drops the connection the proxy cut without closing its socket; it is
# collected (and its warning ignored) inside the test rather than in a later one.
@pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning")
def test_an_async_batch_cut_in_the_middle_of_its_replies_enqueues_each_job_once(
    redis_server: RedisServer, namespace: str
) -> None:
    # The first connection breaks after about half the batch's replies (one script call
    # per 200 jobs, each replying ":200\r\n"), once Redis ran the commands; redis.asyncio
    # sends the whole pipeline again on a new connection.
    async def send(proxy: CuttingProxy) -> None:
        queue = aio.Queue(redis.asyncio.Redis(port=proxy.port), namespace)
        async with queue as q, q.batch() as batch:  # the handshake and TIME go through whole
            proxy.cut_after = proxy.replied + 300
            for n in range(20_000):
                batch.enqueue("tests.tasks:add", n, n)

    load_enqueue_many(redis_server)
    with cutting_proxy("127.0.0.1", redis_server.port, cut_after=1 << 30) as proxy:
        run(send(proxy))
        assert proxy.cuts == 1
    gc.collect()
    with redis.Redis(port=redis_server.port) as client:
        ids = [p["id"] for p in payloads(client, Queue(client, namespace).keys.queue("default"))]
    assert len(ids) == len(set(ids)) == 20_000


def test_an_async_enqueue_retried_by_the_application_after_a_failure_is_one_job(
    redis_server: RedisServer, namespace: str
) -> None:
    jobs = [f"report-{n}" for n in range(5_000)]

    async def send(client: redis.asyncio.Redis, proxy: CuttingProxy | None = None) -> None:
        async with aio.Queue(client, namespace) as q:
            async with q.batch() as batch:
                if proxy is not None:
                    proxy.cut_after = proxy.replied + 75  # about half of 25 replies ":200\r\n"
                for job_id in jobs:
                    batch.enqueue("tests.tasks:noop", job_id=job_id)
            await q.enqueue("tests.tasks:noop", job_id="single")

    load_enqueue_many(redis_server)
    with cutting_proxy("127.0.0.1", redis_server.port, cut_after=1 << 30) as proxy:
        no_retry = redis.asyncio.Redis(port=proxy.port, retry_on_error=[], retry=None)
        with pytest.raises(redis.ConnectionError):
            run(send(no_retry, proxy))
    with redis.Redis(port=redis_server.port) as client:
        queue = Queue(client, namespace)
        assert 0 < queue.depth() < len(jobs)
        run(send(redis.asyncio.Redis(port=redis_server.port)))  # the application sends again
        run(send(redis.asyncio.Redis(port=redis_server.port)))
        ids = [p["id"] for p in payloads(client, queue.keys.queue("default"))]
    assert sorted(ids) == sorted([*jobs, "single"])


def load_enqueue_many(server: RedisServer) -> None:
    """Load the batch script first, so the cut falls among the batch's replies."""
    with redis.Redis(port=server.port) as client:
        Scripts(client).load("enqueue_many")


def aio_queue(redis_url: str, namespace: str, clock: FakeClock) -> aio.Queue:
    return aio.Queue(redis.asyncio.Redis.from_url(redis_url), namespace, clock)


def test_async_unique_and_tracked_enqueues_return_the_job_holding_the_key(
    redis_url: str, namespace: str, queue: Queue, clock: FakeClock
) -> None:
    async def enqueue() -> list[str]:
        async with aio_queue(redis_url, namespace, clock) as q:
            first = await q.enqueue("tests.tasks:add", 1, 2, key="invoice:7", result_ttl=60)
            again = await q.enqueue("tests.tasks:add", 5, 6, key="invoice:7")
            by_task = send_welcome.on(q).options(key="welcome:1")
            made, kept = await by_task.enqueue(1), await by_task.enqueue(2)
            async with q.batch() as b:
                tracked = b.enqueue("tests.tasks:add", 3, 4, result_ttl=60)
                plain_id = b.enqueue("tests.tasks:add", 5, 6)
            return [first, again, made, kept, tracked, plain_id]

    first, again, made, kept, tracked, plain_id = run(enqueue())
    assert (again, kept) == (first, made)
    assert (queue.depth(), queue.depth("mailers")) == (3, 1)
    assert [queue.job(i).status for i in (first, tracked, plain_id)] == ["queued"] * 2 + ["unknown"]
    assert send_welcome.on(queue).options(key="welcome:1").enqueue(3) == made


def test_async_job_waiting_delayed_and_a_result_awaited_while_a_worker_runs_it(
    redis_url: str, namespace: str, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    worker = make_worker()

    async def main() -> tuple[JobInfo, list[WaitingJob], list[WaitingJob], object, JobInfo]:
        async with aio_queue(redis_url, namespace, clock) as q:
            job_id = await q.enqueue("tests.tasks:add", 2, 3, result_ttl=60)
            later = await q.enqueue("tests.tasks:add", 1, 1, delay=60)
            before = await q.job(job_id)
            waiting, delayed = await q.waiting(), await q.delayed()
            result = asyncio.ensure_future(q.result(job_id, timeout=30))
            assert (await q.job(later)).status == "unknown"  # the loop runs while it waits
            await asyncio.to_thread(lambda: (worker.fetch_once(), worker.run_pending()))
            await asyncio.to_thread(worker.flush)
            return before, waiting, delayed, await result, await q.job(job_id)

    before, waiting, delayed, result, after = run(main())
    assert (before.status, before.task, before.attempt) == ("queued", "tests.tasks:add", 1)
    assert [(j.id, j.task) for j in waiting] == [(before.id, "tests.tasks:add")]
    assert [(j.task, j.due) for j in delayed] == [("tests.tasks:add", START + 60)]
    assert result == 5
    assert (after.status, after.result) == ("succeeded", 5)


def test_async_result_gives_up_at_its_timeout_and_says_why_there_is_none(
    redis_url: str, namespace: str, queue: Queue, clock: FakeClock
) -> None:
    job_id = queue.enqueue("tests.tasks:add", 1, 2, result_ttl=60)

    async def main() -> None:
        async with aio_queue(redis_url, namespace, clock) as q:
            with pytest.raises(ResultTimeout, match=r"has not ended within 0\.05s"):
                await q.result(job_id, timeout=0.05)
            with pytest.raises(ResultUnavailable, match="no-such-job"):
                await q.result("no-such-job")

    run(main())


def test_async_cancel_takes_jobs_off_their_queue_or_asks_their_worker(
    redis_url: str, namespace: str, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    waiting = queue.enqueue("tests.tasks:add", 1, 2, key="k1", result_ttl=60)
    delayed = queue.enqueue("tests.tasks:add", 3, 4, delay=60)
    running = queue.enqueue("tests.tasks:wait_gate", "aio-cancel", queue="slow", result_ttl=60)
    worker = make_worker("slow")
    runner = threading.Thread(target=lambda: (worker.fetch_once(), worker.run_pending()))
    runner.start()
    wait_until(lambda: queue.job(running).status == "running", what="the job to run")

    async def main() -> list[str]:
        async with aio_queue(redis_url, namespace, clock) as q:
            ids = [waiting, delayed, running, waiting, "no-such-job"]
            return [await q.cancel(job_id) for job_id in ids]

    try:
        assert run(main()) == ["cancelled", "cancelled", "requested", "finished", "not_found"]
    finally:
        tasks.GATES.setdefault("aio-cancel", threading.Event()).set()
        runner.join()
    assert (queue.depth(), queue.delayed_count()) == (0, 0)
    assert queue.job(waiting).status == "cancelled"
    assert not queue.client.exists(queue.keys.unique("k1"))
    assert queue.job(running).cancel_requested


def test_async_dead_set_reads_and_retries_as_the_sync_queue_does(
    redis_url: str, namespace: str, queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    ids = [queue.enqueue(tasks.fail, f"no {i}", retries=0, queue="mail") for i in range(3)]
    worker = make_worker("mail")
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    queue.client.hset(queue.keys.dead_jobs(), "raw", "not json")
    queue.client.zadd(queue.keys.dead(), {"raw": START - 1})

    async def main() -> tuple[list[DeadJob], list[DeadJob], int, bool, bool, tuple[int, int]]:
        async with aio_queue(redis_url, namespace, clock) as q:
            listed = await q.dead(limit=10)
            matching = await q.dead(where=DeadFilter(error="no 1"))
            count = await q.dead_count()
            one, gone = await q.retry_dead(ids[0]), await q.retry_dead("no-such-job")
            with pytest.raises(PayloadError, match="dead job raw has no readable payload"):
                await q.retry_dead("raw")
            return listed, matching, count, one, gone, await q.retry_dead_many([*ids, "raw"])

    read_by_sync = [(d.id, d.error) for d in queue.dead(limit=10)]
    listed, matching, count, one, gone, many = run(main())
    assert [(d.id, d.error) for d in listed] == read_by_sync
    assert {d.id for d in listed} == {*ids, "raw"} and listed[-1].id == "raw" and count == 4
    assert [(d.id, d.error) for d in matching] == [(ids[1], "ValueError: no 1")]
    assert (one, gone, many) == (True, False, (2, 1))
    assert queue.depth("mail") == 3 and queue.dead_count() == 1
    again = payloads(queue.client, queue.keys.queue("mail"))
    assert sorted(p["id"] for p in again) == sorted(ids) and {p["attempt"] for p in again} == {1}


def test_async_from_url_takes_every_url_form_and_refuses_a_bad_one_in_one_line() -> None:
    with pytest.raises(BadSetting, match="unknown scheme"):
        aio.Queue.from_url("http://localhost:6379")
    with pytest.raises(BadSetting, match="name the service after the sentinels"):
        aio.Queue.from_url("redis+sentinel://127.0.0.1:26379")
    with pytest.raises(BadSetting, match="a cluster has no database"):
        aio.Queue.from_url("redis+cluster://127.0.0.1:7000/3")
