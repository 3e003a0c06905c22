"""The schedule file (SPEC section 1): bad files with exact positions, good files as read.

Each bad file is a table row: the YAML, where the problem is (line:column), the job it
names and words the message must contain. Limits and YAML reading are in
test_schedule_yaml.py.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest

from scheduler.errors import Problem, ScheduleInvalid, ScheduleNotFound
from scheduler.rules import kinds as rules
from scheduler.schedule.loader import Job, Schedule, load_schedule, parse_schedule

REPO = Path(__file__).resolve().parents[2]
MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def problems_of(text: str | bytes) -> list[Problem]:
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(text, "schedule.yml")
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return caught.value.problems


def only_problem(text: str | bytes) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def fires(rule: rules.Rule, after: int, count: int = 3) -> list[int]:
    found = []
    for instant in rule.fires(after):
        found.append(instant)
        if len(found) == count:
            break
    return found


JOB = "jobs:\n  a:\n    task: app.jobs:run\n"  # lines 1-3; the job's next key is on line 4
EVERY = JOB + "    every: 1m\n"  # a valid job; its next key is on line 5


def bad(text: str, where: str, *words: str, job: str | None = "a") -> object:
    """A row of BAD_FILES: the YAML, its first problem's line:column, job and message words."""
    return pytest.param(text, where, job, list(words), id=words[0][:40])


