"""Imports run one way: a module may import only modules of a lower layer (or its own)."""

from __future__ import annotations

import ast
from pathlib import Path

import scheduler

PACKAGE = Path(scheduler.__file__).parent

# Lower layers first. A new module must be placed here, on purpose.
LAYERS: list[set[str]] = [
    {"errors"},
    {"zones", "cronexpr", "rules", "describe"},
    {"schedule", "yamlnodes", "fields"},
    {"planner"},
    {"documents", "jobs", "enqueue", "keys", "clock", "scripts", "logs", "faults"},
    {"leader", "queue", "deadset", "registry", "consumer", "execution", "watch", "stats"},
    {
        "dispatcher",
        "worker",
        "pool",
        "fetcher",
        "status",
        "control",
        "testing",
        "testing_run",
        "metrics",
    },
    {"runloop", "dev", "web", "pytest_plugin"},
    {"cli", "cli_redis", "cli_run", "cli_control", "cli_web", "__main__"},
    {"__init__"},
]


def _rank(module: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if module in layer:
            return rank
    raise AssertionError(f"scheduler.{module} is in no layer of tests/unit/test_layers.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("scheduler."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("scheduler."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_module_imports_only_lower_layers() -> None:
    upward = []
    for path in sorted(PACKAGE.glob("*.py")):
        own = _rank(path.stem)
        for imported in _imports(path):
            if imported in {"lua"}:
                continue
            if _rank(imported) > own:
                upward.append(f"{path.stem} imports {imported}")
    assert upward == []
