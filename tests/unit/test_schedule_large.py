"""Large schedules: what loading holds per job, rules shared between jobs, and jobs read
while the file is parsed giving what reading the whole file would.

Loading reads each job as soon as its settings end, against the time zone and defaults
written before `jobs:`; a file that sets them later (or repeats `jobs:`) is read again
whole. Either way the result is the same, which the tests below pin down.
"""

from __future__ import annotations

import gc
import tracemalloc
from textwrap import dedent

import pytest

from scheduler.errors import ScheduleInvalid
from scheduler.schedule.loader import Schedule, parse_schedule

RULES = ["every: {n}m", "cron: '{m} 9 * * *'", "monthly: {{day: [1, -1], at: '09:{m:02}'}}"]


def many_jobs(count: int) -> str:
    return "timezone: Europe/Madrid\njobs:\n" + "".join(
        f"  job-{i}:\n    task: app.jobs:task_{i % 20}\n"
        f"    {RULES[i % 3].format(n=i % 60 + 1, m=i % 60)}\n    args: [{i}]\n"
        for i in range(count)
    )


def test_loading_never_holds_the_whole_file_as_a_tree() -> None:
    # Kept as a tree, a job's nodes (keys, values, positions) take about 3 KB more than
    # the job itself; read as they are parsed, only the jobs themselves accumulate.
    text = many_jobs(2_000).encode()
    parse_schedule(text)  # imports and caches outside the measure
    tracemalloc.start()
    try:
        schedule = parse_schedule(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(schedule.jobs) == 2_000
    assert peak / 2_000 < 2_500, f"{peak / 2_000:.0f} bytes a job at the peak"


def test_jobs_with_the_same_rule_in_the_same_zone_share_it() -> None:
    text = dedent("""\
        jobs:
          a: {task: app.jobs:run, cron: '0 9 * * *', timezone: Europe/Madrid}
          b: {task: app.jobs:run, cron: "0 9 * * *", timezone: Europe/Madrid}
          c: {task: app.jobs:run, cron: '0 9 * * *', timezone: Asia/Tokyo}
          d: {task: app.jobs:run, every: 1m}
          e: {task: app.jobs:run, every: 1m, timezone: Asia/Tokyo}
          f: {task: app.jobs:run, every: 60s}
          g: {task: app.jobs:run, monthly: {day: 1, at: '09:00'}}
          h: {task: app.jobs:run, monthly: {at: '09:00', day: [1]}}
        """)
    jobs = parse_schedule(text).jobs
    assert jobs["a"].rule is jobs["b"].rule
    assert jobs["a"].rule is not jobs["c"].rule
    assert jobs["d"].rule is jobs["e"].rule
    assert jobs["d"].rule is not jobs["f"].rule
    assert (jobs["d"].rule.text, jobs["f"].rule.text) == ("1m", "60s")
    assert jobs["g"].rule is jobs["h"].rule
    assert jobs["a"].task is jobs["h"].task


def test_a_rule_that_never_fires_is_reported_for_every_job_that_has_it() -> None:
    text = "jobs:\n" + "".join(
        f"  j{i}: {{task: app.jobs:run, cron: '0 0 30 2 *', timezone: {zone}}}\n"
        for i, zone in enumerate(["UTC", "UTC", "Asia/Tokyo"])
    )
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(text)
    assert [(p.line, p.job) for p in caught.value.problems] == [(2, "j0"), (3, "j1"), (4, "j2")]
    assert all(p.message == "cron '0 0 30 2 *' never fires" for p in caught.value.problems)


def test_a_seconds_last_warning_is_given_for_every_job_that_has_it() -> None:
    text = "jobs:\n" + "".join(
        f"  j{i}: {{task: app.jobs:run, cron: '30 9 * * * 0'}}\n" for i in range(3)
    )
    warnings = parse_schedule(text).warnings
    assert [(w.line, w.job) for w in warnings] == [(2, "j0"), (3, "j1"), (4, "j2")]


ZONE = "timezone: Europe/Madrid\n"
DEFAULTS = "defaults:\n  queue: low\n"
JOBS = dedent("""\
    jobs:
      a:
        task: app.jobs:a
        cron: '0 9 * * *'
      b:
        task: app.jobs:b
        every: 1h
    """)
GOOD = ZONE + DEFAULTS + JOBS


def read(text: str) -> Schedule:
    return parse_schedule(text, "f.yml")


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        JOBS + ZONE + DEFAULTS,
        DEFAULTS + JOBS + ZONE,
        ZONE + JOBS + DEFAULTS,
        "x-top: &top\n  timezone: Europe/Madrid\n" + DEFAULTS + JOBS + "<<: *top\n",
    ],
    ids=["settings-first", "jobs-first", "timezone-last", "defaults-last", "merged-timezone"],
)
def test_jobs_are_read_against_the_files_settings_wherever_they_are(text: str) -> None:
    schedule = read(text)
    assert list(schedule.jobs) == ["a", "b"]
    assert [(job.timezone, job.queue) for job in schedule.jobs.values()] == [
        ("Europe/Madrid", "low"),
        ("Europe/Madrid", "low"),
    ]
    assert schedule.digest == read(GOOD).digest


