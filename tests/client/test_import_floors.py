"""The SDK's modules import each other in floors, never in a circle: every import (at module
level, inside a function or under TYPE_CHECKING) goes to a lower floor."""

from __future__ import annotations

import ast
import importlib
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


def test_facade_types_match_its_lazy_table() -> None:
    """cairn/__init__.py names its public names twice: typed under TYPE_CHECKING (for mypy)
    and in the runtime table _LAZY (plus _ALIASES); both must agree."""
    import cairn

    tree = ast.parse(Path(cairn.__file__).read_text(encoding="utf-8"))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    ]
    typed: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            assert node.module is not None
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: write it 'X as X'"
                typed[alias.name] = node.module
        else:
            assert isinstance(node, ast.Assign)
            assert isinstance(node.value, ast.Name)
            (target,) = node.targets
            assert isinstance(target, ast.Name)
            aliases[target.id] = node.value.id
    assert typed == cairn._LAZY
    assert aliases == cairn._ALIASES
    assert sorted(cairn.__all__) == sorted([*typed, *aliases, "__version__"])
    for name, module in cairn._LAZY.items():
        assert getattr(cairn, name) is getattr(importlib.import_module(module), name)
    for old, current in cairn._ALIASES.items():
        assert getattr(cairn, old) is getattr(cairn, current)


def test_exit_steps_run_from_the_top_floor_down() -> None:
    """At exit fluent ends runs and flushes its queues before rest closes the HTTP clients and
    the embedded stores: state runs the steps last-registered (highest floor) first."""
    from cairn.client import fluent, rest, state

    steps = list(state._exit_steps)
    assert steps.index(rest._close_at_exit) < steps.index(fluent._end_all)
    ran: list[str] = []
    state._exit_steps[:] = [lambda: ran.append("low"), lambda: ran.append("high")]
    try:
        state.reset()
        state.shutdown()
        state.shutdown()  # once only, until reset
    finally:
        state._exit_steps[:] = steps
        state.reset()
    assert ran == ["high", "low"]