BAD_FILES = [
    bad(EVERY + "  a:\n    task: app.jobs:run\n    every: 2m\n", "5:3", "duplicate key 'a'"),
    bad(EVERY + "    every: 2m\n", "5:5", "duplicate key 'every'", "(first at 4:5)"),
    bad(EVERY + "    tz: UTC\n", "5:5", "unknown key 'tz'", "did you mean 'timezone'?"),
    bad(EVERY + "    retrys: 2\n", "5:5", "unknown key 'retrys'", "did you mean 'retries'?"),
    bad(EVERY + "    day: 1\n", "5:5", "unknown key 'day'", "belongs inside monthly"),
    bad(EVERY + "    args: !!python/object/apply:os.system [ls]\n", "5:11", "tag !!python/object"),
    bad(EVERY + "    description: !!python/name:os.system ''\n", "5:18", "tag !!python/name"),
    bad(EVERY + "    description: !!binary aGk=\n", "5:18", "tag !!binary is not allowed"),
    bad(JOB, "2:3", "no rule", "every, cron or monthly"),
    bad(EVERY + "    cron: '0 9 * * *'\n", "5:5", "two rules (every and cron); keep exactly one"),
    bad("timezone: Europe/Madird\n" + EVERY, "1:11", "timezone: ", "'Europe/Madrid'", job=None),
    bad(EVERY + "    timezone: Mars/Olympus\n", "5:15", "timezone: ", "Mars/Olympus"),
    bad(JOB + "    cron: '0 25 * * *'\n", "4:14", "cron: ", "25"),
    bad(JOB + "    cron: 0 9 * * FUN\n", "4:19", "cron: ", "FUN"),
    bad(JOB + '    cron: "* * * *"\n', "4:12", "cron: ", "5 fields"),
    bad(JOB + "    cron: 17\n", "4:11", "cron: "),
    bad(JOB + "    cron: '0 0 30 2 *'\n", "4:11", "cron '0 0 30 2 *' never fires"),
    bad(JOB + "    cron: TZ=UTC 0 9 * * *\n", "4:11", "cron: ", "use timezone: UTC in the job"),
    bad(JOB + "    cron: * * * * *\n", "4:12", "invalid YAML", "quote a value", job=None),
    bad(JOB + "    cron: @daily\n", "4:11", "invalid YAML", "quote a value", job=None),
    bad(JOB + "    monthly: {day: 0}\n", "4:20", "monthly day: ", "1..31", "got the number 0"),
    bad(JOB + "    monthly: {day: [1, 32]}\n", "4:24", "monthly day: ", "got the number 32"),
    bad(JOB + "    monthly: {day: -32}\n", "4:20", "monthly day: ", "-1..-31"),
    bad(JOB + "    monthly: {weekday: MON, nth: 6}\n", "4:34", "monthly nth: ", "1..5, or -1"),
    bad(JOB + "    monthly: {weekday: MON, nth: -2}\n", "4:34", "monthly nth: ", "-2"),
    bad(JOB + "    monthly: {weekday: 1, nth: 1}\n", "4:24", "monthly weekday: ", "MON..SUN"),
    bad(JOB + "    monthly: {weekday: MON}\n", "4:15", "monthly: weekday needs nth"),
    bad(JOB + "    monthly: {nth: 2}\n", "4:15", "monthly: nth needs a weekday"),
    bad(JOB + "    monthly: {day: 1, weekday: MON, nth: 1}\n", "4:23", "monthly: use either day"),
    bad(JOB + "    monthly: {at: '09:00'}\n", "4:14", "monthly: needs day, or weekday with nth"),
    bad(JOB + "    monthly: {day: 1, hour: 9}\n", "4:23", "unknown key 'hour'"),
    bad(JOB + "    monthly: {day: 1, at: '25:00'}\n", "4:27", "monthly at: ", "25:00"),
    bad(JOB + "    monthly: {day: 1, at: 930}\n", "4:27", "monthly at: ", 'a time like "09:30"'),
    bad(JOB + "    monthly: {day: 1, at: []}\n", "4:27", "monthly at: ", "an empty list"),
    bad(JOB + "    monthly: {day: 1, months: [1, 13]}\n", "4:35", "monthly months: ", "13"),
    bad(JOB + "    monthly: 1\n", "4:14", "monthly: expected a mapping"),
    bad(JOB + "    every: 0m\n", "4:12", "every: ", "zero"),
    bad(JOB + "    every: 0\n", "4:12", "every: a duration must be more than zero, got 0"),
    bad(JOB + "    every: -5m\n", "4:12", "every: ", "-5m"),
    bad(JOB + "    every: 1.5\n", "4:12", "every: expected a duration like 15m, got the number"),
    bad(EVERY + "    timeout: -5\n", "5:14", "timeout: ", "more than zero, got -5"),
    bad(EVERY + "    timeout_hard: -5\n", "5:19", "timeout_hard: ", "more than zero, got -5"),
    bad(EVERY + "    expires: [1m]\n", "5:14", "expires: ", "like 15m, got a list"),
    bad(EVERY + "    jitter: -1s\n", "5:13", "jitter: "),
    bad(EVERY + "    enabled: yes\n", "5:14", "enabled: ", "'yes'", "write true or false"),
    bad(EVERY + "    enabled: off\n", "5:14", "enabled: ", "write true or false"),
    bad(EVERY + "    enabled: 'true'\n", "5:14", "enabled: ", "without quotes"),
    bad(JOB + "    start: 2024-01-01T00:00:00Z\n", "2:3", "no rule"),
    bad(JOB + "    cron: '0 9 * * *'\n    start: 2024-01-01\n", "5:5", "start applies only"),
    bad(
        "timezone: Europe/Madrid\n" + EVERY + "    start: 2024-03-31T02:30:00\n", "6:12", "start: "
    ),
    bad(EVERY + "    start: tomorrow\n", "5:12", "start: ", "ISO 8601"),
    bad(EVERY + "    start: 2024-01-01T00:00:00.5Z\n", "5:12", "start: ", "whole second"),
    bad(JOB.replace(":run", ".run") + "    every: 1m\n", "3:11", "task: 'app.jobs.run'", "module:"),
    bad("jobs:\n  a:\n    task: app jobs:run\n    every: 1m\n", "3:11", "task: "),
    bad("jobs:\n  a:\n    every: 1m\n", "2:3", "no task"),
    bad("jobs:\n  a b:\n    every: 1m\n", "2:3", "'a b' is not a valid job name", job="a b"),
    bad("jobs:\n  -a:\n    every: 1m\n", "2:3", "'-a' is not a valid job name", job="-a"),
    bad(EVERY + "    args: 30\n", "5:11", "args: ", "expected a list", "the number 30"),
    bad(EVERY + "    args: [.nan]\n", "5:12", "args: ", "finite"),
    bad(EVERY + "    kwargs: [1]\n", "5:13", "kwargs: ", "expected a mapping"),
    bad(EVERY + "    kwargs: {1: x}\n", "5:14", "kwargs: ", "keys must be text"),
    bad(EVERY + "    queue: 'a b'\n", "5:12", "queue: ", "not a valid queue name"),
    bad(EVERY + "    misfire: onec\n", "5:14", "misfire: ", "did you mean 'once'?"),
    bad(EVERY + "    overlap: never\n", "5:14", "overlap: ", "allow, skip"),
    bad(EVERY + "    retries: -1\n", "5:14", "retries: ", "0 or more"),
    bad(EVERY + "    retries: '3'\n", "5:14", "retries: ", "the text '3'"),
    bad(EVERY + "    description: [a]\n", "5:18", "description: ", "a list"),
    bad("jobs:\n  a:\n", "2:3", "expected the job's settings", "got nothing"),
    bad("jobs:\n  - a\n", "2:3", "jobs: expected a mapping", "got a list", job=None),
    bad("jobs:\n", "1:6", "jobs: expected a mapping", "got nothing", job=None),
    bad("jobs: {}\n---\njobs: {}\n", "2:1", "several YAML documents", job=None),
    bad("", "1:1", "the file is empty", "jobs: {}", job=None),
    bad("# only a comment\n", "1:1", "the file is empty", job=None),
    bad("timezone: UTC\n", "1:1", "no `jobs:`", "jobs: {}", job=None),
    bad("- jobs\n", "1:1", "expected a mapping with `jobs:`", "got a list", job=None),
    bad("queue: low\njobs: {}\n", "1:1", "unknown key 'queue'", "under defaults", job=None),
    bad("job:\n  a: {}\n", "1:1", "unknown key 'job'", "did you mean 'jobs'?", job=None),
    bad("defaults:\n  task: a:b\njobs: {}\n", "2:3", "defaults: task is set per job", job=None),
    bad("defaults:\n  cron: '* * * * *'\njobs: {}\n", "2:3", "defaults: a rule is", job=None),
    bad("defaults:\n  start: 2024-01-01\njobs: {}\n", "2:3", "defaults: start goes", job=None),
    bad("defaults:\n  timezone: UTC\njobs: {}\n", "2:3", "top-level timezone", job=None),
    bad("defaults:\n  retries: x\njobs: {}\n", "2:12", "defaults: retries: ", job=None),
    bad("defaults:\n  queu: x\njobs: {}\n", "2:3", "did you mean 'queue'?", job=None),
    bad("defaults: [1]\njobs: {}\n", "1:11", "defaults: expected a mapping", job=None),
    bad("jobs:\n  a: {task: a:b, every: 1m\n", "3:1", "invalid YAML", job=None),
    bad(JOB + "   every: 1m\n", "4:4", "invalid YAML", job=None),
]


