"""Screenshots of every page, at desktop and phone widths, for docs/dashboard.md.

They go to a temporary folder; ``SCHEDULER_SCREENSHOTS=docs/img pytest tests/browser``
refreshes the ones in the docs. The state shown is built by the real leader and worker
(fires, runs, a dead job, a paused job, a standby, a waiting retry), plus an hour of
per-minute counters written directly so the chart has something to show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scheduler.clock import FakeClock
from scheduler.dispatch.leader import LeaseSettings
from scheduler.dispatch.runloop import RunLoop, RunSettings
from scheduler.ops.control import Control
from scheduler.queue import Queue
from scheduler.schedule.loader import parse_schedule
from scheduler.schedule.watch import ScheduleFile

from .conftest import SCHEDULE, Stack

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips these tests (and fails them in CI)
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def namespace() -> str:
    """The namespace shown in the screenshots' header (used by this test alone)."""
    return "myapp"


def busy_hour(stack: Stack) -> None:
    """A plausible last hour: fires and runs, a dead job, a retry, a pause, a standby."""
    jobs = parse_schedule(SCHEDULE, "schedule.yml").jobs
    control = Control(stack.client, stack.keys, stack.clock)
    control.trigger(jobs["flaky"])
    for _ in range(4):
        stack.tick()
        stack.work()
    for name in jobs:  # the dispatcher stamps Redis TIME, not the fake clock: a few ms late
        fired = stack.client.zrange(stack.keys.fired(name), -1, -1, withscores=True)
        if fired:  # the newest stretch of fires ends at its score
            stack.client.hset(stack.keys.state(name), "enqueued_at", fired[0][1] + 0.004)
    control.pause("nightly-backup", "ops@bastion", "storage migration until Friday")
    queue = Queue(stack.client, stack.keys.namespace, clock=stack.clock)
    queue.enqueue("tests.browser.tasks:flaky", retries=3)
    stack.work()  # fails, waits for its retry
    for i in range(12):
        queue.enqueue("tests.browser.tasks:ok", i, queue="mailers")
    stack.tick(20)
    stack.worker.heartbeat()
    minute = int(stack.clock.now() // 60)
    for m in range(60):
        stack.client.incrby(stack.keys.stats("processed", minute - m), 40 + (m * 37) % 50)
        stack.client.incrby(stack.keys.stats("failed", minute - m), 3 if m % 11 == 0 else 0)


def standby(stack: Stack, tmp_path: Path) -> RunLoop:
    path = tmp_path / "standby.yml"
    path.write_text(SCHEDULE)
    settings = RunSettings(lease=LeaseSettings(lease=300.0, renew_every=1.0, poll_every=0.25))
    clock = FakeClock(stack.clock.now())
    loop = RunLoop(stack.client, stack.keys, clock, ScheduleFile(str(path)), settings)
    loop.step()
    return loop


def shoot(page: Any, url: str, path: Path, ready: str, full_page: bool) -> None:
    page.goto(url)
    expect(page.locator(ready).first).to_be_visible()
    page.screenshot(path=str(path), full_page=full_page)


def test_screenshots_of_every_page(
    chromium: Any, stack: Stack, screenshots: Path, tmp_path: Path
) -> None:
    busy_hour(stack)
    other = standby(stack, tmp_path)
    web = stack.serve(refresh=0)
    dead_id = stack.client.zrange(stack.keys.dead(), 0, 0)[0].decode()
    pages = {
        "overview": ("/", "#latest-runs"),
        "schedules": ("/schedules", 'tr[data-job="minutely"]'),
        "job": ("/jobs/minutely", "#runs"),
        "retries": ("/retries", "td"),
        "dead": ("/dead", "#dead-jobs"),
        "dead-job": (f"/dead/{dead_id}", ".trace"),
    }
    try:
        for size, viewport, names in (
            ("desktop", DESKTOP, list(pages)),
            ("phone", PHONE, ["overview", "schedules", "dead-job"]),
        ):
            context = chromium.new_context(viewport=viewport, device_scale_factor=1)
            page = context.new_page()
            for name in names:
                path, ready = pages[name]
                target = screenshots / f"{name}-{size}.png"
                shoot(page, web.url + path, target, ready, full_page=size == "desktop")
            context.close()
    finally:
        other.leadership.release()
    assert len(list(screenshots.glob("*.png"))) == 9
