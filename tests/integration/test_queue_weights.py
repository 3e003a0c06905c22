"""Weighted and paused queues (docs/workers.md): the fetch script shares jobs by weight
and takes none from a paused queue, for every worker at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from scheduler.clock import FakeClock
from scheduler.ops.control import Control
from scheduler.queue import Queue
from tests.helpers import run_cli, wait_until

from .conftest import WorkerFactory
from .test_worker_process import StartWorker, q, start_worker  # noqa: F401 (fixtures)

JOBS = 2000


def fill(queue: Queue, name: str, count: int, task: str = "tests.tasks:noop", *args: str) -> None:
    with queue.batch() as batch:
        for _ in range(count):
            batch.enqueue(task, *args, queue=name)


def held(client: redis.Redis, queue: Queue, worker_id: str, name: str) -> int:
    return int(client.llen(queue.keys.worker_jobs(worker_id, name)))


def test_weights_share_fetches_five_to_one(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    fill(queue, "high", JOBS)
    fill(queue, "low", JOBS)
    worker = make_worker("high", "low", weights=(5, 1))
    taken = 0
    for limit in [1, 7, 3, 20, 11] * 1000:
        taken += worker.fetch_once(limit=min(limit, JOBS - taken))
        if taken == JOBS:
            break
    high, low = held(client, queue, worker.id, "high"), held(client, queue, worker.id, "low")
    assert high + low == JOBS
    assert 5 * 0.85 <= high / low <= 5 * 1.15, (high, low)


def test_a_weighted_worker_takes_from_the_other_queue_when_one_is_empty(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory
) -> None:
    fill(queue, "low", 10)
    worker = make_worker("high", "low", weights=(5, 1))
    assert worker.fetch_once(limit=10) == 10
    assert held(client, queue, worker.id, "low") == 10


def test_a_paused_queue_is_not_fetched_until_resumed(
    queue: Queue, client: redis.Redis, make_worker: WorkerFactory, clock: FakeClock
) -> None:
    control = Control(client, queue.keys, clock)
    fill(queue, "mail", 3)
    assert control.pause_queue("mail") is True
    worker = make_worker("mail")
    assert worker.fetch_once(limit=10) == 0
    assert queue.depth("mail") == 3
    assert [(r.name, r.paused) for r in control.queues()] == [("mail", True)]
    assert control.resume_queue("mail") is True
    assert worker.fetch_once(limit=10) == 3


def test_weighted_worker_process_runs_five_to_one(
    q: Queue,  # noqa: F811
    start_worker: StartWorker,  # noqa: F811
    tmp_path: Path,
) -> None:
    order = tmp_path / "order"
    fill(q, "high", JOBS, "tests.tasks:append_line", str(order), "h")
    fill(q, "low", JOBS, "tests.tasks:append_line", str(order), "l")
    options = ("--allow", "tests.tasks", "-c", "1", "-q", "high:5", "-q", "low:1")
    worker = start_worker("--burst", *options)
    assert worker.wait(timeout=120) == 0
    first = order.read_text().split()[:JOBS]
    high, low = first.count("h"), first.count("l")
    assert 5 * 0.85 <= high / low <= 5 * 1.15, (high, low)


def test_a_paused_queue_is_fetched_by_no_worker_process_then_drained_on_resume(
    q: Queue,  # noqa: F811
    start_worker: StartWorker,  # noqa: F811
    tmp_path: Path,
    redis_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = ("--redis", redis_url, "--namespace", namespace)
    assert run_cli(capsys, "queue", "pause", "mail", *cli)[:2] == (0, "queue mail: paused\n")
    mail = tmp_path / "mail"
    fill(q, "mail", 50, "tests.tasks:append_line", str(mail), "sent")
    for _ in range(2):
        start_worker("--allow", "tests.tasks", "-q", "live", "-q", "mail")
    for i in range(20):
        q.enqueue("tests.tasks:touch", str(tmp_path / f"live-{i}"), queue="live")
    wait_until(lambda: len(list(tmp_path.glob("live-*"))) == 20, what="the live queue to run")
    code, out, _ = run_cli(capsys, "queues", *cli)
    assert code == 0 and "paused" in out.splitlines()[-1]
    assert q.depth("mail") == 50 and not mail.exists()
    assert run_cli(capsys, "queue", "resume", "mail", *cli)[:2] == (0, "queue mail: resumed\n")
    wait_until(lambda: mail.exists() and len(mail.read_text().split()) == 50, what="the drain")
    assert q.depth("mail") == 0 and q.dead_count() == 0


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        (("-q", "high:0"), "weight 0 of queue 'high:0': use 1-1000"),
        (("-q", "a", "-q", "a:2"), "a queue is given twice"),
    ],
)
def test_bad_queue_weights_exit_2_with_one_line(
    start_worker: StartWorker,  # noqa: F811
    queues: tuple[str, ...],
    message: str,
) -> None:
    worker = start_worker(*queues)
    assert worker.wait() == 2
    assert message in worker.text() and "Traceback" not in worker.text(), worker.text()
