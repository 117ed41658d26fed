"""Imports point downward: server -> services -> store / artifacts -> entities."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CAIRN = Path(__file__).resolve().parents[2] / "cairn"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _offending(
    package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    out = []
    for path in sorted((CAIRN / package).rglob("*.py")):
        rel = path.relative_to(CAIRN).as_posix()
        if rel in allowed or "/static/" in rel:
            continue
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append((rel, name))
    return out


@pytest.mark.parametrize(
    ("package", "forbidden", "allowed"),
    [
        # the composition root alone builds the database and the services
        ("server", ("cairn.store", "sqlalchemy"), ("server/app.py",)),
        ("services", ("cairn.server", "starlette", "fastapi", "httpx", "uvicorn"), ()),
        ("store", ("cairn.server", "cairn.services", "starlette", "fastapi"), ()),
        ("entities", ("cairn.server", "cairn.services", "cairn.store", "cairn.artifacts"), ()),
    ],
)
def test_layer_imports(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    assert _offending(package, forbidden, allowed) == []
