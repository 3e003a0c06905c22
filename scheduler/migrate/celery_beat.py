"""A Celery app's ``beat_schedule`` as a schedule file of ``celery:`` jobs
(``scheduler import celery-beat``, docs/migrating.md).

The app is read, not typed against: Celery's schedule classes are recognised by their
exact class, so a subclass (which may fire differently) stays a comment. Each entry's
queue is the one Celery itself would send the task to (``app.amqp.router``: the entry's
options, then ``task_routes``, then ``task_default_queue``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..errors import RuleError
from ..rules.cronexpr import CRON_DAY_NAMES, CronFields, parse_cron
from ..rules.kinds import load_zone
from ..schedule.targetkeys import APP_PATH, TASK_NAME
from .entries import (
    Converted,
    Entry,
    Unmappable,
    cron_matches,
    cron_of_sets,
    duration_of,
    every_of,
    field_text,
    json_value,
    queue_name,
)

DEFAULT_QUEUE = "celery"
ENTRY_KEYS = ("task", "schedule", "args", "kwargs", "options", "relative")
MAPPED_OPTIONS = (
    "queue",
    "expires",
    "time_limit",
    "priority",
    "headers",
    "exchange",
    "routing_key",
)
_ALL_DAYS = frozenset(range(1, 32))
_ALL_WEEKDAYS = frozenset(range(7))


def convert_app(app: Any, source: str, host_zone: str | None) -> Converted:
    """The jobs of ``app.conf.beat_schedule``; ``host_zone`` is this machine's zone, which
    Celery uses for crontab when ``enable_utc`` is off and no ``timezone`` is set."""
    zone, why_not = _crontab_zone(app.conf, host_zone)
    header = [f"Converted from the Celery app {source} by `scheduler import celery-beat`."]
    schedule = app.conf.beat_schedule or {}
    entries = [_entry(str(name), spec, app, why_not) for name, spec in schedule.items()]
    if any(e.settings.get("every") for e in entries):
        header.append(
            "every: fires at whole multiples of its period since 1970-01-01 UTC (add start: to "
            "move them); beat counted from its own start."
        )
    settings, notes = broker_settings(app.conf)
    if APP_PATH.fullmatch(source):  # what `scheduler check --import` asks (docs/targets.md)
        settings["app"] = source
    targets = {"celery": settings} if settings else {}
    return Converted(header + notes, entries, None if zone == "UTC" else zone, targets)


def broker_settings(conf: Any) -> tuple[dict[str, Any], list[str]]:
    """``targets: celery:`` for the app's broker (its key prefix, and its URL when that
    holds no password: the file is shown by status and the dashboard), and notes."""
    settings: dict[str, Any] = {}
    prefix = (conf.broker_transport_options or {}).get("global_keyprefix")
    if prefix:
        settings["global_keyprefix"] = str(prefix)
    url = str(conf.broker_url or conf.broker_write_url or "amqp://localhost//")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return settings, [
            f"The app's broker is {parts.scheme}://...: celery: jobs need the Redis server "
            "and database of --redis as the broker (docs/targets.md)."
        ]
    if parts.password:
        return settings, [
            "The app's broker URL holds a password, so it is not written here: set "
            "CELERY_BROKER_URL where scheduler run runs, for its same-Redis check."
        ]
    settings["broker"] = url
    return settings, []


def _crontab_zone(conf: Any, host_zone: str | None) -> tuple[str, str | None]:
    """The zone crontab entries read, and why they cannot be converted (or None)."""
    if conf.timezone:
        name = str(conf.timezone)
    elif conf.enable_utc:
        return "UTC", None
    elif host_zone is None:
        return "UTC", (
            "Celery reads crontab in this host's local time (enable_utc is off, no timezone "
            "set), and this host's zone is unknown: set timezone in the app"
        )
    else:
        name = host_zone
    try:
        load_zone(name)
    except RuleError as error:
        return "UTC", f"the app's timezone: {error.message}"
    return name, None


def _entry(name: str, spec: Any, app: Any, zone_problem: str | None) -> Entry:
    entry = Entry(name)
    if not isinstance(spec, Mapping):
        entry.skip(f"a beat_schedule entry is a dict, got {type(spec).__name__}")
        return entry
    task = spec.get("task")
    if not isinstance(task, str) or not TASK_NAME.fullmatch(task):
        entry.skip(f"task {task!r} is not a Celery task name a celery: job can name")
    entry.settings["celery"] = str(task)
    for step in (_rule, _arguments, _options):
        try:
            step(entry, spec, app)
        except Unmappable as why:
            entry.skip(str(why))
    if ("cron" in entry.settings or "monthly" in entry.settings) and zone_problem is not None:
        entry.skip(zone_problem)
    for key in spec:
        if key not in ENTRY_KEYS:
            entry.notes.append(f"{key!r} is not a beat_schedule key; left out")
    return entry


def _rule(entry: Entry, spec: Mapping[str, Any], app: Any) -> None:
    rule: Any = spec.get("schedule")
    entry.settings["schedule"] = repr(rule)  # shown in the comment if it stays one
    key, value = rule_of(rule)
    del entry.settings["schedule"]
    entry.settings[key] = value


def rule_of(rule: Any) -> tuple[str, Any]:
    """The rule key and value here for a beat entry's ``schedule``; Unmappable if none."""
    kind = f"{type(rule).__module__}.{type(rule).__qualname__}"
    if kind == "celery.schedules.crontab":
        nth = nth_weekday(rule)
        return ("monthly", nth) if nth is not None else ("cron", crontab_text(rule))
    if kind == "celery.schedules.schedule":
        return "every", every_of(rule.run_every.total_seconds(), "the")
    if isinstance(rule, timedelta):
        return "every", every_of(rule.total_seconds(), "the")
    if isinstance(rule, (int, float)) and not isinstance(rule, bool):
        return "every", every_of(rule, "the")
    if kind == "celery.schedules.solar":
        raise Unmappable("solar schedules follow the sun, which no rule here can express")
    raise Unmappable(f"{kind} is a custom schedule: write its rule by hand")


