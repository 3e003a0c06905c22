"""The names an application imports from ``scheduler``."""

from __future__ import annotations

import subprocess
import sys

import scheduler
from scheduler import errors


def test_every_error_class_is_exported_from_the_package() -> None:
    raised = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.SchedulerError)
    }
    exported = set(scheduler.__all__)
    assert raised - {"BadSetting"} <= exported
    assert scheduler.PayloadError is errors.PayloadError


def test_importing_the_package_and_its_errors_imports_no_redis() -> None:
    code = (
        "import sys, scheduler; from scheduler import PayloadError; print('redis' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
