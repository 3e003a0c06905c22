"""scheduler.testing: the queue doubles, the switches, perform, fires_between, the fixtures."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import redis

from scheduler import Queue, current_job
from scheduler.clock import FakeClock
from scheduler.enqueue import Enqueuer, prepare
from scheduler.errors import JobTimeout, PayloadError, TaskNotAllowed, TaskNotFound, UnknownJob
from scheduler.jobs import MAX_PAYLOAD_BYTES
from scheduler.queue import EnqueueBatch
from scheduler.schedule.loader import parse_schedule
from scheduler.testing import (
    FireTime,
    InlineQueue,
    RecordingBatch,
    RecordingQueue,
    allow_list,
    fires_between,
    inline,
    perform,
    perform_fire,
    recording,
)
from tests import testing_app as app

pytest_plugins = ["pytester"]

NOW = 1_780_000_000.0
UTC = timezone.utc
ROUTED = ("enqueue", "batch", "depth", "delayed_count", "queues", "dead", "dead_count")
APP = allow_list("tests.testing_app")


@pytest.fixture(autouse=True)
def _fresh_app() -> Iterator[None]:
    app.reset()
    yield
    app.reset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def double(clock: FakeClock) -> RecordingQueue:
    return RecordingQueue(APP, clock)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- recording ----------------------------------------------------------------------------


def test_recording_keeps_the_jobs_of_a_queue_made_at_import_time(clock: FakeClock) -> None:
    with recording(clock=clock) as q:
        app.sign_up(7)
    welcome = q.assert_enqueued("tests.testing_app:welcome", 7, queue="mailers")
    follow = q.assert_enqueued("tests.testing_app:follow_up", 7)
    assert q.jobs == q.pending == [welcome, follow]
    assert (welcome.run_at, follow.run_at) == (None, datetime.fromtimestamp(NOW + 3600, UTC))
    assert q.performed == [] and app.CALLS == []


def test_a_queue_made_inside_the_block_records_too(clock: FakeClock) -> None:
    with recording(clock=clock) as q:
        job_id = Queue.from_url("redis://127.0.0.1:9/0").enqueue("m:f", 1)
    assert [job.id for job in q.jobs] == [job_id]


def test_the_double_answers_the_queue_reads(double: RecordingQueue) -> None:
    double.enqueue("m:f", queue="a")
    double.enqueue("m:f", queue="a", delay=5)
    double.enqueue("m:f", queue="b", at=datetime.fromtimestamp(NOW - 5, UTC))  # due: at once
    assert (double.depth("a"), double.delayed_count("a"), double.depth("b")) == (1, 1, 1)
    assert double.queues() == {"a": 1, "b": 1}
    assert (double.dead(), double.dead_count(), double.retry_dead("x")) == ([], 0, False)
    with pytest.raises(PayloadError, match="invalid queue name"):
        double.depth("no spaces")


def test_assert_enqueued_compares_arguments_after_their_json_round_trip(
    double: RecordingQueue,
) -> None:
    double.enqueue("m:f", (1, 2), when={"a": (3,)}, queue="q")
    job = double.assert_enqueued("m:f", [1, 2], when={"a": [3]})
    assert job is double.assert_enqueued("m:f", (1, 2), when={"a": (3,)}, queue="q")
    assert (job.args, job.kwargs) == ([[1, 2]], {"when": {"a": [3]}})


def test_assert_enqueued_says_what_was_enqueued_instead(double: RecordingQueue) -> None:
    double.enqueue("m:f", 1, lang="en", queue="mail")
    double.enqueue("m:g")
    with pytest.raises(AssertionError) as info:
        double.assert_enqueued("m:f", 2, lang="en", queue="mail")
    assert str(info.value) == (
        "m:f(2, lang='en') on mail was not enqueued; enqueued: m:f(1, lang='en') on mail, m:g() "
        "on default"
    )
    with pytest.raises(AssertionError, match=r"m:f\(1, lang='en'\) on other was not"):
        double.assert_enqueued("m:f", 1, lang="en", queue="other")
    with pytest.raises(AssertionError, match="enqueued: nothing"):
        RecordingQueue().assert_enqueued("m:f")


def test_jobs_for_and_clear(double: RecordingQueue) -> None:
    double.enqueue("tests.testing_app:follow_up", 1)
    double.enqueue("tests.testing_app:follow_up", 2, queue="q")
    double.enqueue("m:g", 3)
    follow_ups = double.jobs_for("tests.testing_app:follow_up")
    assert [job.args for job in follow_ups] == [[1], [2]]
    assert double.jobs_for("tests.testing_app:follow_up", queue="q") == follow_ups[1:]
    assert double.drain(queue="q") == 1 and double.performed == follow_ups[1:]
    double.clear()
    assert double.jobs == double.pending == double.performed == []


def test_drain_runs_jobs_by_due_time_then_order_and_the_jobs_they_enqueue(
    clock: FakeClock,
) -> None:
    with recording(APP, clock) as q:
        app.queue.enqueue("tests.testing_app:follow_up", 1, delay=60)
        app.queue.enqueue(
            "tests.testing_app:follow_up", 2, at=datetime.fromtimestamp(NOW + 30, UTC)
        )
        app.queue.enqueue("tests.testing_app:chain", 2)
        app.queue.enqueue("tests.testing_app:follow_up", 3)
        assert q.drain() == 6
    assert app.CALLS == [
        ("chain", 2),
        ("follow_up", 3),
        ("chain", 1),
        ("chain", 0),
        ("follow_up", 2),
        ("follow_up", 1),
    ]
    assert q.pending == [] and len(q.performed) == len(q.jobs) == 6


def test_drain_until_leaves_later_jobs_pending_and_queue_picks_one_queue(
    double: RecordingQueue,
) -> None:
    double.enqueue("tests.testing_app:follow_up", 1, delay=60)
    double.enqueue("tests.testing_app:follow_up", 2, delay=10)
    double.enqueue("tests.testing_app:follow_up", 3, queue="other")
    assert double.drain(queue="default", until=datetime.fromtimestamp(NOW + 10, UTC)) == 1
    assert app.CALLS == [("follow_up", 2)]
    assert [job.args for job in double.pending] == [[1], [3]]
    with pytest.raises(ValueError, match="until must be an aware datetime"):
        double.drain(until=datetime(2026, 1, 1))


def test_drain_raises_a_task_error_at_once_without_retrying(double: RecordingQueue) -> None:
    double.enqueue("tests.testing_app:broken", "boom")
    double.enqueue("tests.testing_app:follow_up", 1)
    with pytest.raises(ValueError, match="boom"):
        double.drain()
    assert [job.task for job in double.performed] == ["tests.testing_app:broken"]
    assert double.drain() == 1 and current_job() is None


def test_drain_stops_a_job_that_keeps_enqueuing_at_the_limit(clock: FakeClock) -> None:
    with recording(APP, clock) as q:
        app.queue.enqueue("tests.testing_app:chain", 50)
        with pytest.raises(RuntimeError, match="drain ran 5 jobs and more are due"):
            q.drain(limit=5)
    assert len(q.performed) == 5 and [job.args for job in q.pending] == [[45]]


def test_jobs_run_only_if_the_allow_list_lets_them(clock: FakeClock) -> None:
    strict = RecordingQueue(clock=clock)
    strict.enqueue("tests.testing_app:unregistered", 2)  # enqueueing never checks it
    with pytest.raises(TaskNotAllowed) as info:
        strict.drain()
    assert "pass allow=allow_list('tests.testing_app')" in str(info.value)
    assert "or --allow the package that defines it" in str(info.value)
    assert perform("tests.testing_app:unregistered", 2, allow=APP) == 4
    assert perform("tests.testing_app:welcome", 1) is None  # registered: always allowed
    with pytest.raises(TaskNotFound, match="no 'missing'"):
        perform("tests.testing_app:missing", allow=APP)


def test_a_batch_keeps_its_jobs_when_it_ends_and_none_if_it_raises(clock: FakeClock) -> None:
    with recording(clock=clock) as q:
        with app.queue.batch() as batch:
            first = batch.enqueue("m:f", 1)
            assert q.jobs == []
        with pytest.raises(KeyError), app.queue.batch() as batch:
            batch.enqueue("m:f", 2)
            raise KeyError("x")
    assert [job.id for job in q.jobs] == [first]


# --- the same checks and payloads as the real Queue ---------------------------------------

AWARE = datetime(2026, 1, 1, tzinfo=UTC)
DEEP: list[Any] = []
for _ in range(150):
    DEEP = [DEEP]
BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("task name", ("not-a-task",), {}),
    ("task type", (42,), {}),
    ("queue name", ("m:f",), {"queue": "no spaces"}),
    ("object arg", ("m:f", object()), {}),
    ("set arg", ("m:f", {1, 2}), {}),
    ("datetime kwarg", ("m:f",), {"when": AWARE}),
    ("nan", ("m:f", float("nan")), {}),
    ("negative delay", ("m:f",), {"delay": -1}),
    ("bool delay", ("m:f",), {"delay": True}),
    ("text delay", ("m:f",), {"delay": "5"}),
    ("naive at", ("m:f",), {"at": datetime(2026, 1, 1)}),
    ("delay and at", ("m:f",), {"delay": 1, "at": AWARE}),
    ("retries", ("m:f",), {"retries": -1}),
    ("float retries", ("m:f",), {"retries": 1.5}),
    ("timeout", ("m:f",), {"timeout": 0}),
    ("job id", ("m:f",), {"job_id": "no spaces"}),
    ("payload nested too deep", ("m:f", DEEP), {}),
]


@pytest.fixture
def real(clock: FakeClock) -> Queue:
    """A real Queue on a port nothing listens on: it fails its checks before any I/O."""
    return Queue(redis.Redis(host="127.0.0.1", port=9), "parity", clock=clock)


def _error(enqueue: Callable[..., str], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    with pytest.raises(PayloadError) as info:
        enqueue(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(("case", "args", "kwargs"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_a_bad_enqueue_fails_exactly_as_on_the_real_queue(
    case: str, args: tuple[Any, ...], kwargs: dict[str, Any], real: Queue, double: RecordingQueue
) -> None:
    expected = _error(real.enqueue, args, kwargs)
    assert _error(double.enqueue, args, kwargs) == expected
    with double.batch() as batch:
        assert _error(batch.enqueue, args, kwargs) == expected
    assert double.jobs == []
    with recording() as q:  # and so does the real Queue, switched
        assert _error(real.enqueue, args, kwargs) == expected
    assert q.jobs == []


def test_a_payload_over_the_limit_is_refused_by_the_queue_its_batch_and_the_doubles(
    real: Queue, double: RecordingQueue
) -> None:
    # The byte count in the message depends on the clock's digits: match the limit only.
    too_big = "x" * MAX_PAYLOAD_BYTES
    inline_queue = InlineQueue(APP)
    with double.batch() as batch, inline_queue.batch() as inline_batch, real.batch() as sent:
        for enqueuer in (real, sent, double, batch, inline_queue, inline_batch):
            with pytest.raises(PayloadError, match=r"over the limit of 1,048,576 \(max_pay"):
                enqueuer.enqueue("m:f", too_big)
    with recording() as routed, pytest.raises(PayloadError, match="over the limit"):
        real.enqueue("m:f", too_big)
    assert double.jobs == inline_queue.jobs == routed.jobs == []


def test_the_queue_its_batch_and_the_doubles_share_one_enqueue(real: Queue) -> None:
    # One signature and one preparation: a check added to enqueue reaches all five.
    owners = [Queue, EnqueueBatch, RecordingQueue, RecordingBatch, InlineQueue]
    assert {owner.enqueue for owner in owners} == {Enqueuer.enqueue}
    assert {inspect.signature(owner.enqueue) for owner in owners} == {
        inspect.signature(Enqueuer.enqueue)
    }


@pytest.mark.parametrize(("case", "args", "kwargs"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_a_bad_enqueue_in_a_real_batch_fails_as_on_the_queue(
    case: str, args: tuple[Any, ...], kwargs: dict[str, Any], real: Queue
) -> None:
    expected = _error(real.enqueue, args, kwargs)
    with real.batch() as batch:  # nothing collected: the batch sends nothing (no Redis here)
        assert _error(batch.enqueue, args, kwargs) == expected


@pytest.mark.parametrize(
    "options",
    [{}, {"delay": 90.5}, {"at": AWARE + timedelta(days=200), "retries": 0, "timeout": 2.5}],
)
def test_the_recorded_payload_is_what_the_real_queue_writes(
    options: dict[str, Any], real: Queue, double: RecordingQueue
) -> None:
    args, kwargs = (1, "é", None), {"d": {"k": [True]}}
    settings = {name: options.get(name) for name in ("delay", "at", "retries", "timeout")}
    job = prepare(real.clock.now(), "m:f", args, kwargs, queue="q", job_id="j1", **settings)
    _, argv = real.enqueue_call(job.payload, job.due)
    double.enqueue("m:f", *args, queue="q", job_id="j1", **kwargs, **options)
    [recorded] = double.jobs
    due = "" if recorded.run_at is None else f"{recorded.run_at.timestamp():.3f}"
    assert [recorded.payload, recorded.queue, due] == argv[:3]


# --- inline -------------------------------------------------------------------------------


def test_inline_runs_each_job_at_once_with_current_job_set() -> None:
    with inline(APP) as q:
        app.sign_up(3)
    assert app.CALLS == [("welcome", 3), ("follow_up", 3)]  # the delay is not waited for
    [seen] = app.SEEN
    assert seen is not None
    welcome = q.jobs[0]
    assert (seen.id, seen.task, seen.queue, seen.attempt) == (
        welcome.id,
        welcome.task,
        "mailers",
        1,
    )
    assert (seen.schedule, seen.scheduled_for) == (None, None)
    assert q.performed == q.jobs and q.pending == [] and current_job() is None
    assert q.jobs[1].run_at is not None


def test_inline_runs_async_tasks_and_nested_enqueues_depth_first() -> None:
    with inline(APP) as q:
        app.queue.enqueue("tests.testing_app:slow_hello", "ana")
        app.queue.enqueue("tests.testing_app:chain", 2)
    [seen] = app.SEEN
    assert seen is not None and seen.task == "tests.testing_app:slow_hello"
    assert app.CALLS == [("chain", 2), ("chain", 1), ("chain", 0)]
    assert len(q.performed) == 4


def test_inline_lets_the_task_exception_out_of_enqueue() -> None:
    with inline(APP), pytest.raises(ValueError, match="no mail today"):
        app.queue.enqueue("tests.testing_app:broken", "no mail today")
    assert current_job() is None


def test_an_inline_batch_runs_its_jobs_when_the_block_ends() -> None:
    with inline(APP), app.queue.batch() as batch:
        batch.enqueue("tests.testing_app:follow_up", 1)
        batch.enqueue("tests.testing_app:follow_up", 2)
        assert app.CALLS == []
    assert app.CALLS == [("follow_up", 1), ("follow_up", 2)]


# --- switching and restoring --------------------------------------------------------------


def _methods() -> dict[str, object]:
    names = (*ROUTED, "retry_dead", "from_url")
    return {name: inspect.getattr_static(Queue, name) for name in names}


def test_the_switches_restore_every_queue_method_even_after_an_error() -> None:
    before = _methods()
    with pytest.raises(KeyError), recording() as outer:
        app.queue.enqueue("m:outer")
        with inline(APP) as inner:
            app.queue.enqueue("tests.testing_app:follow_up", 1)
            assert _methods() != before
        app.queue.enqueue("m:back")
        raise KeyError("x")
    assert _methods() == before
    assert [job.task for job in outer.jobs] == ["m:outer", "m:back"]
    assert [job.args for job in inner.jobs] == [[1]]


def test_a_double_works_on_its_own_and_switches_nothing(clock: FakeClock) -> None:
    double = InlineQueue(APP, clock)  # for code that is handed its queue
    double.enqueue("tests.testing_app:follow_up", 1)
    assert app.CALLS == [("follow_up", 1)]
    with pytest.raises(redis.ConnectionError):  # the application's Queue still goes to Redis
        app.queue.depth()


def test_importing_the_helpers_imports_no_redis_client() -> None:
    code = "import sys, scheduler.testing; print('redis' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr


# --- perform ------------------------------------------------------------------------------


def test_perform_runs_a_task_as_a_worker_would() -> None:
    fire = utc("2026-03-29T01:30:00")
    result = perform(
        "tests.testing_app:welcome",
        5,
        queue="mailers",
        attempt=2,
        schedule="nightly",
        scheduled_for=fire,
        job_id="abc",
    )
    assert result is None and app.CALLS == [("welcome", 5)]
    [seen] = app.SEEN
    assert seen is not None
    assert (seen.id, seen.queue, seen.attempt, seen.retries) == ("abc", "mailers", 2, 3)
    assert (seen.schedule, seen.scheduled_for) == ("nightly", fire)
    assert current_job() is None


def test_perform_awaits_async_tasks_even_inside_a_running_event_loop() -> None:
    assert perform("tests.testing_app:slow_hello", "ana") == "hello ana"

    async def from_async_code() -> Any:
        return perform("tests.testing_app:slow_hello", "bob", pause=0.01)

    assert asyncio.run(from_async_code()) == "hello bob"
    assert [seen.task for seen in app.SEEN if seen] == ["tests.testing_app:slow_hello"] * 2


def test_perform_cancels_an_async_task_at_its_timeout() -> None:
    with pytest.raises(JobTimeout, match=r"past its timeout of 0\.05s"):
        perform("tests.testing_app:slow_hello", "x", pause=5, timeout=0.05)


def test_perform_checks_the_payload_like_enqueue() -> None:
    with pytest.raises(PayloadError, match="JSON-serialisable"):
        perform("tests.testing_app:welcome", object())
    with pytest.raises(PayloadError, match="invalid field"):
        perform("tests.testing_app:welcome", 1, attempt=0)
    with pytest.raises(ValueError, match="scheduled_for must be an aware"):
        perform("tests.testing_app:welcome", 1, scheduled_for=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="whole second"):
        perform("tests.testing_app:welcome", 1, scheduled_for=utc("2026-01-01T00:00:00.5"))
    assert app.CALLS == []


# --- fires_between ------------------------------------------------------------------------

MADRID = parse_schedule(
    """