@pytest.mark.parametrize(("text", "where", "job", "words"), BAD_FILES)
def test_bad_file_reports_the_problem_where_it_is(
    text: str, where: str, job: str | None, words: list[str]
) -> None:
    problem = problems_of(text)[0]
    assert f"{problem.line}:{problem.column}" == where, problem
    assert problem.job == job, problem
    assert problem.path == "schedule.yml"
    for word in words:
        assert word in problem.message, problem
    assert "\n" not in str(problem)


def test_problem_reads_as_path_line_column_job_message() -> None:
    problem = only_problem(EVERY + "    tz: UTC\n")
    assert str(problem) == (
        "schedule.yml:5:5: job 'a': unknown key 'tz' (did you mean 'timezone'?)"
    )


def test_every_problem_of_a_file_is_reported_at_once_in_file_order() -> None:
    text = dedent("""\
        timezone: Europe/Madird
        jobs:
          report:
            task: reports
            every: 0m
            tz: UTC
          cleanup:
            task: app.jobs:cleanup
            cron: '0 9 * * *'
            every: 1h
            enabled: yes
          cleanup:
            task: app.jobs:cleanup
            every: 1h
          ok:
            task: app.jobs:fine
            every: 1h
        """)
    found = [(p.line, p.column, p.job, p.message.split(":")[0]) for p in problems_of(text)]
    assert found == [
        (1, 11, None, "timezone"),
        (4, 11, "report", "task"),
        (5, 12, "report", "every"),
        (6, 5, "report", "unknown key 'tz' (did you mean 'timezone'?)"),
        (10, 5, "cleanup", "two rules (cron and every); keep exactly one"),
        (11, 14, "cleanup", "enabled"),
        (12, 3, "cleanup", "duplicate key 'cleanup' (first at 7"),
    ]


