"""`scheduler dev` (what `make run` runs): embedded Redis, a scheduler, a worker, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.redis_server import require_binary

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@contextmanager
def dev(schedule: Path) -> Iterator[list[str]]:
    """`scheduler dev SCHEDULE` in its own process group; yields its output lines so far,
    and on exit stops it with Ctrl-C and expects exit code 0."""
    require_binary()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "dev", str(schedule)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        yield lines
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()


def test_dev_runs_the_jobs_of_a_schedule_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yml"
    schedule.write_text("jobs:\n  beat:\n    task: examples.tasks:heartbeat\n    every: 1s\n")
    with dev(schedule) as lines:
        wait_until(lambda: any("job succeeded" in line for line in lines), 20, "a job to run")
        wait_until(
            lambda: any("[run]" in line and "fire enqueued job=beat" in line for line in lines),
            5,
            "the scheduler's log of the fire",
        )
    output = "".join(lines)
    assert "still alive" in output
    assert "leadership released" in output
    assert "[dev] redis-server stopped" in output
    assert "could not reach Redis" not in output  # Redis went last


def test_dev_serves_every_queue_the_schedule_names(tmp_path: Path) -> None:
    schedule = tmp_path / "schedule.yml"
    schedule.write_text(
        "jobs:\n"
        "  cleanup:\n    task: examples.tasks:cleanup_guests\n    args: [30]\n"
        "    every: 1s\n    queue: low\n"
        "  report:\n    task: examples.tasks:weekly_report\n    every: 1s\n    queue: reports\n"
    )

    def ran(task: str) -> bool:
        return any("job succeeded" in line and f"task={task}" in line for line in lines)

    with dev(schedule) as lines:
        wait_until(lambda: ran("examples.tasks:cleanup_guests"), 20, "the job on queue low")
        wait_until(lambda: ran("examples.tasks:weekly_report"), 5, "the job on queue reports")
    assert any("worker starting" in line and "queues=default,low,reports" in line for line in lines)
