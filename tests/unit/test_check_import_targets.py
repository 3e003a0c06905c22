"""`scheduler check --import` asks each target whether its workers know what a job names
(docs/targets.md, "Checking names"): the Celery app's tasks after a worker's imports and
autodiscovery, rq's import of the function, the Dramatiq broker's actors. Real modules in
a project folder, a real `scheduler` process run from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CELERY_APP = """\
from celery import Celery

app = Celery("proj", broker="redis://127.0.0.1:1/0", include=["proj.reports"])
app.autodiscover_tasks(["proj.billing"])


@app.task(name="proj.ping")
def ping():
    pass
"""
FILES = {
    "proj/__init__.py": "",
    "proj/celery.py": CELERY_APP,
    "proj/reports.py": (
        "from celery import shared_task\n\n\n"
        "@shared_task(name='proj.reports.weekly')\ndef weekly():\n    pass\n"
    ),
    "proj/billing/__init__.py": "",
    "proj/billing/tasks.py": (
        "from celery import shared_task\n\n\n@shared_task\ndef invoice_all():\n    pass\n"
    ),
    "proj/jobs.py": "def reindex(full=False):\n    pass\n",
    "proj/actors.py": (
        "import dramatiq\nfrom dramatiq.brokers.stub import StubBroker\n\n"
        "broker = StubBroker()\ndramatiq.set_broker(broker)\n\n\n"
        "@dramatiq.actor\ndef send_digest():\n    pass\n"
    ),
}
TARGETS = "targets:\n  celery: {app: proj}\n  dramatiq: {app: proj.actors}\njobs:\n"
KNOWN = """\
  ping: {celery: proj.ping, every: 1h}
  weekly: {celery: proj.reports.weekly, every: 1h}
  invoices: {celery: proj.billing.tasks.invoice_all, every: 1h}
  reindex: {rq: proj.jobs.reindex, every: 1h}
  digest: {dramatiq: send_digest, every: 1h, retries: 0}
"""


def check(tmp_path: Path, schedule: str) -> subprocess.CompletedProcess[str]:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "schedule.yml").write_text(schedule)
    script = Path(sys.executable).with_name("scheduler")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCHEDULER_SCHEDULE")}
    return subprocess.run(
        [str(script), "check", "--import", "schedule.yml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_names_each_worker_knows_pass_check_import(tmp_path: Path) -> None:
    """Tasks from the app module, its include and its autodiscovered package."""
    result = check(tmp_path, TARGETS + KNOWN)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.startswith("schedule.yml: OK, 5 jobs")


def test_each_name_a_worker_does_not_know_is_one_line_at_the_job_and_exit_2(
    tmp_path: Path,
) -> None:
    unknown = (
        "  typo: {celery: proj.reports.weekley, every: 1h}\n"
        "  gone: {rq: proj.jobs.reindexx, every: 1h}\n"
        "  lost: {dramatiq: send_digests, every: 1h, retries: 0}\n"
    )
    result = check(tmp_path, TARGETS + KNOWN + unknown)
    assert (result.returncode, result.stdout) == (2, "")
    celery, rq, dramatiq = result.stderr.strip().splitlines()
    assert celery == (
        "schedule.yml:10:18: job 'typo': Celery app 'proj' has no 'proj.reports.weekley'; "
        "did you mean 'proj.reports.weekly'?"
    )
    assert rq.startswith("schedule.yml:11:14: job 'gone': rq cannot import 'proj.jobs.reindexx'")
    assert dramatiq == (
        "schedule.yml:12:20: job 'lost': the Dramatiq broker of 'proj.actors' has no "
        "'send_digests'; did you mean 'send_digest'?"
    )


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ("", "check --import needs the Celery app your workers run: set targets: celery: app:"),
        ("targets: {celery: {app: proj.nothing}}\n", "cannot load the Celery app 'proj.nothing'"),
        ("targets: {celery: {app: 'proj.jobs:reindex'}}\n", "'proj.jobs:reindex' is not a Celery"),
    ],
)
def test_a_celery_app_that_cannot_be_asked_is_one_line_and_exit_2(
    tmp_path: Path, targets: str, expected: str
) -> None:
    result = check(tmp_path, targets + "jobs:\n  ping: {celery: proj.ping, every: 1h}\n")
    assert (result.returncode, result.stdout) == (2, "")
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("schedule.yml:"), line
    assert expected in line, line