timezone: Europe/Madrid
jobs:
  nightly: {task: "tests.testing_app:welcome", cron: "30 2 * * *", args: [9], queue: mailers}
  half-hourly: {task: "tests.testing_app:follow_up", cron: "*/30 * * * *", args: [1]}
  quarter: {task: "tests.testing_app:follow_up", every: 15m, args: [2]}
  paused: {task: "tests.testing_app:follow_up", every: 1h, enabled: false}
  weekly: {task: "tests.testing_app:follow_up", cron: "0 9 * * MON", timezone: America/New_York}
""",
    "madrid.yml",
)


def local(job: str, start: str, end: str) -> list[str]:
    return [fire.local.isoformat() for fire in fires_between(MADRID, utc(start), utc(end), job)]


def test_fires_between_across_the_spring_forward_in_madrid() -> None:
    # 2026-03-29 01:00:00Z: the clock jumps from 02:00 CET (+01:00) to 03:00 CEST (+02:00).
    window = ("2026-03-28T23:00:00", "2026-03-29T02:00:00")
    assert local("nightly", *window) == ["2026-03-29T03:30:00+02:00"]  # 02:30 moved on 1 h
    assert local("half-hourly", *window) == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T00:30:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:00 and 02:30 do not exist
        "2026-03-29T03:30:00+02:00",
    ]
    assert len(local("quarter", *window)) == 12  # every: elapsed time, DST changes nothing


def test_fires_between_across_the_fall_back_in_madrid() -> None:
    # 2026-10-25 01:00:00Z: the clock goes back from 03:00 CEST (+02:00) to 02:00 CET (+01:00).
    window = ("2026-10-24T23:00:00", "2026-10-25T03:00:00")
    assert local("nightly", *window) == ["2026-10-25T02:30:00+02:00"]  # first pass only
    assert local("half-hourly", *window) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T01:30:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",  # the clock reads 02:00 again: both passes fire
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:30:00+01:00",
    ]


def test_fires_between_includes_start_excludes_end_and_sorts_by_time_then_job() -> None:
    start, end = utc("2026-03-30T00:30:00"), utc("2026-03-30T01:00:00")
    fires = fires_between(MADRID, start, end)
    assert [(f.job, f.at.isoformat()) for f in fires] == [
        ("half-hourly", "2026-03-30T00:30:00+00:00"),
        ("nightly", "2026-03-30T00:30:00+00:00"),
        ("quarter", "2026-03-30T00:30:00+00:00"),
        ("quarter", "2026-03-30T00:45:00+00:00"),
    ]
    assert fires[1] == FireTime(
        "nightly", start, datetime.fromisoformat("2026-03-30T02:30:00+02:00")
    )
    later = fires_between(MADRID, start + timedelta(microseconds=1), end, ["quarter", "nightly"])
    assert [f.at for f in later] == [utc("2026-03-30T00:45:00")]
    assert fires_between(MADRID, start, start) == []


def test_fires_between_reads_local_times_in_each_jobs_zone_and_skips_disabled_jobs() -> None:
    start, end = utc("2026-11-23T00:00:00"), utc("2026-11-24T00:00:00")
    [weekly] = fires_between(MADRID, start, end, "weekly")
    assert weekly.local.isoformat() == "2026-11-23T09:00:00-05:00"
    assert weekly.at == utc("2026-11-23T14:00:00")
    assert fires_between(MADRID, start, end, "paused") == []
    assert len(fires_between(MADRID, start, end, "paused", include_disabled=True)) == 24


def test_fires_between_refuses_naive_reversed_unknown_and_huge_windows() -> None:
    start = utc("2026-01-01T00:00:00")
    with pytest.raises(ValueError, match="start must be an aware datetime"):
        fires_between(MADRID, datetime(2026, 1, 1), start)
    with pytest.raises(ValueError, match="is before start"):
        fires_between(MADRID, start, start - timedelta(seconds=1))
    with pytest.raises(UnknownJob, match="did you mean 'nightly'"):
        fires_between(MADRID, start, start, "nighty")
    with pytest.raises(ValueError, match="more than 100 fires"):
        fires_between(MADRID, start, start + timedelta(days=2), limit=100)


def test_fires_between_loads_a_schedule_file(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text("jobs:\n  tick: {task: 'a:b', every: 1h}\n")
    fires = fires_between(path, utc("2026-01-01T00:00:00"), utc("2026-01-01T02:00:00"))
    assert [f.local.isoformat() for f in fires] == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T01:00:00+00:00",
    ]


# --- perform_fire -------------------------------------------------------------------------


def test_perform_fire_runs_the_job_with_the_payload_the_dispatcher_would_enqueue() -> None:
    [fire] = fires_between(
        MADRID, utc("2026-03-28T23:00:00"), utc("2026-03-29T02:00:00"), "nightly"
    )
    perform_fire(MADRID, fire.job, fire.at)
    assert app.CALLS == [("welcome", 9)]
    [seen] = app.SEEN
    assert seen is not None
    assert (seen.schedule, seen.scheduled_for, seen.queue) == ("nightly", fire.at, "mailers")


def test_perform_fire_allows_the_schedules_tasks_and_refuses_other_times() -> None:
    schedule = parse_schedule(
        "jobs:\n  double: {task: 'tests.testing_app:unregistered', every: 1h, args: [21]}\n"
    )
    assert perform_fire(schedule, "double", utc("2026-01-01T05:00:00")) == 42
    with pytest.raises(TaskNotAllowed):
        perform_fire(schedule, "double", utc("2026-01-01T05:00:00"), allow=allow_list())
    with pytest.raises(ValueError, match=r"not a fire time of job 'double' \(the next one is "):
        perform_fire(schedule, "double", utc("2026-01-01T05:30:00"))
    with pytest.raises(UnknownJob):
        perform_fire(schedule, "triple", utc("2026-01-01T05:00:00"))


def test_perform_fire_refuses_a_job_that_runs_on_celery() -> None:
    schedule = parse_schedule("jobs:\n  report: {celery: myproj.tasks.report, every: 1h}\n")
    with pytest.raises(ValueError, match=r"job 'report' runs on celery \(myproj.tasks.report\)"):
        perform_fire(schedule, "report", utc("2026-01-01T05:00:00"))


def test_allow_list_mirrors_the_worker_options(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text("jobs:\n  a: {task: 'billing.jobs:invoice', every: 1h}\n")
    rules = allow_list("tests", schedule=path)
    assert rules.is_allowed("billing.jobs:invoice")
    assert rules.is_allowed("tests.testing_app:unregistered")
    assert not rules.is_allowed("billing.jobs:other")
    assert not rules.is_allowed("testsuite:x")


# --- the pytest plugin --------------------------------------------------------------------


def test_the_plugin_is_opt_in() -> None:
    assert [ep for ep in entry_points(group="pytest11") if ep.value.startswith("scheduler")] == []


PLUGIN_CONFTEST = """
import pytest
from scheduler.testing import allow_list

