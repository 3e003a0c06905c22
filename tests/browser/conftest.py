"""Browser tests: Debian's Chromium driven by Playwright against the dashboard served by
uvicorn in a thread, over a real Redis, with an in-process leader and worker driven by
hand on a fake clock (so every fire and run happens exactly when a test says).

Chromium is /usr/bin/chromium (`apt-get install chromium chromium-driver`; `.ci/run` does
it); Playwright's own browser download is never used. Without them these tests skip
locally and fail in CI.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from scheduler.cli.dev import free_port
from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.keys import Keys
from scheduler.registry import AllowList
from scheduler.schedule.watch import ScheduleFile
from scheduler.worker.worker import Worker, WorkerSettings
from tests.browser import tasks

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a Thursday
TIMEOUT_MS = 5_000

SCHEDULE = """\
timezone: Europe/Madrid
jobs:
  minutely:
    task: tests.browser.tasks:ok
    every: 1m
    description: Refreshes the cache of exchange rates.
  cleanup-guests:
    task: tests.browser.tasks:ok
    every: 15m
    args: [30]
    kwargs: {dry_run: false}
    queue: low
  flaky:
    task: tests.browser.tasks:flaky
    cron: "0 3 * * *"
    retries: 0
  nightly-backup:
    task: tests.browser.tasks:ok
    cron: "30 2 * * *"
    timeout: 3600
  weekly-report:
    task: tests.browser.tasks:ok
    cron: "0 9 * * MON"
    timezone: America/New_York
  invoices:
    task: tests.browser.tasks:ok
    monthly: {day: -1, at: "23:30"}
  legacy-sync:
    task: tests.browser.tasks:ok
    every: 1h
    enabled: false
"""


def _require_browser() -> Any:
    """The playwright module, once Chromium is known to be there; skip (fail in CI)."""
    problem = None
    try:
        import playwright.sync_api as api
    except ImportError:
        problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"no {CHROMIUM} (apt-get install chromium chromium-driver)"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return api


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module. Not per session: while Playwright's sync
    API is open, the main thread counts as running an event loop, so ``asyncio.run`` in
    later tests would fail."""
    api = _require_browser()
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies), desktop-sized."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


class WebServer:
    """The dashboard on a free loopback port, served by uvicorn in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from tests.helpers import wait_until

        self._thread.start()
        wait_until(lambda: self._server.started, 10, "uvicorn to start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@dataclass
class Stack:
    """Redis, a leader, a worker and the dashboard, all on one fake clock."""

    client: redis.Redis
    keys: Keys
    clock: FakeClock
    leader: RunLoop
    worker: Worker
    serve: Callable[..., WebServer]

    def tick(self, seconds: float = 60) -> None:
        """Move time on and let the leader fire what is due."""
        self.clock.advance(seconds)
        self.leader.step()

    def work(self) -> int:
        """Let the worker run every job waiting in its queue; how many ran."""
        ran = 0
        while self.worker.fetch_once():
            ran += self.worker.run_pending()
        self.worker.flush()
        return ran

    def fired(self, job: str) -> int:
        """How many fires of ``job`` the leader enqueued."""
        return int(self.client.zcard(self.keys.fired(job)))


@pytest.fixture
def stack(
    redis_url: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    from scheduler.web import WebSettings, create_app

    tasks.BROKEN["flaky"] = True
    monkeypatch.chdir(tmp_path)
    path = Path("schedule.yml")
    path.write_text(SCHEDULE)
    client = redis.Redis.from_url(redis_url)
    keys, clock = Keys(namespace), FakeClock(T0 + 1)
    # The lease's time to live is real time in Redis while the clock is fake: long enough
    # that a slow page load between two ticks never lets it lapse.
    lease = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
    leader = RunLoop(client, keys, clock, ScheduleFile(str(path)), lease)
    leader.step()
    worker = Worker(
        client,
        AllowList(prefixes=["tests.browser"]),
        WorkerSettings(),
        namespace=namespace,
        clock=clock,
        worker_id="web-host:4242:a1b2c3",
    )
    worker.register()
    servers: list[WebServer] = []

    def serve(**settings: Any) -> WebServer:
        web_client = redis.Redis.from_url(redis_url)
        app = create_app(web_client, keys, clock, WebSettings(**{"refresh": 0.2, **settings}))
        server = WebServer(app)
        server.start()
        servers.append(server)
        return server

    yield Stack(client, keys, clock, leader, worker, serve)
    for server in servers:
        server.stop()
    leader.leadership.release()
    worker.consumer.close()
    client.close()


@pytest.fixture
def screenshots(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where screenshots go: $SCHEDULER_SCREENSHOTS (docs/img to refresh the docs; relative
    to where pytest was started), else a temporary folder."""
    chosen = os.environ.get("SCHEDULER_SCREENSHOTS")
    start = request.config.invocation_params.dir
    folder = start / chosen if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
