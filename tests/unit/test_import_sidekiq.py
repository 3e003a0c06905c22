"""`scheduler import sidekiq-cron`: sidekiq-cron and sidekiq-scheduler YAML schedules become
task: jobs, disabled until their Python tasks exist (docs/migrating.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.migrate.sidekiq import task_for
from tests.helpers import run_cli

# sidekiq-cron's README ("Or from YAML (same notation as Resque-scheduler)"),
# github.com/sidekiq-cron/sidekiq-cron README.md, as it is there.
SIDEKIQ_CRON_README = """\
# config/schedule.yml

my_first_job:
  cron: "*/5 * * * *"
  class: "HardWorker"
  queue: hard_worker

second_job:
  cron: "*/30 * * * *" # execute at every 30 minutes
  class: "HardWorker"
  queue: hard_worker_long
  args:
    hard: "stuff"
"""

EXPECTED = """\
# Converted from the Sidekiq schedule {path} by `scheduler import sidekiq-cron`.
# A Sidekiq class is Ruby: write each task's Python callable, point task: at it, then
# set enabled: true (`scheduler check --import` lists the tasks not written yet).
# Cron lines without a zone of their own read UTC (--timezone): sidekiq-cron read them in
# UTC, or in Rails' zone under Rails; sidekiq-scheduler in the server's.
jobs:
  # Sidekiq class HardWorker: task: names the Python callable to write
  my_first_job:
    task: hard_worker:perform
    cron: "*/5 * * * *"
    queue: hard_worker
    enabled: false
  # Sidekiq class HardWorker: task: names the Python callable to write
  second_job:
    task: hard_worker:perform
    cron: "*/30 * * * *"
    args: [{{hard: stuff}}]
    queue: hard_worker_long
    enabled: false
"""

# sidekiq-scheduler's README ("Scheduled Jobs (Recurring Jobs)" and "Time zones"),
# github.com/sidekiq-scheduler/sidekiq-scheduler README.md, under :schedule: as in a
# sidekiq.yml, with the forms sidekiq-cron's README lists (status, natural language,
# seconds, a zone) and ones that cannot be converted.
SIDEKIQ_YML = """\
:concurrency: 5
:schedule:
  CancelAbandonedOrders:
    cron: "*/5 * * * *"

  queue_documents_for_indexing:
    cron: "0 0 * * *"
    class: QueueDocuments
    queue: high
    args:
    description: "This job queues all content for indexing in solr"

  clear_leaderboards_contributors:
    cron: "30 6 * * 1 Europe/Stockholm"
    class: ClearLeaderboards
    queue: low
    args: contributors
    description: "This job resets the weekly leaderboard for contributions"

  check_daemon:
    every: ["30s", {first_in: 120s}]
    class: Admin::CheckDaemon
    queue: daemons
    enabled: no

  every_thirty_seconds:
    cron: "*/30 * * * * *"
    class: HardWorker
    status: disabled
    active_job: true

  natural:
    cron: "every day at five"
    class: HardWorker

  monthly:
    every: 1M
    class: HardWorker

  last_day:
    cron: "0 0 L * *"
    class: HardWorker

  dated:
    cron: "0 0 1 * *"
    class: HardWorker
    args: [2024-01-01]
