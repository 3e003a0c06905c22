"""The payload text the leader sends for a fire is the one ``fire_payload`` defines."""

from __future__ import annotations

import json

import pytest

from scheduler.dispatch.fires import JobFires
from scheduler.enqueue import fire_payload
from scheduler.jobs import encode
from scheduler.schedule.loader import parse_schedule

SCHEDULE = """
jobs:
  plain:
    task: app.tasks:plain
    every: 1m
  full:
    task: app.tasks:full
    cron: "*/5 * * * *"
    queue: reports
    args: [1, "zwei", {"drei": 3.5}]
    kwargs: {"name": "Zoë ☃", "quote": "\\"x\\""}
    retries: 7
    timeout: 12s
    timeout_hard: 30s
    expires: 90s
  expires-late:
    task: app.tasks:late
    every: 10s
    expires: 5s
"""


@pytest.mark.parametrize("name", ["plain", "full", "expires-late"])
@pytest.mark.parametrize("now", [1_767_225_660.0, 1_767_225_661.123456, 1_767_225_662.9999])
def test_a_fires_text_is_the_encoded_fire_payload_with_its_own_id(name: str, now: float) -> None:
    job = parse_schedule(SCHEDULE).jobs[name]
    job_id, text = JobFires(job).payload(1_767_225_660, now)
    expected = fire_payload(job, 1_767_225_660, now)
    expected["id"] = job_id
    assert json.loads(text) == json.loads(encode(expected))
    assert json.loads(text)["enqueued_at"] == round(now, 3)


def test_each_fire_gets_a_new_id() -> None:
    fires = JobFires(parse_schedule(SCHEDULE).jobs["plain"])
    assert len({fires.payload(60 * n, 60.0 * n)[0] for n in range(100)}) == 100
