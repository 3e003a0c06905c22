"""A sidekiq-cron or sidekiq-scheduler schedule (YAML) as a schedule file
(``scheduler import sidekiq-cron``, docs/migrating.md).

Both gems read a hash of job name → settings (sidekiq-cron also a list of jobs with a
``name``; sidekiq-scheduler's ``sidekiq.yml`` holds it under ``:scheduler: :schedule:`` or
``:schedule:``). The file is read with this package's safe YAML reader (sizes, nesting
and aliases bounded, positions in every error), and values as Ruby reads them (YAML 1.1:
``yes`` is true). A Sidekiq class is Ruby: each job becomes a ``task:`` naming the Python
callable to write, ``enabled: false`` until it exists.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from ..errors import BadSetting, RuleError
from ..rules.describe import duration_text
from ..rules.kinds import load_zone, parse_duration
from ..schedule.yamlnodes import Mapping, Node, Scalar, Sequence, compose
from .entries import Converted, Entry, Unmappable, common_cron, json_value, queue_name

_NATURAL = re.compile(r"(every|at|on|from|in)\b", re.IGNORECASE)
_ZONE = re.compile(r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+|UTC|GMT")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
JOB_KEYS = frozenset(
    ["name", "cron", "every", "class", "queue", "args", "description", "status", "enabled"]
)


def convert_yaml(data: bytes, path: str, module: str | None, zone: str | None) -> Converted:
    """The jobs of the sidekiq-cron / sidekiq-scheduler YAML ``data`` read from ``path``;
    each task is ``MODULE.snake_case_class:perform`` (``module`` may be None), and cron
    lines without a zone read in ``zone`` (None: UTC). BadSetting, one line, if it is not
    such a schedule."""
    if b"<%" in data:
        raise BadSetting(f"{path}: has ERB tags (<% %>): render it first, then import that")
    root, problems = compose(data, path)
    if problems:
        raise BadSetting(str(problems[0]))
    jobs = _jobs(root, path)
    header = [
        f"Converted from the Sidekiq schedule {path} by `scheduler import sidekiq-cron`.",
        "A Sidekiq class is Ruby: write each task's Python callable, point task: at it, then",
        "set enabled: true (`scheduler check --import` lists the tasks not written yet).",
        f"Cron lines without a zone of their own read {zone or 'UTC'} (--timezone): sidekiq-cron "
        "read them in UTC, or in Rails' zone under Rails; sidekiq-scheduler in the server's.",
    ]
    return Converted(header, [_entry(name, body, module) for name, body in jobs], zone)


def _jobs(root: Node | None, path: str) -> list[tuple[str, Node]]:
    """(name, settings) of each job, in file order."""
    if isinstance(root, Mapping):
        for key in ("scheduler", "schedule"):
            inner = _get(root, key)
            if isinstance(inner, Mapping):
                return _jobs(_get(inner, "schedule") or inner, path)
        return [(key.text, body) for key, body in root.items.values()]
    if isinstance(root, Sequence):
        named = [(_get(item, "name"), item) for item in root.items if isinstance(item, Mapping)]
        if len(named) == len(root.items) and all(isinstance(n, Scalar) for n, _ in named):
            return [(n.text, item) for n, item in named if isinstance(n, Scalar)]
    where = f"{path}:{root.line}:{root.column}" if root is not None else path
    raise BadSetting(
        f"{where}: expected a hash of job name to settings (cron, class...), or a list of "
        "jobs with a name, as sidekiq-cron and sidekiq-scheduler read"
    )


def _get(node: Mapping, key: str) -> Node | None:
    """The value of ``key`` or Ruby's symbol ``:key``."""
    found = node.items.get(key) or node.items.get(f":{key}")
    return found[1] if found is not None else None


def _entry(name: str, body: Node, module: str | None) -> Entry:
    entry = Entry(name)
    if not isinstance(body, Mapping):
        entry.skip(f"a job's settings are a hash, got {_value(body)!r}")
        return entry
    settings = {key.lstrip(":"): _value(value) for key, (_, value) in body.items.items()}
    for step in (_task, _rule, _arguments, _others):
        try:
            step(entry, settings, module)
        except Unmappable as why:
            entry.skip(str(why))
    for key, value in settings.items():
        if key not in JOB_KEYS and key not in ("active_job", "date_as_argument"):
            entry.notes.append(f"{key}: {value!r} has no equivalent here; left out")
    return entry


def _task(entry: Entry, settings: dict[str, Any], module: str | None) -> None:
    klass = settings.get("class") or entry.source_name  # sidekiq-scheduler's default
    if not isinstance(klass, str) or not re.fullmatch(r"[A-Za-z_][\w:]*", klass.strip()):
        entry.settings["task"] = "jobs.unnamed:perform"
        raise Unmappable(f"class {klass!r} is not a Ruby class name")
    entry.settings["task"] = task_for(klass.strip(), module)
    entry.notes.append(f"Sidekiq class {klass.strip()}: task: names the Python callable to write")


