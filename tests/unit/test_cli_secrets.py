"""`--redis-url-file` and `--token-file` (and their `_FILE` variables): a secret read from a
file, or one line saying why not, exit 2, never the file's content."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

SECRET = "redis://:hunter2-s3cr3t@127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_URL_FILE", "WEB_TOKEN", "WEB_TOKEN_FILE"):
        monkeypatch.delenv(f"SCHEDULER_{name}", raising=False)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read it (No such file or directory)"),
        (b"", "write the value alone on one line"),
        (b"\n", "write the value alone on one line"),
        (SECRET.encode() + b"\nsecond line\n", "write the value alone on one line"),
        (SECRET.encode() + b" " * 70_000, "at most 64 KiB"),
        (b"redis://:\xff-s3cr3t@h/0", "it is not UTF-8 text"),
    ],
)
def test_an_unusable_secret_file_is_one_line_that_never_shows_its_content(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "redis-url"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_cli(capsys, "status", "--redis-url-file", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: --redis-url-file {path}: ")
    assert problem in err and err.count("\n") == 1
    assert "s3cr3t" not in err and "second" not in err


def test_a_fifo_as_a_secret_file_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "redis-url"
    os.mkfifo(fifo)
    argv = [sys.executable, "-m", "scheduler", "status", "--redis-url-file", str(fifo)]
    result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: --redis-url-file {fifo}: cannot read it (a FIFO, not a regular file)\n"
    )


def test_the_variable_names_itself_when_the_file_came_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCHEDULER_WEB_TOKEN_FILE", str(tmp_path / "missing"))
    code, _, err = run_cli(capsys, "web", "--redis", "redis://127.0.0.1:1/0")
    assert code == 2
    assert err.startswith(f"error: $SCHEDULER_WEB_TOKEN_FILE {tmp_path / 'missing'}: cannot")


def test_a_value_and_its_file_given_the_same_way_are_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "redis-url"
    path.write_text(SECRET)
    code, _, err = run_cli(capsys, "status", "--redis", SECRET, "--redis-url-file", str(path))
    assert (code, err) == (2, "error: --redis and --redis-url-file are both set: keep one\n")
    monkeypatch.setenv("SCHEDULER_REDIS_URL", SECRET)
    monkeypatch.setenv("SCHEDULER_REDIS_URL_FILE", str(path))
    code, _, err = run_cli(capsys, "status")
    assert code == 2
    assert err == (
        "error: $SCHEDULER_REDIS_URL and $SCHEDULER_REDIS_URL_FILE are both set: keep one\n"
    )


def test_the_command_line_outranks_a_file_named_in_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The file named by the environment does not exist: it is never read.
    monkeypatch.setenv("SCHEDULER_REDIS_URL_FILE", str(tmp_path / "missing"))
    code, _, err = run_cli(capsys, "status", "--redis", SECRET)
    assert code == 1
    assert "Connection refused" in err and "missing" not in err and "s3cr3t" not in err


def test_a_file_on_the_command_line_outranks_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "redis-url"
    path.write_text("unix:///nonexistent/redis.sock\n")
    monkeypatch.setenv("SCHEDULER_REDIS_URL", SECRET)
    code, _, err = run_cli(capsys, "status", "--redis-url-file", str(path))
    assert code == 1
    assert "/nonexistent/redis.sock" in err and "127.0.0.1:1" not in err
