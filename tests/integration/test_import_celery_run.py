"""Migration in one command, end to end: a Celery app's beat_schedule is imported with
`scheduler import celery-beat`, the file is run by `scheduler run` as it was printed, and
the app's unmodified `celery worker` runs every fire exactly once (docs/migrating.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.integration.test_celery_worker import REPO, CeleryCluster
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

# The app of tests/celery_app.py (its broker and key prefix from the environment, as the
# worker reads them), with the beat_schedule a team would have run beat with.
BEAT_APP = """\
from tests.celery_app import app

app.conf.beat_schedule = {{
    "second": {{
        "task": "tests.tick",
        "schedule": 1.0,
        "args": ("{label}",),
        "options": {{"queue": "{queue}"}},
    }},
}}
"""


@pytest.fixture
def cluster(own_redis: RedisServer, namespace: str, tmp_path: Path) -> Iterator[CeleryCluster]:
    c = CeleryCluster(own_redis.url, namespace, tmp_path)
    yield c
    c.stop_all()


def test_an_imported_beat_schedule_runs_each_fire_once_on_the_apps_worker(
    cluster: CeleryCluster, tmp_path: Path
) -> None:
    c = cluster
    (tmp_path / "beatapp.py").write_text(BEAT_APP.format(label=c.label, queue=c.queue))
    env = {
        **os.environ,
        "CELERY_BROKER_URL": c.url,
        "CELERY_PREFIX": c.prefix,
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "import", "celery-beat", "beatapp:app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "1 jobs converted\n")
    assert f"  celery: {{global_keyprefix: {c.prefix!r}".replace("'", '"') in done.stdout
    c.schedule.write_text(done.stdout)
    c.start_worker()
    c.start()
    c.start()
    wait_until(lambda: c.leader_pid() is not None, 60, "a leader")  # Celery loads slowly
    c.wait_for_fires(3, timeout=60)
    for proc in c.procs:
        proc.terminate()
    for proc in c.procs:
        proc.wait(timeout=10)
    c.drain()
    c.assert_each_fire_ran_once()
