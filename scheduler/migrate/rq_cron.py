"""The jobs of an ``rq cron`` config as a schedule file of ``rq:`` jobs
(``scheduler import rq-cron``, docs/migrating.md).

The CLI loads the config with rq's own loader (``CronScheduler.load_config_from_file``:
the file's ``rq.cron.register(...)`` calls), so what is read is what ``rq cron`` runs.
rq reads cron expressions with croniter (rq 3 in the host's local time, rq 2 in UTC): six
fields there put seconds *last*, so they are moved first here, and that zone becomes the
file's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..rules.describe import duration_text
from .entries import (
    Converted,
    Entry,
    Unmappable,
    common_cron,
    duration_of,
    every_of,
    json_value,
    queue_name,
)

DEFAULT_QUEUE = "default"
DEFAULT_RESULT_TTL = 500  # rq's own default for result_ttl: no note when unchanged


def convert_jobs(jobs: Iterable[Any], source: str, host_zone: str | None) -> Converted:
    """Entries for rq ``CronJob`` objects; ``host_zone`` is the zone rq read cron in
    (rq 3 reads the host's, rq 2 UTC; None when this host's zone is unknown: cron jobs
    then stay comments)."""
    header = [f"Converted from the rq cron config {source} by `scheduler import rq-cron`."]
    entries = [_entry(job, host_zone) for job in jobs]
    if any("every" in e.settings for e in entries):
        header.append(
            "every: fires at whole multiples of its period since 1970-01-01 UTC (add start: to "
            "move them); rq cron counted from its own start."
        )
    crons = any("cron" in e.settings for e in entries)
    zone = host_zone if crons and host_zone not in (None, "UTC") else None
    return Converted(header, entries, zone)


def _entry(job: Any, host_zone: str | None) -> Entry:
    path = function_path(job)
    entry = Entry(str(getattr(job, "name", "") or path))
    entry.settings["rq"] = path
    if not all(part.isidentifier() for part in entry.settings["rq"].split(".")):
        entry.skip(f"{path!r} is not an importable function path (module.function)")
    for step in (_rule, _arguments, _options):
        try:
            step(entry, job)
        except Unmappable as why:
            entry.skip(str(why))
    if "cron" in entry.settings and host_zone is None:
        entry.skip("rq cron reads cron in this host's local time, and its zone is unknown")
    return entry


def function_path(job: Any) -> str:
    """``module.function`` of an rq ``CronJob`` (rq before 2.8 keeps only the function)."""
    name = getattr(job, "func_name", None)
    return str(name) if name else f"{job.func.__module__}.{job.func.__qualname__}"


def _rule(entry: Entry, job: Any) -> None:
    if getattr(job, "cron", None):
        entry.settings["cron"] = job.cron  # shown in the comment if it stays one
        entry.settings["cron"] = common_cron(seconds_first(job.cron), "rq")
    else:
        entry.settings["every"] = job.interval
        entry.settings["every"] = every_of(job.interval, "the")


def seconds_first(expression: str) -> str:
    """croniter's six fields (seconds last) in this package's order (seconds first)."""
    fields = expression.split()
    if len(fields) == 7:
        raise Unmappable(f"rq cron {expression!r} has a year field: write the rule by hand")
    return " ".join([fields[5], *fields[:5]]) if len(fields) == 6 else expression


def _arguments(entry: Entry, job: Any) -> None:
    if job.args:
        entry.settings["args"] = json_value(list(job.args), "args")
    if job.kwargs:
        entry.settings["kwargs"] = json_value(dict(job.kwargs), "kwargs")


def _options(entry: Entry, job: Any) -> None:
    if job.queue_name != DEFAULT_QUEUE:
        entry.settings["queue"] = queue_name(job.queue_name, "rq")
    options = dict(job.job_options)
    if "timeout" in options:  # its name before rq 2.8
        options["job_timeout"] = options.pop("timeout")
    if options.get("job_timeout") is not None:
        entry.settings["timeout"] = duration_of(options.pop("job_timeout"), "job_timeout")
    if options.get("ttl") is not None:
        entry.settings["expires"] = duration_of(options.pop("ttl"), "ttl")
    entry.settings["retries"] = 0  # rq cron enqueues without a Retry
    if options.get("result_ttl") == DEFAULT_RESULT_TTL:
        del options["result_ttl"]
    for key in ("result_ttl", "failure_ttl"):
        if isinstance(options.get(key), int) and options[key] >= 0:
            seconds = options.pop(key)
            entry.settings[key] = duration_text(seconds) if seconds else 0
    for key, value in options.items():
        entry.notes.append(f"{key}={value!r} has no setting here; left out")
