"""The schedule file: YAML text -> a validated ``Schedule`` of jobs (SPEC section 1).

Reading is strict and collects every problem, each with its line, column and job, then
raises them together as ``ScheduleInvalid``. No clock, no Redis; ``load_schedule`` only
reads the file. The user's reference is docs/schedule.md; YAML itself is read by
``yamlnodes``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
from collections.abc import Callable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.parser import isoparse

from . import rules
from .errors import Problem, RuleError, ScheduleInvalid, ScheduleNotFound
from .yamlnodes import MAX_BYTES, Mapping, Node, Scalar, Sequence, compose, size_problem


@dataclass(frozen=True)
class Job:
    """One named entry of the schedule: what to run (task), when (rule) and how."""

    name: str
    task: str
    rule: rules.Rule
    timezone: str
    args: tuple[Any, ...]
    kwargs: AnyMapping[str, Any]
    queue: str = "default"
    enabled: bool = True
    description: str | None = None
    misfire: str = "once"
    misfire_grace: int = 300
    overlap: str = "allow"
    jitter: int = 0
    expires: int | None = None
    retries: int = 3
    timeout: int | None = None
    line: int = 0


@dataclass(frozen=True)
class Schedule:
    """A loaded schedule file: its jobs in file order and a digest of what they mean."""

    path: str
    timezone: str
    jobs: AnyMapping[str, Job]
    digest: str


def parse_schedule(text: str | bytes, path: str = "<string>") -> Schedule:
    """The schedule written in ``text``; raises ScheduleInvalid listing every problem."""
    root, problems = compose(text, path, _job_of)
    reader = _Reader(path, problems)
    schedule = reader.read(root) if root is not None or not problems else None
    if reader.problems or schedule is None:
        raise ScheduleInvalid(sorted(reader.problems, key=lambda p: (p.line, p.column)))
    return schedule


def load_schedule(path: str | os.PathLike[str]) -> Schedule:
    """The schedule in the file at ``path``; raises ScheduleNotFound or ScheduleInvalid."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:
            too_big = size_problem(os.fstat(file.fileno()).st_size, name)
            if too_big is not None:
                raise ScheduleInvalid([too_big])
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScheduleNotFound(f"{name}: no such file") from None
    except OSError as error:
        raise ScheduleNotFound(f"{name}: cannot read it ({error.strerror or error})") from None
    return parse_schedule(data, name)


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
NAME_RULE = "letters, digits and _ . : - (up to 128, first a letter or digit)"
TOP_KEYS = ("timezone", "defaults", "jobs")
RULE_KEYS = ("every", "cron", "monthly")
MONTHLY_KEYS = ("day", "weekday", "nth", "at", "months")
NEVER_BEFORE = 2_000_000_000
_FIELDS = tuple(f.name for f in dataclasses.fields(Job) if f.name not in ("rule", "line"))
_ZERO = re.compile(r"(?:0+[smhdw]?)+")
_YAML11_BOOLS = frozenset(["yes", "no", "on", "off", "y", "n"])
_SYNONYMS = {
    **dict.fromkeys(["tz", "zone"], "timezone"),
    **dict.fromkeys(["interval", "period"], "every"),
    **dict.fromkeys(["crontab", "schedule"], "cron"),
    **dict.fromkeys(["func", "function", "callable"], "task"),
    **dict.fromkeys(["time", "times"], "at"),
    "grace": "misfire_grace",
}
_NOT_DEFAULTS = {
    **dict.fromkeys(RULE_KEYS, "a rule is set per job"),
    "task": "task is set per job",
    "start": "start goes with a job's every rule; set it in the job",
    "timezone": "the default time zone is the top-level timezone",
}