def test_seconds_last_cron_is_a_warning_at_its_last_field_and_the_file_loads() -> None:
    text = JOB + "    cron: '30 9 * * * 0'\n  b:\n    task: app.jobs:run\n    cron: 0 0 9 * * SUN\n"
    schedule = parse_schedule(text, "schedule.yml")
    [warning] = schedule.warnings
    assert (warning.line, warning.column, warning.job, warning.warning) == (4, 23, "a", True)
    assert str(warning).startswith("schedule.yml:4:23: warning: job 'a': cron '30 9 * * * 0'")
    assert "at second 30 of minutes 9 past hours 0-23 on Sunday" in warning.message
    assert "croniter (at 09:30), write '0 30 9 * * *'" in warning.message
    assert schedule.jobs["a"].rule.next_after(T0) == T0 + 6 * 86400 + 9 * 60 + 30  # as read
    assert parse_schedule(text.replace("* 0'", "* SUN'")).warnings == ()


def test_unknown_alias_is_reported_where_it_is_used() -> None:
    found = [(p.line, p.column, p.message) for p in problems_of("jobs:\n  a: *nothing\n")]
    assert found == [
        (2, 3, "expected the job's settings (task and a rule), got nothing"),
        (2, 6, "unknown alias *nothing (define &nothing before using it)"),
    ]


def test_start_without_any_rule_reports_both() -> None:
    found = [(p.line, p.message) for p in problems_of(JOB + "    start: 2024-01-01\n")]
    assert found == [
        (2, "no rule: add one of every, cron or monthly"),
        (4, "start applies only to an every rule"),
    ]


def test_alias_bomb_gives_one_clear_error() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    problem = only_problem("\n".join([*lines, "jobs: {}"]))
    assert (problem.line, problem.message) == (
        6,
        "aliases expand to over 100000 nodes; write it out",
    )


def test_file_over_16_mib_gives_one_line(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_bytes(b"jobs: {}\n" + b"# padding padding padding\n" * 800_000)
    with pytest.raises(ScheduleInvalid) as caught:
        load_schedule(path)
    assert str(caught.value) == f"{path}:1:1: the file is 19.8 MiB; the limit is 16 MiB"


def test_text_over_16_mib_is_refused_before_parsing() -> None:
    problem = only_problem("#" * (16 * 1024 * 1024 + 1))
    assert (problem.line, problem.column) == (1, 1)
    assert "limit is 16 MiB" in problem.message


@pytest.mark.parametrize(
    ("data", "where", "words"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "1:1", "not text (character U+007F)"),
        (b"jobs: {}\n  \x00\x00", "2:3", "not text (character U+0000)"),
        (b"jobs:\n  a:\n    task: caf\xe9:x\n", "3:14", "not UTF-8 text"),
        (b"jobs: {}\n\x89PNG\r\n\x1a\n", "2:1", "not UTF-8 text"),
        (b"jobs: {}\n# \x1b[31m\n", "2:3", "not text (character U+001B)"),
        ("jobs: {}\n\ud800\n", "2:1", "not text (character U+D800)"),
        ("\ufeffjobs: {}\n".encode("utf-16"), "1:1", "UTF-16"),
    ],
    ids=["elf-binary", "nul", "latin-1", "png-bytes", "escape", "lone-surrogate", "utf-16"],
)
def test_binary_or_non_utf8_input_gives_one_line_with_position(
    data: str | bytes, where: str, words: str
) -> None:
    problem = only_problem(data)
    assert f"{problem.line}:{problem.column}" == where
    assert words in problem.message


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    problem = only_problem("jobs: " + "[" * 100 + "]" * 100 + "\n")
    assert (problem.line, problem.column) == (1, 70)
    assert problem.message == "nested deeper than 64 levels"


