"""What `scheduler import` writes reads back exactly: names, text and JSON values
(docs/migrating.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.migrate.entries import Converted, Entry, Unmappable, job_names, json_value
from scheduler.migrate.render import render
from scheduler.schedule.loader import parse_schedule

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Drawing nested JSON is slow on a loaded machine; no deadline, for the same reason.
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.text(min_size=1), st.lists(JSON, max_size=4), st.dictionaries(st.text(), JSON))
def test_text_args_and_kwargs_read_back_as_written(
    text: str, args: list[Any], kwargs: dict[str, Any]
) -> None:
    entry = Entry("job", {"task": "a.b:c", "every": "1m", "description": text})
    entry.settings.update({"args": args, "kwargs": kwargs})
    job = parse_schedule(render(Converted([text], [entry]))).jobs["job"]
    assert (job.description, list(job.args), dict(job.kwargs)) == (text, args, kwargs)


@SETTINGS
@given(st.lists(st.text(), min_size=1, max_size=6, unique=True))
def test_any_source_names_become_distinct_valid_job_names(names: list[str]) -> None:
    entries = [Entry(name, {"task": "a.b:c", "every": "1m"}) for name in names]
    schedule = parse_schedule(render(Converted([], entries)))
    assert list(schedule.jobs) == list(job_names(names).values())
    assert len(schedule.jobs) == len(names)


def test_names_keep_what_is_valid_and_replace_the_rest() -> None:
    assert job_names(["report", "add every 30 seconds", "add-every-30-seconds", "é", ""]) == {
        "report": "report",
        "add every 30 seconds": "add-every-30-seconds",
        "add-every-30-seconds": "add-every-30-seconds-2",
        "é": "job",
        "": "job-2",
    }


def test_a_file_of_comments_only_is_still_a_valid_schedule() -> None:
    entry = Entry("x", {"task": "a.b:c"}, skipped="no rule")
    text = render(Converted(["header"], [entry]))
    assert text == "# header\njobs: {}\n  # not converted: no rule\n  # x:\n  #   task: a.b:c\n"
    assert parse_schedule(text).jobs == {}


def test_characters_yaml_reads_as_breaks_or_refuses_are_escaped() -> None:
    # U+2028 written raw inside quotes broke the file (YAML reads it as a line break).
    texts = ["\u2028", "a\u2029b", "\x85", "\ufeff", "\x00\x7f", "a\nb\t", '"\\']
    entry = Entry("job", {"task": "a.b:c", "every": "1m", "args": texts, "kwargs": {"\u2028": 1}})
    job = parse_schedule(render(Converted([], [entry]))).jobs["job"]
    assert (list(job.args), dict(job.kwargs)) == (texts, {"\u2028": 1})

    with pytest.raises(Unmappable, match="lone surrogate"):
        json_value({"k": ["\ud800"]}, "args")
