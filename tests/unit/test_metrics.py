"""Metrics: the counters the dispatcher and the worker keep, and the collectors that
export them, fed by hand; the `metrics` extra stays optional."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import scheduler
from scheduler.ops.metrics import (
    DispatcherCollector,
    DurabilityCollector,
    ScheduleFileCollector,
    WorkerCollector,
)
from scheduler.schedule.loader import Schedule, parse_schedule
from scheduler.schedule.planner import plan_job
from scheduler.schedule.watch import ScheduleFile
from scheduler.stats import DispatchStats, Histogram, RunStats
from scheduler.transport.durability import Durability
from scheduler.worker.execution import DEAD, EXPIRED, OK, RETRY

PACKAGE = Path(scheduler.__file__).parent
DOC = (PACKAGE.parent / "docs" / "metrics.md").read_text()

SCHEDULE = """\
jobs:
  minutely:
    task: app.tasks:run
    every: 1m
  daily:
    task: app.tasks:report
    cron: "0 9 * * *"
    misfire: skip
"""


def at(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def scrape(*collectors: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of what the collectors export."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def leadership(leader: bool = True, epoch: int | None = 7, failures: int = 0) -> Any:
    return SimpleNamespace(is_leader=leader, epoch=epoch, renew_failures=failures)


def dispatcher(schedule: Schedule, stats: DispatchStats, **lead: Any) -> DispatcherCollector:
    fake = SimpleNamespace(schedule=schedule, stats=stats, leadership=leadership(**lead))
    return DispatcherCollector(fake)  # type: ignore[arg-type]


# -- counting fires ----------------------------------------------------------------------


def test_a_value_on_a_bucket_bound_counts_in_that_bucket() -> None:
    histogram = Histogram((0.001, 1.0))
    for value in (0.0005, 0.001, 0.5, 1.0, 5.0):
        histogram.observe(value)
    assert histogram.counts == [2, 2, 1]
    assert histogram.total == pytest.approx(6.5015)


def test_fires_on_time_are_enqueued_and_timed_not_caught_up() -> None:
    job = parse_schedule(SCHEDULE).jobs["minutely"]
    plan = plan_job(job, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:01:00Z"))
    assert plan is not None
    stats = DispatchStats()
    stats.count(plan, enqueued=1, duplicates=0, skipped=0, now=at("2026-01-01T00:01:00Z") + 0.002)
    assert stats.enqueued == {"minutely": 1}
    assert stats.caught_up == {}
    assert stats.lateness.counts[:3] == [0, 1, 0]  # in the 2.5 ms bucket
    assert stats.lateness.total == pytest.approx(0.002, abs=1e-6)


def test_late_fires_count_as_caught_up_and_refused_ones_are_not_timed() -> None:
    # Leader away 3.5 minutes: three fires within the grace go in late; Redis refuses
    # the first as already enqueued (a backfill got there first).
    job = parse_schedule(SCHEDULE).jobs["minutely"]
    now = at("2026-01-01T00:03:30Z")
    plan = plan_job(job, at("2026-01-01T00:00:00Z"), now)
    assert plan is not None and len(plan.enqueue) == 3
    stats = DispatchStats()
    stats.count(plan, enqueued=2, duplicates=1, skipped=0, now=now)
    assert (stats.enqueued, stats.duplicates, stats.caught_up) == (
        {"minutely": 2},
        {"minutely": 1},
        {"minutely": 2},
    )
    assert sum(stats.lateness.counts) == 2
    assert stats.lateness.total == 30 + 90  # 00:03 and 00:02, not the refused 00:01


def test_fires_older_than_the_grace_are_missed_and_skipped_by_the_policy() -> None:
    daily = parse_schedule(SCHEDULE).jobs["daily"]  # misfire: skip, away three days
    plan = plan_job(daily, at("2026-01-01T09:00:00Z"), at("2026-01-04T12:00:00Z"))
    assert plan is not None and plan.enqueue == ()
    stats = DispatchStats()
    stats.count(plan, enqueued=0, duplicates=0, skipped=0, now=at("2026-01-04T12:00:00Z"))
    assert stats.missed == {("daily", "skip"): 3}
    assert stats.skipped == {("daily", "misfire"): 3}
    assert stats.enqueued == {}


def test_overlap_skips_are_counted_by_reason() -> None:
    job = parse_schedule(SCHEDULE).jobs["minutely"]
    plan = plan_job(job, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:01:00Z"))
    assert plan is not None
    stats = DispatchStats()
    stats.count(plan, enqueued=0, duplicates=0, skipped=1, now=at("2026-01-01T00:01:00Z"))
    assert stats.skipped == {("minutely", "overlap"): 1}
    assert sum(stats.lateness.counts) == 0


# -- counting runs -----------------------------------------------------------------------


def test_run_counts_of_every_thread_add_up_and_survive_the_thread() -> None:
    stats = RunStats()

    def work() -> None:
        shard = stats.shard()
        for _ in range(1000):
            counts = shard.of(0, "app:task")
            counts.started += 1
            counts.ended(OK, 0.01)
        stats.retire(shard)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    live = stats.shard()
    live.of(1, "app:task").started += 1
    live.of(1, "app:task").ended(RETRY, 2.0)
    stats.ended(0, "app:task", EXPIRED)
    for thread in threads:
        thread.join()
    totals = stats.totals()
    first, second = totals[(0, "app:task")], totals[(1, "app:task")]
    assert (first.started, first.succeeded, first.expired) == (4000, 4000, 1)
    assert sum(first.duration.counts) == 4000
    assert (second.started, second.failed, second.retried, second.dead) == (1, 1, 1, 0)


def test_retiring_a_shard_keeps_an_equal_one_of_another_thread() -> None:
    stats = RunStats()
    stats.ended(0, "app:other", EXPIRED)  # the shared shard is not empty
    live, done = stats.shard(), stats.shard()  # both empty: equal as dicts
    stats.retire(done)
    live.of(0, "app:task").started += 1
    assert stats.totals()[(0, "app:task")].started == 1


def test_an_outcome_without_a_duration_is_not_timed() -> None:
    stats = RunStats()
    stats.ended(0, "(not allowed)", DEAD)
    [counts] = stats.totals().values()
    assert (counts.failed, counts.dead, sum(counts.duration.counts)) == (1, 1, 0)


# -- the collectors ----------------------------------------------------------------------


def test_the_dispatcher_exports_leadership_and_a_zero_for_every_job() -> None:
    schedule = parse_schedule(SCHEDULE)
    stats = DispatchStats()
    stats.enqueued["minutely"] = 5
    stats.lateness.observe(0.003)
    stats.lateness.observe(2.0)
    found = scrape(dispatcher(schedule, stats, failures=2))
    assert found[("scheduler_leader", ())] == 1
    assert found[("scheduler_leader_epoch", ())] == 7
    assert found[("scheduler_lease_renew_failures_total", ())] == 2
    assert found[("scheduler_fires_enqueued_total", (("schedule_job", "minutely"),))] == 5
    assert found[("scheduler_fires_enqueued_total", (("schedule_job", "daily"),))] == 0
    missed = ("scheduler_fires_missed_total", (("policy", "skip"), ("schedule_job", "daily")))
    assert found[missed] == 0
    for reason in ("misfire", "overlap"):
        key = (("reason", reason), ("schedule_job", "daily"))
        assert found[("scheduler_fires_skipped_total", key)] == 0
    assert found[("scheduler_fire_lateness_seconds_bucket", (("le", "0.0025"),))] == 0
    assert found[("scheduler_fire_lateness_seconds_bucket", (("le", "0.005"),))] == 1
    assert found[("scheduler_fire_lateness_seconds_bucket", (("le", "+Inf"),))] == 2
    assert found[("scheduler_fire_lateness_seconds_count", ())] == 2


def test_a_standby_exports_leader_0_and_epoch_0() -> None:
    found = scrape(dispatcher(parse_schedule(SCHEDULE), DispatchStats(), leader=False))
    assert found[("scheduler_leader", ())] == 0
    assert found[("scheduler_leader_epoch", ())] == 0


def test_a_refused_schedule_file_exports_1_until_a_good_one_loads(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    source = ScheduleFile(str(path))
    refused = ("scheduler_schedule_reload_refused", ())
    assert scrape(ScheduleFileCollector(source))[refused] == 0
    path.write_text(SCHEDULE + "  broken:\n    task: app.tasks:run\n    every: 1x\n")
    source.reload(force=True)
    assert scrape(ScheduleFileCollector(source))[refused] == 1
    path.write_text(SCHEDULE.replace("1m", "2m"))
    source.reload(force=True)
    assert scrape(ScheduleFileCollector(source))[refused] == 0


def test_the_worker_exports_runs_by_queue_and_task() -> None:
    stats = RunStats()
    shard = stats.shard()
    counts = shard.of(1, "app:send")
    counts.started += 2
    counts.ended(OK, 0.2)
    counts.ended(DEAD, 30.0)
    pool = SimpleNamespace(stats=stats, stuck=lambda: 1)
    worker = SimpleNamespace(consumer=SimpleNamespace(queues=("high", "mail")), pool=pool)
    found = scrape(WorkerCollector(worker))  # type: ignore[arg-type]
    labels = (("queue", "mail"), ("task", "app:send"))
    assert found[("scheduler_jobs_started_total", labels)] == 2
    assert found[("scheduler_jobs_succeeded_total", labels)] == 1
    assert found[("scheduler_jobs_failed_total", labels)] == 1
    assert found[("scheduler_jobs_dead_total", labels)] == 1
    assert found[("scheduler_jobs_retried_total", labels)] == 0
    assert found[("scheduler_job_duration_seconds_count", labels)] == 2
    bucket = tuple(sorted([*labels, ("le", "0.25")]))
    assert found[("scheduler_job_duration_seconds_bucket", bucket)] == 1
    assert found[("scheduler_worker_abandoned_threads", ())] == 1


# -- an optional extra -------------------------------------------------------------------


def test_only_the_metrics_module_imports_prometheus_client() -> None:
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "prometheus_client" for name in names):
                importers.append(path.relative_to(PACKAGE).as_posix())
    assert sorted(set(importers)) == ["ops/metrics.py"]


def run_scheduler(*args: str, hide_prometheus: bool = False) -> subprocess.CompletedProcess[str]:
    """`scheduler ARGS` in a fresh interpreter; it prints whether prometheus_client was
    imported as its last line."""
    probe = (
        "import sys\n"
        + ("sys.modules['prometheus_client'] = None\n" if hide_prometheus else "")
        + "from scheduler.cli.main import main\n"
        f"sys.argv = ['scheduler', *{list(args)!r}]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print(sys.modules.get('prometheus_client') is not None)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )


def test_check_next_and_help_never_import_prometheus_client(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    for args in (("check", str(path)), ("next", str(path)), ("run", "--help")):
        result = run_scheduler(*args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "False"


@pytest.mark.parametrize("command", ["run", "worker"])
def test_metrics_without_the_extra_is_a_one_line_error(
    command: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(SCHEDULE)
    args = [command, "--redis", redis_url, "--namespace", namespace, "--metrics-port", "1"]
    args += [str(path)] if command == "run" else ["--allow", "tests.tasks"]
    result = run_scheduler(*args, hide_prometheus=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --metrics-port needs prometheus-client: pip install 'scheduler[metrics]'"
    ]


# -- docs/metrics.md ---------------------------------------------------------------------

REDIS_METRICS = ["scheduler_queue_depth", "scheduler_queue_delayed", "scheduler_dead_jobs"]
REDIS_METRICS += ["scheduler_jobs_paused", "scheduler_queue_paused"]


def documented() -> set[str]:
    """The metric names of the doc's tables."""
    return set(re.findall(r"^\| `(scheduler_\w+)`", DOC, re.MULTILINE))