def crontab_text(rule: Any) -> str:
    """A cron expression that fires exactly when Celery's ``crontab`` ``rule`` does: as
    written if that reads the same here, otherwise listing its values. Unmappable when
    both day fields are restricted (Celery needs both to match, cron here either)."""
    days, weekdays = frozenset(rule.day_of_month), frozenset(rule.day_of_week)
    if days != _ALL_DAYS and weekdays != _ALL_WEEKDAYS:
        raise Unmappable(
            f"{rule!r} restricts both day_of_month and day_of_week: Celery fires when both "
            "match, a cron rule here when either does; write a monthly rule by hand"
        )
    if rule.nowfun is not None:
        raise Unmappable(f"{rule!r} has its own nowfun (clock): write its rule by hand")
    written = _as_written(rule)
    if written is not None and _same(written, rule):
        return written
    listed = " ".join(
        [
            *cron_of_sets(rule.minute, rule.hour, days, rule.month_of_year),
            field_text(weekdays, 0, 6),
        ]
    )
    assert _same(listed, rule), f"{listed!r} must fire as {rule!r}"
    return listed


def nth_weekday(rule: Any) -> dict[str, Any] | None:
    """The ``monthly`` rule of a crontab that picks one weekday in a run of seven days of
    the month that starts on day 1, 8, 15, 22 or 29 (its first to fifth occurrence, as
    ``crontab(day_of_week="mon", day_of_month="1-7")``), else None."""
    days, weekdays = sorted(rule.day_of_month), sorted(rule.day_of_week)
    if len(weekdays) != 1 or rule.nowfun is not None:
        return None
    nth = (days[0] + 6) // 7
    if days[0] % 7 != 1 or days != list(range(days[0], min(days[0] + 6, 31) + 1)):
        return None
    times = [f"{h:02d}:{m:02d}" for h in sorted(rule.hour) for m in sorted(rule.minute)]
    monthly: dict[str, Any] = {"weekday": CRON_DAY_NAMES[weekdays[0]], "nth": nth}
    monthly["at"] = times[0] if len(times) == 1 else times
    if set(rule.month_of_year) != set(range(1, 13)):
        monthly["months"] = sorted(rule.month_of_year)
    return monthly


