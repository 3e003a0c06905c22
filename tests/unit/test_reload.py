"""Schedule reloads: a refused version is kept until a good one loads, published and read
back safely; replicas a second apart after an edit are no divergence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.errors import printable
from scheduler.ops.status import reload_refusal
from scheduler.schedule.watch import SHOWN_PROBLEMS, Divergence, Refusal, ScheduleFile

GOOD = """\
jobs:
  tick:
    task: app.tasks:tick
    every: 1m
"""
BROKEN = GOOD + "  late:\n    task: app.tasks:tick\n    every: 1x\n"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "schedule.yml"
    file.write_text(GOOD)
    return file


def test_a_refused_version_is_held_until_a_good_one_loads(path: Path) -> None:
    source = ScheduleFile(str(path))
    digest = source.schedule.digest
    path.write_text(BROKEN)
    assert source.reload(force=True) is None
    assert source.refused is not None
    [problem] = source.refused.problems
    assert "every: '1x' is not a duration" in problem and problem.startswith(str(path))
    assert source.schedule.digest == digest  # the old schedule stays in force
    path.write_text(GOOD.replace("1m", "2m"))
    assert source.reload(force=True) is not None
    assert source.refused is None


def test_a_missing_file_is_refused_and_its_return_clears_it(path: Path) -> None:
    source = ScheduleFile(str(path))
    path.unlink()
    source.reload()
    assert source.refused is not None and source.refused.problems[0].endswith(
        "schedule.yml: no such file"
    )
    path.write_text(GOOD)  # back as it was
    source.reload()
    assert source.refused is None


def test_a_refusal_reads_back_with_its_problems_made_printable() -> None:
    problems = tuple(f"s.yml:{i}:3: job 'x\x1b[2J\u202e': bad" for i in range(30))
    found = reload_refusal(Refusal(problems).encode(1_767_225_600.0))
    assert found is not None
    assert found["at"] == 1_767_225_600.0 and found["count"] == 30
    assert len(found["problems"]) == SHOWN_PROBLEMS
    assert found["problems"][0] == "s.yml:0:3: job 'x\\x1b[2J\\u202e': bad"
    assert reload_refusal(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        json.dumps({"at": 1.0, "count": 1, "problems": "one"}),
        json.dumps({"at": 1e300, "count": 1, "problems": []}),
        '{"at": NaN, "count": 1, "problems": []}',
        '{"at": 1.0, "count": 1e400, "problems": []}',
        json.dumps({"count": 1, "problems": []}),
    ],
)
def test_a_hostile_refusal_record_reads_as_unreadable(raw: str) -> None:
    assert reload_refusal(raw) == {
        "at": None,
        "count": 1,
        "problems": ["(the record in Redis is unreadable)"],
    }


def test_printable_escapes_control_and_format_characters_only() -> None:
    assert printable("naïve ok — 時間") == "naïve ok — 時間"
    assert printable("a\nb\tc\x07\x9b\u200b") == "a\\nb\\tc\\x07\\x9b\\u200b"


def test_a_difference_is_reported_once_it_lasted_the_grace_once_per_pair() -> None:
    divergence = Divergence(grace=5.0)
    steps = [  # (the leader's digest, ours, monotonic second, warn?)
        ("a", "a", 0.0, False),
        ("b", "a", 1.0, False),  # the leader reloaded an edit first
        ("b", "b", 1.6, False),  # and so did we: no alarm
        ("c", "b", 10.0, False),  # a lasting difference starts
        ("c", "b", 14.9, False),
        ("c", "b", 15.0, True),
        ("c", "b", 30.0, False),  # said once
        ("d", "b", 31.0, False),  # another difference: its own grace
        ("d", "b", 36.0, True),
        ("d", "d", 37.0, False),
        (None, "d", 60.0, False),  # the leader's record is gone: nothing to compare
    ]
    for theirs, ours, mono, warn in steps:
        assert divergence.warn(theirs, ours, mono) is warn, (theirs, ours, mono)
