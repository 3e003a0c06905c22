"""Finding a target by its job key; its library is imported only when a job uses it."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from ..errors import TargetError
from ..schedule.loader import Schedule
from .base import Senders, Target

MODULES = {
    "celery": ("scheduler.targets.celery", "CeleryTarget", "celery"),
    "rq": ("scheduler.targets.rq", "RqTarget", "rq"),
    "dramatiq": ("scheduler.targets.dramatiq", "DramatiqTarget", "dramatiq"),
}


def targets_of(schedule: Schedule) -> dict[str, Target]:
    """The targets the jobs of ``schedule`` use (``task`` excluded), each with its settings;
    TargetError when a target's extra is not installed."""
    used = {job.target for job in schedule.jobs.values() if job.target != "task"}
    return {key: load_target(key, schedule.targets.get(key, {})) for key in sorted(used)}


def load_target(key: str, settings: Mapping[str, object]) -> Target:
    """The target ``key``, built with its file settings."""
    module_name, class_name, extra = MODULES[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetError(
            f"{key} jobs need the {extra} extra: pip install 'scheduler[{extra}]' ({error})"
        ) from None
    target: Target = getattr(module, class_name)(settings)
    return target


def senders_for(schedule: Schedule) -> Senders:
    """Senders for every job of ``schedule`` that is not a ``task:`` job, each built now so
    that a message that cannot be built stops the start, not a tick."""
    senders = Senders(targets_of(schedule))
    for job in schedule.jobs.values():
        if job.target != "task":
            senders.of(job)
    return senders