"""


def test_the_sidekiq_cron_readme_schedule_imports_and_check_accepts_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("schedule.yml").write_text(SIDEKIQ_CRON_README)
    out = tmp_path / "imported.yml"
    code, stdout, err = run_cli(capsys, "import", "sidekiq-cron", "schedule.yml", "-o", str(out))
    assert (code, stdout, err) == (0, "", "2 jobs converted\n")
    assert out.read_text() == EXPECTED.format(path="schedule.yml")
    code, stdout, err = run_cli(capsys, "check", str(out))
    assert (code, err) == (0, "")
    assert "OK, 2 jobs (0 enabled)" in stdout


def test_sidekiq_scheduler_forms_convert_or_stay_comments_saying_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "sidekiq.yml"
    source.write_text(SIDEKIQ_YML)
    out = tmp_path / "imported.yml"
    code, _, err = run_cli(
        capsys, "import", "sidekiq-cron", str(source), "--module", "shop.jobs", "-o", str(out)
    )
    assert (code, err) == (0, "5 jobs converted, 4 left as comments (see '# not converted')\n")
    text = out.read_text()
    jobs = text.split("jobs:\n", 1)[1]
    assert jobs == JOBS
    code, stdout, err = run_cli(capsys, "check", str(out))
    assert (code, err) == (0, "")
    assert "OK, 5 jobs (0 enabled)" in stdout


JOBS = """\
  # Sidekiq class CancelAbandonedOrders: task: names the Python callable to write
  CancelAbandonedOrders:
    task: shop.jobs.cancel_abandoned_orders:perform
    cron: "*/5 * * * *"
    enabled: false
  # Sidekiq class QueueDocuments: task: names the Python callable to write
  queue_documents_for_indexing:
    task: shop.jobs.queue_documents:perform
    cron: "0 0 * * *"
    queue: high
    description: "This job queues all content for indexing in solr"
    enabled: false
  # Sidekiq class ClearLeaderboards: task: names the Python callable to write
  clear_leaderboards_contributors:
    task: shop.jobs.clear_leaderboards:perform
    cron: "30 6 * * 1"
    timezone: Europe/Stockholm
    args: [contributors]
    queue: low
    description: "This job resets the weekly leaderboard for contributions"
    enabled: false
  # Sidekiq class Admin::CheckDaemon: task: names the Python callable to write
  # every's options [{'first_in': '120s'}] have no equivalent here; left out
  # disabled in Sidekiq too
  check_daemon:
    task: shop.jobs.admin.check_daemon:perform
    every: 30s
    queue: daemons
    enabled: false
  # Sidekiq class HardWorker: task: names the Python callable to write
  # active_job: an Active Job class; the task takes the same arguments
  # disabled in Sidekiq too
  every_thirty_seconds:
    task: shop.jobs.hard_worker:perform
    cron: "*/30 * * * * *"
    enabled: false
  # not converted: 'every day at five' is fugit's natural language: write it as cron or
  # every
  # Sidekiq class HardWorker: task: names the Python callable to write
  # natural:
  #   task: shop.jobs.hard_worker:perform
  #   cron: "every day at five"
  #   enabled: false
  # not converted: every '1M': durations here are whole numbers of w d h m s (rufus's M is a
  # month, fractions are not read): write the rule by hand
  # Sidekiq class HardWorker: task: names the Python callable to write
  # monthly:
  #   task: shop.jobs.hard_worker:perform
  #   every: "1M"
  #   enabled: false
  # not converted: sidekiq cron '0 0 L * *' uses 'L', which cron libraries read differently:
  # write the rule by hand (docs/schedule.md, cron)
  # Sidekiq class HardWorker: task: names the Python callable to write
  # last_day:
  #   task: shop.jobs.hard_worker:perform
  #   cron: "0 0 L * *"
  #   enabled: false
  # not converted: args: date datetime.date(2024, 1, 1) is not a JSON value (arguments are
  # stored as JSON here)
  # Sidekiq class HardWorker: task: names the Python callable to write
  # dated:
  #   task: shop.jobs.hard_worker:perform
  #   cron: "0 0 1 * *"
  #   enabled: false
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a:\n  cron: [\n", "invalid YAML"),
        ("a:\n  cron: <%= ENV['CRON'] %>\n", "has ERB tags (<% %>): render it first"),
        ("just text\n", "expected a hash of job name to settings"),
        ("- 1\n- 2\n", "expected a hash of job name to settings"),
        (b"\xff\xfe".decode("latin-1") + "a: 1\n", "UTF"),
    ],
)
def test_a_file_that_is_not_a_sidekiq_schedule_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    source = tmp_path / "bad.yml"
    source.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    code, out, err = run_cli(capsys, "import", "sidekiq-cron", str(source))
    assert (code, out) == (2, "")
    assert message in err
    assert len(err.splitlines()) == 1


def test_bad_options_and_missing_files_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "schedule.yml"
    source.write_text(SIDEKIQ_CRON_README)
    for args, message in [
        (["--module", "not a package"], "--module 'not a package' is not a Python package"),
        (["--timezone", "Mars/Olympus"], "--timezone: "),
    ]:
        code, out, err = run_cli(capsys, "import", "sidekiq-cron", str(source), *args)
        assert (code, out) == (2, ""), err
        assert message in err
        assert len(err.splitlines()) == 1
    code, _, err = run_cli(capsys, "import", "sidekiq-cron", str(tmp_path / "nope.yml"))
    assert (code, err) == (2, f"{tmp_path / 'nope.yml'}: no such file\n")


def test_timezone_sets_the_zone_of_cron_lines_without_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "schedule.yml"
    source.write_text(SIDEKIQ_CRON_README)
    code, out, _ = run_cli(
        capsys, "import", "sidekiq-cron", str(source), "--timezone", "America/Chicago"
    )
    assert code == 0
    assert "\ntimezone: America/Chicago\njobs:\n" in out


@pytest.mark.parametrize(
    ("klass", "task"),
    [
        ("HardWorker", "hard_worker:perform"),
        ("Admin::ReportWorker", "admin.report_worker:perform"),
        ("HTTPPoller", "http_poller:perform"),
        ("Sync2Job", "sync2_job:perform"),
    ],
)
def test_a_ruby_class_names_a_python_module_and_perform(klass: str, task: str) -> None:
    assert task_for(klass, None) == task
