"""The schedule file as a running process sees it: reloaded when it changes, never broken.

A new version is read and validated first; if it has problems they are logged and the
old schedule stays in force. What changed (jobs added, removed, changed) is logged, and
so are the warnings of each schedule taken (they do not stop it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from dataclasses import dataclass

from .errors import ScheduleInvalid, ScheduleNotFound
from .schedule import Job, Schedule, parse_schedule, read_schedule_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """What a reload changed, by job name."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


class ScheduleFile:
    """A schedule file and the last good schedule read from it."""

    def __init__(self, path: str) -> None:
        self.path = path
        raw = read_schedule_file(self.path)
        self.schedule = parse_schedule(raw, path)
        _log_warnings(self.schedule)
        self.text = raw.decode("utf-8")
        self._stamp = self._stat()
        self._sha = _sha(raw)

    def reload(self, force: bool = False) -> Change | None:
        """Read the file again if it changed (or ``force``); the change if one was taken."""
        stamp = self._stat()
        if stamp == self._stamp and not force:
            return None
        self._stamp = stamp
        try:
            text = read_schedule_file(self.path)
        except (ScheduleNotFound, ScheduleInvalid) as exc:
            log.error("schedule reload failed, keeping the old schedule: %s", exc)
            return None
        if _sha(text) == self._sha:
            return None
        return self._take(text)

    def _take(self, raw: bytes) -> Change | None:
        text = raw.decode("utf-8", errors="replace")
        try:
            new = parse_schedule(raw, self.path)
        except ScheduleInvalid as exc:
            log.error(
                "schedule reload refused, keeping the old one digest=%s problems=%d",
                self.schedule.digest, len(exc.problems),
            )  # fmt: skip
            for problem in exc.problems:
                log.error("schedule problem: %s", problem)
            self._sha = _sha(raw)
            return None
        change = diff(self.schedule, new)
        log.info(
            "schedule reloaded digest=%s->%s added=%s removed=%s changed=%s",
            self.schedule.digest, new.digest, ",".join(change.added) or "-",
            ",".join(change.removed) or "-", ",".join(change.changed) or "-",
        )  # fmt: skip
        _log_warnings(new)
        self.schedule, self.text, self._sha = new, text, _sha(raw)
        return change

    def _stat(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except OSError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)


def _log_warnings(schedule: Schedule) -> None:
    for warning in schedule.warnings:
        log.warning("schedule warning: %s", warning)


def diff(old: Schedule, new: Schedule) -> Change:
    """Jobs added, removed and changed between two schedules."""
    added = tuple(name for name in new.jobs if name not in old.jobs)
    removed = tuple(name for name in old.jobs if name not in new.jobs)
    changed = tuple(
        name
        for name in new.jobs
        if name in old.jobs and fingerprint(new.jobs[name]) != fingerprint(old.jobs[name])
    )
    return Change(added, removed, changed)


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def fingerprint(job: Job) -> tuple[object, ...]:
    """Everything that defines a job, comparable (rules compare by kind, text and start)."""
    rule = job.rule
    fields = dataclasses.replace(job, line=0).__dict__.items()
    rest = tuple((k, repr(v)) for k, v in fields if k != "rule")
    return (rule.kind, rule.text, getattr(rule, "start", None), *rest)