class _Invalid(Exception):
    """A value is wrong; the reader reports it at ``node`` (or at ``column`` on its line)."""

    def __init__(self, message: str, node: Node, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.column = column


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _shown(text: str) -> str:
    return repr(_clip(text))


def _kind(node: Node) -> str:
    if not isinstance(node, Scalar):
        return "a list" if isinstance(node, Sequence) else "a mapping"
    value = node.value
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{_clip(node.text)} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {_clip(node.text)}"
    return f"the text {_shown(value)}"


def _text(node: Node, what: str) -> str:
    if isinstance(node, Scalar) and node.value is not None:
        return node.text
    raise _Invalid(f"expected {what}, got {_kind(node)}", node)


def _int(node: Node) -> int | None:
    value = node.value if isinstance(node, Scalar) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rule_error(error: RuleError, node: Node) -> _Invalid:
    column = None
    if error.offset is not None and isinstance(node, Scalar):
        column = node.text_column(error.offset)
    return _Invalid(error.message, node, column)


def _hint(key: str, options: tuple[str, ...]) -> str:
    best = _SYNONYMS.get(key.lower())
    if best not in options:
        close = difflib.get_close_matches(key.lower(), options, n=1, cutoff=0.6)
        best = close[0] if close else None
    return f" (did you mean {best!r}?)" if best else ""


def _job_of(keys: tuple[str, ...]) -> str | None:
    return keys[1] if len(keys) > 1 and keys[0] == "jobs" else None


def _queue(node: Node) -> str:
    text = _text(node, "a queue name")
    if not NAME.fullmatch(text):
        raise _Invalid(f"{_shown(text)} is not a valid queue name: use {NAME_RULE}", node)
    return text


def _task(node: Node) -> str:
    text = _text(node, 'a task like "myapp.jobs:cleanup"')
    module, colon, attribute = text.partition(":")
    parts = [*module.split("."), *attribute.split(".")]
    if not colon or not all(part.isidentifier() for part in parts):
        raise _Invalid(f'{_shown(text)} is not a task; write "package.module:function"', node)
    return text


def _enabled(node: Node) -> bool:
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, bool):
        return value
    got = _kind(node)
    if isinstance(node, Scalar) and node.text.lower() in _YAML11_BOOLS:
        got = f"{_shown(node.text)}: write true or false"
    elif isinstance(node, Scalar) and node.text.lower() in ("true", "false"):
        got = f"the quoted text {_shown(node.text)}: write it without quotes"
    raise _Invalid(f"expected true or false, got {got}", node)


def _choice(*options: str) -> Callable[[Node], str]:
    def parse(node: Node) -> str:
        text = _text(node, " or ".join(options))
        if text not in options:
            hint = _hint(text, options)
            raise _Invalid(f"{_shown(text)} is not one of {', '.join(options)}{hint}", node)
        return text

    return parse


def _optional(parse: Callable[[Node], Any]) -> Callable[[Node], Any]:
    return lambda node: None if isinstance(node, Scalar) and node.value is None else parse(node)


def _duration(node: Node) -> int:
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Invalid(f"expected a duration like 15m, got {_kind(node)}", node)
    if isinstance(value, int) and value <= 0:
        raise _Invalid(f"a duration must be more than zero, got {value}", node)
    try:
        return rules.parse_duration(value)
    except RuleError as error:
        raise _rule_error(error, node) from None


def _jitter(node: Node) -> int:
    return 0 if isinstance(node, Scalar) and _ZERO.fullmatch(node.text) else _duration(node)


def _retries(node: Node) -> int:
    value = _int(node)
    if value is None or value < 0:
        raise _Invalid(f"expected a whole number 0 or more, got {_kind(node)}", node)
    return value


def _json(node: Node) -> Any:
    if isinstance(node, Sequence):
        return [_json(item) for item in node.items]
    if isinstance(node, Mapping):
        return {_json_key(key): _json(value) for key, value in node.items.values()}
    value = node.value
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(f"{_clip(node.text)} is not a finite JSON number", node)
    return value


def _json_key(node: Scalar) -> str:
    if not isinstance(node.value, str):
        raise _Invalid(f"keys must be text, got {_kind(node)} (quote it)", node)
    return node.text


def _args(node: Node) -> tuple[Any, ...]:
    if not isinstance(node, Sequence):
        raise _Invalid(f'expected a list like [1, "a"], got {_kind(node)}', node)
    return tuple(_json(item) for item in node.items)


def _kwargs(node: Node) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise _Invalid(f"expected a mapping like {{dry_run: true}}, got {_kind(node)}", node)
    return {_json_key(key): _json(value) for key, value in node.items.values()}


