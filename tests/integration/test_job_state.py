"""Jobs from application code: unique keys, status records, results and cancel, on real
Redis with in-process workers (driven by a FakeClock) and real worker processes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.enqueue import RECORD_HOLD
from scheduler.errors import PayloadError, ResultTimeout, ResultUnavailable
from scheduler.jobs import build_payload
from scheduler.queue import Queue
from tests import tasks
from tests.helpers import run_cli, wait_until

from .conftest import START, WorkerFactory
from .test_worker_process import StartWorker, WorkerProcess


@pytest.fixture(autouse=True)
def _clean_task_state() -> None:
    tasks.CALLS.clear()
    tasks.GATES.clear()


@pytest.fixture
def q(redis_url: str, namespace: str) -> Iterator[Queue]:
    queue = Queue.from_url(redis_url, namespace)
    yield queue
    queue.close()


@pytest.fixture
def start_worker(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[StartWorker]:
    started: list[WorkerProcess] = []

    def start(*options: str) -> WorkerProcess:
        started.append(WorkerProcess(redis_url, namespace, tmp_path, *options))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def test_eight_concurrent_enqueuers_of_one_key_make_one_job(
    redis_url: str, namespace: str, queue: Queue
) -> None:
    barrier = threading.Barrier(8)
    ids: list[str] = []

    def enqueue() -> None:
        with Queue.from_url(redis_url, namespace) as own:
            barrier.wait()
            ids.append(own.enqueue("tests.tasks:add", 1, 2, key="invoice:42"))

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert queue.depth() == 1
    assert len(ids) == 8 and len(set(ids)) == 1
    assert queue.waiting()[0].id == ids[0]


def test_a_unique_key_frees_when_its_job_ends_and_lives_unique_for_at_most(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    first = queue.enqueue("tests.tasks:add", 1, 2, key="invoice:42", unique_for=600)
    assert queue.enqueue("tests.tasks:add", 5, 5, key="invoice:42") == first
    assert queue.depth() == 1
    assert 0 < int(client.ttl(queue.keys.unique("invoice:42"))) <= 600

    worker = make_worker()
    worker.fetch_once()
    assert queue.enqueue("tests.tasks:add", 1, 2, key="invoice:42") == first  # running
    worker.run_pending()
    worker.flush()

    second = queue.enqueue("tests.tasks:add", 1, 2, key="invoice:42")
    assert second != first and queue.depth() == 1


def test_unique_for_without_a_key_is_unique_per_task_and_arguments(queue: Queue) -> None:
    a = queue.enqueue("tests.tasks:add", 1, 2, unique_for=60)
    assert queue.enqueue("tests.tasks:add", 1, 2, unique_for=60) == a
    assert queue.enqueue("tests.tasks:add", 2, 1, unique_for=60) != a
    assert queue.depth() == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"unique_for": 0}, "unique_for= must be seconds > 0"),
        ({"result_ttl": -1}, "result_ttl= must be seconds > 0"),
        ({"key": "has space"}, "invalid key 'has space'"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    queue: Queue, options: dict[str, object], message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        queue.enqueue("tests.tasks:add", 1, 2, **options)  # type: ignore[arg-type]
    assert queue.depth() == 0


def test_status_goes_from_scheduled_to_succeeded_with_its_result(
    queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue("tests.tasks:wait_gate", "a", delay=30, result_ttl=3600)
    info = queue.job(job_id)
    assert (info.status, info.task, info.attempt) == ("scheduled", "tests.tasks:wait_gate", 1)
    assert info.due == START + 30

    worker = make_worker()
    clock.advance(31)
    runner = threading.Thread(target=lambda: (worker.fetch_once(), worker.run_pending()))
    runner.start()
    wait_until(lambda: queue.job(job_id).status == "running", what="running")
    assert queue.job(job_id).started_at == START + 31
    tasks.GATES.setdefault("a", threading.Event()).set()
    runner.join()
    worker.flush()

    done = queue.job(job_id)
    assert (done.status, done.finished_at, done.error) == ("succeeded", START + 31, None)
    assert queue.result(job_id) is None  # wait_gate returns None: kept as JSON null
    assert done.has_result


def test_status_of_a_failing_job_is_failed_then_dead_with_its_error(
    queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue("tests.tasks:fail", "no", retries=1, result_ttl=60)
    assert queue.job(job_id).status == "queued"
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    failed = queue.job(job_id)
    assert (failed.status, failed.attempt, failed.error) == ("failed", 1, "ValueError: no")

    clock.advance(3600)
    worker.fetch_once()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    dead = queue.job(job_id)
    assert (dead.status, dead.attempt, dead.error) == ("dead", 2, "ValueError: no")
    with pytest.raises(ResultUnavailable, match=f"job {job_id} has no result: it is dead"):
        queue.result(job_id, timeout=1)


def test_a_dead_tracked_job_retried_reads_queued_again_and_its_result_is_waited_for_anew(
    queue: Queue, clock: FakeClock, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue(tasks.fail, "no", retries=0, result_ttl=60)
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert queue.job(job_id).status == "dead"
    assert queue.retry_dead(job_id)
    again = queue.job(job_id)
    assert (again.status, again.attempt, again.error, again.finished_at) == (
        "queued",
        1,
        None,
        None,
    )
    with pytest.raises(ResultTimeout):  # not "dead": a waiter waits for the new attempt
        queue.result(job_id, timeout=0.05)
    assert 0 < queue.client.ttl(queue.keys.job(job_id)) <= RECORD_HOLD
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    assert (queue.job(job_id).status, queue.job(job_id).attempt) == ("dead", 1)


def test_a_job_without_result_ttl_or_key_leaves_nothing_but_what_it_did_before(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue("tests.tasks:add", 1, 2)
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    left = {k.decode() for k in client.keys(queue.keys.prefix.replace("{", "[{]") + "*")}
    assert not any(":job:" in k or ":done:" in k or ":unique:" in k for k in left)
    assert queue.job(job_id).status == "unknown"
    with pytest.raises(ResultUnavailable, match="no record"):
        queue.result(job_id)


def test_a_return_value_that_is_not_json_is_not_kept_and_says_why(
    queue: Queue, make_worker: WorkerFactory
) -> None:
    job_id = queue.enqueue("tests.tasks:unserialisable", result_ttl=60)
    worker = make_worker()
    worker.fetch_once()
    worker.run_pending()
    worker.flush()
    info = queue.job(job_id)
    assert info.status == "succeeded" and not info.has_result
    assert info.error is not None and info.error.startswith("result not kept:")
    with pytest.raises(ResultUnavailable, match="succeeded but kept no result"):
        queue.result(job_id)


def test_result_gives_up_at_its_timeout(queue: Queue) -> None:
    job_id = queue.enqueue("tests.tasks:add", 1, 2, result_ttl=60)
    with pytest.raises(ResultTimeout, match=r"has not ended within 0\.05s"):
        queue.result(job_id, timeout=0.05)


def test_a_result_is_waited_for_across_processes_longer_than_the_socket_timeout(
    redis_url: str, namespace: str, start_worker: StartWorker
) -> None:
    # The worker process takes longer than the client's socket timeout to start.
    with Queue(redis.Redis.from_url(redis_url, socket_timeout=0.5), namespace) as q:
        job_id = q.enqueue("tests.tasks:add", 2, 3, result_ttl=60)
        waiter: list[object] = []
        thread = threading.Thread(target=lambda: waiter.append(q.result(job_id)))
        thread.start()
        start_worker("--allow", "tests.tasks")
        thread.join(60)
        assert waiter == [5]
        assert q.job(job_id).status == "succeeded"


def test_cancel_takes_a_waiting_and_a_delayed_job_off_their_queue(
    queue: Queue, make_worker: WorkerFactory, client: redis.Redis
) -> None:
    waiting = queue.enqueue("tests.tasks:add", 1, 2, key="k1", result_ttl=60)
    delayed = queue.enqueue("tests.tasks:add", 3, 4, delay=60)
    assert queue.cancel(waiting) == "cancelled"
    assert queue.cancel(delayed) == "cancelled"
    assert (queue.depth(), queue.delayed_count()) == (0, 0)
    assert queue.job(waiting).status == "cancelled"
    assert client.exists(queue.keys.unique("k1")) == 0
    with pytest.raises(ResultUnavailable, match="it is cancelled"):
        queue.result(waiting)
    assert queue.cancel(waiting) == "finished"
    assert queue.cancel("no-such-job") == "not_found"


def test_cancel_stops_a_running_async_task(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    path = str(tmp_path / "async")
    job_id = q.enqueue("tests.tasks:async_until_cancelled", path, result_ttl=60)
    start_worker("--allow", "tests.tasks")
    wait_until(lambda: q.job(job_id).status == "running", 20, "the job to run")
    assert q.cancel(job_id) == "requested"
    wait_until(lambda: q.job(job_id).status == "cancelled", 20, "the job to be cancelled")
    # The record says cancelled once the cancel reaches the task; the task's own handler
    # of CancelledError may still be writing its file.
    done = Path(path)
    wait_until(lambda: done.exists() and done.read_text() == "cancelled", 20, "its handler")
    assert q.dead_count() == 0 and q.depth() == 0


def test_a_running_sync_task_sees_its_cancel(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    path = str(tmp_path / "sync")
    job_id = q.enqueue("tests.tasks:until_cancelled", path, key="sync-job", result_ttl=60)
    start_worker("--allow", "tests.tasks")
    wait_until(lambda: Path(path + ".started").exists(), 20, "the job to start")
    assert q.cancel(job_id) == "requested"
    wait_until(lambda: q.job(job_id).status == "cancelled", 20, "the job to be cancelled")
    assert Path(path).read_text() == "cancelled"
    assert not q.client.exists(q.keys.unique("sync-job"), q.keys.cancel(job_id))


def test_hostile_records_and_payloads_read_as_unreadable(queue: Queue, client: redis.Redis) -> None:
    client.hset(
        queue.keys.job("evil"), mapping={"status": "\xff", "result": b"{\xff", "attempt": "x"}
    )
    info = queue.job("evil")
    assert info.status == "unknown" and info.attempt is None and not info.has_result
    assert info.problem is not None and "result is not" in info.problem
    client.lpush(queue.keys.queue("default"), b"\xff{not json")
    client.sadd(queue.keys.queues(), "default")
    (entry,) = queue.waiting()
    assert entry.id is None and entry.problem is not None
    assert entry.problem.startswith("unreadable: payload is not")
    assert queue.cancel("evil") == "not_found"


def test_job_cancel_and_queue_show_on_the_command_line(
    redis_url: str, namespace: str, queue: Queue, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("--redis", redis_url, "--namespace", namespace)
    waiting = queue.enqueue("tests.tasks:add", 1, 2, result_ttl=60)
    delayed = queue.enqueue("tests.tasks:add", 3, 4, delay=60)
    queue.client.lpush(queue.keys.queue("default"), b"\xff{not json")

    code, out, _ = run_cli(capsys, "queue", "show", "default", *common)
    assert code == 0
    assert out.splitlines()[:3] == [
        "default: 2 waiting, 1 delayed",
        "waiting (next 2 of 2):",
        f"  {waiting}  tests.tasks:add  attempt 1",
    ]
    assert "unreadable: payload is not UTF-8" in out.splitlines()[3]
    assert f"  {delayed}  tests.tasks:add  attempt 1 due 2023-11-14T22:14:20Z" in out

    code, out, _ = run_cli(capsys, "job", waiting, "--json", *common)
    assert (code, json.loads(out)["status"]) == (0, "queued")
    code, out, _ = run_cli(capsys, "cancel", waiting, *common)
    assert (code, out) == (0, f"job {waiting} cancelled: taken off its queue, it will not run\n")
    code, out, _ = run_cli(capsys, "job", waiting, *common)
    assert code == 0 and "status: cancelled" in out.splitlines()
    code, out, _ = run_cli(capsys, "job", delayed, *common)
    assert code == 1 and out.startswith(f"id: {delayed}\nstatus: unknown (no record")


def test_a_bad_queue_name_is_a_one_line_error(
    redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "queue", "show", "no way", "--redis", redis_url)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [err.strip()]
    assert "invalid queue name 'no way'" in err


def test_cancelling_a_waiting_schedule_run_releases_its_overlap_marker(
    queue: Queue, client: redis.Redis
) -> None:
    payload = build_payload("tests.tasks:noop", enqueued_at=START, schedule="nightly")
    queue._scripts.run("enqueue", *queue.enqueue_call(payload))
    client.set(queue.keys.active("nightly"), payload["id"])
    assert queue.cancel(payload["id"]) == "cancelled"
    assert client.exists(queue.keys.active("nightly")) == 0


def test_a_batch_enqueues_unique_and_tracked_jobs_beside_plain_ones(queue: Queue) -> None:
    held = queue.enqueue("tests.tasks:add", 0, 0, key="held")
    with queue.batch() as batch:
        plain = batch.enqueue("tests.tasks:add", 1, 1)
        tracked = batch.enqueue("tests.tasks:add", 2, 2, result_ttl=60)
        batch.enqueue("tests.tasks:add", 3, 3, key="held")
    assert [job.id for job in queue.waiting()] == [held, plain, tracked]
    assert queue.job(tracked).status == "queued"
