"""``scheduler check --import`` for jobs of other targets: would the target's workers find
what each job names (docs/targets.md, "Checking names")?"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any

from ..errors import Problem, TargetError
from ..schedule.loader import Schedule
from .load import targets_of


def target_import_problems(schedule: Schedule) -> list[Problem]:
    """A problem, at the job's target key, per job whose task, function or actor the
    target's workers would not find (or whose application cannot be loaded)."""
    jobs = [job for job in schedule.jobs.values() if job.target != "task"]
    if not jobs:
        return []
    try:
        targets = targets_of(schedule)
    except TargetError as error:
        line, column = jobs[0].task_at
        return [Problem(schedule.path, line, column, str(error), jobs[0].name)]
    problems = []
    for job in jobs:
        try:
            why = targets[job.target].missing(job.task)
        except TargetError as error:
            why = str(error)
        if why is not None:
            line, column = job.task_at
            problems.append(Problem(schedule.path, line, column, why, job.name))
    return problems


def load_app(spec: str, what: str, find: Any = None) -> Any:
    """The object ``spec`` (``module`` or ``module:attribute``) names, imported from the
    working directory and ``sys.path``; ``find`` (the target's own finder) when given.
    A TargetError saying why it cannot be loaded."""
    try:
        if find is not None:
            return find(spec)
        module_name, _, attribute = spec.partition(":")
        found: Any = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            found = getattr(found, part)
        return found
    except Exception as error:  # importing runs the application: any error means "cannot"
        raise TargetError(f"cannot load {what} {spec!r}: {error!r}") from None


def unknown(name: str, known: Iterable[str], what: str) -> str | None:
    """None if ``name`` is among ``known``; else one line saying so, with the closest
    known name as a hint."""
    names = set(known)
    if name in names:
        return None
    close = difflib.get_close_matches(name, sorted(names), 1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{what} has no {name!r}{hint}"