_SETTINGS: dict[str, Callable[[Node], Any]] = {
    "args": _args,
    "kwargs": _kwargs,
    "queue": _queue,
    "enabled": _enabled,
    "description": _optional(lambda node: _text(node, "a description")),
    "misfire": _choice("once", "skip", "all"),
    "misfire_grace": _duration,
    "overlap": _choice("allow", "skip"),
    "jitter": _jitter,
    "expires": _optional(_duration),
    "retries": _retries,
    "timeout": _optional(_duration),
}
JOB_KEYS = ("task", *RULE_KEYS, "start", "timezone", *_SETTINGS)


def _int_in(allowed: range | tuple[int, ...], what: str) -> Callable[[Node], int]:
    def parse(node: Node) -> int:
        value = _int(node)
        if value is None or value not in allowed:
            raise _Invalid(f"expected {what}, got {_kind(node)}", node)
        return value

    return parse


def _ruled(parse: Callable[[Any], int], what: str, kinds: tuple[type, ...]) -> Any:
    def check(node: Node) -> int:
        value = node.value if isinstance(node, Scalar) else None
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise _Invalid(f"expected {what}, got {_kind(node)}", node)
        try:
            return parse(value)
        except RuleError as error:
            raise _rule_error(error, node) from None

    return check


def _list_of(one: Callable[[Node], int]) -> Callable[[Node], tuple[int, ...]]:
    def parse(node: Node) -> tuple[int, ...]:
        items = node.items if isinstance(node, Sequence) else [node]
        if not items:
            raise _Invalid("expected at least one value, got an empty list", node)
        return tuple(one(item) for item in items)

    return parse


_DAYS = (*range(-31, 0), *range(1, 32))
_MONTHLY: dict[str, Callable[[Node], Any]] = {
    "day": _list_of(_int_in(_DAYS, "a day 1..31, or -1..-31 from the end")),
    "weekday": _ruled(rules.parse_weekday, "a weekday name MON..SUN", (str,)),
    "nth": _int_in((1, 2, 3, 4, 5, -1), "1..5, or -1 for the last"),
    "at": _list_of(_ruled(rules.parse_time_of_day, 'a time like "09:30"', (str,))),
    "months": _list_of(_ruled(rules.parse_month, "a month 1..12 or JAN..DEC", (int, str))),
}


def _start(node: Node, zone: ZoneInfo) -> int:
    text = _text(node, "an ISO 8601 instant like 2024-01-01T09:00:00Z")
    try:
        moment = isoparse(text)
        if moment.tzinfo is None:
            instant = rules.local_to_instant(moment, zone)
        else:
            instant = int(moment.timestamp())
    except RuleError as error:
        raise _Invalid(f"{_shown(text)}: {error.message}", node) from None
    except (ValueError, OverflowError):
        example = "2024-01-01T09:00:00+01:00"
        raise _Invalid(f"{_shown(text)} is not an ISO 8601 instant like {example}", node) from None
    if moment.microsecond:
        raise _Invalid(f"{_shown(text)} is not a whole second", node)
    return instant


def _every(node: Node, start: int) -> tuple[rules.Rule, Any]:
    period = _duration(node)
    text = node.text if isinstance(node, Scalar) else None
    return rules.Every(period, start, text=text), {"every": period, "start": start}


def _cron(node: Node, zone: ZoneInfo) -> tuple[rules.Rule, Any]:
    expression = _text(node, 'a cron expression like "0 9 * * MON"')
    return rules.Cron(expression, zone), {"cron": " ".join(expression.split())}


