"""Real processes: secrets stay out of logs, errors and command lines; hostile text from
Redis cannot forge a log line or reach the terminal raw (docs/security.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from scheduler.cli.dev import free_port
from scheduler.jobs import build_payload, encode
from scheduler.keys import Keys
from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.integration.test_worker_process import ROOT, WorkerProcess
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

# A newline, then what reads as a log line of its own, then a terminal-title escape.
FORGED = "\n2026-01-01 00:00:00,000 INFO scheduler.worker: job succeeded id=x\x1b]0;pwned\x07"


def scheduler(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scheduler", *args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_logs_never_show_a_password_however_the_url_writes_it(
    tmp_path: Path, log_format: str
) -> None:
    # Nothing listens on the port: the worker logs the URL and keeps trying.
    url = f"REDIS://app:blue whale@x@127.0.0.1:{free_port()}/0?password=query-s3cr3t"
    worker = WorkerProcess(url, "down", tmp_path, "--log-format", log_format)
    try:
        wait_until(lambda: "redis unavailable" in worker.text(), what="the outage to be logged")
    finally:
        worker.stop()
    text = worker.text()
    assert "whale" not in text and "x@127" not in text and "s3cr3t" not in text
    assert "redis://app:***@127.0.0.1:" in text and "?password=***" in text


@pytest.fixture
def locked_redis(own_redis: RedisServer) -> Iterator[str]:
    """``own_redis`` with a password; the URL that carries it."""
    client = redis.Redis.from_url(own_redis.url)
    client.config_set("requirepass", "file s3cr3t")
    client.close()
    yield own_redis.url.replace("redis://", "redis://:file%20s3cr3t@")


def test_a_password_in_the_url_query_never_reaches_the_error_line(locked_redis: str) -> None:
    url = locked_redis.replace(":file%20s3cr3t@", "") + "?password=wrong-s3cr3t"
    result = scheduler("status", "--redis", url)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot use Redis at redis://127.0.0.1:")
    assert "/0?password=***: " in line and "s3cr3t" not in line


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_worker_reads_its_redis_url_from_a_file(
    locked_redis: str, tmp_path: Path, how: str
) -> None:
    queue = Queue.from_url(locked_redis, "from-file")
    queue.enqueue("tests.tasks:touch", str(tmp_path / "done"))
    secret = tmp_path / "redis-url"
    secret.write_text(locked_redis + "\n")
    given = ["--redis-url-file", str(secret)] if how == "option" else []
    env = (
        {"SCHEDULER_REDIS_URL": "redis://127.0.0.1:1/0"}  # the command line outranks it
        if how == "option"
        else {"SCHEDULER_REDIS_URL_FILE": str(secret), "SCHEDULER_REDIS_URL": ""}
    )
    options = ["--namespace", "from-file", "--burst", "--allow", "tests.tasks"]
    result = scheduler("worker", *given, *options, env=env)
    queue.client.close()
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "done").exists()
    assert "s3cr3t" not in result.stderr and "job succeeded" in result.stderr


def test_the_dashboard_reads_its_token_from_a_file(redis_url: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tok-s3cr3t-from-file\n")
    port = free_port()
    log = tmp_path / "web.log"
    command = [sys.executable, "-m", "scheduler", "web", "--port", str(port)]
    command += ["--token-file", str(token), "--redis", redis_url]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stderr=out, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_until(lambda: status_of(base) is not None, what="the dashboard to listen")
        assert status_of(base) == 401
        assert status_of(base, "Bearer tok-s3cr3t-from-file") == 200
        assert status_of(base, "Bearer tok-s3cr3t-from-file\n") in (400, 401, None)
    finally:
        proc.terminate()
        proc.wait(10)
    assert "tok-s3cr3t" not in log.read_text()
    assert "tok-s3cr3t" not in " ".join(command)


def status_of(url: str, authorization: str | None = None) -> int | None:
    """The HTTP status of GET ``url``, None while nothing answers."""
    headers = {"Authorization": authorization} if authorization else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5):
            return 200
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, ValueError):
        return None


def test_hostile_job_ids_and_errors_cannot_forge_a_text_log_line(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = Keys(namespace)
    argument = f"bad argument{FORGED}"
    payload = build_payload("tests.tasks:fail", [argument], {}, enqueued_at=time.time(), retries=0)
    client.lpush(keys.queue("default"), encode({**payload, "id": f"id{FORGED}"}))
    client.close()
    worker = WorkerProcess(redis_url, namespace, tmp_path, "--burst", "--allow", "tests.tasks")
    assert worker.wait() == 0
    text = worker.text()
    assert "job failed" in text
    assert "\x1b" not in text and "\x07" not in text
    assert [line for line in text.splitlines() if line.startswith("2026-01-01 00:00:00")] == []
    assert "id=id\\n2026-01-01 00:00:00,000 INFO scheduler.worker: job succeeded" in text
    assert "ValueError: bad argument\\n2026-01-01 00:00:00,000 INFO" in text


def test_hostile_text_in_the_dead_set_reaches_the_terminal_escaped(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    payload = build_payload("tests.tasks:fail", [FORGED], {}, enqueued_at=time.time(), retries=0)
    client.lpush(Keys(namespace).queue("default"), encode({**payload, "id": f"id{FORGED}"}))
    client.close()
    worker = WorkerProcess(redis_url, namespace, tmp_path, "--burst", "--allow", "tests.tasks")
    assert worker.wait() == 0
    listed = scheduler("dead", "list", "--redis", redis_url, "--namespace", namespace)
    [line] = listed.stdout.splitlines()
    assert line.startswith("id\\n2026-01-01 00:00:00,000 INFO scheduler.worker: job succ")
    assert "\\x1b]0;pwned\\x07" in line
    shown = scheduler("dead", "show", f"id{FORGED}", "--redis", redis_url, "--namespace", namespace)
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "\\x1b]0;pwned\\x07" in shown.stdout


def test_hostile_job_ids_stay_exact_and_on_one_line_in_json_logs(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(redis_url)
    payload = build_payload("tests.tasks:noop", [], {}, queue="default", enqueued_at=time.time())
    client.lpush(Keys(namespace).queue("default"), encode({**payload, "id": f"id{FORGED}"}))
    client.close()
    worker = WorkerProcess(
        redis_url, namespace, tmp_path, "--burst", "--allow", "tests.tasks", "--log-format", "json"
    )
    assert worker.wait() == 0
    lines = [json.loads(line) for line in worker.text().splitlines()]
    [done] = [line for line in lines if line["event"] == "job succeeded"]
    assert done["id"] == f"id{FORGED}"
