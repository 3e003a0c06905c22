"""Retry policy and what each outcome writes to Redis (no Redis needed)."""

from __future__ import annotations

import json
import logging
import random

import pytest

from scheduler.clock import FakeClock
from scheduler.jobs import build_payload, decode, encode
from scheduler.registry import AllowList
from scheduler.worker.execution import (
    DEAD,
    EXPIRED,
    OK,
    RETRY,
    Ended,
    Outcome,
    RetryPolicy,
    TaskRunner,
    settlement_for,
)
from scheduler.worker.redis_calls import Delivery

NOW = 1_700_000_000.0


@pytest.mark.parametrize(("attempt", "base"), [(1, 10), (2, 20), (3, 40), (9, 2560), (10, 3600)])
def test_backoff_doubles_per_attempt_up_to_the_cap_with_up_to_a_quarter_of_jitter(
    attempt: int, base: float
) -> None:
    policy = RetryPolicy(rng=random.Random(attempt))
    delays = [policy.delay(attempt) for _ in range(200)]
    assert base <= min(delays) and max(delays) <= base * 1.25
    assert len(set(delays)) > 1


def delivery(**fields: object) -> Delivery:
    values: dict[str, object] = {"task": "app:run", "enqueued_at": NOW, "job_id": "j"}
    values.update(fields)
    raw = encode(build_payload(**values)).encode()  # type: ignore[arg-type]
    return Delivery(0, raw, decode(raw))


def test_a_plain_success_needs_only_an_acknowledgement() -> None:
    assert settlement_for(Outcome(delivery(), OK), "default", NOW, NOW) is None


def test_a_retry_goes_to_the_delayed_set_with_the_next_attempt() -> None:
    outcome = Outcome(delivery(), RETRY, 0.5, "ValueError: x", retry_in=12.0)
    settlement = settlement_for(outcome, "default", NOW, NOW)
    assert settlement is not None
    assert (settlement.action, settlement.score, settlement.final) == ("retry", NOW + 12, False)
    assert json.loads(settlement.document)["attempt"] == 2


def test_a_scheduled_run_records_its_last_outcome() -> None:
    d = delivery(schedule="nightly", scheduled_for=int(NOW) - 60)
    settlement = settlement_for(Outcome(d, OK, 1.25, schedule="nightly"), "q", NOW, NOW - 1)
    assert settlement is not None
    assert (settlement.action, settlement.final, settlement.schedule) == ("ack", True, "nightly")
    assert settlement.last == {
        "status": "ok",
        "finished_at": f"{NOW - 1:.3f}",
        "duration": "1.250",
        "fire": str(int(NOW) - 60),
        "error": "",
        "job_id": "j",
    }


@pytest.mark.parametrize(
    ("status", "last"), [(EXPIRED, "expired"), (RETRY, "failed"), (DEAD, "dead")]
)
def test_the_last_status_of_each_outcome(status: str, last: str) -> None:
    d = delivery(schedule="nightly")
    outcome = Outcome(d, status, error="E", retry_in=1.0, schedule="nightly")
    settlement = settlement_for(outcome, "q", NOW, NOW)
    assert settlement is not None and settlement.last is not None
    assert settlement.last["status"] == last


def test_an_unreadable_payload_dies_with_its_raw_text() -> None:
    outcome = Outcome(Delivery(0, b"\xffnope"), DEAD, error="bad payload: x")
    settlement = settlement_for(outcome, "mail", NOW, NOW)
    assert settlement is not None and settlement.action == "dead"
    record = json.loads(settlement.document)
    assert settlement.job_id.startswith("bad-") and record["id"] == settlement.job_id
    assert (record["queue"], record["raw"], record["error"]) == (
        "mail",
        "\ufffdnope",
        "bad payload: x",
    )


def test_judging_a_call_logs_nothing_so_a_late_end_is_never_reported_as_a_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "scheduler")
    runner = TaskRunner(AllowList(prefixes=["app"]), FakeClock(NOW), RetryPolicy())
    assert runner.judge(delivery(), Ended(None, 0.5, 2.0)).status == OK
    assert runner.judge(delivery(), Ended(ValueError("x"), 0.5, 2.0)).status == RETRY
    last_attempt = delivery(retries=0)
    dead = runner.judge(last_attempt, Ended(ValueError("x"), 0.5, 2.0))
    assert (dead.status, dead.error) == (DEAD, "ValueError: x")
    assert caplog.records == []
    runner.late(last_attempt, Ended(None, 61.0, 70.0), timed_out=True)
    [line] = caplog.messages
    assert line.startswith("job finished after its timeout id=j task=app:run queue=default")


def test_a_run_settled_while_its_thread_still_runs_keeps_its_marker_for_later() -> None:
    d = delivery(schedule="nightly")
    outcome = Outcome(d, DEAD, error="JobTimeout: x", schedule="nightly", held=True)
    settlement = settlement_for(outcome, "q", NOW, NOW)
    assert settlement is not None
    assert (settlement.final, settlement.held) == (True, True)