def test_every_metric_is_documented_and_every_documented_one_exists() -> None:
    stats = RunStats()
    stats.ended(0, "app:task", OK, 0.1)
    pool = SimpleNamespace(stats=stats, stuck=lambda: 0)
    worker = SimpleNamespace(consumer=SimpleNamespace(queues=("q",)), pool=pool)
    names = {s[0] for s in scrape(dispatcher(parse_schedule(SCHEDULE), DispatchStats()))}
    names |= {s[0] for s in scrape(WorkerCollector(worker))}  # type: ignore[arg-type]
    source = SimpleNamespace(refused=None)
    names |= {s[0] for s in scrape(ScheduleFileCollector(source))}  # type: ignore[arg-type]
    names |= {s[0] for s in scrape(DurabilityCollector(Durability("replicated")))}
    families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in names} | set(REDIS_METRICS)
    assert families == documented()


def test_the_example_alert_rules_are_a_valid_rule_file_on_real_metrics() -> None:
    block = DOC.split("## Example alert rules", 1)[1].split("```yaml\n", 1)[1].split("```")[0]
    rules = yaml.safe_load(block)["groups"][0]["rules"]
    assert [rule["alert"] for rule in rules] == [
        "SchedulerNoLeader",
        "SchedulerFiresLate",
        "SchedulerDeadSetGrowing",
        "SchedulerScheduleRefused",
        "SchedulerWritesUnconfirmed",
    ]
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        for name in re.findall(r"scheduler_\w+", rule["expr"]):
            assert re.sub(r"_(bucket|count|sum)$", "", name) in documented(), name
    assert rules[0]["for"] == "30s"
