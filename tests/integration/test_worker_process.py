"""`scheduler worker` as a real process: signals, SIGKILL, the CLI's options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from scheduler.cli.dev import free_port
from scheduler.deadset import DeadFilter
from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("scheduler")


class WorkerProcess:
    """A `python -m scheduler worker` subprocess whose stderr goes to a file; with
    ``script``, the installed `scheduler` console script, without PYTHONPATH."""

    def __init__(
        self, url: str, namespace: str, folder: Path, *options: str, script: bool = False
    ) -> None:
        self.log = folder / f"worker-{os.urandom(3).hex()}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("SCHEDULER_SCHEDULE", None)
        program = [sys.executable, "-m", "scheduler"]
        if script:
            env.pop("PYTHONPATH")
            program = [str(SCRIPT)]
        command = [*program, "worker", "--redis", url]
        command += ["--namespace", namespace, *options]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, cwd=folder, env=env, stderr=log)

    def text(self) -> str:
        return self.log.read_text()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 15) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[StartWorker]:
    started: list[WorkerProcess] = []

    def start(*options: str, script: bool = False) -> WorkerProcess:
        worker = WorkerProcess(redis_url, namespace, tmp_path, *options, script=script)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def q(redis_url: str, namespace: str) -> Iterator[Queue]:
    queue = Queue.from_url(redis_url, namespace)
    yield queue
    queue.client.close()


def worker_keys(q: Queue) -> list[bytes]:
    return q.client.keys(q.keys.prefix.replace("{", "[{]").replace("}", "[}]") + "worker*")


def test_a_burst_worker_runs_the_queue_dry_and_exits(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    for i in range(20):
        q.enqueue("tests.tasks:touch", str(tmp_path / f"done-{i}"))
    worker = start_worker("--burst", "--allow", "tests.tasks", "-c", "3")
    assert worker.wait() == 0
    assert len(list(tmp_path.glob("done-*"))) == 20
    assert "job succeeded" in worker.text() and "worker stopped" in worker.text()
    assert worker_keys(q) == []


def test_an_idle_worker_starts_a_new_job_at_once(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = start_worker("--allow", "tests.tasks")
    wait_until(lambda: q.client.zcard(q.keys.workers()) == 1, what="the worker to register")
    wait_until(lambda: "worker starting" in worker.text(), what="the worker to start")
    q.enqueue("tests.tasks:touch", str(tmp_path / "done"))
    # The worker waits on the wake list for up to 5 s at a time: well before that, the
    # job must have run, so it was woken by the enqueue rather than by a poll.
    wait_until((tmp_path / "done").exists, timeout=3, what="the job to run")


def test_tasks_named_in_the_schedule_are_allowed(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    schedule = tmp_path / "schedule.yml"
    schedule.write_text("jobs:\n  touchy:\n    task: tests.tasks:touch\n    every: 1h\n")
    q.enqueue("tests.tasks:touch", str(tmp_path / "done"))
    q.enqueue("tests.tasks:noop")
    worker = start_worker("--burst")
    assert worker.wait() == 0
    assert (tmp_path / "done").exists()
    [dead] = q.dead()
    assert dead.error.startswith("task not allowed: tests.tasks:noop")


def test_sigterm_lets_the_running_job_finish(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    done = tmp_path / "done"
    q.enqueue("tests.tasks:slow_touch", str(done), 0.5)
    worker = start_worker("--allow", "tests.tasks")
    wait_until(Path(f"{done}.started").exists, what="the job to start")

    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert done.exists()
    assert (q.depth(), q.dead_count()) == (0, 0)
    assert worker_keys(q) == []


def test_a_job_still_running_at_the_shutdown_timeout_is_put_back(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    done = tmp_path / "done"
    q.enqueue("tests.tasks:slow_touch", str(done), 60)
    worker = start_worker("--allow", "tests.tasks", "--shutdown-timeout", "0.2")
    wait_until(Path(f"{done}.started").exists, what="the job to start")

    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not done.exists()
    assert q.depth() == 1
    assert worker_keys(q) == []
    assert "put_back=1" in worker.text()


def test_a_second_sigint_stops_at_once(q: Queue, start_worker: StartWorker, tmp_path: Path) -> None:
    done = tmp_path / "done"
    q.enqueue("tests.tasks:slow_touch", str(done), 60)
    worker = start_worker("--allow", "tests.tasks", "--shutdown-timeout", "60")
    wait_until(Path(f"{done}.started").exists, what="the job to start")

    worker.signal(signal.SIGINT)
    wait_until(lambda: "waiting for running jobs" in worker.text(), what="the worker to wait")
    worker.signal(signal.SIGINT)
    assert worker.wait() == 0
    assert q.depth() == 1


def test_the_job_of_a_sigkilled_worker_runs_on_another_worker(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    q.enqueue("tests.tasks:hang_first_time", str(tmp_path))
    first = start_worker("--allow", "tests.tasks", "-c", "1")
    wait_until((tmp_path / "started").exists, what="the first run to start")
    first.signal(signal.SIGKILL)
    first.wait()
    [(dead_id, _)] = q.client.zrange(q.keys.workers(), 0, -1, withscores=True)
    assert q.client.llen(q.keys.worker_jobs(dead_id.decode(), "default")) == 1

    # Its heartbeat would expire in 10 s; make it old now instead of waiting.
    q.client.zadd(q.keys.workers(), {dead_id: 0})
    second = start_worker("--allow", "tests.tasks", "-c", "1")
    wait_until((tmp_path / "done").exists, what="the job to run again")
    # Log lines reach the file in batches a few milliseconds apart: wait for it.
    wait_until(lambda: "put_back=1 (heartbeat expired)" in second.text(), what="the put-back log")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert q.client.exists(q.keys.worker_jobs(dead_id.decode(), "default")) == 0
    assert (q.depth(), q.dead_count()) == (0, 0)


def test_a_tracked_job_put_back_from_a_sigkilled_worker_reads_queued_until_taken_again(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    job_id = q.enqueue("tests.tasks:hang_first_time", str(tmp_path), result_ttl=600)
    first = start_worker("--allow", "tests.tasks", "-c", "1")
    wait_until((tmp_path / "started").exists, what="the first run to start")
    wait_until(lambda: q.job(job_id).status == "running", what="the record to say running")
    first.signal(signal.SIGKILL)
    first.wait()
    [(dead_id, _)] = q.client.zrange(q.keys.workers(), 0, -1, withscores=True)
    q.client.zadd(q.keys.workers(), {dead_id: 0})  # its heartbeat expires now

    # A worker of another queue reaps it: the job goes back, and nobody takes it yet.
    reaper = start_worker("--allow", "tests.tasks", "--queue", "other")
    wait_until(lambda: "put_back=1 (heartbeat expired)" in reaper.text(), what="the put-back")
    info = q.job(job_id)
    assert (info.status, info.attempt, info.started_at) == ("queued", 1, None)
    assert q.depth() == 1

    second = start_worker("--allow", "tests.tasks", "-c", "1")
    wait_until(lambda: q.job(job_id).status == "succeeded", what="the job to run again")
    assert q.job(job_id).attempt == 1
    for worker in (reaper, second):
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0


def test_bad_options_are_one_line_errors(start_worker: StartWorker) -> None:
    worker = start_worker("--queue", "no spaces")
    assert worker.wait() != 0
    assert worker.text().strip().splitlines() == [
        "invalid queue name 'no spaces': use 1-128 of A-Z a-z 0-9 _ . : - "
        "(starting with a letter or digit)"
    ]


def test_a_missing_schedule_file_given_explicitly_is_an_error(start_worker: StartWorker) -> None:
    worker = start_worker("--schedule", "nope.yml")
    assert worker.wait() != 0
    assert "nope.yml" in worker.text() and "Traceback" not in worker.text()


def test_redis_that_refuses_the_password_is_a_one_line_error(
    own_redis: RedisServer,
) -> None:
    client = redis.Redis.from_url(own_redis.url)
    client.config_set("requirepass", "secret")
    client.close()
    worker = WorkerProcess(
        own_redis.url.replace("redis://", "redis://:wrong@"), "x", Path(own_redis.folder)
    )
    try:
        assert worker.wait() == 1
        assert "Traceback" not in worker.text()
        [line] = worker.text().strip().splitlines()
        assert line.startswith("error: cannot use Redis at redis://:***@127.0.0.1")
    finally:
        worker.stop()


def test_a_sync_task_past_its_timeout_is_failed_and_the_worker_keeps_its_capacity(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    stuck, after = tmp_path / "stuck", tmp_path / "after"
    q.enqueue("tests.tasks:slow_touch", str(stuck), 60, timeout=0.3, retries=0)
    q.enqueue("tests.tasks:touch", str(after))
    worker = start_worker("--allow", "tests.tasks", "-c", "1")

    wait_until(after.exists, what="the next job to run on a new thread")
    wait_until(q.dead_count, what="the timed-out job in the dead set")
    [dead] = q.dead()
    assert dead.error.startswith("JobTimeout: task ran past its timeout of 0.3s")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert not stuck.exists()


def test_a_final_failure_that_the_error_line_explains_is_logged_on_one_line(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    q.enqueue("tests.nowhere:run", retries=0)  # TaskNotFound
    q.enqueue("tests.tasks:async_sleep", 60, timeout=0.2, retries=0)  # JobTimeout, cancelled
    q.enqueue("tests.tasks:slow_touch", str(tmp_path / "stuck"), 60, timeout=0.2, retries=0)
    q.enqueue("tests.tasks:fail", "a bug", retries=0)  # a task's own error keeps its traceback
    worker = start_worker("--allow", "tests", "--import", "tests.tasks", "-c", "3")
    wait_until(lambda: q.dead_count() == 4, what="four dead jobs")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    lines = worker.text().splitlines()
    dead = [i for i, line in enumerate(lines) if "dead=true" in line]
    assert len(dead) == 4
    for i in dead:
        follows = lines[i + 1] if i + 1 < len(lines) else ""
        if "tests.tasks:fail" in lines[i]:
            assert follows.startswith("Traceback (most recent call last)")
        else:
            assert "TaskNotFound" in lines[i] or "JobTimeout" in lines[i]
            assert not follows.startswith(("Traceback", " ")), (lines[i], follows)
    assert worker.text().count("Traceback (most recent call last)") == 1
    assert all(d.record.get("traceback") for d in q.dead(where=DeadFilter(error="TaskNotFound")))


def test_shutdown_does_not_wait_for_a_thread_abandoned_at_its_timeout(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    hung = tmp_path / "hung"
    q.enqueue("tests.tasks:slow_touch", str(hung), 600, timeout=3, retries=0)
    worker = start_worker("--allow", "tests.tasks", "--shutdown-timeout", "600")
    wait_until(Path(f"{hung}.started").exists, what="the job to start")

    worker.signal(signal.SIGTERM)
    # Well before the shutdown timeout (the bound is the wait's own timeout): the job timed
    # out during the shutdown, and its abandoned thread is not waited for.
    assert worker.wait(timeout=60) == 0
    assert "worker waiting for running jobs running=1" in worker.text()  # SIGTERM came first
    [dead] = q.dead()
    assert dead.error.startswith("JobTimeout: task ran past its timeout of 3s")
    assert (q.depth(), worker_keys(q)) == (0, [])


def test_overlap_skip_never_runs_a_second_copy_beside_a_timed_out_one(
    redis_url: str, namespace: str, start_worker: StartWorker, tmp_path: Path
) -> None:
    probe = tmp_path / "probe"
    schedule = tmp_path / "schedule.yml"
    schedule.write_text(
        "jobs:\n  probe:\n    task: tests.tasks:overlap_probe\n"
        f"    args: [{str(probe)!r}, 2.5]\n    every: 1s\n    timeout: 1\n"
        "    retries: 0\n    overlap: skip\n"
    )
    worker = start_worker("--schedule", str(schedule), "-c", "4")
    command = [sys.executable, "-m", "scheduler", "run", str(schedule), "--redis", redis_url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen([*command, "--namespace", namespace], env=env, cwd=tmp_path)
    try:
        # The first run times out after 1 s and its thread ends after 2.5 s; the second
        # may start only then, though fires come every second.
        wait_until(lambda: probe.exists() and probe.read_text().count("start") >= 2, 30)
    finally:
        run.terminate()
        run.wait(15)
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert probe.read_text().splitlines()[:3] == ["start", "end", "start"]
    assert "job finished after its timeout" in worker.text()


def test_a_worker_keeps_going_while_redis_is_down(own_redis: RedisServer, tmp_path: Path) -> None:
    worker = WorkerProcess(own_redis.url, "outage", tmp_path, "--allow", "tests.tasks")
    queue = Queue.from_url(own_redis.url, "outage")
    try:
        wait_until(lambda: queue.client.zcard(queue.keys.workers()) == 1, what="registration")
        own_redis.stop(kill=True)
        wait_until(lambda: "redis unavailable" in worker.text(), what="the outage to be seen")
        own_redis.start()
        queue.enqueue("tests.tasks:touch", str(tmp_path / "done"))
        wait_until((tmp_path / "done").exists, timeout=20, what="the job after the outage")
        assert worker.proc.poll() is None
        wait_until(lambda: "redis available again" in worker.text(), what="the log line")
    finally:
        worker.stop()
        queue.client.close()


@pytest.mark.parametrize("fault", ["after_fetch=kill", "before_ack=kill"])
def test_a_worker_killed_after_its_fetch_or_before_its_ack_loses_nothing(
    q: Queue, redis_url: str, namespace: str, tmp_path: Path, fault: str, start_worker: StartWorker
) -> None:
    """Named failure points: the worker SIGKILLs itself right after taking jobs, or right
    before acknowledging finished ones; either way each job runs again elsewhere."""
    for i in range(3):
        q.enqueue("tests.tasks:touch", str(tmp_path / f"done-{i}"))
    os.environ["SCHEDULER_FAULTS"] = fault
    try:
        doomed = WorkerProcess(redis_url, namespace, tmp_path, "--allow", "tests.tasks", "-c", "1")
    finally:
        del os.environ["SCHEDULER_FAULTS"]
    assert doomed.wait() == -signal.SIGKILL
    [(dead_id, _)] = q.client.zrange(q.keys.workers(), 0, -1, withscores=True)
    q.client.zadd(q.keys.workers(), {dead_id: 0})  # its heartbeat expires now
    start_worker("--allow", "tests.tasks", "-c", "1")
    wait_until(lambda: len(list(tmp_path.glob("done-*"))) == 3, what="every job to run")
    wait_until(lambda: q.depth() == 0, what="the queue to empty")
    assert q.dead_count() == 0


def test_a_burst_worker_exits_at_once_with_one_line_when_redis_is_unreachable(
    tmp_path: Path,
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    command = [sys.executable, "-m", "scheduler", "worker", "--burst", "--redis", url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The bound is the subprocess timeout: a worker that waits for Redis fails here.
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach Redis at {url}: ")
    assert "Connection refused" in line and "retrying" not in line


def test_status_says_it_gives_up_when_redis_is_unreachable(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    command = [sys.executable, "-m", "scheduler", "status", "--redis", url]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach Redis at {url}: ")
    assert "retrying" not in line


def test_a_payload_nested_100000_deep_is_dead_lettered_and_the_job_behind_it_runs(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    q.client.lpush(q.keys.queue("default"), b"[" * 100_000 + b"]" * 100_000)
    q.enqueue("tests.tasks:touch", str(tmp_path / "done"))
    q.client.zadd(q.keys.delayed("default"), {b'{"v":1,"args":["' + b"x" * 400_000 + b'"]}': 1})
    worker = start_worker("--burst", "--allow", "tests.tasks", "--max-payload-bytes", "300000")
    assert worker.wait() == 0
    assert (tmp_path / "done").exists()
    assert "Traceback" not in worker.text()
    errors = sorted(dead.error for dead in q.dead())
    assert errors == [
        "bad payload: payload is 400,019 bytes, over the limit of 300,000",
        "bad payload: payload is nested deeper than 100 levels",
    ]
