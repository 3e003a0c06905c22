"""The least-privilege Redis user of docs/operations.md, on a real redis-server: a real
`scheduler run` fires a job and a real `scheduler worker` runs it under that user, and
the control commands and the dashboard read through it, while keys of other namespaces
and commands off the list stay refused."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from scheduler.clock import RedisClock
from scheduler.keys import Keys
from scheduler.web import WebSettings, create_app
from tests.helpers import run_cli, wait_until
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = re.compile(r"^ACL SETUSER scheduler .*$", re.MULTILINE)
# What the documented user is refused on purpose, each with a fallback (operations.md).
FALLBACKS = re.compile(r"cannot read maxmemory-policy|fast failover off: CLIENT LIST is refused")


def documented_acl(user: str, password: str, namespace: str) -> list[str]:
    """The ACL SETUSER line of docs/operations.md, for ``user`` and ``namespace``."""
    [line] = DOCUMENTED.findall((ROOT / "docs" / "operations.md").read_text())
    line = line.replace("~{scheduler}:*", f"~{{{namespace}}}:*")
    line = line.replace("SETUSER scheduler", f"SETUSER {user}").replace(
        ">CHANGE-ME", f">{password}"
    )
    return shlex.split(line)


@pytest.fixture
def acl_url(redis_server: RedisServer, namespace: str) -> Iterator[str]:
    """A redis:// URL of a user created with the documented ACL line, for ``namespace``."""
    user, password = f"acl-{namespace}", secrets.token_hex(8)
    with redis.Redis.from_url(redis_server.url) as admin:
        admin.execute_command(*documented_acl(user, password, namespace))
        yield redis_server.url.replace("redis://", f"redis://{user}:{password}@")
        admin.acl_deluser(user)


def start(command: list[str], folder: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SCHEDULER_SCHEDULE", None)
    with (folder / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler", *command],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def test_the_documented_acl_user_refuses_other_keys_and_commands(
    acl_url: str, namespace: str
) -> None:
    with redis.Redis.from_url(acl_url) as client:
        client.set(f"{{{namespace}}}:mine", "1")
        for refused in (
            lambda: client.get("{other}:lease"),
            lambda: client.keys("*"),
            lambda: client.config_get("maxmemory-policy"),
            client.flushall,
            lambda: client.publish("channel", "x"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()


def test_run_and_worker_fire_and_run_a_job_under_the_documented_acl_user(
    acl_url: str, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = tmp_path / "done"
    schedule = tmp_path / "schedule.yml"
    schedule.write_text(
        f"jobs:\n  touch:\n    task: tests.tasks:touch\n    every: 1s\n    args: [{str(done)!r}]\n"
    )
    common = ["--redis", acl_url, "--namespace", namespace]
    procs = [
        start(["run", str(schedule), *common], tmp_path, "run"),
        start(["worker", "--schedule", str(schedule), *common], tmp_path, "worker"),
    ]
    try:
        wait_until(done.exists, timeout=20, what="a fire of the job to run on the worker")
        for command in (["status"], ["queues"], ["dead", "list"], ["trigger", "touch"]):
            code, _, err = run_cli(capsys, *command, *common)
            assert code == 0, (command, err)
        with redis.Redis.from_url(acl_url) as client:
            keys = Keys(namespace)
            app = create_app(client, keys, RedisClock(client), WebSettings())
            web = TestClient(app, base_url="http://127.0.0.1:8080")
            for path in ("/", "/schedules", "/jobs/touch", "/retries", "/dead"):
                assert web.get(path).status_code == 200, path
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in procs]
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("run", "worker")}
    assert codes == [0, 0], logs
    for name, text in logs.items():
        refused = [line for line in text.splitlines() if "no permissions" in line]
        assert all(FALLBACKS.search(line) for line in refused), (name, text)
        assert "Traceback" not in text, (name, text)
    assert "fire enqueued job=touch" in logs["run"] and "job succeeded" in logs["worker"]