# --- good files --------------------------------------------------------------------------

SPEC_EXAMPLE = """\
timezone: Europe/Madrid        # default IANA zone for wall-clock rules; default UTC
defaults:                      # any per-job setting below but task/rule/timezone
  queue: default
jobs:
  cleanup-guests:              # job name: [A-Za-z0-9][A-Za-z0-9_.:-]{0,127}
    task: myapp.jobs:cleanup   # "package.module:callable"
    every: 15m                 # exactly one of: every | cron | monthly
    args: [30]
    kwargs: {dry_run: false}
    queue: low
  weekly-report:
    task: myapp.reports:weekly
    cron: "0 9 * * MON"
    timezone: America/New_York
  invoices:
    task: billing.jobs:invoice_all
    monthly: {day: -1, at: "23:30"}
"""


def test_spec_example_reads_as_the_spec_says() -> None:
    schedule = parse_schedule(SPEC_EXAMPLE, "schedule.yml")
    assert (schedule.path, schedule.timezone) == ("schedule.yml", "Europe/Madrid")
    assert list(schedule.jobs) == ["cleanup-guests", "weekly-report", "invoices"]
    cleanup, weekly, invoices = schedule.jobs.values()
    assert cleanup == Job(
        name="cleanup-guests",
        task="myapp.jobs:cleanup",
        rule=cleanup.rule,
        timezone="Europe/Madrid",
        args=(30,),
        kwargs={"dry_run": False},
        queue="low",
        line=5,
    )
    assert (cleanup.rule.kind, fires(cleanup.rule, T0)) == (
        "every",
        [T0 + 900, T0 + 1800, T0 + 2700],
    )
    assert (weekly.task, weekly.timezone, weekly.queue, weekly.line) == (
        "myapp.reports:weekly",
        "America/New_York",
        "default",
        11,
    )
    assert fires(weekly.rule, T0) == fires(rules.Cron("0 9 * * MON", NEW_YORK), T0)
    assert (invoices.timezone, invoices.args, invoices.kwargs) == ("Europe/Madrid", (), {})
    expected = rules.Monthly(MADRID, days=[-1], at=[23 * 3600 + 30 * 60])
    assert fires(invoices.rule, T0) == fires(expected, T0)


def test_settings_have_the_documented_defaults() -> None:
    job = parse_schedule(JOB + "    every: 1h\n").jobs["a"]
    assert (job.queue, job.enabled, job.description) == ("default", True, None)
    assert (job.misfire, job.misfire_grace, job.overlap) == ("once", 300, "allow")
    assert (job.jitter, job.expires, job.retries, job.timeout) == (0, None, 3, None)
    assert (job.timezone, job.args, job.kwargs) == ("UTC", (), {})


def test_defaults_apply_and_jobs_override_them() -> None:
    text = dedent("""\
        defaults:
          queue: low
          retries: 5
          jitter: 30s
          expires: 10m
          kwargs: {verbose: true}
        jobs:
          plain:
            task: app.jobs:a
            every: 1h
          own:
            task: app.jobs:b
            every: 1h
            queue: high
            retries: 0
            jitter: 0
            expires: null
            kwargs: {dry_run: true}
        """)
    plain, own = parse_schedule(text).jobs.values()
    assert (plain.queue, plain.retries, plain.jitter, plain.expires) == ("low", 5, 30, 600)
    assert plain.kwargs == {"verbose": True}
    assert (own.queue, own.retries, own.jitter, own.expires) == ("high", 0, 0, None)
    assert own.kwargs == {"dry_run": True}


