"""Lua scripts: each opens with its contract; fragments are pasted in."""

from __future__ import annotations

import pytest

from scheduler.transport.scripts import script_names, script_source


def test_the_queue_scripts_are_there() -> None:
    assert {"enqueue", "fetch", "settle", "register", "reap", "retry_dead"} <= set(script_names())


@pytest.mark.parametrize("name", script_names())
def test_every_script_opens_with_its_keys_argv_and_return_contract(name: str) -> None:
    header = script_source(name).split("\n\n")[0]
    assert header.startswith(f"-- {name}")
    assert "KEYS[1]" in header and "ARGV[1]" in header and "Returns" in header


def test_an_include_line_is_replaced_by_the_fragment() -> None:
    source = script_source("enqueue")
    assert not any(line.startswith("-- @include") for line in source.splitlines())
    assert "local function push_job(queue_key, wake_key, payload)" in source
