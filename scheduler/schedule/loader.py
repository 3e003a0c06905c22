"""The schedule file: YAML text -> a validated ``Schedule`` of jobs (docs/schedule.md).

Reading is strict and collects every problem, each with its line, column and job, then
raises them together as ``ScheduleInvalid``. Warnings (valid, but probably not what was
meant) do not stop the load; they travel with the schedule. No clock, no Redis;
``load_schedule`` only reads the file. The user's reference is docs/schedule.md; YAML
itself is read by ``yamlnodes``.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import stat
from collections.abc import Callable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from ..errors import Problem, RuleError, ScheduleInvalid, ScheduleNotFound
from ..rules import kinds as rules
from . import fields
from .yamlnodes import MAX_BYTES, Mapping, Node, Scalar, compose, size_problem


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
    task_at: tuple[int, int] = dataclasses.field(default=(0, 0), compare=False)  # line, column


@dataclass(frozen=True)
class Schedule:
    """A loaded schedule file: its jobs in file order, a digest of what they mean, and its
    warnings (each a ``Problem`` with ``warning`` set), in file order."""

    path: str
    timezone: str
    jobs: AnyMapping[str, Job]
    digest: str
    warnings: tuple[Problem, ...] = ()


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
    return parse_schedule(read_schedule_file(name), name)


def read_schedule_file(name: str) -> bytes:
    """The bytes of the schedule file ``name``; ScheduleNotFound or ScheduleInvalid (too big)."""
    try:
        with open_regular(name) as file:
            too_big = size_problem(os.fstat(file.fileno()).st_size, name)
            if too_big is not None:
                raise ScheduleInvalid([too_big])
            return file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScheduleNotFound(f"{name}: no such file") from None
    except OSError as error:
        raise ScheduleNotFound(f"{name}: cannot read it ({error.strerror or error})") from None


def open_regular(name: str) -> BinaryIO:
    """The regular file ``name``, open for reading; OSError for anything else.

    Opening a FIFO for reading waits for a writer, and a device may never end: either
    would hang a command, so only a regular file is read. The open itself does not wait.
    """
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
    kind = stat.S_IFMT(os.fstat(fd).st_mode)
    if kind != stat.S_IFREG:
        os.close(fd)
        raise OSError(errno.EINVAL, f"{_KINDS.get(kind, 'a special file')}, not a regular file")
    return os.fdopen(fd, "rb")


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


TOP_KEYS = ("timezone", "defaults", "jobs")
RULE_KEYS = ("every", "cron", "monthly")
MONTHLY_KEYS = ("day", "weekday", "nth", "at", "months")
NEVER_BEFORE = 2_000_000_000
_WHERE = ("line", "task_at")
_FIELDS = tuple(f.name for f in dataclasses.fields(Job) if f.name not in ("rule", *_WHERE))
_NOT_DEFAULTS = {
    **dict.fromkeys(RULE_KEYS, "a rule is set per job"),
    "task": "task is set per job",
    "start": "start goes with a job's every rule; set it in the job",
    "timezone": "the default time zone is the top-level timezone",
}


def _job_of(keys: tuple[str, ...]) -> str | None:
    return keys[1] if len(keys) > 1 and keys[0] == "jobs" else None


JOB_KEYS = ("task", *RULE_KEYS, "start", "timezone", *fields.SETTINGS)


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
        self.warnings: list[Problem] = []
        self.zones: dict[str, ZoneInfo] = {"UTC": rules.load_zone("UTC")}
        self.rule_forms: dict[str, Any] = {}
        self.job: str | None = None

    def report(self, node: Node, message: str, column: int | None = None) -> None:
        where = column if column is not None else node.column
        self.problems.append(Problem(self.path, node.line, where, message, self.job))

    def warn(self, found: fields.Invalid | None) -> None:
        if found is not None:
            node, where = found.node, found.column or found.node.column
            problem = Problem(self.path, node.line, where, found.message, self.job, warning=True)
            self.warnings.append(problem)

    def value(self, parent: Mapping, key: str, parse: Callable[[Node], Any], label: str) -> Any:
        try:
            return parse(parent.items[key][1])
        except fields.Invalid as bad:
            self.report(bad.node, f"{label}: {bad.message}", bad.column)
            return _BAD

    def unknown(
        self, node: Mapping, known: tuple[str, ...], elsewhere: _Elsewhere = ((), "")
    ) -> None:
        for text, (key, _) in node.items.items():
            if text in known:
                continue
            hint = fields.suggest(text, known)
            if not hint and text in elsewhere[0]:
                hint = f" ({fields.shown(text)} belongs {elsewhere[1]})"
            self.report(key, f"unknown key {fields.shown(text)}{hint}")

    def zone(self, node: Node) -> str:
        name = fields.text_of(node, "an IANA time zone like Europe/Madrid")
        if name not in self.zones:
            try:
                self.zones[name] = rules.load_zone(name)
            except RuleError as error:
                raise fields.Invalid(error.message, node) from None
        return name

    def read(self, root: Node | None) -> Schedule | None:
        if root is None or (isinstance(root, Scalar) and root.value is None):
            message = "the file is empty; a schedule needs jobs (write `jobs: {}` for none)"
            self.problems.append(Problem(self.path, 1, 1, message))
            return None
        if not isinstance(root, Mapping):
            self.report(
                root, f"expected a mapping with `jobs:` at the top, got {fields.kind_of(root)}"
            )
            return None
        extensions = tuple(key for key in root.items if key.startswith("x-"))
        self.unknown(root, (*TOP_KEYS, *extensions), (JOB_KEYS, "under defaults or in a job"))
        zone = "UTC"
        if "timezone" in root.items:
            zone = self.value(root, "timezone", self.zone, "timezone")
        jobs = self.jobs(root, self.defaults(root), zone)
        if jobs is None or self.problems:
            return None
        digest = _digest(jobs, self.rule_forms)
        return Schedule(self.path, zone, jobs, digest, tuple(self.warnings))

    def defaults(self, root: Mapping) -> dict[str, Any]:
        result: dict[str, Any] = {"args": (), "kwargs": {}}
        node = root.items["defaults"][1] if "defaults" in root.items else None
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return result
        if not isinstance(node, Mapping):
            self.report(
                node, f"defaults: expected a mapping of settings, got {fields.kind_of(node)}"
            )
            return result
        for text, (key, _) in node.items.items():
            if text in fields.SETTINGS:
                result[text] = self.value(node, text, fields.SETTINGS[text], f"defaults: {text}")
            elif text in _NOT_DEFAULTS:
                self.report(key, f"defaults: {_NOT_DEFAULTS[text]}, not in defaults")
            else:
                hint = fields.suggest(text, tuple(fields.SETTINGS))
                self.report(key, f"defaults: unknown key {fields.shown(text)}{hint}")
        return {key: value for key, value in result.items() if value is not _BAD}

    def jobs(self, root: Mapping, defaults: dict[str, Any], zone: str) -> dict[str, Job] | None:
        if "jobs" not in root.items:
            self.report(
                root, "no `jobs:` in the file (write `jobs: {}` for a schedule without jobs)"
            )
            return None
        node = root.items["jobs"][1]
        if not isinstance(node, Mapping):
            got = fields.kind_of(node)
            self.report(node, f"jobs: expected a mapping of job names to settings, got {got}")
            return None
        jobs: dict[str, Job] = {}
        for name, (key, body) in node.items.items():
            self.job = name if len(name) <= 128 else fields.clip(name)
            job = self.read_job(key, body, defaults, zone)
            if job is not None:
                jobs[name] = job
        self.job = None
        return jobs

    def read_job(self, key: Scalar, body: Node, defaults: dict[str, Any], zone: str) -> Job | None:
        before = len(self.problems)
        if not fields.NAME.fullmatch(key.text):
            self.report(
                key, f"{fields.shown(key.text)} is not a valid job name: use {fields.NAME_RULE}"
            )
        if not isinstance(body, Mapping):
            self.report(
                key, f"expected the job's settings (task and a rule), got {fields.kind_of(body)}"
            )
            return None
        self.unknown(body, JOB_KEYS, (MONTHLY_KEYS, "inside monthly"))
        settings = dict(defaults)
        for name in body.items.keys() & fields.SETTINGS.keys():
            settings[name] = self.value(body, name, fields.SETTINGS[name], name)
        task = self.value(body, "task", fields.read_task, "task") if "task" in body.items else None
        if task is None:
            self.report(key, 'no task: add task: "package.module:function"')
        if "timezone" in body.items:
            zone = self.value(body, "timezone", self.zone, "timezone")
        rule = self.rule(key, body, zone)
        if rule is None or task is None or len(self.problems) > before:
            return None
        self.rule_forms[key.text] = rule[1]
        where = body.items["task"][1]
        settings.update(line=key.line, task_at=(where.line, where.column))
        return Job(key.text, task, rule[0], zone, **settings)

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
            start = self.value(body, "start", lambda node: fields.read_start(node, info), "start")
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
                made = (
                    fields.read_every(node, start)
                    if kind == "every"
                    else fields.read_cron(node, zone)
                )
        except (RuleError, fields.Invalid) as error:
            bad = fields.rule_error(error, node) if isinstance(error, RuleError) else error
            self.report(bad.node, f"{kind}: {bad.message}", bad.column)
            return None
        # Calendar rules repeat (every 400 years at the most), so one fire after a fixed
        # instant shows a rule can fire at all; `every` always can.
        if made is not None and kind != "every" and made[0].next_after(NEVER_BEFORE) is None:
            shown = f" {fields.shown(node.text)}" if isinstance(node, Scalar) else ""
            self.report(node, f"{kind}{shown} never fires")
        elif made is not None and kind == "cron":
            self.warn(fields.cron_warning(node))
        return made

    def monthly(self, node: Node, zone: ZoneInfo) -> tuple[rules.Rule, Any] | None:
        if not isinstance(node, Mapping):
            example = '{day: 1, at: "09:00"}'
            raise fields.Invalid(
                f"expected a mapping like {example}, got {fields.kind_of(node)}", node
            )
        before = len(self.problems)
        self.unknown(node, MONTHLY_KEYS)
        got = {
            k: self.value(node, k, parse, f"monthly {k}")
            for k, parse in fields.MONTHLY.items()
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