def test_every_setting_is_read() -> None:
    text = dedent("""\
        jobs:
          a:
            task: app.jobs:run
            every: 1h30m
            start: 2024-01-01T00:10:00+01:00
            args: [1, "two", 3.5, null, true, [x], {k: v}]
            kwargs: {when: "2024-01-01", "quoted key": 1}
            queue: reports.v2:eu-west
            timezone: Europe/Madrid
            enabled: false
            description: Sends the report
            misfire: all
            misfire_grace: 1m
            overlap: skip
            jitter: 45
            expires: 2h
            retries: 0
            timeout: 90s
            timeout_hard: 2m
        """)
    job = parse_schedule(text).jobs["a"]
    assert job.timeout_hard == 120
    assert job.args == (1, "two", 3.5, None, True, ["x"], {"k": "v"})
    assert job.kwargs == {"when": "2024-01-01", "quoted key": 1}
    assert (job.queue, job.timezone, job.enabled) == ("reports.v2:eu-west", "Europe/Madrid", False)
    assert (job.description, job.misfire, job.misfire_grace) == ("Sends the report", "all", 60)
    assert (job.overlap, job.jitter, job.expires, job.retries, job.timeout) == (
        "skip",
        45,
        7200,
        0,
        90,
    )
    start = T0 + 10 * 60 - 3600
    assert fires(job.rule, start, 2) == [start + 5400, start + 10800]


def test_naive_start_is_read_in_the_jobs_zone() -> None:
    text = JOB + "    every: 1d\n    start: 2024-07-01T09:00:00\n    timezone: Europe/Madrid\n"
    job = parse_schedule(text).jobs["a"]
    assert fires(job.rule, T0, 1) == [T0 + 7 * 3600]  # 09:00 CEST is 07:00 UTC, every day


def test_unquoted_time_is_read_as_written() -> None:
    text = JOB + "    monthly: {day: 1, at: 10:30}\n"
    job = parse_schedule(text).jobs["a"]
    assert fires(job.rule, T0, 1) == [T0 + 10 * 3600 + 30 * 60]


def test_day_with_leading_zero_is_decimal() -> None:
    job = parse_schedule(JOB + "    monthly: {day: 010, months: [010]}\n").jobs["a"]
    assert fires(job.rule, T0, 1) == [1_728_518_400]  # 2024-10-10T00:00:00Z


@pytest.mark.parametrize("name", ["no", "yes", "on", "off", "true", "null", "123", "1.5", "0x1F"])
def test_job_names_are_read_as_written(name: str) -> None:
    schedule = parse_schedule(f"jobs:\n  {name}:\n    task: app.jobs:run\n    every: 1m\n")
    assert list(schedule.jobs) == [name]
    assert schedule.jobs[name].name == name


def test_yaml_1_1_values_are_read_by_yaml_1_2() -> None:
    text = dedent("""\
        jobs:
          a:
            task: app.jobs:run
            every: 1m
            kwargs:
              on: yes
              off: no
              clock: 10:30:00
              day: 2024-01-01
              octal: 0o17
              old_octal: 017
              hex: 0x1F
              underscored: 1_000
              tilde: ~
              upper: TRUE
              exponent: 1e3
        """)
    kwargs = parse_schedule(text).jobs["a"].kwargs
    assert kwargs == {
        "on": "yes",
        "off": "no",
        "clock": "10:30:00",
        "day": "2024-01-01",
        "octal": 15,
        "old_octal": 17,
        "hex": 31,
        "underscored": "1_000",
        "tilde": None,
        "upper": True,
        "exponent": 1000.0,
    }


def test_empty_jobs_mapping_is_a_valid_empty_schedule() -> None:
    schedule = parse_schedule("jobs: {}\n")
    assert (schedule.timezone, dict(schedule.jobs)) == ("UTC", {})
    assert schedule.digest