def task_for(klass: str, module: str | None) -> str:
    """``Admin::ReportWorker`` → ``admin.report_worker:perform`` (under ``module``)."""
    parts = [_CAMEL.sub("_", part).lower() for part in klass.split("::") if part]
    parts = [re.sub(r"\W", "_", part) for part in parts]
    parts = [part if part.isidentifier() else f"_{part}" for part in parts]
    return ".".join([*([module] if module else []), *parts]) + ":perform"


def _rule(entry: Entry, settings: dict[str, Any], module: str | None) -> None:
    cron, every = settings.get("cron"), settings.get("every")
    if isinstance(every, list) and every:
        every, options = every[0], every[1:]
        entry.notes.append(f"every's options {options!r} have no equivalent here; left out")
    if isinstance(cron, list) and cron:
        cron, options = cron[0], cron[1:]
        entry.notes.append(f"cron's options {options!r} have no equivalent here; left out")
    if isinstance(cron, str) and every is None:
        entry.settings["cron"] = cron  # shown in the comment if it stays one
        entry.settings.update(cron_line(cron))
    elif isinstance(every, (str, int)) and cron is None:
        entry.settings["every"] = every
        entry.settings["every"] = _every(every)
    else:
        for key in ("at", "in", "interval"):
            if key in settings:
                raise Unmappable(f"a sidekiq-scheduler {key!r} job: write its rule by hand")
        raise Unmappable("the job has no cron or every rule (or both)")


def cron_line(line: str) -> dict[str, str]:
    """``cron`` (and ``timezone``) of a sidekiq-cron line such as ``0 22 * * 1-5
    America/Chicago``; Unmappable for fugit's natural language or other syntax."""
    if _NATURAL.match(line.strip()):
        raise Unmappable(f"{line!r} is fugit's natural language: write it as cron or every")
    tokens = line.split()
    found: dict[str, str] = {}
    if len(tokens) in (6, 7) and _ZONE.fullmatch(tokens[-1]):
        zone = tokens.pop()
        try:
            load_zone(zone)
        except RuleError as error:
            raise Unmappable(f"cron {line!r}: {error.message}") from None
        found["timezone"] = zone
    return {"cron": common_cron(" ".join(tokens), "sidekiq"), **found}


def _every(every: str | int) -> str:
    text = str(every).strip()
    try:
        seconds = parse_duration(text)
    except RuleError:
        raise Unmappable(
            f"every {text!r}: durations here are whole numbers of w d h m s (rufus's M is a "
            "month, fractions are not read): write the rule by hand"
        ) from None
    return duration_text(seconds)


def _arguments(entry: Entry, settings: dict[str, Any], module: str | None) -> None:
    args = settings.get("args")
    if args is None:
        return
    if isinstance(args, str):
        args = _json_text(args)
    if isinstance(args, dict):
        args = [args]  # sidekiq-cron passes a hash as the one argument of perform
    elif not isinstance(args, list):
        args = [args]
    if args:
        entry.settings["args"] = json_value(args, "args")
    if settings.get("date_as_argument"):
        entry.notes.append("date_as_argument: read the fire time from current_job() instead")


def _json_text(args: str) -> Any:
    """Args written as text: sidekiq-cron reads them as JSON if they are, else as one
    argument."""
    try:
        value = json.loads(args)
    except ValueError:
        return [args]
    if isinstance(value, list):
        return value
    raise Unmappable(f"args {args!r} are JSON text that is not a list: write them as a list")


def _others(entry: Entry, settings: dict[str, Any], module: str | None) -> None:
    queue = settings.get("queue")
    if queue is not None and str(queue) != "default":
        entry.settings["queue"] = queue_name(queue, "Sidekiq")
    if settings.get("description"):
        entry.settings["description"] = str(settings["description"])
    if settings.get("active_job"):
        entry.notes.append("active_job: an Active Job class; the task takes the same arguments")
    was = settings.get("enabled", True) is not False and settings.get("status") != "disabled"
    entry.settings["enabled"] = False
    if not was:
        entry.notes.append("disabled in Sidekiq too")


def _value(node: Node) -> Any:
    """The Ruby value of ``node``: YAML 1.1 scalars (``yes`` is true), symbol keys bare."""
    if isinstance(node, Sequence):
        return [_value(item) for item in node.items]
    if isinstance(node, Mapping):
        return {key.lstrip(":"): _value(value) for key, (_, value) in node.items.items()}
    if not node.plain:
        return node.text
    # A plain scalar read alone is the same plain scalar: PyYAML resolves it by YAML 1.1.
    return yaml.safe_load(node.text)