def _as_written(rule: Any) -> str | None:
    parts = [
        rule._orig_minute,
        rule._orig_hour,
        rule._orig_day_of_month,
        rule._orig_month_of_year,
        rule._orig_day_of_week,
    ]
    if not all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in parts):
        return None
    text = " ".join(str(part).replace(" ", "") for part in parts)
    return text if len(text.split()) == 5 else None


def _same(text: str, rule: Any) -> bool:
    """Whether the cron ``text`` fires here exactly when ``rule`` fires in Celery."""
    try:
        parsed = parse_cron(text)
    except RuleError:
        return False
    weekdays = {(day + 6) % 7 for day in rule.day_of_week}  # Celery's Sunday is 0
    days = set(rule.day_of_month)
    return (
        cron_matches(parsed, set(rule.minute), set(rule.hour), days, set(rule.month_of_year))
        and set(parsed.weekdays) == weekdays
        and not _either(parsed, days, weekdays)
    )


def _either(parsed: CronFields, days: set[int], weekdays: set[int]) -> bool:
    """Whether ``parsed`` reads its day fields as "either", where that changes the days."""
    both = parsed.days_restricted and parsed.weekdays_restricted
    return both and not (days == _ALL_DAYS and len(weekdays) == 7)


def _arguments(entry: Entry, spec: Mapping[str, Any], app: Any) -> None:
    args = spec.get("args") or ()
    kwargs = spec.get("kwargs") or {}
    if args:
        entry.settings["args"] = json_value(list(args), "args")
    if kwargs:
        entry.settings["kwargs"] = json_value(dict(kwargs), "kwargs")


def _options(entry: Entry, spec: Mapping[str, Any], app: Any) -> None:
    options = dict(spec.get("options") or {})
    queue = routed_queue(app, entry.settings["celery"], options, spec)
    if queue != DEFAULT_QUEUE:
        entry.settings["queue"] = queue_name(queue, "Celery")
    expires = options.get("expires")
    if isinstance(expires, datetime):
        raise Unmappable(f"expires at a fixed time ({expires.isoformat()}): write it by hand")
    if expires is not None:
        entry.settings["expires"] = duration_of(expires, "expires")
    if options.get("time_limit") is not None:
        entry.settings["timeout"] = duration_of(options["time_limit"], "time_limit")
    if options.get("priority") is not None:
        entry.settings["priority"] = options["priority"]
    if options.get("headers"):
        entry.settings["headers"] = json_value(options["headers"], "headers")
    for key, value in options.items():
        if key not in MAPPED_OPTIONS:
            entry.notes.append(f"option {key}={value!r} has no setting here; left out")


def routed_queue(app: Any, task: str, options: dict[str, Any], spec: Mapping[str, Any]) -> str:
    """The queue Celery sends ``task`` to with these options (its router decides)."""
    args, kwargs = tuple(spec.get("args") or ()), dict(spec.get("kwargs") or {})
    try:
        route = app.amqp.router.route(dict(options), task, args, kwargs)
    except Exception as error:  # the app's own routers run here: any error is theirs
        raise Unmappable(f"Celery's router failed for {task}: {error!r}") from None
    queue = route.get("queue")
    name = getattr(queue, "name", None) or str(queue)
    key = route.get("routing_key") or getattr(queue, "routing_key", None)
    if key and key != name:
        raise Unmappable(f"routed to queue {name!r} with routing key {key!r}: set it by hand")
    return str(name)
