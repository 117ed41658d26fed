"""The SDK's floors. Which module may import which (only downwards, every module on a floor) is
the import-linter contract "sdk-floors" in pyproject.toml, run by tests/unit/test_layers.py;
these tests hold what is not an import: the facade's lazy table agrees with its typed names,
and the exit steps run from the top floor down."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path


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
