"""rq: and dramatiq: jobs in the schedule file (docs/targets.md): what each reads, its
default queue, and each setting it cannot honour as a problem at its position."""

from __future__ import annotations

import pytest

from scheduler.errors import ScheduleInvalid
from scheduler.schedule.loader import parse_schedule

RQ = "jobs:\n  r:\n    rq: myproj.search.reindex\n    every: 1m\n"  # next key on line 5
DRAMATIQ = "jobs:\n  d:\n    dramatiq: send_digest\n    every: 1m\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(text, "s.yml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RQ + "    overlap: skip\n    expires: 1m\n",
            "s.yml:5:5: job 'r': an rq job cannot honour overlap: overlap: skip with expires",
        ),
        (
            DRAMATIQ + "    overlap: skip\n",
            "s.yml:5:5: job 'd': a dramatiq job cannot honour overlap: overlap: skip with "
            "retries: 3",
        ),
        (
            DRAMATIQ + "    overlap: skip\n    retries: 0\n    jitter: 5s\n",
            "s.yml:5:5: job 'd': a dramatiq job cannot honour overlap: overlap: skip with jitter",
        ),
        (
            "defaults: {overlap: skip, expires: 1h}\n" + RQ,
            "s.yml:1:12: job 'r': an rq job cannot honour overlap",
        ),
        (RQ + "    dramatiq: x\n", "s.yml:5:5: job 'r': rq and dramatiq: a job runs one"),
        (RQ.replace("myproj.search.reindex", "myproj:reindex"), "s.yml:3:9: job 'r': rq: 'myproj"),
        (RQ.replace("myproj.search.reindex", "reindex"), "s.yml:3:9: job 'r': rq: 'reindex' is"),
        (DRAMATIQ.replace("send_digest", "'a b'"), "s.yml:3:15: job 'd': dramatiq: 'a b' is"),
        (RQ + "    result_ttl: soon\n", "s.yml:5:17: job 'r': result_ttl:"),
        (
            DRAMATIQ + "    result_ttl: 1h\n",
            "s.yml:5:5: job 'd': result_ttl applies to rq jobs only, not dramatiq ones",
        ),
        (
            "jobs:\n  t: {task: a:b, every: 1m, failure_ttl: 1d}\n",
            "s.yml:2:29: job 't': failure_ttl applies to rq jobs only, not task ones",
        ),
        ("targets: {rq: {namespace: x}}\n" + RQ, "s.yml:1:16: unknown key 'namespace'"),
        ("targets: {dramatiq: {prefix: x}}\n" + DRAMATIQ, "s.yml:1:22: unknown key 'prefix'"),
        (
            "targets: {rq: {broker: localhost}}\n" + RQ,
            "s.yml:1:24: targets: rq: broker: 'localhost' is not a URL",
        ),
    ],
)
def test_an_rq_or_dramatiq_setting_that_cannot_apply_is_a_problem_at_its_position(
    text: str, expected: str
) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_rq_and_dramatiq_jobs_read_their_settings_and_queue_default() -> None:
    text = (
        "targets: {rq: {prefix: app-rq}, dramatiq: {namespace: app-dq, broker: 'redis://r/1'}}\n"
        "defaults: {result_ttl: 1h}\n"
        "jobs:\n"
        "  r: {rq: myproj.search.reindex, every: 1m, failure_ttl: 0, retries: 1}\n"
        "  d: {dramatiq: send_digest, every: 1m, queue: mail, jitter: 30s}\n"
    )
    schedule = parse_schedule(text)
    r, d = schedule.jobs["r"], schedule.jobs["d"]
    assert (r.target, r.task, r.queue, r.retries) == ("rq", "myproj.search.reindex", "default", 1)
    assert r.options == {"result_ttl": 3600, "failure_ttl": 0}
    assert (d.target, d.task, d.queue, d.jitter, d.options) == (
        "dramatiq",
        "send_digest",
        "mail",
        30,
        {},
    )
    assert schedule.targets == {
        "rq": {"prefix": "app-rq"},
        "dramatiq": {"namespace": "app-dq", "broker": "redis://r/1"},
    }


def test_overlap_skip_loads_for_rq_and_for_dramatiq_without_retries_or_jitter() -> None:
    text = (
        "defaults: {overlap: skip}\n"
        "jobs:\n"
        "  r: {rq: myproj.search.reindex, every: 1m, retries: 2, jitter: 5s}\n"
        "  d: {dramatiq: send_digest, every: 1m, retries: 0}\n"
    )
    jobs = parse_schedule(text, "s.yml").jobs
    assert (jobs["r"].overlap, jobs["d"].overlap) == ("skip", "skip")
