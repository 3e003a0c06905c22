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
import gc
import hashlib
import json
import operator
import os
import stat
from collections.abc import Callable, Hashable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple
from zoneinfo import ZoneInfo

from ..errors import Problem, RuleError, ScheduleInvalid, ScheduleNotFound
from ..rules import kinds as rules
from . import fields
from .targetkeys import DEFAULT_RETRIES, TARGET_SETTINGS, TARGETS, owners, settings_of
from .yamlnodes import MAX_BYTES, Mapping, Node, Scalar, compose, content, size_problem


@dataclass(frozen=True, slots=True)
class Job:
    """One named entry of the schedule: what to run (task, or the name ``target`` knows it
    by), when (rule) and how."""

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
    retries: int = DEFAULT_RETRIES
    timeout: int | None = None
    timeout_hard: int | None = None
    target: str = "task"  # what runs a fire: our worker, celery, rq, dramatiq (targets.md)
    options: AnyMapping[str, Any] = dataclasses.field(default_factory=dict)  # the target's own
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
    targets: AnyMapping[str, AnyMapping[str, Any]] = dataclasses.field(default_factory=dict)


def parse_schedule(text: str | bytes, path: str = "<string>") -> Schedule:
    """The schedule written in ``text``; raises ScheduleInvalid listing every problem."""
    # What is built here holds no reference cycles and lives as long as the schedule:
    # collecting while it grows only costs time, and once built it goes straight to the
    # oldest generation (freeze, unfreeze) rather than through the young collections.
    collecting = gc.isenabled()
    gc.disable()
    try:
        reader = _Reader(path)
        root, problems = compose(text, path, _job_of, reader.visit)
        if not reader.agrees(root):
            reader = _Reader(path)
            root, problems = compose(text, path, _job_of)
        if root is None and problems:
            raise ScheduleInvalid(problems)
        schedule = reader.read(root, problems)
    finally:
        if collecting:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
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


TOP_KEYS = ("timezone", "defaults", "jobs", "targets")
TARGET_KEYS = ("task", *TARGETS)
RULE_KEYS = ("every", "cron", "monthly")
MONTHLY_KEYS = ("day", "weekday", "nth", "at", "months")
NEVER_BEFORE = 2_000_000_000
_WHERE = ("line", "task_at")
_OWN = ("target", "options")  # in the digest only for a job that is not a task: job
_LATER = ("timeout_hard",)  # settings added later: in the digest only when set
_FIELDS = operator.attrgetter(
    *(f.name for f in dataclasses.fields(Job) if f.name not in ("rule", *_WHERE, *_OWN, *_LATER))
)
_NOT_DEFAULTS = {
    **dict.fromkeys(RULE_KEYS, "a rule is set per job"),
    **{key: f"{key} is set per job" for key in TARGET_KEYS},
    "start": "start goes with a job's every rule; set it in the job",
    "timezone": "the default time zone is the top-level timezone",
}


def _job_of(keys: tuple[str, ...]) -> str | None:
    return keys[1] if len(keys) > 1 and keys[0] == "jobs" else None


JOB_KEYS = (*TARGET_KEYS, *RULE_KEYS, "start", "timezone", *fields.SETTINGS, *TARGET_SETTINGS)
_KNOWN = {keys: frozenset(keys) for keys in (JOB_KEYS, MONTHLY_KEYS)}


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(jobs: dict[str, Job], forms: dict[str, Any], targets: dict[str, Any]) -> str:
    """SHA-256 of the JSON list of every job's settings and rule, sorted by name. Written
    a thousand jobs at a time, so a large schedule's JSON never exists whole."""
    names = sorted(jobs)
    digest = hashlib.sha256(b"[")
    for start in range(0, len(names), 1000):
        entries = [_entry(jobs[name], forms[name]) for name in names[start : start + 1000]]
        text = _ENCODER.encode(entries)[1:-1]
        digest.update((text if start == 0 else "," + text).encode())
    digest.update(b"]")
    if targets:
        digest.update(_ENCODER.encode(targets).encode())
    return digest.hexdigest()[:16]