def test_merge_keys_share_settings_between_jobs() -> None:
    text = dedent("""\
        x-hourly: &hourly
          task: app.jobs:sync
          every: 1h
          retries: 5
        jobs:
          eu:
            <<: *hourly
            kwargs: {region: eu}
          us:
            <<: *hourly
            every: 2h
        """)
    eu, us = parse_schedule(text).jobs.values()
    assert (eu.task, eu.retries, eu.kwargs) == ("app.jobs:sync", 5, {"region": "eu"})
    assert (fires(eu.rule, T0, 1), fires(us.rule, T0, 1)) == ([T0 + 3600], [T0 + 7200])


def test_cron_rules_of_every_shape_are_accepted() -> None:
    shapes = ["*/5 * * * *", "0 */10 9 * * MON-FRI", "@daily", "0 18 L * *", "0 9 * * MON#1"]
    text = "jobs:\n" + "".join(
        f"  c{i}:\n    task: app.jobs:run\n    cron: '{cron}'\n" for i, cron in enumerate(shapes)
    )
    assert [job.rule.kind for job in parse_schedule(text).jobs.values()] == ["cron"] * 5


def _digest(text: str) -> str:
    return parse_schedule(text).digest


def test_digest_ignores_comments_whitespace_order_and_style() -> None:
    block = dedent("""\
        jobs:
          a:
            task: app.jobs:run
            every: 1h
            kwargs: {x: 1, y: [1, 2]}
          b:
            task: app.jobs:other
            cron: "0 9 * * *"
        """)
    same = dedent("""\
        # a comment
        jobs:
          b: {cron: '0  9 * * *', task: app.jobs:other}   # other order, flow style

          a:
            every:   1h
            kwargs:
              y:
                - 1
                - 2
              x: 1
            task: "app.jobs:run"
            retries: 3
        """)
    assert _digest(block) == _digest(same)
    assert len(_digest(block)) == 16


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("every: 1h", "every: 2h"),
        ("app.jobs:run", "app.jobs:ran"),
        ("{x: 1, y: [1, 2]}", "{x: 1, y: [2, 1]}"),
        ("jobs:", "timezone: Europe/Madrid\njobs:"),
        ("  a:", "  a2:"),
        ('"0 9 * * *"', '"0 9 * * *"\n    enabled: false'),
    ],
    ids=["rule", "task", "kwargs", "zone", "name", "enabled"],
)
def test_digest_changes_when_a_job_changes(old: str, new: str) -> None:
    text = dedent("""\
        jobs:
          a:
            task: app.jobs:run
            every: 1h
            kwargs: {x: 1, y: [1, 2]}
          b:
            task: app.jobs:other
            cron: "0 9 * * *"
        """)
    assert _digest(text) != _digest(text.replace(old, new, 1))


def test_load_schedule_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(SPEC_EXAMPLE)
    schedule = load_schedule(path)
    assert schedule.path == str(path)
    assert schedule.digest == parse_schedule(SPEC_EXAMPLE).digest


def test_load_schedule_names_the_file_in_problems(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text("jobs: []\n")
    with pytest.raises(ScheduleInvalid) as caught:
        load_schedule(path)
    assert str(caught.value).startswith(f"{path}:1:7: jobs: expected a mapping")


@pytest.mark.parametrize("name", ["missing.yml", "."], ids=["missing", "directory"])
def test_unreadable_schedule_is_not_found(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScheduleNotFound, match=str(tmp_path)):
        load_schedule(tmp_path / name)


def test_example_file_loads_with_every_kind_of_rule() -> None:
    schedule = load_schedule(REPO / "schedule.example.yml")
    assert {job.rule.kind for job in schedule.jobs.values()} == {"every", "cron", "monthly"}
    assert any(not job.enabled for job in schedule.jobs.values())
    assert all(job.task.startswith("examples.tasks:") for job in schedule.jobs.values())


def test_ten_thousand_jobs_load() -> None:
    text = "jobs:\n" + "".join(
        f"  job-{i}:\n    task: app.jobs:run\n    every: {i % 59 + 1}m\n    args: [{i}]\n"
        for i in range(10_000)
    )
    schedule = parse_schedule(text)
    assert len(schedule.jobs) == 10_000
    assert isinstance(schedule, Schedule)
