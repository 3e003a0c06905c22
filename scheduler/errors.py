"""One error hierarchy for the whole package.

Expected outcomes (a duplicate fire, a lost lease) are returned values, not exceptions;
these classes are for what a caller has to stop and report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# C0 and C1 controls, DEL, line and paragraph separators, and the marks that reorder text.
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``, ``\\u202e``).

    A message that quotes a file, an option or data read from Redis stays one line, and
    cannot move the cursor, retitle the terminal or reorder what is shown.
    """
    return CONTROL_CHARACTERS.sub(_escape, text)


def printable_lines(text: str) -> str:
    """``text`` with control characters escaped but its line breaks kept, for output made
    of several lines whose fields were each made ``printable``."""
    return "\n".join(map(printable, text.split("\n")))


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class SchedulerError(Exception):
    """Raised for any error this package reports; catch this to catch them all."""

    def lines(self) -> list[str]:
        """What to show a person: one line per problem (escape each before printing)."""
        return [str(self)]


class RuleError(SchedulerError, ValueError):
    """Raised when a rule (duration, cron expression, time of day, monthly field) is invalid.

    ``offset`` is the character index in the text where the problem starts, when known,
    so the schedule loader can point at the exact column.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Problem:
    """One problem found in a schedule file, with where it is.

    A ``warning`` is a problem that does not stop the file from loading: something valid
    that is probably not what was meant (docs/schedule.md, "Warnings").
    """

    path: str
    line: int
    column: int
    message: str
    job: str | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        kind = "warning: " if self.warning else ""
        job = f"job '{self.job}': " if self.job is not None else ""
        return printable(f"{where}: {kind}{job}{self.message}")


class ScheduleInvalid(SchedulerError):
    """Raised when a schedule file fails to load; ``problems`` holds every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class ScheduleNotFound(SchedulerError):
    """Raised when the schedule file does not exist or cannot be read."""


class UnknownJob(SchedulerError):
    """Raised when a command names a job that the schedule (or Redis) does not know."""


class ConfigError(SchedulerError):
    """Raised when an option, environment variable or server setting is unusable."""


class BadSetting(ConfigError):
    """Raised when the value of an option or environment variable is invalid (the CLI exits
    2, as for any bad value, where other ConfigErrors exit 1)."""


class TargetError(BadSetting):
    """Raised when a target cannot be used: its extra is missing, its message cannot be
    built, or its broker is not the Redis of ``--redis`` (docs/targets.md)."""


class RedisUnavailable(SchedulerError):
    """Raised when Redis cannot be reached or refuses us (connection, auth, TLS)."""


class TaskNotAllowed(SchedulerError):
    """Raised when a job names a task this worker is not allowed to run."""


class TaskNotFound(SchedulerError):
    """Raised when a task's module or callable cannot be imported. ``problems``, when
    given, are the lines of several such failures (a worker's check at start)."""

    def __init__(self, message: str = "", problems: Sequence[str] = ()) -> None:
        super().__init__(message or "\n".join(problems))
        self.problems = list(problems)

    def lines(self) -> list[str]:
        return self.problems or [str(self)]


class PayloadError(SchedulerError):
    """Raised when a job payload cannot be decoded or fails validation."""


class JobTimeout(SchedulerError):
    """Raised (and recorded as the failure) when a job runs past its ``timeout``."""


class ResultUnavailable(SchedulerError):
    """Raised by ``Queue.result`` when a job has no result to give: it ended without one
    (dead, cancelled, or its return value was not JSON), its record expired, or it was
    enqueued without ``result_ttl``. ``job_id``, ``status`` and ``error`` say which."""

    def __init__(self, job_id: str, status: str, error: str | None = None) -> None:
        self.job_id, self.status, self.error = job_id, status, error
        reason = {
            "unknown": "no record (enqueued without result_ttl=, or its record expired)",
            "succeeded": "it succeeded but kept no result",
        }.get(status, f"it is {status}")
        super().__init__(f"job {job_id} has no result: {reason}" + (f": {error}" if error else ""))


class ResultTimeout(SchedulerError, TimeoutError):
    """Raised by ``Queue.result`` when the job has not ended within the ``timeout``."""
