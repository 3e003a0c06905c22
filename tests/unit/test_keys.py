"""The key schema: every key in the namespace's braces."""

from __future__ import annotations

import pytest

from scheduler.keys import Keys


def test_every_key_starts_with_the_namespace_in_braces() -> None:
    keys = Keys("app")
    built = [
        keys.queue("q"),
        keys.delayed("q"),
        keys.wake("q"),
        keys.queues(),
        keys.workers(),
        keys.worker("w"),
        keys.worker_jobs("w", "q"),
        keys.worker_wake("w"),
        keys.dead(),
        keys.dead_jobs(),
        keys.last("job"),
        keys.active("job"),
        keys.held(),
        keys.unique("invoice:42"),
        keys.job("id"),
        keys.job_done("id"),
        keys.cancel("id"),
    ]
    assert all(k.startswith("{app}:") for k in built)
    assert len(set(built)) == len(built)
    assert keys.worker_jobs("host:1:ab", "mail") == "{app}:worker:host:1:ab:jobs:mail"


@pytest.mark.parametrize("namespace", ["", "a}b", "{a}", "has space", "x" * 65])
def test_a_namespace_that_would_break_the_braces_is_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="invalid namespace"):
        Keys(namespace)


def test_the_schema_in_the_docstring_names_every_key() -> None:
    import scheduler.keys

    doc = scheduler.keys.__doc__ or ""
    for pattern in [
        "{ns}:queue:<queue>",
        "{ns}:delayed:<queue>",
        "{ns}:wake:<queue>",
        "{ns}:queues",
        "{ns}:workers",
        "{ns}:worker:<worker>",
        "{ns}:worker:<worker>:jobs:<queue>",
        "{ns}:worker:<worker>:wake",
        "{ns}:dead",
        "{ns}:dead:jobs",
        "{ns}:last:<job>",
        "{ns}:active:<job>",
        "{ns}:held",
    ]:
        assert f"``{pattern}``" in doc
