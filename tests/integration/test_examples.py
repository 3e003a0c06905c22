"""The framework guides' examples (examples/, docs/guides/) run for real: the FastAPI app
under uvicorn and the Flask app factory enqueue into a real Redis, and a real `scheduler
worker` runs what they enqueued; the compose file is validated by docker compose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.flask_app import create_app
from scheduler import defaults
from scheduler.cli.dev import free_port
from scheduler.queue import Queue
from tests.helpers import wait_until
from tests.integration.test_worker_process import StartWorker, q, start_worker

__all__ = ["q", "start_worker"]  # fixtures shared with test_worker_process

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_env(redis_url: str, namespace: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.update(SCHEDULER_REDIS_URL=redis_url, SCHEDULER_NAMESPACE=namespace)
    return env


@pytest.fixture
def uvicorn(app_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The FastAPI example under a real uvicorn; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "examples.fastapi_app.main:app"]
    command += ["--port", str(port), "--lifespan", "on"]
    with (tmp_path / "uvicorn.log").open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=app_env, stderr=log)
    try:
        wait_until(
            lambda: b"Application startup complete" in (tmp_path / "uvicorn.log").read_bytes(),
            timeout=30,
            what="uvicorn to start",
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(15)
    assert b"Application shutdown complete" in (tmp_path / "uvicorn.log").read_bytes()


def post(url: str, body: bytes, content_type: str) -> dict[str, str]:
    request = urllib.request.Request(url, body, {"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return dict(json.load(response))


def test_the_fastapi_example_enqueues_from_its_lifespan_queue_and_a_worker_runs_it(
    q: Queue, uvicorn: str, start_worker: StartWorker
) -> None:
    body = json.dumps({"email": "ada@example.com", "name": "Ada"}).encode()
    job = post(f"{uvicorn}/signup", body, "application/json")["job"]
    assert q.depth("mailers") == 1
    worker = start_worker("--burst", "--import", "examples.fastapi_app.tasks", "-q", "mailers")
    assert worker.wait(30) == 0, worker.text()
    assert "welcome mail sent to=ada@example.com name=Ada" in worker.text()
    assert job in worker.text()


def test_the_flask_app_factory_enqueues_on_the_default_queue_and_a_worker_runs_it(
    q: Queue, redis_url: str, namespace: str, start_worker: StartWorker
) -> None:
    saved = defaults._default[:]
    app = create_app({"SCHEDULER_REDIS_URL": redis_url, "SCHEDULER_NAMESPACE": namespace})
    try:
        client = app.test_client()
        now = client.post("/reports", data={"account": "42", "format": "csv"})
        later = client.post("/reports", data={"account": "43", "delay": "3600"})
    finally:
        defaults.default_queue().close()
        defaults._default[:] = saved
    assert (now.status_code, later.status_code) == (202, 202)
    assert (q.depth("reports"), q.delayed_count("reports")) == (1, 1)
    worker = start_worker("--burst", "--import", "examples.flask_app.tasks", "-q", "reports")
    assert worker.wait(30) == 0, worker.text()
    assert "report built account=42 format=csv" in worker.text()
    assert now.json is not None and now.json["job"] in worker.text()


def compose_command() -> list[str] | None:
    """`docker compose` if the plugin is there, else the standalone `docker-compose`."""
    docker = shutil.which("docker")
    if docker:
        found = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if found.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_the_compose_file_is_valid() -> None:
    command = compose_command()
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("CI has no `docker compose` nor `docker-compose` (.ci/run installs it)")
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    folder = ROOT / "examples"
    checked = subprocess.run(
        [*command, "-f", str(folder / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=folder,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    for service in ("redis", "scheduler-a", "scheduler-b", "worker", "dashboard", "web"):
        assert f"  {service}:" in checked.stdout
