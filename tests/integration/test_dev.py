"""`scheduler dev` (what `make run` runs): embedded Redis, a scheduler, a worker, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.redis_server import require_binary

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_dev_runs_the_jobs_of_a_schedule_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    require_binary()
    schedule = tmp_path / "schedule.yml"
    schedule.write_text("jobs:\n  beat:\n    task: examples.tasks:heartbeat\n    every: 1s\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "dev", str(schedule)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as in a terminal
    )  # fmt: skip
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("job succeeded" in line for line in lines), 20, "a job to run")
        wait_until(
            lambda: any("[run]" in line and "fire enqueued job=beat" in line for line in lines),
            5, "the scheduler's log of the fire",
        )  # fmt: skip
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    proc.stdout.close()
    output = "".join(lines)
    assert "still alive" in output
    assert "leadership released" in output
    assert "[dev] redis-server stopped" in output
    assert "could not reach Redis" not in output  # Redis went last