def _entry(job: Job, form: Any) -> tuple[Any, ...]:
    """A job's part of the digest. Settings added later count only when set, so a file
    that uses none of them keeps the digest older versions give it (replicas agree)."""
    later = {name: value for name in _LATER if (value := getattr(job, name)) is not None}
    entry = (*_FIELDS(job), form) + ((later,) if later else ())
    if job.target == "task":
        return entry
    return (*entry, job.target, job.options)


_BAD: Any = object()
_Elsewhere = tuple[tuple[str, ...], str]
_Items = dict[str, tuple[Scalar, Node]]
_Made = tuple[rules.Rule, Any]


class _Context(NamedTuple):
    """What every job is read against: the file's time zone and defaults (and their nodes)."""

    zone: str
    defaults: dict[str, Any]
    nodes: tuple[Node | None, Node | None]


def _node(items: _Items, key: str) -> Node | None:
    return items[key][1] if key in items else None


class _Reader:
    """Reads a composed document into jobs, collecting every problem on the way.

    Jobs are read while the file is composed, each as soon as its settings end (``visit``),
    so that a large file never exists whole as a tree; ``agrees`` then checks the file
    did not set its time zone or defaults after its jobs.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.zones: dict[str, ZoneInfo] = {"UTC": rules.load_zone("UTC")}
        self.names: dict[str, str] = {}
        self.tasks: dict[str, str] = {}
        self.rules: dict[tuple[Hashable, ...], _Made] = {}
        self.checked: set[Hashable] = set()
        self.monthlies: dict[tuple[tuple[str, Hashable], ...], _Monthly] = {}
        self.starts: dict[tuple[Hashable, str], int] = {}
        self.rule_forms: dict[str, Any] = {}
        self.job: str | None = None
        self.context: _Context | None = None
        self.jobs_node: Mapping | None = None
        self.streamed: dict[str, tuple[Scalar, Job | None]] = {}

    def visit(self, root: Mapping, parent: Mapping, key: Scalar, body: Node) -> bool:
        """Read a job of ``jobs:`` now (True: the composer need not keep its settings)."""
        under = root.key
        if not isinstance(under, Scalar) or under.text != "jobs" or key.text in self.streamed:
            return False
        if key.plain and key.text == "<<":
            return False  # a merge key: the composer merges its mappings into jobs
        if self.context is None:
            self.jobs_node = parent
            self.context = self.read_context(root.pairs())
        elif parent is not self.jobs_node:
            return False
        job = self.read_named(key, body, self.context.defaults, self.context.zone)
        self.streamed[key.text] = (key, job)
        return True

    def agrees(self, root: Node | None) -> bool:
        """Whether the jobs read early are the file's jobs, read against its settings."""
        if self.context is None or self.jobs_node is None or not isinstance(root, Mapping):
            return True
        items = root.items
        timezone, defaults = self.context.nodes
        if (
            _node(items, "jobs") is not self.jobs_node
            or _node(items, "timezone") is not timezone
            or _node(items, "defaults") is not defaults
        ):
            return False
        jobs = self.jobs_node.items
        return all(jobs.get(name, (None,))[0] is key for name, (key, _) in self.streamed.items())

    def report(self, node: Node, message: str, column: int | None = None) -> None:
        where = column if column is not None else node.column
        self.problems.append(Problem(self.path, node.line, where, message, self.job))

    def warn(self, found: fields.Invalid | None) -> None:
        if found is not None:
            node, where = found.node, found.column or found.node.column
            problem = Problem(self.path, node.line, where, found.message, self.job, warning=True)
            self.warnings.append(problem)

    def value(self, node: Node, parse: Callable[[Node], Any], label: str) -> Any:
        try:
            return parse(node)
        except fields.Invalid as bad:
            self.report(bad.node, f"{label}: {bad.message}", bad.column)
            return _BAD

    def unknown(
        self, node: Mapping, known: tuple[str, ...], elsewhere: _Elsewhere = ((), "")
    ) -> None:
        if node.items.keys() <= (_KNOWN.get(known) or frozenset(known)):
            return
        for text, (key, _) in node.items.items():
            if text in known:
                continue
            hint = fields.suggest(text, known)
            if not hint and text in elsewhere[0]:
                hint = f" ({fields.shown(text)} belongs {elsewhere[1]})"
            self.report(key, f"unknown key {fields.shown(text)}{hint}")

    def zone(self, node: Node) -> str:
        known = self.names.get(node.text) if isinstance(node, Scalar) else None
        if known is not None:
            return known  # a text read once as a zone name (null-like texts never are)
        name = fields.text_of(node, "an IANA time zone like Europe/Madrid")
        if name not in self.zones:
            try:
                self.zones[name] = rules.load_zone(name)
            except RuleError as error:
                raise fields.Invalid(error.message, node) from None
        return self.names.setdefault(name, name)

    def task(self, node: Node) -> str:
        # A text read once as a task is one whatever its quoting or tag: only null-like
        # texts, never tasks, can read as anything but text.
        known = self.tasks.get(node.text) if isinstance(node, Scalar) else None
        if known is None:
            known = fields.read_task(node)
            self.tasks[known] = known
        return known

    def read(self, root: Node | None, problems: list[Problem]) -> Schedule | None:
        self.problems[:0] = problems
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
        context = self.context = self.context or self.read_context(root.items)
        jobs = self.jobs(root, context.defaults, context.zone)
        targets = self.targets(_node(root.items, "targets"))
        if jobs is None or self.problems:
            return None
        digest = _digest(jobs, self.rule_forms, targets)
        warnings = sorted(self.warnings, key=lambda p: (p.line, p.column))
        return Schedule(self.path, context.zone, jobs, digest, tuple(warnings), targets)

    def targets(self, node: Node | None) -> dict[str, dict[str, Any]]:
        """``targets:``: each target's file-wide settings (key prefixes, broker)."""
        if node is None:
            return {}
        if not isinstance(node, Mapping):
            got = fields.kind_of(node)
            self.report(node, f"targets: expected a mapping like {{celery: {{...}}}}, got {got}")
            return {}
        self.unknown(node, tuple(TARGETS))
        found: dict[str, dict[str, Any]] = {}
        for name, (_, body) in node.items.items():
            readers = TARGETS[name].file_settings if name in TARGETS else None
            if readers is None:
                continue
            if not isinstance(body, Mapping):
                got = fields.kind_of(body)
                self.report(body, f"targets: {name}: expected a mapping of settings, got {got}")
                continue
            self.unknown(body, tuple(readers))
            found[name] = {
                k: self.value(v, readers[k], f"targets: {name}: {k}")
                for k, (_, v) in body.items.items()
                if k in readers
            }
        return found

    def read_context(self, items: _Items) -> _Context:
        zone = "UTC"
        if "timezone" in items:
            zone = self.value(items["timezone"][1], self.zone, "timezone")
        defaults = self.defaults(_node(items, "defaults"))
        return _Context(zone, defaults, (_node(items, "timezone"), _node(items, "defaults")))

    def defaults(self, node: Node | None) -> dict[str, Any]:
        result: dict[str, Any] = {"args": (), "kwargs": {}}
        if node is None or (isinstance(node, Scalar) and node.value is None):
            return result
        if not isinstance(node, Mapping):
            self.report(
                node, f"defaults: expected a mapping of settings, got {fields.kind_of(node)}"
            )
            return result
        for text, (key, value) in node.items.items():
            if text in fields.SETTINGS:
                result[text] = self.value(value, fields.SETTINGS[text], f"defaults: {text}")
            elif text in TARGET_SETTINGS:
                reader = settings_of(owners(text)[0])[text]
                result[text] = self.value(value, reader, f"defaults: {text}")
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
            streamed = self.streamed.get(name)
            job = streamed[1] if streamed else self.read_named(key, body, defaults, zone)
            if job is not None:
                jobs[name] = job
        self.streamed.clear()
        return jobs

    def read_named(
        self, key: Scalar, body: Node, defaults: dict[str, Any], zone: str
    ) -> Job | None:
        self.job = key.text if len(key.text) <= 128 else fields.clip(key.text)
        job = self.read_job(key, body, defaults, zone)
        self.job = None
        return job

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
        items = body.items
        self.unknown(body, JOB_KEYS, (MONTHLY_KEYS, "inside monthly"))
        settings = dict(defaults)
        for name, (_, node) in items.items():
            if name in fields.SETTINGS:
                settings[name] = self.value(node, fields.SETTINGS[name], name)
        target, task = self.what_runs(key, items)
        if task is not None:
            settings.update(self.target_settings(target, items, settings))
        for name in TARGET_SETTINGS:
            settings.pop(name, None)
        if "timezone" in items:
            zone = self.value(items["timezone"][1], self.zone, "timezone")
        rule = self.rule(key, body, zone)
        if rule is None or task is None or len(self.problems) > before:
            return None
        self.rule_forms[key.text] = rule[1]
        where = items[target][1]
        settings.update(line=key.line, task_at=(where.line, where.column))
        return Job(key.text, task, rule[0], zone, **settings)

    def what_runs(self, key: Scalar, items: _Items) -> tuple[str, str | None]:
        """The job's target key and what it names (None after a problem)."""
        named = [name for name in items if name in TARGET_KEYS]
        if len(named) > 1:
            where = items[named[1]][0]
            self.report(where, f"{named[0]} and {named[1]}: a job runs one of them; keep one")
            return named[0], None
        if not named:
            hint = '"package.module:function" (or celery:, rq:, dramatiq:)'
            self.report(key, f"no task: add task: {hint}")
            return "task", None
        target = named[0]
        if target == "task":
            return target, self.value(items["task"][1], self.task, "task")
        return target, self.value(items[target][1], TARGETS[target].read_name, target)

    def target_settings(self, target: str, items: _Items, settings: dict[str, Any]) -> Any:
        """The settings ``Job`` takes for ``target``: its own (``options``), its default
        queue, and a problem for each setting it cannot honour or does not read."""
        own = settings_of(target)
        options = {name: settings[name] for name in own if name in settings}
        for name, (setting, node) in items.items():
            if name in own:
                options[name] = self.value(node, own[name], name)
            elif name in TARGET_SETTINGS:
                readers = " or ".join(owners(name))
                self.report(setting, f"{name} applies to {readers} jobs only, not {target} ones")
        if target == "task":
            return {}
        keys = TARGETS[target]
        for name, refusal in keys.refused.items():
            reason = refusal(settings) if name in settings else None
            if reason is not None:
                why = f"{keys.article} {target} job cannot honour {name}: {reason}"
                self.refuse(name, items, why)
        queue = settings.get("queue", keys.default_queue)
        return {"target": target, "options": options, "queue": queue}

    def refuse(self, name: str, items: _Items, message: str) -> None:
        """A problem at the job's ``name`` setting, or at the default it inherited."""
        if name in items:
            self.report(items[name][0], message)
            return
        defaults = self.context.nodes[1] if self.context is not None else None
        if isinstance(defaults, Mapping) and name in defaults.items:
            self.report(defaults.items[name][0], f"{message} (set in defaults)")

    def rule(self, key: Scalar, body: Mapping, zone: str) -> _Made | None:
        items = body.items
        kinds = [kind for kind in items if kind in RULE_KEYS]
        if "start" in items and "every" not in kinds:
            other = f", not {kinds[0]}" if kinds else ""
            self.report(items["start"][0], f"start applies only to an every rule{other}")
        if len(kinds) != 1:
            if kinds:
                where, message = items[kinds[1]][0], f"two rules ({kinds[0]} and {kinds[1]})"
                self.report(where, f"{message}; keep exactly one")
            else:
                self.report(key, "no rule: add one of every, cron or monthly")
            return None
        info = self.zones.get(zone, self.zones["UTC"])
        start = self.start(items["start"][1], info) if "start" in items else 0
        if start is _BAD:
            return None
        return self.make_rule(kinds[0], items[kinds[0]][1], info, start)

    def start(self, node: Node, zone: ZoneInfo) -> Any:
        """An every rule's start, read once per text and zone (jobs often share one)."""
        key = (content(node), zone.key)
        known = self.starts.get(key)
        if known is None:
            known = self.value(node, lambda node: fields.read_start(node, zone), "start")
            if known is not _BAD and key[0] is not None:
                self.starts[key] = known
        return known

    def make_rule(self, kind: str, node: Node, zone: ZoneInfo, start: int) -> _Made | None:
        """The rule, shared with every job that wrote the same rule in the same zone."""
        try:
            what = self.rule_key(kind, node, start)
            if what is None:
                return None
            where = (what, None if kind == "every" else zone.key)
            made = self.rules.get(where)
            if made is None:
                made = _new_rule(kind, node, zone, start, what)
                self.remember(where, made, node)
        except (RuleError, fields.Invalid) as error:
            bad = fields.rule_error(error, node) if isinstance(error, RuleError) else error
            self.report(bad.node, f"{kind}: {bad.message}", bad.column)
            return None
        return made

    def rule_key(self, kind: str, node: Node, start: int) -> tuple[Any, ...] | None:
        """What makes a rule, whatever its zone: its kind, and its text or monthly fields."""
        if kind == "monthly":
            parts = self.monthly(node)
            return None if parts is None else (kind, parts)
        return kind, content(node), start

    def remember(self, where: tuple[Hashable, ...], made: _Made, node: Node) -> None:
        """Check a new rule and share it if nothing was wrong. Whether a rule fires at all,
        or looks miswritten, does not depend on its zone: a wall time in a gap still fires,
        shifted (docs/time.md); so each rule text is checked once."""
        before = len(self.problems), len(self.warnings)
        what = where[0]
        if what not in self.checked:
            self.check_rule(made[0].kind, node, made[0])
        if (len(self.problems), len(self.warnings)) == before:
            self.checked.add(what)
            self.rules[where] = made

    def check_rule(self, kind: str, node: Node, rule: rules.Rule) -> None:
        # Calendar rules repeat (every 400 years at the most), so one fire after a fixed
        # instant shows a rule can fire at all; `every` always can.
        if kind != "every" and rule.next_after(NEVER_BEFORE) is None:
            shown = f" {fields.shown(node.text)}" if isinstance(node, Scalar) else ""
            self.report(node, f"{kind}{shown} never fires")
        elif kind == "cron":
            self.warn(fields.cron_warning(node))

    def monthly(self, node: Node) -> _Monthly | None:
        if not isinstance(node, Mapping):
            example = '{day: 1, at: "09:00"}'
            raise fields.Invalid(
                f"expected a mapping like {example}, got {fields.kind_of(node)}", node
            )
        key = tuple((name, content(value)) for name, (_, value) in node.items.items())
        known = self.monthlies.get(key)
        if known is not None:
            return known
        before = len(self.problems)
        self.unknown(node, MONTHLY_KEYS)
        got = {
            k: self.value(node.items[k][1], parse, f"monthly {k}")
            for k, parse in fields.MONTHLY.items()
            if k in node.items
        }
        self.monthly_shape(node)
        if len(self.problems) > before:
            return None
        days, at = got.get("day", ()), got.get("at", (0,))
        months = got.get("months", tuple(range(1, 13)))
        parts = days, got.get("weekday"), got.get("nth"), at, months
        if None not in (value for _, value in key):
            self.monthlies[key] = parts
        return parts

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


_Monthly = tuple[tuple[int, ...], "int | None", "int | None", tuple[int, ...], tuple[int, ...]]


def _new_rule(kind: str, node: Node, zone: ZoneInfo, start: int, what: tuple[Any, ...]) -> _Made:
    if kind == "every":
        return fields.read_every(node, start)
    if kind == "cron":
        return fields.read_cron(node, zone)
    days, weekday, nth, at, months = what[1]
    rule = rules.Monthly(zone, days=days, weekday=weekday, nth=nth, at=at, months=months)
    form = {"day": sorted(set(days)), "weekday": weekday, "nth": nth, "at": sorted(set(at))}
    return rule, {"monthly": {**form, "months": sorted(set(months))}}
