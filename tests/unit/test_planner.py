"""The planner as tables: which fires go in at a tick, under each misfire policy."""

from __future__ import annotations

from datetime import datetime

import pytest

from scheduler.schedule.loader import Job, parse_schedule
from scheduler.schedule.planner import jitter_delay, last_fire_at_or_before, plan_job, upcoming


def at(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def job(rule: str, **settings: str) -> Job:
    extra = "".join(f"\n    {key}: {value}" for key, value in settings.items())
    text = f"jobs:\n  j:\n    task: app.tasks:run\n    {rule}{extra}\n"
    return parse_schedule(text).jobs["j"]


def test_nothing_is_due_before_the_next_fire() -> None:
    assert (
        plan_job(job("every: 1m"), at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:59Z")) is None
    )


def test_a_fire_on_time_is_enqueued_and_becomes_the_watermark() -> None:
    plan = plan_job(job("every: 1m"), at("2026-01-01T00:00:00Z"), at("2026-01-01T00:01:00Z"))
    assert plan is not None
    assert plan.enqueue == (at("2026-01-01T00:01:00Z"),)
    assert plan.watermark == at("2026-01-01T00:01:00Z")
    assert plan.missed_count == 0


def test_every_fire_within_the_grace_goes_in_late_once_each() -> None:
    plan = plan_job(job("every: 1m"), at("2026-01-01T00:00:00Z"), at("2026-01-01T00:03:30Z"))
    assert plan is not None
    assert plan.enqueue == tuple(at(f"2026-01-01T00:0{m}:00Z") for m in (1, 2, 3))


@pytest.mark.parametrize(
    ("policy", "enqueued", "missed", "missed_enqueued"),
    [
        # Daily job, leader away for three days; no fire lies within the grace.
        ("once", ("2026-01-04T09:00:00Z",), 2, 1),
        ("skip", (), 3, 0),
        ("all", ("2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z"), 0, 3),
    ],
)
def test_older_missed_fires_follow_the_misfire_policy(
    policy: str, enqueued: tuple[str, ...], missed: int, missed_enqueued: int
) -> None:
    daily = job('cron: "0 9 * * *"', misfire=policy)
    plan = plan_job(daily, at("2026-01-01T09:00:00Z"), at("2026-01-04T12:00:00Z"))
    assert plan is not None
    assert plan.enqueue == tuple(at(t) for t in enqueued)
    assert plan.watermark == at("2026-01-04T09:00:00Z")
    assert plan.missed_count == missed
    assert plan.missed_enqueued == missed_enqueued
    if missed:
        assert plan.missed_first == at("2026-01-02T09:00:00Z")


def test_once_adds_nothing_older_when_a_fire_within_the_grace_already_runs() -> None:
    # every 2m, away 20 minutes, grace 5m: fires within the last 5 minutes go in.
    plan = plan_job(job("every: 2m"), at("2026-01-01T00:00:00Z"), at("2026-01-01T00:20:00Z"))
    assert plan is not None
    assert plan.enqueue == tuple(at(f"2026-01-01T00:{m}:00Z") for m in (16, 18, 20))
    assert plan.missed_count == 7  # 00:02 .. 00:14


def test_a_long_catch_up_is_cut_into_plans_of_at_most_limit_fires() -> None:
    busy = job("every: 1s", misfire="all")
    plan = plan_job(busy, at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), limit=1000)
    assert plan is not None
    assert len(plan.enqueue) == 1000
    assert plan.watermark == at("2026-01-01T00:16:40Z")


def test_last_fire_before_an_instant_looks_back_as_far_as_needed() -> None:
    yearly = job('cron: "0 0 1 1 *"')
    found = last_fire_at_or_before(yearly, at("2026-06-01T00:00:00Z"), at("2000-01-01T00:00:00Z"))
    assert found == at("2026-01-01T00:00:00Z")
    assert last_fire_at_or_before(yearly, at("2026-06-01T00:00:00Z"), found) is None


def test_jitter_is_fixed_by_job_and_fire_and_stays_within_bounds() -> None:
    delays = [jitter_delay("report", at("2026-01-01T00:00:00Z") + 60 * i, 30) for i in range(200)]
    assert delays == [
        jitter_delay("report", at("2026-01-01T00:00:00Z") + 60 * i, 30) for i in range(200)
    ]
    assert min(delays) >= 0
    assert max(delays) <= 30
    assert len(set(delays)) > 10
    assert jitter_delay("report", 0, 0) == 0


def test_upcoming_sorts_by_time_then_job_name() -> None:
    schedule = parse_schedule(
        "jobs:\n"
        "  b:\n    task: app.tasks:b\n    every: 1h\n"
        "  a:\n    task: app.tasks:a\n    every: 30m\n"
    )
    fires = upcoming(schedule.jobs.values(), at("2026-01-01T00:00:00Z"), 2)
    assert [(f.job.name, f.at) for f in fires] == [
        ("a", at("2026-01-01T00:30:00Z")),
        ("a", at("2026-01-01T01:00:00Z")),
        ("b", at("2026-01-01T01:00:00Z")),
        ("b", at("2026-01-01T02:00:00Z")),
    ]
