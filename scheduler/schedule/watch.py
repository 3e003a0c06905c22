"""The schedule file as a running process sees it: reloaded when it changes, never broken.

A new version is read and validated first; if it has problems they are logged and the
old schedule stays in force, and ``refused`` holds them until a good version is read
(the run loop publishes them, see docs/operations.md). What changed (jobs added, removed,
changed) is logged, and so are the warnings of each schedule taken (they do not stop it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass

from ..errors import ScheduleInvalid, ScheduleNotFound
from .loader import Job, Schedule, parse_schedule, read_schedule_file

log = logging.getLogger(__name__)

SHOWN_PROBLEMS = 20  # a refusal publishes this many problem lines, and their count


@dataclass(frozen=True)
class Change:
    """What a reload changed, by job name."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class Refusal:
    """The version of the file on disk that was refused, and why (one line a problem)."""

    problems: tuple[str, ...]

    def encode(self, at: float) -> str:
        """The refusal as published in the scheduler's hash (see ``scheduler.keys``)."""
        shown = list(self.problems[:SHOWN_PROBLEMS])
        return json.dumps({"at": at, "count": len(self.problems), "problems": shown})


class Divergence:
    """Whether to warn that this replica runs another schedule than the leader's.

    After every edit replicas reload a second or so apart, so a difference is only
    reported once it has lasted ``grace`` seconds, and once per pair of digests."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._since: tuple[tuple[str, str], float] | None = None
        self._warned: set[tuple[str, str]] = set()

    def warn(self, theirs: str | None, ours: str, mono: float) -> bool:
        """True the first time ``theirs`` (the leader's digest) and ``ours`` have differed
        for ``grace`` seconds as of monotonic instant ``mono``."""
        if theirs is None or theirs == ours:
            self._since = None
            return False
        pair = (theirs, ours)
        if self._since is None or self._since[0] != pair:
            self._since = (pair, mono)
        if mono - self._since[1] < self.grace or pair in self._warned:
            return False
        self._warned.add(pair)
        return True


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
        self.refused: Refusal | None = None

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
            self.refused, self._sha = Refusal((str(exc),)), ""
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
                self.schedule.digest,
                len(exc.problems),
            )
            for problem in exc.problems:
                log.error("schedule problem: %s", problem)
            self.refused = Refusal(tuple(str(p) for p in exc.problems))
            self._sha = _sha(raw)
            return None
        change = diff(self.schedule, new)
        log.info(
            "schedule reloaded digest=%s->%s added=%s removed=%s changed=%s",
            self.schedule.digest,
            new.digest,
            ",".join(change.added) or "-",
            ",".join(change.removed) or "-",
            ",".join(change.changed) or "-",
        )
        _log_warnings(new)
        self.schedule, self.text, self._sha = new, text, _sha(raw)
        self.refused = None
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
    names = (f.name for f in dataclasses.fields(job) if f.name not in ("rule", "line", "task_at"))
    rest = tuple((name, repr(getattr(job, name))) for name in names)
    return (rule.kind, rule.text, getattr(rule, "start", None), *rest)