def _digest(jobs: dict[str, Job], forms: dict[str, Any]) -> str:
    entries = [[getattr(jobs[name], f) for f in _FIELDS] + [forms[name]] for name in sorted(jobs)]
    text = json.dumps(entries, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_BAD: Any = object()
_Elsewhere = tuple[tuple[str, ...], str]


class _Reader:
    """Reads a composed document into jobs, collecting every problem on the way."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = list(problems)
        self.zones: dict[str, ZoneInfo] = {"UTC": rules.load_zone("UTC")}
        self.rule_forms: dict[str, Any] = {}
        self.job: str | None = None

    def report(self, node: Node, message: str, column: int | None = None) -> None:
        where = column if column is not None else node.column
        self.problems.append(Problem(self.path, node.line, where, message, self.job))

    def value(self, parent: Mapping, key: str, parse: Callable[[Node], Any], label: str) -> Any:
        try:
            return parse(parent.items[key][1])
        except _Invalid as bad:
            self.report(bad.node, f"{label}: {bad.message}", bad.column)
            return _BAD

    def unknown(
        self, node: Mapping, known: tuple[str, ...], elsewhere: _Elsewhere = ((), "")
    ) -> None:
        for text, (key, _) in node.items.items():
            if text in known:
                continue
            hint = _hint(text, known)
            if not hint and text in elsewhere[0]:
                hint = f" ({_shown(text)} belongs {elsewhere[1]})"
            self.report(key, f"unknown key {_shown(text)}{hint}")

    def zone(self, node: Node) -> str:
        name = _text(node, "an IANA time zone like Europe/Madrid")
        if name not in self.zones:
            try:
                self.zones[name] = rules.load_zone(name)
            except RuleError as error:
                raise _Invalid(error.message, node) from None
        return name

    def read(self, root: Node | None) -> Schedule | None:
        if root is None or (isinstance(root, Scalar) and root.value is None):
            message = "the file is empty; a schedule needs jobs (write `jobs: {}` for none)"
            self.problems.append(Problem(self.path, 1, 1, message))
            return None
        if not isinstance(root, Mapping):
            self.report(root, f"expected a mapping with `jobs:` at the top, got {_kind(root)}")
            return None
        extensions = tuple(key for key in root.items if key.startswith("x-"))
        self.unknown(root, (*TOP_KEYS, *extensions), (JOB_KEYS, "under defaults or in a job"))
        zone = "UTC"
        if "timezone" in root.items:
            zone = self.value(root, "timezone", self.zone, "timezone")
        jobs = self.jobs(root, self.defaults(root), zone)
        if jobs is None or self.problems:
            return None
        return Schedule(self.path, zone, jobs, _digest(jobs, self.rule_forms))

    def defaults(self, root: Mapping) -> dict[str, Any]:
        result: dict[str, Any] = {"args": (), "kwargs": {}}
        node = root.items["defaults"][1] if "defaults" in root.items else None
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return result
        if not isinstance(node, Mapping):
            self.report(node, f"defaults: expected a mapping of settings, got {_kind(node)}")
            return result
        for text, (key, _) in node.items.items():
            if text in _SETTINGS:
                result[text] = self.value(node, text, _SETTINGS[text], f"defaults: {text}")
            elif text in _NOT_DEFAULTS:
                self.report(key, f"defaults: {_NOT_DEFAULTS[text]}, not in defaults")
            else:
                hint = _hint(text, tuple(_SETTINGS))
                self.report(key, f"defaults: unknown key {_shown(text)}{hint}")
        return {key: value for key, value in result.items() if value is not _BAD}

    def jobs(self, root: Mapping, defaults: dict[str, Any], zone: str) -> dict[str, Job] | None:
        if "jobs" not in root.items:
            self.report(
                root, "no `jobs:` in the file (write `jobs: {}` for a schedule without jobs)"
            )
            return None
        node = root.items["jobs"][1]
        if not isinstance(node, Mapping):
            got = _kind(node)
            self.report(node, f"jobs: expected a mapping of job names to settings, got {got}")
            return None
        jobs: dict[str, Job] = {}
        for name, (key, body) in node.items.items():
            self.job = name if len(name) <= 128 else _clip(name)
            job = self.read_job(key, body, defaults, zone)
            if job is not None:
                jobs[name] = job
        self.job = None
        return jobs

    def read_job(self, key: Scalar, body: Node, defaults: dict[str, Any], zone: str) -> Job | None:
        before = len(self.problems)
        if not NAME.fullmatch(key.text):
            self.report(key, f"{_shown(key.text)} is not a valid job name: use {NAME_RULE}")
        if not isinstance(body, Mapping):
            self.report(key, f"expected the job's settings (task and a rule), got {_kind(body)}")
            return None
        self.unknown(body, JOB_KEYS, (MONTHLY_KEYS, "inside monthly"))
        settings = dict(defaults)
        for name in body.items.keys() & _SETTINGS.keys():
            settings[name] = self.value(body, name, _SETTINGS[name], name)
        task = self.value(body, "task", _task, "task") if "task" in body.items else None
        if task is None:
            self.report(key, 'no task: add task: "package.module:function"')
        if "timezone" in body.items:
            zone = self.value(body, "timezone", self.zone, "timezone")
        rule = self.rule(key, body, zone)
        if rule is None or task is None or len(self.problems) > before:
            return None
        self.rule_forms[key.text] = rule[1]
        return Job(key.text, task, rule[0], zone, line=key.line, **settings)

    def rule(self, key: Scalar, body: Mapping, zone: str) -> tuple[rules.Rule, Any] | None:
        kinds = [kind for kind in body.items if kind in RULE_KEYS]
        if "start" in body.items and "every" not in kinds:
            other = f", not {kinds[0]}" if kinds else ""
            self.report(body.items["start"][0], f"start applies only to an every rule{other}")
        if len(kinds) != 1:
            if kinds:
                where, message = body.items[kinds[1]][0], f"two rules ({kinds[0]} and {kinds[1]})"
                self.report(where, f"{message}; keep exactly one")
            else:
                self.report(key, "no rule: add one of every, cron or monthly")
            return None
        info = self.zones.get(zone, self.zones["UTC"])
        start = 0
        if "start" in body.items:
            start = self.value(body, "start", lambda node: _start(node, info), "start")
        if start is _BAD:
            return None
        return self.make_rule(kinds[0], body.items[kinds[0]][1], info, start)

    def make_rule(
        self, kind: str, node: Node, zone: ZoneInfo, start: int
    ) -> tuple[rules.Rule, Any] | None:
        try:
            if kind == "monthly":
                made = self.monthly(node, zone)
            else:
                made = _every(node, start) if kind == "every" else _cron(node, zone)
        except (RuleError, _Invalid) as error:
            bad = _rule_error(error, node) if isinstance(error, RuleError) else error
            self.report(bad.node, f"{kind}: {bad.message}", bad.column)
            return None
        starts = (0,) if kind == "every" else (0, NEVER_BEFORE)
        if made is not None and any(made[0].next_after(s) is None for s in starts):
            shown = f" {_shown(node.text)}" if isinstance(node, Scalar) else ""
            self.report(node, f"{kind}{shown} never fires")
        return made

    def monthly(self, node: Node, zone: ZoneInfo) -> tuple[rules.Rule, Any] | None:
        if not isinstance(node, Mapping):
            example = '{day: 1, at: "09:00"}'
            raise _Invalid(f"expected a mapping like {example}, got {_kind(node)}", node)
        before = len(self.problems)
        self.unknown(node, MONTHLY_KEYS)
        got = {
            k: self.value(node, k, parse, f"monthly {k}")
            for k, parse in _MONTHLY.items()
            if k in node.items
        }
        self.monthly_shape(node)
        if len(self.problems) > before:
            return None
        days, at, months = got.get("day", ()), got.get("at", (0,)), got.get("months", range(1, 13))
        weekday, nth = got.get("weekday"), got.get("nth")
        rule = rules.Monthly(zone, days=days, weekday=weekday, nth=nth, at=at, months=months)
        form = {"day": sorted(set(days)), "weekday": weekday, "nth": nth, "at": sorted(set(at))}
        return rule, {"monthly": {**form, "months": sorted(set(months))}}

    def monthly_shape(self, node: Mapping) -> None:
        items = node.items
        if "day" in items and ("weekday" in items or "nth" in items):
            key = items["weekday" if "weekday" in items else "nth"][0]
            self.report(key, "monthly: use either day, or weekday with nth, not both")
        elif "nth" in items and "weekday" not in items:
            self.report(items["nth"][0], "monthly: nth needs a weekday (e.g. weekday: MON)")
        elif "weekday" in items and "nth" not in items:
            self.report(
                items["weekday"][0], "monthly: weekday needs nth (1..5, or -1 for the last)"
            )
        elif "day" not in items and "weekday" not in items:
            self.report(node, "monthly: needs day, or weekday with nth")
