"""The dashboard in a real browser: what an operator sees and clicks.

Every wait is Playwright's ``expect`` with a timeout (the pages refresh themselves every
0.2 s here), never a sleep.
"""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.ops.control import Control
from scheduler.schedule.loader import parse_schedule
from tests.browser import tasks

from .conftest import SCHEDULE, Stack

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips these tests (and fails them in CI)
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def row(page: Any, job: str) -> Any:
    return page.locator(f'tr[data-job="{job}"]')


def test_the_overview_and_the_schedule_show_a_job_fire_and_its_run_as_they_happen(
    page: Any, stack: Stack
) -> None:
    web = stack.serve()
    page.goto(web.url + "/")
    expect(page.locator("h2", has_text="Leader")).to_be_visible()
    expect(page.locator(".card", has_text="Leader")).to_contain_text("epoch")
    upcoming = page.locator("section", has_text="Next fires").locator("tr", has_text="minutely")
    expect(upcoming).to_contain_text("2026-01-01 00:01:00 UTC")
    expect(page.locator("#latest-runs")).to_have_count(0)

    stack.tick()  # 00:01:01: minutely fires
    assert stack.work() == 1
    latest = page.locator("#latest-runs tr", has_text="minutely")
    expect(latest).to_contain_text("ok")
    expect(latest).to_contain_text("2026-01-01 00:01:00 UTC")
    expect(upcoming).to_contain_text("2026-01-01 00:02:00 UTC")
    expect(page.locator(".card", has_text="Last hour")).to_contain_text("1 processed")

    page.goto(web.url + "/schedules")
    minutely = row(page, "minutely")
    expect(minutely.locator(".last-fire")).to_contain_text("Thu 2026-01-01 01:01:00 +01:00")
    expect(minutely.locator(".last-run")).to_contain_text("ok")
    stack.tick()  # 00:02:01: the row follows without a reload
    expect(minutely.locator(".last-fire")).to_contain_text("01:02:00 +01:00")
    stack.work()
    page.goto(web.url + "/jobs/minutely")
    expect(page.locator("#runs tbody tr")).to_have_count(2)


def test_a_job_paused_from_the_dashboard_stops_firing_until_it_is_resumed(
    page: Any, stack: Stack
) -> None:
    web = stack.serve()
    page.goto(web.url + "/schedules")
    minutely = row(page, "minutely")
    minutely.locator("summary", has_text="Pause").click()
    minutely.get_by_label("Reason").fill("database migration")
    minutely.get_by_role("button", name="Pause").click()
    expect(page.locator(".flash")).to_have_text("minutely: paused (database migration)")
    expect(minutely.locator(".state")).to_contain_text("paused")
    expect(minutely.locator(".state")).to_contain_text("database migration")

    for _ in range(3):
        stack.tick()
    assert stack.fired("minutely") == 0
    expect(minutely.locator(".last-fire")).to_contain_text("never")

    minutely.get_by_role("button", name="Resume").click()
    expect(page.locator(".flash")).to_have_text("minutely: resumed")
    expect(minutely.locator(".state")).to_contain_text("enabled")
    stack.tick()
    assert stack.fired("minutely") >= 1
    expect(minutely.locator(".last-fire")).to_contain_text("01:04:00 +01:00")


def test_a_dead_job_is_inspected_retried_and_then_runs(page: Any, stack: Stack) -> None:
    web = stack.serve()
    control = Control(stack.client, stack.keys, stack.clock)
    job_id = control.trigger(parse_schedule(SCHEDULE, "schedule.yml").jobs["flaky"])
    stack.work()  # retries: 0, so it is dead at once

    page.goto(web.url + "/dead")
    dead = page.locator(f'tr[data-id="{job_id}"]')
    expect(dead).to_contain_text("RuntimeError: upstream <b>down</b> <script>alert(1)</script>")
    dead.get_by_role("link", name=job_id).click()
    expect(page.locator("h1")).to_contain_text(job_id)
    expect(page.locator(".trace")).to_contain_text("Traceback (most recent call last)")
    expect(page.locator(".trace")).to_contain_text("raise RuntimeError")

    tasks.BROKEN["flaky"] = False  # the upstream is fixed
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash")).to_have_text(f"{job_id}: enqueued again")
    expect(page.locator("main")).to_contain_text("The dead set is empty.")
    assert stack.work() == 1

    page.goto(web.url + "/jobs/flaky")
    runs = page.locator("#runs tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.first).to_contain_text("ok")
    expect(runs.nth(1)).to_contain_text("dead")


def test_the_dead_set_is_filtered_and_only_the_matches_are_retried(page: Any, stack: Stack) -> None:
    web = stack.serve()
    control = Control(stack.client, stack.keys, stack.clock)
    flaky = control.trigger(parse_schedule(SCHEDULE, "schedule.yml").jobs["flaky"])
    missing = control.queue.enqueue("tests.browser.nowhere:run", retries=0)
    stack.work()  # both die at once: one raises, the other cannot be imported

    page.goto(web.url + "/dead")
    form = page.locator("form.filter")
    form.get_by_label("Error").fill("UPSTREAM")
    form.get_by_role("button", name="Filter").click()
    expect(page.locator("#dead-jobs tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-id="{flaky}"]')).to_be_visible()
    expect(form.get_by_label("Error")).to_have_value("UPSTREAM")
    assert "error=UPSTREAM" in page.url

    tasks.BROKEN["flaky"] = False
    page.get_by_role("button", name="Retry the 1 matching").click()
    expect(page.locator(".flash")).to_have_text("1 dead jobs enqueued again")
    expect(page.locator("main")).to_contain_text("No dead job matches.")
    assert stack.work() == 1
    page.goto(web.url + "/dead")
    expect(page.locator("#dead-jobs tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-id="{missing}"]')).to_contain_text("TaskNotFound")


def test_without_the_token_a_request_is_refused_and_with_it_once_the_browser_is_in(
    page: Any, stack: Stack
) -> None:
    web = stack.serve(token="correct-horse")
    response = page.goto(web.url + "/schedules")
    assert response is not None and response.status == 401
    expect(page.locator("h1")).to_have_text("Access token needed")
    assert page.goto(web.url + "/schedules?token=wrong").status == 401

    page.goto(web.url + "/schedules?token=correct-horse")
    expect(page.locator("h1")).to_have_text("Schedules")
    assert "token" not in page.url
    assert page.goto(web.url + "/dead").status == 200
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert (
        cookies["scheduler_auth"]["httpOnly"] and cookies["scheduler_auth"]["sameSite"] == "Strict"
    )


def test_a_form_posted_from_another_site_is_refused(page: Any, stack: Stack) -> None:
    web = stack.serve()
    page.goto(web.url + "/schedules")  # the victim has the dashboard open
    attacker = (
        "<!doctype html><form method='post' action='" + web.url + "/jobs/minutely/pause'>"
        "<input name='reason' value='pwned'><button>Win a prize</button></form>"
    )
    page.route(
        "http://attacker.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=attacker),
    )
    page.goto("http://attacker.example/")
    with page.expect_response(web.url + "/jobs/minutely/pause") as posted:
        page.get_by_role("button", name="Win a prize").click()
    assert posted.value.status == 403
    expect(page.locator("h1")).to_have_text("Cross-site request refused")
    assert stack.client.hlen(stack.keys.paused()) == 0
