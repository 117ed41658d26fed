"""The SDK's modules import each other in floors, never in a circle: every import (at module
level, inside a function or under TYPE_CHECKING) goes to a lower floor."""

from __future__ import annotations

import ast
from pathlib import Path

import cairn.client

CLIENT = Path(cairn.client.__file__).parent
PACKAGE = "cairn.client"

# lowest first; a module may import only modules on floors below its own
FLOORS = [
    {"errors", "entities"},  # leaves
    {"config"},  # tracking URI rules, environment settings
    {"state"},  # the process's tracking URI and exit hook
    {"embedded"},  # the in-process server app (imported lazily by rest)
    {"rest"},  # HTTP with retries; the shared clients
    {"batching"},  # the background queue, spool and replay
    {"system_metrics"},
    {"client"},  # Client
    {"models"},  # log_model / load_model
    {"fluent"},  # start_run, log_metric …
]


def client_imports(path: Path) -> set[str]:
    """The cairn.client modules a file imports anywhere in it (short names)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif (  # import_module("cairn.client.x")
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                module = name[len(PACKAGE) + 1 :].split(".")[0]
                if (CLIENT / f"{module}.py").is_file():
                    found.add(module)
    return found


def graph() -> dict[str, set[str]]:
    return {
        path.stem: client_imports(path) - {path.stem}
        for path in CLIENT.glob("*.py")
        if path.stem != "__init__"
    }


def test_every_module_has_a_floor() -> None:
    placed = set().union(*FLOORS)
    assert set(graph()) == placed


def test_imports_only_go_down() -> None:
    floor = {module: level for level, group in enumerate(FLOORS) for module in group}
    upward = [
        f"{module} (floor {floor[module]}) imports {target} (floor {floor[target]})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if floor[target] >= floor[module]
    ]
    assert upward == []


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, str] = {}  # "active" while on the DFS path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "active"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "active":
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
