"""Target keys in the schedule file (docs/targets.md): a job runs exactly one of task,
celery...; the settings a target reads, refuses or does not know, each at its position."""

from __future__ import annotations

import pytest

from scheduler.errors import ScheduleInvalid
from scheduler.schedule.loader import parse_schedule

DIGEST_BEFORE_TARGETS = "db25336c6a8985c0"
CELERY = "jobs:\n  r:\n    celery: myproj.tasks.report\n    every: 1m\n"  # next key on line 5


def problems(text: str) -> list[str]:
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(text, "s.yml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CELERY + "    task: a:b\n", "s.yml:5:5: job 'r': celery and task: a job runs one"),
        (CELERY + "    overlap: skip\n", "s.yml:5:5: job 'r': a celery job cannot honour overlap"),
        (CELERY + "    retries: 2\n", "s.yml:5:5: job 'r': a celery job cannot honour retries"),
        (CELERY + "    priority: 10\n", "s.yml:5:15: job 'r': priority: expected a priority 0..9"),
        (CELERY + "    headers: [1]\n", "s.yml:5:14: job 'r': headers: expected a mapping"),
        (CELERY.replace("myproj.tasks.report", "'a b'"), "s.yml:3:13: job 'r': celery: 'a b'"),
        (
            "jobs:\n  t: {task: a:b, every: 1m, priority: 1}\n",
            "s.yml:2:29: job 't': priority applies to celery jobs only, not task ones",
        ),
        ("jobs:\n  t: {every: 1m}\n", "s.yml:2:3: job 't': no task: add task:"),
        (
            "defaults: {retries: 1}\n" + CELERY,
            "s.yml:1:12: job 'r': a celery job cannot honour retries",
        ),
        ("targets: {celery: {prefix: x}}\n" + CELERY, "s.yml:1:20: unknown key 'prefix'"),
        ("targets: {sidekiq: {}}\n" + CELERY, "s.yml:1:11: unknown key 'sidekiq'"),
        (
            "targets: {celery: {broker: localhost}}\n" + CELERY,
            "s.yml:1:28: targets: celery: broker: 'localhost' is not a URL",
        ),
    ],
)
def test_a_target_setting_that_cannot_apply_is_a_problem_at_its_position(
    text: str, expected: str
) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_a_celery_job_reads_its_own_settings_and_queue_default() -> None:
    text = (
        "targets: {celery: {global_keyprefix: 'app:'}}\n"
        "defaults: {priority: 2, queue: low}\n"
        "jobs:\n"
        "  r: {celery: myproj.tasks.report, every: 1m, headers: {a: 1}, queue: reports}\n"
        "  s: {celery: myproj.tasks.other, every: 1m, overlap: allow}\n"
        "  t: {task: app.jobs:run, every: 1m}\n"
        "  u: {celery: myproj.tasks.u, every: 1m}\n"
    )
    schedule = parse_schedule(text.replace("queue: low", "expires: 5m"))
    r, s, t, u = (schedule.jobs[n] for n in "rstu")
    assert (r.target, r.task, r.queue) == ("celery", "myproj.tasks.report", "reports")
    assert r.options == {"priority": 2, "headers": {"a": 1}}
    assert (s.queue, s.expires) == ("celery", 300)
    assert (t.target, t.queue, t.options) == ("task", "default", {})
    assert u.options == {"priority": 2}
    assert schedule.targets == {"celery": {"global_keyprefix": "app:"}}
    assert parse_schedule(text).jobs["u"].queue == "low"


def test_a_schedule_of_task_jobs_keeps_its_digest() -> None:
    text = "jobs:\n  t: {task: app.jobs:run, every: 1m}\n"
    # The digest of this file before targets existed: replicas of both versions agree.
    assert parse_schedule(text).digest == DIGEST_BEFORE_TARGETS


def test_a_hard_timeout_changes_the_digest_and_its_absence_does_not() -> None:
    text = "jobs:\n  t: {task: app.jobs:run, every: 1m}\n"
    hard = parse_schedule(text.replace("every: 1m", "every: 1m, timeout_hard: 2m")).digest
    longer = parse_schedule(text.replace("every: 1m", "every: 1m, timeout_hard: 3m")).digest
    assert len({DIGEST_BEFORE_TARGETS, hard, longer}) == 3
    assert parse_schedule(text.replace("every: 1m", "every: 1m, timeout_hard: null")).digest == (
        DIGEST_BEFORE_TARGETS
    )


def test_target_settings_change_the_digest() -> None:
    text = CELERY
    other = "targets: {celery: {global_keyprefix: x}}\n" + CELERY
    assert parse_schedule(text).digest != parse_schedule(other).digest
