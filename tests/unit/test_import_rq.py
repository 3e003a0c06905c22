"""`scheduler import rq-cron`: an rq cron config, loaded by rq's own loader, becomes rq:
jobs; cron read in the host's zone, as rq does (docs/migrating.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test starts the command, which imports rq

# The config of rq's cron guide (python-rq.org/docs/cron, "Quick Start": cron_config.py),
# with the other forms `cron.register` takes.
CONFIG = """
from rq import cron
from myapp import cleanup_temp_files, send_newsletter

# Clean up temporary files every 30 minutes (interval-based)
cron.register(
    cleanup_temp_files,
    queue_name='maintenance',
    interval=1800  # 30 minutes in seconds
)

# Send newsletter every Tuesday at 10:30 AM (cron string)
cron.register(
    send_newsletter,
    queue_name='email',
    args=('weekly_digest',),
    kwargs={'template': 'newsletter.html'},
    cron='30 10 * * 2'
)

cron.register(cleanup_temp_files, queue_name='default', interval=90, job_timeout='10m',
              ttl=60, result_ttl=3600, name='tidy')
cron.register(send_newsletter, queue_name='email', cron='*/10 * * * * 30', name='seconds-last')
cron.register(send_newsletter, queue_name='email', cron='0 0 L * *', name='last-day')
cron.register(send_newsletter, queue_name='email', interval=60, cron='* * * * *', name='both')
"""

APP = """
def cleanup_temp_files(days=1):
    return days


def send_newsletter(kind, template="plain.html"):
    return kind, template
"""

EXPECTED = """\
# Converted from the rq cron config cron_config.py by `scheduler import rq-cron`.
# every: fires at whole multiples of its period since 1970-01-01 UTC (add start: to move
# them); rq cron counted from its own start.
{zone}jobs:
  myapp.cleanup_temp_files:
    rq: myapp.cleanup_temp_files
    every: 30m
    queue: maintenance
    retries: 0
  myapp.send_newsletter:
    rq: myapp.send_newsletter
    cron: "30 10 * * 2"
    args: [weekly_digest]
    kwargs: {{template: newsletter.html}}
    queue: email
    retries: 0
  tidy:
    rq: myapp.cleanup_temp_files
    every: 1m30s
    timeout: 10m
    expires: 1m
    retries: 0
    result_ttl: 1h
  seconds-last:
    rq: myapp.send_newsletter
    cron: "30 */10 * * * *"
    queue: email
    retries: 0
  # not converted: rq cron '0 0 L * *' uses 'L', which cron libraries read differently:
  # write the rule by hand (docs/schedule.md, cron)
  # last-day:
  #   rq: myapp.send_newsletter
  #   cron: "0 0 L * *"
  #   queue: email
  #   retries: 0
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "myapp.py").write_text(textwrap.dedent(APP))
    (tmp_path / "cron_config.py").write_text(textwrap.dedent(CONFIG))
    return tmp_path


def scheduler(cwd: Path, *args: str, tz: str | None = "UTC") -> subprocess.CompletedProcess[str]:
    """The `scheduler` command as a user runs it, in ``cwd``, with the host zone ``tz``."""
    env = {k: v for k, v in os.environ.items() if k != "TZ"}
    if tz is not None:
        env["TZ"] = tz
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("tz", "zone"),
    [("UTC", ""), ("Etc/UTC", ""), ("Europe/Paris", "timezone: Europe/Paris\n")],
)
def test_an_rq_cron_config_prints_as_rq_jobs_in_the_hosts_zone_that_check_accepts(
    project: Path, tz: str, zone: str
) -> None:
    done = scheduler(project, "import", "rq-cron", "cron_config.py", tz=tz)
    assert done.returncode == 0, done.stderr
    assert done.stdout == EXPECTED.format(zone=zone)
    (project / "schedule.yml").write_text(done.stdout)
    checked = scheduler(project, "check", "schedule.yml")
    assert (checked.returncode, checked.stderr) == (0, "")
    assert checked.stdout.startswith("schedule.yml: OK, 4 jobs (4 enabled), digest ")
    assert done.stderr == (
        "warning: rq cron skips a job: Failed to register job send_newsletter from config: "
        "Cannot specify both interval and cron parameters\n"
        "4 jobs converted, 1 left as comments (see '# not converted')\n"
    )


def test_cron_jobs_stay_comments_when_the_hosts_zone_is_unknown(project: Path) -> None:
    done = scheduler(project, "import", "rq-cron", "cron_config.py", tz="Nowhere/Else")
    assert done.returncode == 0, done.stderr
    assert "\n  myapp.cleanup_temp_files:\n" in done.stdout  # intervals need no zone
    assert (
        "  # not converted: rq cron reads cron in this host's local time, and its zone is unknown\n"
        "  # myapp.send_newsletter:\n"
    ) in done.stdout


def test_a_dotted_module_config_loads_as_rq_cron_loads_it(project: Path) -> None:
    done = scheduler(project, "import", "rq-cron", "cron_config", "-o", "schedule.yml")
    assert done.returncode == 0, done.stderr
    text = (project / "schedule.yml").read_text()
    assert text == EXPECTED.format(zone="").replace("config cron_config.py", "config cron_config")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("missing.py", "error: missing.py: no such file\n"),
        (
            "nothere",
            "error: Failed to import configuration module 'nothere' (from 'nothere'): "
            "No module named 'nothere'\n",
        ),
        ("broken.py", "error: An error occurred while importing 'broken' (from 'broken.py'): "),
    ],
)
def test_a_config_that_cannot_be_loaded_is_one_line_and_exit_2(
    project: Path, config: str, message: str
) -> None:
    (project / "broken.py").write_text("raise RuntimeError('boom')\n")
    done = scheduler(project, "import", "rq-cron", config)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_without_rq_installed_rq_cron_says_which_extra_to_install(project: Path) -> None:
    # rq made unimportable, as in an environment without scheduler[rq]
    code = "import sys; sys.modules['rq'] = None; from scheduler.cli.main import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "import", "rq-cron", "cron_config.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: this needs rq 2.5 or newer, which has rq cron: pip install -U 'scheduler[rq]'\n"
    )
