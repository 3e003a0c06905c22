"""`scheduler worker --processes N` as real processes: children killed and replaced, hard
timeouts, quiet before a deploy (docs/workers.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import redis
from starlette.testclient import TestClient

from scheduler.clock import FakeClock, RedisClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.errors import ResultUnavailable
from scheduler.queue import Queue
from scheduler.schedule.watch import ScheduleFile
from scheduler.web import create_app
from tests.helpers import wait_until
from tests.integration import test_worker_process as processes
from tests.integration.test_worker_process import StartWorker, worker_keys
from tests.typed_tasks import hang

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
q, start_worker = processes.q, processes.start_worker  # the fixtures of those tests
# Waits that include starting a Python process: long enough for a machine under load
# (each returns as soon as its condition holds).
PROCESS_WAIT = 60.0


def wait(predicate: Callable[[], object], what: str) -> None:
    wait_until(predicate, PROCESS_WAIT, what)


def worker_ids(q: Queue) -> list[str]:
    return [w.decode() for w in q.client.zrange(q.keys.workers(), 0, -1)]


def holding(q: Queue) -> dict[str, int]:
    """How many payloads each registered worker holds in its in-progress list."""
    return {w: q.client.llen(q.keys.worker_jobs(w, "default")) for w in worker_ids(q)}


def lines(path: Path) -> list[str]:
    """The complete lines of a file a task appends to (none if it is not there yet)."""
    text = path.read_text() if path.exists() else ""
    return text[: text.rfind("\n") + 1].splitlines()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_child_killed_mid_job_is_replaced_and_its_job_runs_again_once(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    q.enqueue("tests.tasks:hang_first_run", str(tmp_path))
    supervisor = start_worker("--allow", "tests.tasks", "--processes", "2", "-c", "1")
    runs = tmp_path / "runs"
    wait(lambda: lines(runs), what="the first run to start")
    wait(lambda: 1 in holding(q).values(), what="the run's worker to be seen")
    [victim] = [w for w, held in holding(q).items() if held == 1]
    pid = int(q.client.hget(q.keys.worker(victim), "pid") or 0)
    assert pid == int(runs.read_text())

    os.kill(pid, signal.SIGKILL)
    wait((tmp_path / "done").exists, what="the job to run again")
    wait(
        lambda: len(worker_ids(q)) == 2 and victim not in worker_ids(q),
        what="a new child in place of the killed one",
    )
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(PROCESS_WAIT) == 0
    assert len(runs.read_text().splitlines()) == 2
    assert (q.depth(), q.dead_count()) == (0, 0)
    assert worker_keys(q) == []
    text = supervisor.text()
    assert f"worker process exited pid={pid} id={victim} signal=SIGKILL" in text
    assert "worker process restarting slot=" in text


SCHEDULE = """\
jobs:
  stuck:
    task: tests.tasks:hang_on_first_attempt
    args: [{folder}]
    every: 15s
    overlap: skip
    retries: 1
    timeout_hard: 2
