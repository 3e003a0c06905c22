"""How the schedule's YAML is read: YAML 1.2 scalars, tags, limits, merge keys, and fuzz.

Whatever the input, loading raises ScheduleInvalid (with positions) or returns a Schedule:
never another exception, never a traceback.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.errors import Problem, ScheduleInvalid
from scheduler.schedule.loader import parse_schedule
from scheduler.schedule.yamlnodes import Mapping, Scalar, Sequence, compose, resolve_plain
from tests.examples import examples

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / "schedule.example.yml").read_text()
EVERY = "jobs:\n  a:\n    task: app.jobs:run\n    every: 1m\n"


def kwargs_of(yaml_kwargs: str) -> dict[str, Any]:
    return dict(parse_schedule(f"{EVERY}    kwargs: {yaml_kwargs}\n").jobs["a"].kwargs)


def problems_of(text: str | bytes) -> list[Problem]:
    with pytest.raises(ScheduleInvalid) as caught:
        parse_schedule(text, "f.yml")
    return caught.value.problems


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("0", 0),
        ("-17", -17),
        ("+5", 5),
        ("010", 10),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("6.02E+23", 6.02e23),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("10:30", "10:30"),
        ("1:20:30", "1:20:30"),
        ("2024-01-01", "2024-01-01"),
        ("2024-01-01T09:00:00Z", "2024-01-01T09:00:00Z"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("0X1F", "0X1F"),
        ("+.5.5", "+.5.5"),
        ("nullable", "nullable"),
        ("<<", "<<"),
    ],
)
def test_plain_scalar_is_read_by_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    resolved = resolve_plain(text)
    assert (type(resolved), resolved) == (type(value), value)


def test_nan_is_a_float_that_json_refuses() -> None:
    assert math.isnan(resolve_plain(".NaN"))
    assert "finite" in problems_of(EVERY + "    args: [.nan]\n")[0].message


def test_quoted_scalars_are_text() -> None:
    assert kwargs_of("""{a: "10", b: 'true', c: "", d: '~', e: "0x1F"}""") == {
        "a": "10",
        "b": "true",
        "c": "",
        "d": "~",
        "e": "0x1F",
    }


def test_core_tags_are_honoured() -> None:
    text = "{a: !!str 10, b: !!int '10', c: !!float 1, d: !!bool 'true', e: !!null '', f: ! 010}"
    found = kwargs_of(text)
    assert found == {"a": "10", "b": 10, "c": 1.0, "d": True, "e": None, "f": "010"}
    assert isinstance(found["c"], float)
    assert kwargs_of("!!map {a: !!seq [1]}") == {"a": [1]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int ten", "!!int does not fit 'ten'"),
        ("!!bool 1", "!!bool does not fit '1'"),
        ("!!float x", "!!float does not fit 'x'"),
        ("!!timestamp 2024-01-01", "tag !!timestamp is not allowed on a scalar"),
        ("!!omap [a: 1]", "tag !!omap is not allowed on a list"),
        ("!!set {a, b}", "tag !!set is not allowed on a mapping"),
        ("!!seq {a: 1}", "tag !!seq is not allowed on a mapping"),
        ("!local x", "tag !local is not allowed on a scalar"),
        ("!!python/tuple [1]", "tag !!python/tuple is not allowed on a list"),
    ],
)
def test_other_tags_are_refused_with_their_position(value: str, message: str) -> None:
    problem = problems_of(f"{EVERY}    args: [{value}]\n")[0]
    assert (problem.line, problem.column, problem.job) == (5, 12, "a")
    assert problem.message.startswith(message)


def test_nesting_of_64_levels_is_the_limit() -> None:
    assert compose("[" * 64 + "]" * 64, "f")[1] == []
    root, problems = compose("[" * 65 + "]" * 65, "f")
    assert root is None
    assert [(p.line, p.column, p.message) for p in problems] == [
        (1, 65, "nested deeper than 64 levels")
    ]


def test_a_million_open_brackets_meet_the_loaders_own_limit() -> None:
    # PyYAML 6.0.4 stops at its own limit (a thousand levels) before the composer sees
    # the 65th; the loader's limit and position hold whatever the library version.
    problems = problems_of("[" * 1_000_000)
    assert [(p.line, p.column, p.message) for p in problems] == [
        (1, 65, "nested deeper than 64 levels")
    ]


def test_a_syntax_error_after_deep_nesting_reports_the_nesting() -> None:
    problems = problems_of("a:\n  b: " + "[" * 70 + "\t@")
    assert [(p.line, p.column, p.message) for p in problems] == [
        (2, 68, "nested deeper than 64 levels")
    ]


def test_aliases_count_towards_the_nesting_limit() -> None:
    text = "deep: &d " + "[" * 60 + "]" * 60 + "\nmore: [[[[[*d]]]]]\n"
    problem = problems_of(text)[0]
    assert (problem.line, problem.column, problem.message) == (
        2,
        12,
        "aliases nest deeper than 64 levels",
    )


def test_moderate_alias_use_is_allowed() -> None:
    items = ", ".join(str(i) for i in range(1000))
    text = f"x-big: &big [{items}]\n{EVERY}    args: [{', '.join(['*big'] * 50)}]\n"
    args = parse_schedule(text).jobs["a"].args
    assert len(args) == 50
    assert args[0] == list(range(1000))


def test_aliases_expanding_past_the_limit_are_refused() -> None:
    items = ", ".join(str(i) for i in range(1000))
    text = f"x-big: &big [{items}]\n{EVERY}    args: [{', '.join(['*big'] * 200)}]\n"
    problem = problems_of(text)[0]
    assert (problem.line, problem.message) == (
        6,
        "aliases expand to over 100000 nodes; write it out",
    )


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: &a [1, *a]\n", (1, 11), "alias *a is inside its own anchor &a"),
        ("a: *b\n", (1, 4), "unknown alias *b (define &b before using it)"),
        ("? [a, b]\n: 1\n", (1, 3), "a mapping key must be a single value, not a collection"),
        ("a: 1\nb: 2\na: 3\n", (3, 1), "duplicate key 'a' (first at 1:1)"),
        ("a: 1\n'a': 2\n", (2, 1), "duplicate key 'a' (first at 1:1)"),
        (
            "a: 1\n...\n---\nb: 2\n",
            (3, 1),
            "several YAML documents (---); a schedule is one document",
        ),
    ],
)
def test_structural_problems_have_positions(
    text: str, where: tuple[int, int], message: str
) -> None:
    _, problems = compose(text, "f")
    assert [((p.line, p.column), p.message) for p in problems] == [(where, message)]


def test_duplicate_keys_deep_inside_a_job_name_the_job() -> None:
    problem = problems_of(EVERY + "    kwargs: {x: {y: 1, y: 2}}\n")[0]
    assert (problem.line, problem.column, problem.job) == (5, 24, "a")
    assert problem.message == "duplicate key 'y' (first at 5:18)"


def test_merge_key_fills_in_without_overriding() -> None:
    text = "{<<: [{a: 1, b: 1}, {a: 2, b: 2, c: 2}], b: 3}"
    assert kwargs_of(text) == {"b": 3, "a": 1, "c": 2}


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert kwargs_of("{'<<': {a: 1}}") == {"<<": {"a": 1}}


def test_merge_key_needs_mappings() -> None:
    problem = problems_of(EVERY + "    kwargs: {<<: [1]}\n")[0]
    assert (problem.line, problem.column, problem.job) == (5, 19, "a")
    assert problem.message == "<< (merge) takes a mapping or a list of mappings"


def test_top_level_x_keys_hold_anchors_and_are_ignored() -> None:
    text = "x-anything: {whatever: [1, 2]}\nx-task: &task app.jobs:run\njobs: {}\n"
    assert dict(parse_schedule(text).jobs) == {}


def test_text_and_bytes_read_alike_with_or_without_bom_and_crlf() -> None:
    text = EVERY + "    tz: UTC\n"
    variants: list[str | bytes] = [
        text,
        text.encode(),
        ("\ufeff" + text).encode(),
        text.replace("\n", "\r\n"),
    ]
    found = {tuple(str(p) for p in problems_of(variant)) for variant in variants}
    assert found == {("f.yml:5:5: job 'a': unknown key 'tz' (did you mean 'timezone'?)",)}


def test_positions_count_characters_not_bytes() -> None:
    problem = problems_of("jobs:\n  café:\n    task: ünïcode:x\n    every: 1m\n")[0]
    assert (problem.line, problem.column, problem.job) == (2, 3, "café")
    problem = problems_of(EVERY + "    description: ééé\n    tz: x\n")[0]
    assert (problem.line, problem.column) == (6, 5)


def test_huge_scalars_are_read_and_clipped_in_messages() -> None:
    assert (
        parse_schedule(EVERY + "    description: " + "x" * 1_000_000 + "\n").jobs["a"].description
    )
    problem = problems_of(EVERY + "    retries: " + "9" * 100_000 + "\n")[0]
    assert len(problem.message) < 200
    assert problem.message.startswith(
        "retries: expected a whole number 0 or more, got the number 99"
    )


def test_composed_nodes_know_their_positions() -> None:
    root, problems = compose("a:\n  - x\n  - {b: 'c'}\n", "f")
    assert problems == []
    assert isinstance(root, Mapping)
    key, seq = root.items["a"]
    assert isinstance(seq, Sequence)
    first, second = seq.items
    assert isinstance(first, Scalar) and isinstance(second, Mapping)
    assert [(n.line, n.column) for n in (key, seq, first, second)] == [
        (1, 1),
        (2, 3),
        (2, 5),
        (3, 5),
    ]
    quoted = second.items["b"][1]
    assert isinstance(quoted, Scalar)
    assert (quoted.value, quoted.plain, quoted.text_column(0)) == ("c", False, 10)


# --- fuzz: only ScheduleInvalid ever escapes ---------------------------------------------


def check_never_crashes(data: str | bytes) -> None:
    try:
        parse_schedule(data, "f.yml")
    except ScheduleInvalid as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line >= 1 and problem.column >= 1
            assert "\n" not in problem.message


def test_every_truncation_of_the_example_is_handled() -> None:
    data = EXAMPLE.encode()
    for end in range(0, len(data), 7):
        check_never_crashes(data[:end])


PIECES = [
    "\n",
    " ",
    "  ",
    "- ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "!!python/x ",
    "<<",
    "'",
    '"',
    "#",
    "---\n",
    "%YAML 1.2\n",
    "|\n",
    ">\n",
    "?",
    "\t",
    "\x00",
    "jobs",
    "task",
    "every",
    "cron",
    "monthly",
    "day",
    "at",
    "start",
    "010",
    "10:30",
    "yes",
    "-1",
    ".nan",
    "1e999",
    "app.jobs:run",
    "15m",
    "'* * * * *'",
    "é",
    "\ufeff",
    "\ud800",
    "~",
]
FUZZ = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.slow
@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_random_yaml_like_text_never_crashes(text: str) -> None:
    check_never_crashes(text)


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    check_never_crashes(data)


@pytest.mark.slow
@FUZZ
@given(
    st.integers(0, len(EXAMPLE)),
    st.integers(0, 40),
    st.lists(st.sampled_from(PIECES), max_size=4).map("".join),
)
def test_edited_example_never_crashes(at: int, cut: int, insert: str) -> None:
    check_never_crashes(EXAMPLE[:at] + insert + EXAMPLE[at + cut :])
