"""`scheduler import celery-beat`: a real Celery app's beat_schedule becomes celery: jobs;
what cannot be converted exactly stays a commented entry saying why (docs/migrating.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from celery import Celery
from celery.schedules import crontab

from scheduler.migrate.celery_beat import broker_settings, crontab_text, nth_weekday
from scheduler.migrate.entries import Unmappable
from scheduler.rules.cronexpr import parse_cron

# The beat_schedule of Celery's "Periodic Tasks" guide (docs/userguide/periodic-tasks.rst:
# "Entries" and "Crontab schedules"), with the other forms beat reads.
APP = """
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab, schedule, solar

app = Celery("proj", broker="redis://127.0.0.1:6379/0")
app.conf.timezone = "Europe/London"
app.conf.task_routes = {"proj.tasks.report_*": {"queue": "reports"}}
app.conf.beat_schedule = {
    "add-every-30-seconds": {"task": "tasks.add", "schedule": 30.0, "args": (16, 16)},
    "add-every-monday-morning": {
        "task": "tasks.add",
        "schedule": crontab(hour=7, minute=30, day_of_week=1),
        "args": (16, 16),
    },
    "every three hours": {
        "task": "proj.tasks.report_usage",
        "schedule": crontab(minute=0, hour="*/3"),
    },
    "weekdays": {
        "task": "proj.tasks.poll",
        "schedule": crontab(minute="*/15", hour="9-17", day_of_week="mon-fri"),
        "kwargs": {"full": False},
        "options": {
            "queue": "low",
            "expires": 600,
            "time_limit": 90,
            "priority": 3,
            "countdown": 5,
        },
    },
    "odd-lists": {
        "task": "proj.tasks.poll",
        "schedule": crontab(minute=[5, 10, 11, 12], hour={1, 2}),
    },
    "first-monday": {
        "task": "proj.tasks.poll",
        "schedule": crontab(minute=0, hour=9, day_of_week="mon", day_of_month="1-7"),
    },
    "weekly": {"task": "proj.tasks.poll", "schedule": schedule(timedelta(days=7))},
    "sunrise": {"task": "proj.tasks.blinds", "schedule": solar("sunrise", -37.81, 144.96)},
    "half-second": {"task": "proj.tasks.poll", "schedule": timedelta(milliseconds=500)},
    "both-days": {
        "task": "proj.tasks.poll",
        "schedule": crontab(minute=0, hour=0, day_of_week="fri", day_of_month="13"),
    },
    "a-set": {"task": "proj.tasks.poll", "schedule": 60, "args": ({1, 2},)},
    "spaced": {"task": "send report", "schedule": 60},
    "odd-queue": {"task": "proj.tasks.poll", "schedule": 60, "options": {"queue": "the queue"}},
}
"""

EXPECTED = """\
# Converted from the Celery app proj.celery:app by `scheduler import celery-beat`.
# every: fires at whole multiples of its period since 1970-01-01 UTC (add start: to move
# them); beat counted from its own start.
timezone: Europe/London
targets:
  celery: {broker: redis://127.0.0.1:6379/0, app: proj.celery:app}
jobs:
  add-every-30-seconds:
    celery: tasks.add
    every: 30s
    args: [16, 16]
  add-every-monday-morning:
    celery: tasks.add
    cron: "30 7 * * 1"
    args: [16, 16]
  # named 'every three hours' in the source
  every-three-hours:
    celery: proj.tasks.report_usage
    cron: "0 */3 * * *"
    queue: reports
  # option countdown=5 has no setting here; left out
  weekdays:
    celery: proj.tasks.poll
    cron: "*/15 9-17 * * mon-fri"
    kwargs: {full: false}
    queue: low
    expires: 10m
    timeout: 1m30s
    priority: 3
  odd-lists:
    celery: proj.tasks.poll
    cron: "5,10-12 1,2 * * *"
  first-monday:
    celery: proj.tasks.poll
    monthly: {weekday: MON, nth: 1, at: "09:00"}
  weekly:
    celery: proj.tasks.poll
    every: 1w
  # not converted: solar schedules follow the sun, which no rule here can express
  # sunrise:
  #   celery: proj.tasks.blinds
  #   schedule: "<solar: sunrise at latitude -37.81, longitude: 144.96>"
  # not converted: the interval of 0.5 seconds: intervals here are whole seconds
  # half-second:
  #   celery: proj.tasks.poll
  #   schedule: "datetime.timedelta(microseconds=500000)"
  # not converted: <crontab: 0 0 13 * fri (m/h/dM/MY/d)> restricts both day_of_month and
  # day_of_week: Celery fires when both match, a cron rule here when either does; write a
  # monthly rule by hand
  # both-days:
  #   celery: proj.tasks.poll
  #   schedule: "<crontab: 0 0 13 * fri (m/h/dM/MY/d)>"
  # not converted: args: set {1, 2} is not a JSON value (arguments are stored as JSON here)
  # a-set:
  #   celery: proj.tasks.poll
  #   every: 1m
  # not converted: task 'send report' is not a Celery task name a celery: job can name
  # spaced:
  #   celery: "send report"
  #   every: 1m
  # not converted: Celery queue 'the queue' is not a queue name here: use letters, digits
  # and _ . : - (up to 128, first a letter or digit)
  # odd-queue:
  #   celery: proj.tasks.poll
  #   every: 1m
"""


def scheduler(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `scheduler` command as a user runs it, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("")
    (tmp_path / "proj" / "celery.py").write_text(textwrap.dedent(APP))
    return tmp_path


@pytest.mark.slow  # starts the command, which imports Celery
def test_a_celery_apps_beat_schedule_prints_as_celery_jobs_that_check_accepts(
    project: Path,
) -> None:
    done = scheduler(project, "import", "celery-beat", "proj.celery:app")
    assert (done.returncode, done.stderr) == (
        0,
        "7 jobs converted, 6 left as comments (see '# not converted')\n",
    )
    assert done.stdout == EXPECTED
    (project / "schedule.yml").write_text(done.stdout)
    checked = scheduler(project, "check", "schedule.yml")
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout.startswith("schedule.yml: OK, 7 jobs (7 enabled), digest ")


@pytest.mark.slow  # starts the command, which imports Celery
def test_module_alone_finds_its_app_as_celery_a_does_and_o_writes_the_file(
    project: Path,
) -> None:
    done = scheduler(project, "import", "celery-beat", "proj", "-o", "schedule.yml")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert (project / "schedule.yml").read_text() == EXPECTED.replace("proj.celery:app", "proj")


@pytest.mark.slow  # starts the command, which imports Celery
@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nothere:app", "cannot import Celery app nothere:app: no module named 'nothere'"),
        ("proj.celery:crontab", "error: proj.celery:crontab is not a Celery app (found type)"),
        ("proj.celery:nothing", "error: proj.celery:nothing is not a Celery app (found nothing"),
        ("proj.broken:app", "cannot import Celery app proj.broken:app: importing proj.broken "),
        ("proj.badconf:app", "error: proj.badconf:app: reading its configuration raised "),
    ],
)
def test_a_source_that_is_not_a_celery_app_is_one_line_and_exit_2(
    project: Path, source: str, message: str
) -> None:
    (project / "proj" / "broken.py").write_text("raise RuntimeError('boom')\n")
    (project / "proj" / "badconf.py").write_text(
        "from celery import Celery\n"
        "app = Celery('x')\n"
        "app.config_from_object('proj.no_such_settings')\n"
    )
    done = scheduler(project, "import", "celery-beat", source)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (crontab(), "* * * * *"),
        (crontab(minute=0, hour=0), "0 0 * * *"),
        (crontab(minute="*/15"), "*/15 * * * *"),
        (crontab(day_of_week="sunday"), "* * * * 0"),
        (crontab(minute="*", hour="*", day_of_week="sun"), "* * * * sun"),
        (crontab(minute="*/10", hour="3,17,22", day_of_week="thu,fri"), "*/10 3,17,22 * * thu,fri"),
        (crontab(minute=0, hour="*/2,*/3"), "0 */2,*/3 * * *"),
        (crontab(minute=0, hour="*/5"), "0 */5 * * *"),
        (crontab(minute=0, hour="*/3,8-17"), "0 */3,8-17 * * *"),
        (crontab(0, 0, day_of_month="2"), "0 0 2 * *"),
        (crontab(0, 0, day_of_month="2-30/2"), "0 0 2-30/2 * *"),
        (crontab(0, 0, day_of_month="1-7,15-21"), "0 0 1-7,15-21 * *"),
        (crontab(0, 0, day_of_month="11", month_of_year="5"), "0 0 11 5 *"),
        (crontab(0, 0, month_of_year="*/3"), "0 0 * */3 *"),
        (crontab(minute=[0, 30], hour=range(8, 18)), "0,30 8-17 * * *"),
        (crontab(day_of_week="sat-sun"), "* * * * sat-sun"),
    ],
)
def test_crontab_becomes_a_cron_rule_with_the_same_fires(rule: crontab, expected: str) -> None:
    # The table of Celery's "Crontab schedules" guide, and forms written otherwise: a
    # form cron here does not read (Celery's "sunday") is written as the values it means.
    text = crontab_text(rule)
    assert text == expected
    parsed = parse_cron(text)
    assert set(parsed.minutes) == set(rule.minute)
    assert set(parsed.hours) == set(rule.hour)
    assert set(parsed.days) == set(rule.day_of_month)
    assert set(parsed.months) == set(rule.month_of_year)
    assert set(parsed.weekdays) == {(day + 6) % 7 for day in rule.day_of_week}


def test_nth_weekday_crontabs_become_monthly_rules_and_other_day_pairs_are_refused() -> None:
    assert nth_weekday(crontab(0, 18, day_of_week="fri", day_of_month="29-31")) == {
        "weekday": "FRI",
        "nth": 5,
        "at": "18:00",
    }
    assert nth_weekday(
        crontab("0,30", 6, day_of_week=2, day_of_month="8-14", month_of_year="1,7")
    ) == {
        "weekday": "TUE",
        "nth": 2,
        "at": ["06:00", "06:30"],
        "months": [1, 7],
    }
    assert nth_weekday(crontab(0, 0, day_of_week="mon", day_of_month="2-8")) is None
    with pytest.raises(Unmappable, match="both day_of_month and day_of_week"):
        crontab_text(crontab(0, 0, day_of_week="mon", day_of_month="2-8"))


@pytest.mark.parametrize(
    ("conf", "settings", "note"),
    [
        (
            {
                "broker_url": "redis://r:6379/2",
                "broker_transport_options": {"global_keyprefix": "a:"},
            },
            {"global_keyprefix": "a:", "broker": "redis://r:6379/2"},
            None,
        ),
        ({"broker_url": "rediss://:secret@r:6380/0"}, {}, "holds a password"),
        ({"broker_url": "amqp://guest@rabbit//"}, {}, "The app's broker is amqp://..."),
        ({}, {}, "The app's broker is amqp://..."),  # Celery's default broker
    ],
)
def test_the_apps_broker_becomes_targets_celery_without_its_password(
    conf: dict[str, object], settings: dict[str, str], note: str | None
) -> None:
    app = Celery("x", set_as_current=False)
    app.conf.update(conf)
    found, notes = broker_settings(app.conf)
    assert found == settings
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1
        assert note in notes[0]