"""


def test_a_run_past_its_hard_timeout_is_killed_retried_and_never_overlaps_the_next_fire(
    q: Queue, start_worker: StartWorker, tmp_path: Path, redis_url: str
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE.format(folder=json.dumps(str(tmp_path))))
    worker = start_worker("--schedule", str(path), "--processes", "2", "-c", "2")
    clock = FakeClock(T0 + 1)
    with redis.Redis.from_url(redis_url) as client:
        settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0))
        loop = RunLoop(client, q.keys, clock, ScheduleFile(str(path)), settings)
        loop.step()
        clock.advance(15)
        loop.step()  # the fire at T0+15
        starts = tmp_path / "starts"
        wait(lambda: lines(starts), what="the first attempt to start")
        [(attempt, pid)] = [line.split() for line in lines(starts)]
        assert attempt == "1"
        clock.advance(15)
        loop.step()  # the fire at T0+30 is skipped: the run is active
        assert q.depth() == 0

        wait(lambda: not alive(int(pid)), what="the process of the stuck run to be killed")
        wait(lambda: q.client.zcard(q.keys.delayed("default")) == 1, what="the retry")
        assert q.client.get(q.keys.active("stuck")) is not None  # the retry keeps the run on
        [retry] = q.client.zrange(q.keys.delayed("default"), 0, -1)
        q.client.zadd(q.keys.delayed("default"), {retry: 0})  # due now, not after its backoff
        q.client.lpush(q.keys.wake("default"), "1")
        wait((tmp_path / "done-2").exists, what="the retry to run")
        wait(
            lambda: q.client.exists(q.keys.active("stuck"), q.keys.held()) == 0,
            what="the overlap marker to be released",
        )
        worker.signal(signal.SIGTERM)
        assert worker.wait(PROCESS_WAIT) == 0
        clock.advance(15)
        loop.step()  # the next fire runs again
        loop.leadership.release()
    assert [line.split()[0] for line in lines(starts)] == ["1", "2"]
    assert q.depth() == 1
    assert q.dead_count() == 0
    assert "task ran past its hard timeout of 2s; process killed" in worker.text()
    assert "code=4" in worker.text()


def test_a_tasks_declared_hard_timeout_kills_its_process_and_ends_its_tracked_unique_job(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    job_id = hang.on(q).options(key="hang:1").enqueue(str(tmp_path))  # @task(timeout_hard=2)
    assert hang.on(q).options(key="hang:1").enqueue(str(tmp_path)) == job_id  # key held
    worker = start_worker("--import", "tests.typed_tasks", "--processes", "2", "-c", "1")
    wait(lambda: lines(tmp_path / "pid"), what="the run to start")
    [pid] = map(int, lines(tmp_path / "pid"))
    wait(lambda: not alive(pid), what="the process of the stuck run to be killed")
    wait(lambda: q.job(job_id).over, what="the job's record to say it ended")
    info = q.job(job_id)
    assert info.status == "dead"  # @task(retries=0)
    assert "task ran past its hard timeout of 2s; process killed" in str(info.error)
    with pytest.raises(ResultUnavailable):
        q.result(job_id, timeout=0.1)
    assert q.client.exists(q.keys.unique("hang:1")) == 0  # the key went with the job
    worker.signal(signal.SIGTERM)
    assert worker.wait(PROCESS_WAIT) == 0
    assert q.dead_count() == 1
    assert "code=4" in worker.text()


@pytest.mark.parametrize(
    ("count", "signum"), [(2, signal.SIGTSTP), (1, signal.SIGUSR1)], ids=["2-tstp", "1-usr1"]
)
def test_quiet_then_term_during_a_deploy_loses_nothing_and_runs_nothing_twice(
    q: Queue, start_worker: StartWorker, tmp_path: Path, count: int, signum: int
) -> None:
    gate = tmp_path / "gate"
    for i in range(6):
        q.enqueue("tests.tasks:wait_for_file", str(gate), str(tmp_path / f"out-{i}"))
    old = start_worker("--allow", "tests.tasks", "--processes", str(count), "-c", "1")
    # Each process runs one job and holds one more, fetched ahead.
    wait(lambda: len(list(tmp_path.glob("*.started"))) == count, what="the jobs to start")
    wait(lambda: sum(holding(q).values()) == 2 * count, what="the jobs fetched ahead")

    old.signal(signum)
    wait(lambda: q.depth() == 6 - count, what="the jobs fetched ahead to go back")
    gate.write_text("open")
    wait(lambda: sum(holding(q).values()) == 0, what="the running jobs to finish")
    assert len(list(tmp_path.glob("*.started"))) == count  # nothing new was fetched
    old.signal(signal.SIGTERM)
    assert old.wait(PROCESS_WAIT) == 0
    assert q.depth() == 6 - count
    assert worker_keys(q) == []

    new = start_worker("--allow", "tests.tasks", "--burst", "--processes", str(count))
    assert new.wait(PROCESS_WAIT) == 0
    outputs = sorted(tmp_path.glob("out-*[0-9]"))
    assert [out.read_text() for out in outputs] == ["ran\n"] * 6
    assert (q.depth(), q.dead_count()) == (0, 0)
    assert "worker quiet id=" in old.text()


def test_the_children_of_a_killed_supervisor_stop_and_put_their_jobs_back(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    done = tmp_path / "done"
    q.enqueue("tests.tasks:slow_touch", str(done), 60)
    supervisor = start_worker(
        "--allow", "tests.tasks", "--processes", "2", "--shutdown-timeout", "0.2"
    )
    wait(Path(f"{done}.started").exists, what="the job to start")
    supervisor.signal(signal.SIGKILL)
    supervisor.wait(PROCESS_WAIT)
    wait(lambda: worker_keys(q) == [], what="the orphaned children to stop")
    assert (q.depth(), q.dead_count()) == (1, 0)
    assert not done.exists()


def test_max_jobs_per_child_replaces_each_process_after_that_many_jobs(
    q: Queue, start_worker: StartWorker, tmp_path: Path
) -> None:
    for i in range(10):
        q.enqueue("tests.tasks:touch", str(tmp_path / f"done-{i}"))
    options = ("--processes", "2", "-c", "1", "--max-jobs-per-child", "2")
    supervisor = start_worker("--allow", "tests.tasks", *options)
    wait(lambda: len(list(tmp_path.glob("done-*"))) == 10, what="every job to run")
    wait(lambda: sum(holding(q).values()) == 0, what="the last acknowledgements")
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(PROCESS_WAIT) == 0
    text = supervisor.text()
    # Each process runs at most two jobs: ten jobs take at least five processes.
    assert text.count("worker process started") >= 5
    assert "worker recycled id=" in text and "jobs=2 (max jobs per process)" in text
    assert (q.depth(), q.dead_count()) == (0, 0)


def scheduler_status(redis_url: str, namespace: str, *options: str) -> CompletedProcess[str]:
    command = ["status", "--redis", redis_url, "--namespace", namespace, *options]
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *command], capture_output=True, text=True, check=False
    )


def test_status_and_the_dashboard_show_quiet_workers_and_supervisor_children(
    q: Queue, start_worker: StartWorker, redis_url: str, namespace: str
) -> None:
    single = start_worker("--allow", "tests.tasks", "-c", "1")
    supervisor = start_worker("--allow", "tests.tasks", "--processes", "2", "-c", "1")
    wait(lambda: len(worker_ids(q)) == 3, what="three workers registered")
    pids = {w: int(q.client.hget(q.keys.worker(w), "pid") or 0) for w in worker_ids(q)}
    [alone] = [w for w, pid in pids.items() if pid == single.proc.pid]
    single.signal(signal.SIGUSR1)
    wait(lambda: q.client.hexists(q.keys.worker(alone), "quiet"), what="the worker noted quiet")

    done = scheduler_status(redis_url, namespace, "--json")
    assert (done.returncode, done.stderr) == (0, "")
    rows = {row["id"]: row for row in json.loads(done.stdout)["workers"]}
    assert set(rows) == set(pids)
    assert rows[alone]["quiet"] is not None and rows[alone]["supervisor"] is None
    children = [row for worker_id, row in rows.items() if worker_id != alone]
    assert [(c["quiet"], c["supervisor"]) for c in children] == [(None, supervisor.proc.pid)] * 2
    text = scheduler_status(redis_url, namespace).stdout
    [line] = [line for line in text.splitlines() if alone in line]
    assert "quiet since " in line and "child of" not in line
    assert text.count(f"child of supervisor pid {supervisor.proc.pid}") == 2

    app = create_app(q.client, q.keys, RedisClock(q.client))
    page = TestClient(app, base_url="http://127.0.0.1:8080").get("/").text
    assert page.count(">quiet</span>") == 1
    assert page.count(f"child of supervisor pid {supervisor.proc.pid}") == 2
    for worker in (single, supervisor):
        worker.signal(signal.SIGTERM)
        assert worker.wait(PROCESS_WAIT) == 0