pytest_plugins = ["scheduler.pytest_plugin"]


@pytest.fixture
def scheduler_allow():
    return allow_list("shop")
"""

PLUGIN_APP = """
from scheduler import Queue

queue = Queue.from_url("redis://127.0.0.1:9/0")
DONE = []


def order(n):
    queue.enqueue("shop:ship", n, queue="shipping")


def ship(n):
    DONE.append(n)
"""

PLUGIN_TESTS = """
import shop
from scheduler.queue import Queue

ENQUEUE = Queue.enqueue


def test_recording(scheduler_queue):
    shop.order(1)
    scheduler_queue.assert_enqueued("shop:ship", 1, queue="shipping")
    assert shop.DONE == []
    assert scheduler_queue.drain() == 1
    assert shop.DONE == [1]


def test_inline(scheduler_inline):
    shop.order(2)
    assert shop.DONE[-1] == 2 and scheduler_inline.performed


def test_restored():
    assert Queue.enqueue is ENQUEUE
"""


def test_the_pytest_fixtures_record_run_inline_and_clean_up(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PLUGIN_CONFTEST)
    pytester.makepyfile(shop=PLUGIN_APP, test_shop=PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=3)


def test_a_job_id_recorded_twice_within_the_dedupe_window_is_one_job(
    double: RecordingQueue,
) -> None:
    assert double.enqueue("tests.testing_app:follow_up", 1, job_id="j1") == "j1"
    with double.batch() as batch:
        batch.enqueue("tests.testing_app:follow_up", 1, job_id="j1")
    assert [job.id for job in double.jobs] == ["j1"]
