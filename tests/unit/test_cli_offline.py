"""`scheduler check` and `scheduler next`: what a user sees, exit codes, and no Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli.worker import Processes
from scheduler.clock import FakeClock
from tests.helpers import run_cli

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
timezone: Europe/Madrid
jobs:
  cleanup-guests:
    task: myapp.jobs:cleanup
    every: 15m
  weekly-report:
    task: myapp.reports:weekly
    cron: "0 9 * * MON"
    timezone: America/New_York
  invoices:
    task: billing.jobs:invoice_all
    monthly: {day: -1, at: "23:30"}
  paused:
    task: myapp.jobs:old
    cron: "@daily"
    enabled: false
"""


run = run_cli


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.yml"
    path.write_text(GOOD)
    return path


def test_check_accepts_a_good_file(capsys: pytest.CaptureFixture[str], good: Path) -> None:
    code, out, err = run(capsys, "check", str(good))
    assert code == 0
    assert "OK, 4 jobs (3 enabled)" in out
    assert err == ""


def test_check_lists_every_problem_one_line_each_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("jobs:\n  a:\n    task: x.y:z\n    every: 0s\n  b:\n    tsk: x.y:z\n")
    code, out, err = run(capsys, "check", str(path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith(f"{path}:") for line in lines)
    assert "Traceback" not in err


def test_check_reads_the_schedule_from_the_environment(
    capsys: pytest.CaptureFixture[str], good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_SCHEDULE", str(good))
    assert run(capsys, "check")[0] == 0


def test_check_of_a_missing_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCHEDULER_SCHEDULE", raising=False)
    code, _, err = run(capsys, "check")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "schedule.yml" in err


def test_next_json_is_sorted_by_time_then_job(
    capsys: pytest.CaptureFixture[str], good: Path
) -> None:
    code, out, _ = run(
        capsys, "next", str(good), "--json", "--from", "2026-03-29T00:00:00Z", "-n", "2"
    )
    assert code == 0
    rows = json.loads(out)
    assert rows[:3] == [
        {
            "job": "cleanup-guests",
            "at": "2026-03-29T00:15:00Z",
            "local": "2026-03-29T01:15:00+01:00",
        },
        {
            "job": "cleanup-guests",
            "at": "2026-03-29T00:30:00Z",
            "local": "2026-03-29T01:30:00+01:00",
        },
        {
            "job": "weekly-report",
            "at": "2026-03-30T13:00:00Z",
            "local": "2026-03-30T09:00:00-04:00",
        },
    ]
    assert rows[-1] == {
        "job": "invoices",
        "at": "2026-04-30T21:30:00Z",
        "local": "2026-04-30T23:30:00+02:00",
    }
    assert [r["job"] for r in rows].count("paused") == 0
    assert rows == sorted(rows, key=lambda r: (r["at"], r["job"]))


def test_next_all_adds_disabled_jobs_marked(capsys: pytest.CaptureFixture[str], good: Path) -> None:
    code, out, _ = run(capsys, "next", str(good), "--all", "--from", "2026-01-01T00:00:00Z")
    assert code == 0
    assert "paused: at 00:00 (cron: @daily)  [disabled]" in out
    assert "weekly-report: at 09:00 on Monday (cron: 0 9 * * MON)" in out
    assert "Mon 2026-01-05 09:00:00 -05:00 America/New_York" in out
    assert "2026-01-05T14:00:00Z" in out


def test_next_for_one_job(capsys: pytest.CaptureFixture[str], good: Path) -> None:
    args = ("next", str(good), "--job", "invoices", "--json", "--from", "2026-01-31T23:00:00+01:00")
    code, out, _ = run(capsys, *args, "-n", "3")
    assert code == 0
    assert [r["local"] for r in json.loads(out)] == [
        "2026-01-31T23:30:00+01:00",
        "2026-02-28T23:30:00+01:00",
        "2026-03-31T23:30:00+02:00",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--job", "invoice"), "no job named 'invoice'"),
        (("--from", "2026-03-29T00:00:00"), "has no offset"),
        (("--from", "tomorrow"), "'--from': 'tomorrow' is not a time: write now, -2h, +30m,"),
        (("--from", "-2x"), "'--from': '-2x': '2x' is not a duration (write e.g. 90s, 15m"),
        (("--from", "+0s"), "'--from': '+0s': a duration must be more than zero"),
        (("--from", "0001-01-01T00:00:00Z"), "is before 1970; times from 1970 to 9998"),
        (("--from", "+9999999w"), "'--from': '+9999999w' is after 9998"),
        (("--count", "0"), "--count"),
    ],
)
def test_next_refuses_bad_options_in_one_line(
    capsys: pytest.CaptureFixture[str], good: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, "next", str(good), *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


NOW = 1_774_742_400  # 2026-03-29T00:00:00Z, a Sunday; Madrid moves to summer time at 01:00Z


@pytest.mark.parametrize(
    ("when", "first"),
    [
        ("now", "2026-03-29T00:15:00Z"),
        ("NOW", "2026-03-29T00:15:00Z"),
        ("-2h", "2026-03-28T22:15:00Z"),
        ("+30m", "2026-03-29T00:45:00Z"),
        ("+1d2h", "2026-03-30T02:15:00Z"),
        ("now-90", "2026-03-29T00:00:00Z"),  # 90 seconds, as in the schedule file
        ("2026-03-29T00:00:00Z", "2026-03-29T00:15:00Z"),
        ("2026-03-29T02:00+01:00", "2026-03-29T01:15:00Z"),
    ],
)
def test_next_from_reads_now_and_times_relative_to_it(
    capsys: pytest.CaptureFixture[str], good: Path, when: str, first: str
) -> None:
    args = ("next", str(good), "--job", "cleanup-guests", "--json", "-n", "1", "--from", when)
    code, out, err = run(capsys, *args, clock=FakeClock(NOW))
    assert (code, err) == (0, "")
    assert [row["at"] for row in json.loads(out)] == [first]


def test_next_from_defaults_to_now_on_the_clock(
    capsys: pytest.CaptureFixture[str], good: Path
) -> None:
    code, out, _ = run(capsys, "next", str(good), "--json", "-n", "1", clock=FakeClock(NOW + 1))
    assert code == 0
    assert json.loads(out)[0] == {
        "job": "cleanup-guests",
        "at": "2026-03-29T00:15:00Z",
        "local": "2026-03-29T01:15:00+01:00",
    }


def test_next_near_the_end_of_the_calendar_stops_before_year_9999(
    capsys: pytest.CaptureFixture[str], good: Path
) -> None:
    args = ("next", str(good), "--job", "cleanup-guests", "--json", "-n", "100")
    code, out, err = run(capsys, *args, "--from", "9998-12-31T23:00:00Z")
    assert (code, err) == (0, "")
    assert json.loads(out)[-1]["at"] == "9998-12-31T23:45:00Z"


CRON_HAZARDS = """jobs:
  weekend:
    task: myapp.jobs:weekend
    cron: "0 9 * * SAT-SUN"
  daily-croniter:
    task: myapp.jobs:daily
    cron: "30 9 * * * 0"
"""


def test_check_warns_of_a_seconds_last_cron_on_stderr_and_still_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(CRON_HAZARDS)
    code, out, err = run(capsys, "check", str(path))
    assert code == 0
    assert out.startswith(f"{path}: OK, 2 jobs (2 enabled), digest ")
    assert out.rstrip().endswith(", 1 warning")
    [line] = err.splitlines()
    assert line.startswith(f"{path}:7:23: warning: job 'daily-croniter': cron '30 9 * * * 0' ")
    assert "write '0 30 9 * * *'" in line
    assert "name the weekdays (SUN..SAT)" in line


def test_next_reads_a_weekday_range_ending_on_sunday(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(CRON_HAZARDS)
    args = ("next", str(path), "--job", "weekend", "-n", "3", "--from", "2026-03-27T00:00:00Z")
    code, out, err = run(capsys, *args)
    assert code == 0
    assert out.splitlines() == [
        "weekend: at 09:00 on Saturday and Sunday (cron: 0 9 * * SAT-SUN)",
        "  Sat 2026-03-28 09:00:00 +00:00 UTC                  2026-03-28T09:00:00Z",
        "  Sun 2026-03-29 09:00:00 +00:00 UTC                  2026-03-29T09:00:00Z",
        "  Sat 2026-04-04 09:00:00 +00:00 UTC                  2026-04-04T09:00:00Z",
    ]
    assert "warning: job 'daily-croniter'" in err  # next shows the file's warnings too


def test_check_says_use_timezone_for_a_robfig_zone_prefix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text("jobs:\n  a:\n    task: x.y:z\n    cron: TZ=America/New_York 0 9 * * *\n")
    code, out, err = run(capsys, "check", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}:4:11: job 'a': cron: 'TZ=America/New_York' sets a time zone inside the "
        "expression (robfig/cron's form); use timezone: America/New_York in the job and "
        "cron: '0 9 * * *'"
    ]


def test_check_and_next_never_import_redis(good: Path) -> None:
    probe = (
        "import sys\n"
        "from scheduler.cli.main import main\n"
        f"for args in (['check', {str(good)!r}], ['next', {str(good)!r}, '--json']):\n"
        "    sys.argv = ['scheduler', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
        "print('redis' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


CELERY_JOBS = """\
targets: {celery: {global_keyprefix: "app:"}}
jobs:
  adds: {task: 'tests.tasks:add', every: 1h}
  report: {celery: myproj.tasks.report, cron: "0 9 * * MON", queue: reports, priority: 3}
"""


def test_check_and_next_read_celery_jobs_without_celery_installed(tmp_path: Path) -> None:
    """Only `check --import`, which asks Celery about each task, needs the extra."""
    path = tmp_path / "schedule.yml"
    path.write_text(CELERY_JOBS)
    probe = (
        "import sys\n"
        "sys.modules.update(celery=None, kombu=None)  # as if the extra were not installed\n"
        "from scheduler.cli.main import main\n"
        f"for args in (['check', {str(path)!r}], ['next', {str(path)!r}, '-n1'],"
        f" ['check', {str(path)!r}, '--import']):\n"
        "    sys.argv = ['scheduler', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        print('exit', exc.code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    lines = result.stdout.splitlines()
    assert "OK, 2 jobs (2 enabled)" in lines[0]
    heading = "report: at 09:00 on Monday (cron: 0 9 * * MON) -> celery: myproj.tasks.report"
    assert f"{heading} on reports" in lines
    assert [line for line in lines if line.startswith("exit")] == ["exit 0", "exit 0", "exit 2"]
    (problem,) = result.stderr.splitlines()
    assert problem.startswith(f"{path}:4:20: job 'report': celery jobs need the celery extra: ")


IMPORTS = """\
jobs:
  adds: {task: 'tests.tasks:add', every: 1h}
  typo:
    task: tests.tasks:ad
    every: 1h
  elsewhere:
    every: 1h
    task: billing.jobs:invoice
"""


def test_check_import_reports_each_task_that_cannot_be_imported_where_it_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(IMPORTS)
    assert run(capsys, "check", str(path))[0] == 0
    code, out, err = run(capsys, "check", "--import", str(path))
    assert (code, out) == (2, "")
    typo, elsewhere = err.strip().splitlines()
    assert typo == (
        f"{path}:4:11: job 'typo': cannot import task tests.tasks:ad: tests.tasks:ad has no 'ad'"
    )
    assert elsewhere.startswith(
        f"{path}:8:11: job 'elsewhere': cannot import task billing.jobs:invoice: "
        "no module named 'billing' on sys.path (it starts with "
    )


def test_check_import_finds_the_app_of_its_working_directory(tmp_path: Path) -> None:
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("def nightly():\n    pass\n")
    (tmp_path / "schedule.yml").write_text("jobs:\n  a: {task: 'myapp:nightly', every: 1d}\n")
    script = Path(sys.executable).with_name("scheduler")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCHEDULER_SCHEDULE")}
    result = subprocess.run(
        [str(script), "check", "--import"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("schedule.yml: OK, 1 jobs")


@pytest.mark.parametrize(
    "command", [["check"], ["next"], ["run", "--redis", "redis://127.0.0.1:1/0"]]
)
def test_a_fifo_as_the_schedule_is_refused_in_one_line_instead_of_waiting(
    tmp_path: Path, command: list[str]
) -> None:
    fifo = tmp_path / "schedule.yml"
    os.mkfifo(fifo)
    argv = [sys.executable, "-m", "scheduler", command[0], str(fifo), *command[1:]]
    result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{fifo}: cannot read it (a FIFO, not a regular file)"]


def test_check_of_a_directory_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 2
    assert err == f"{tmp_path}: cannot read it (a directory, not a regular file)\n"


def test_check_escapes_control_characters_of_the_file_in_its_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A job name that would retitle the terminal and forge a line of output, then a bad value.
    path = tmp_path / "bad.yml"
    path.write_text('jobs:\n  "a\\e]0;pwned\\a\\nbad.yml:1:1: ok":\n    task: x:y\n    every: 5q\n')
    code, _, err = run(capsys, "check", str(path))
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}:") for line in lines)
    assert "\x1b" not in err and "\x07" not in err
    assert "job 'a\\x1b]0;pwned\\x07\\nbad.yml:1:1: ok'" in lines[1]


def test_the_summary_and_errors_escape_control_characters_of_the_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "a\x1b[2Jb"
    folder.mkdir()
    (folder / "schedule.yml").write_text(GOOD)
    code, out, _ = run(capsys, "check", str(folder / "schedule.yml"))
    assert code == 0 and "\x1b" not in out and "a\\x1b[2Jb" in out
    code, _, err = run(capsys, "check", str(folder / "missing\n.yml"))
    assert code == 2 and err.endswith("missing\\n.yml: no such file\n")


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_worker_refuses_a_bad_number_of_processes_in_one_line(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, _, err = run(capsys, "worker", "--processes", value)
    assert code == 2
    [line] = err.strip().splitlines()
    assert (
        f"worker: Invalid value for '--processes' / '-p': {value!r} is not a number of "
        "processes: use 1, 2, ... or auto (see " in line
    )


def test_worker_processes_auto_is_the_cpu_count() -> None:
    assert Processes().convert("auto", None, None) == (os.cpu_count() or 1)
    assert Processes().convert("3", None, None) == 3
