"""docs/testing.md: each example is a file of a small project, and that project's tests pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scheduler import testing

pytest_plugins = ["pytester"]

DOC = Path(__file__).parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
FILE_NAME = re.compile(r"# ([\w/.-]+\.(?:py|yml))\b")


def example_files() -> dict[str, str]:
    """Every python and yaml block of the guide, by the file its first line names
    (blocks naming the same file are joined, in order)."""
    files: dict[str, str] = {}
    for language, body in BLOCK.findall(DOC.read_text()):
        if language not in ("python", "yaml"):
            continue
        named = FILE_NAME.match(body)
        assert named, f"a {language} example without '# <file>' on its first line:\n{body}"
        path = named.group(1)
        files[path] = files[path] + "\n\n" + body if path in files else body
    return files


def test_every_example_is_a_file_of_the_example_project() -> None:
    files = example_files()
    assert {"conftest.py", "schedule.yml", "myapp/accounts.py", "tests/test_schedule.py"} <= set(
        files
    )


def test_the_guide_names_every_public_helper() -> None:
    text = DOC.read_text()
    assert [name for name in testing.__all__ if f"`{name}" not in text] == []
    for fixture in ("scheduler_queue", "scheduler_inline", "scheduler_allow"):
        assert f"`{fixture}`" in text


def test_the_examples_of_the_guide_pass(pytester: pytest.Pytester) -> None:
    files = example_files()
    for path, text in files.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    tests = sum(len(re.findall(r"^\s*def test_", text, re.MULTILINE)) for text in files.values())
    assert tests >= 8
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=tests)