def test_jobs_written_as_aliases_keep_their_place_in_the_file() -> None:
    text = dedent("""\
        x-hourly: &hourly {task: app.jobs:sync, every: 1h}
        jobs:
          a: {task: app.jobs:a, every: 1m}
          b: *hourly
          c: {task: app.jobs:c, every: 1m}
        """)
    schedule = read(text)
    assert list(schedule.jobs) == ["a", "b", "c"]
    assert schedule.jobs["b"].task == "app.jobs:sync"


def test_jobs_merged_into_jobs_are_read_after_the_written_ones() -> None:
    text = dedent("""\
        x-more: &more
          a: {task: app.jobs:merged, every: 1m}
          z: {task: app.jobs:z, every: 1m}
        jobs:
          <<: *more
          a: {task: app.jobs:a, every: 1m}
        """)
    schedule = read(text)
    assert [(name, job.task) for name, job in schedule.jobs.items()] == [
        ("a", "app.jobs:a"),
        ("z", "app.jobs:z"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "jobs:\n  a:\n  a: {task: x, every: 0m}\n",
            [(2, 3, "expected the job's settings"), (3, 3, "duplicate key 'a' (first at 2:3)")],
        ),
        (
            "jobs:\n  a: {task: x, every: 0m}\n  a: {task: y, every: 0m}\n",
            [(2, 13, "task: 'x' is not a task"), (2, 23, "every: "), (3, 3, "duplicate key")],
        ),
        (
            "jobs:\n  a: {task: app.jobs:a, every: 1m}\njobs:\n  b: {task: x, every: 0m}\n",
            [(3, 1, "duplicate key 'jobs' (first at 1:1)")],
        ),
    ],
    ids=["scalar-then-mapping", "two-mappings", "jobs-twice"],
)
def test_a_repeated_name_is_read_once_whatever_came_first(
    text: str, expected: list[tuple[int, int, str]]
) -> None:
    with pytest.raises(ScheduleInvalid) as caught:
        read(text)
    found = [(p.line, p.column, p.message) for p in caught.value.problems]
    assert len(found) == len(expected), found
    for (line, column, message), (want_line, want_column, words) in zip(
        found, expected, strict=True
    ):
        assert (line, column) == (want_line, want_column) and message.startswith(words), found


def test_loading_leaves_no_garbage_for_the_collector() -> None:
    # Everything loading builds is freed as soon as it is no longer used: nothing waits
    # for a collection (a large file's tree would otherwise linger in memory).
    text = many_jobs(300)
    gc.collect()
    assert len(parse_schedule(text).jobs) == 300
    assert gc.collect() == 0
