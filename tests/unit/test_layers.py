"""Imports run one way: a module may import only modules of its own layer or a lower one.

A layer holds folders (every module under ``scheduler/<folder>/``) and modules; a module
listed by its dotted name (``worker.execution``) takes that place instead of its folder's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import scheduler

PACKAGE = Path(scheduler.__file__).parent

# Lower layers first. A new module or folder must be placed here, on purpose.
LAYERS: list[set[str]] = [
    {"errors"},
    {"rules"},
    {"schedule.yamlnodes", "schedule.fields", "schedule.targetkeys", "schedule.loader"},
    {"schedule.planner", "schedule.watch", "migrate"},
    {"hooks"},
    {"jobs", "documents", "tasks", "enqueue", "keys", "clock", "transport"},
    {
        "queue",
        "defaults",
        "aio",
        "deadset",
        "targets",
        "jobstate",
        "waiting",
        "registry",
        "stats",
        "dispatch.leader",
        "dispatch.fires",
        "worker.redis_calls",
        "worker.execution",
    },
    {"dispatch.dispatcher", "worker", "ops.status", "ops.control", "testing", "integrations"},
    {"dispatch.runloop", "ops.metrics", "web", "pytest_plugin"},
    {"cli", "__main__"},
    {"__init__"},
]
PURE = ("rules", "schedule", "migrate")  # no Redis, no clock: their folders never import redis
SELF_CONTAINED = (
    "rules",
    "schedule",
    "migrate",
    "transport",
    "dispatch",
    "worker",
    "ops",
    "cli",
)


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _rank(module: str) -> int:
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        unit = ".".join(parts[:size])
        for rank, layer in enumerate(LAYERS):
            if unit in layer:
                return rank
    raise AssertionError(f"scheduler.{module} is in no layer of tests/unit/test_layers.py")


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the package that ``module`` imports, as dotted names."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if module == "__init__":
        package = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            for alias in node.names:
                inner = f"{target}.{alias.name}".strip(".")
                found.add(inner if inner in known else target or "__init__")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scheduler."):
            found.add(str(node.module).removeprefix("scheduler."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("scheduler."):
                    found.add(alias.name.removeprefix("scheduler."))
    return found


def test_every_module_imports_only_lower_layers() -> None:
    upward = []
    modules = _modules()
    for module, path in modules.items():
        if module in SELF_CONTAINED:
            continue  # a folder's __init__.py imports nothing (the last test)
        own = _rank(module)
        for imported in _imports(module, path, modules):
            if _rank(imported) > own:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_the_pure_folders_never_import_redis() -> None:
    importers = []
    for folder in PURE:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                if any(name.split(".")[0] == "redis" for name in names):
                    importers.append(path.relative_to(PACKAGE).as_posix())
    assert importers == []


def test_a_folder_init_imports_nothing_so_one_part_never_drags_in_another() -> None:
    importing = []
    for folder in SELF_CONTAINED:
        tree = ast.parse((PACKAGE / folder / "__init__.py").read_text())
        if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.walk(tree)):
            importing.append(folder)
    assert importing == []
