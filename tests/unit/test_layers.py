"""The room map holds: import-linter checks the contracts in pyproject.toml.

``[tool.importlinter]`` in pyproject.toml writes down which room may import which
(docs/development.md, "Rooms"). The first test runs those contracts on the tree; the others
copy the tree, add one forbidden import of each kind, and show that the check then fails and
names the broken rule, so the map cannot silently stop being held.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
LINT = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads(PYPROJECT.read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the ``cairn`` package found first on PYTHONPATH=tree."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT), "--config", str(PYPROJECT), "--no-cache", "--no-logo"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_every_room_is_named_where_a_contract_forbids_all_of_ours() -> None:
    """A new top-level package (a new room) must be placed on the map, not slip past it."""
    rooms = {
        f"cairn.{p.name}"
        for p in (REPO / "cairn").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    } | {"cairn.cli"}
    by_id = {str(c["id"]): c for c in _contracts()}
    for leaf in ("entities", "ml", "leaves"):
        forbidden = set(by_id[leaf]["forbidden_modules"])  # type: ignore[call-overload]
        missing = rooms - forbidden - {f"cairn.{leaf}"}
        assert not missing, f"contract {leaf!r} does not name {sorted(missing)}"


BREAKS = [
    # (file to edit, import to add, the contract id that must break)
    ("server/v1/runs.py", "from cairn.store import runs as _store_runs", "routes"),
    ("server/mlflow/experiments.py", "import sqlalchemy as _sa", "routes"),
    ("store/runs.py", "from cairn.services import tracking as _tracking", "store"),
    ("store/paging.py", "import starlette as _starlette", "store"),
    ("services/gc.py", "from cairn.server import errors as _errors", "services"),
    ("services/gc.py", "import fastapi as _fastapi", "services"),
    ("entities/tracking.py", "from cairn.store import schema as _schema", "entities"),
    ("client/fluent.py", "from cairn.server import app as _app", "sdk"),
    ("client/config.py", "from cairn.entities import errors as _errors", "sdk"),
    ("client/system_metrics.py", "from cairn.client import models as _models", "sdk-floors"),
    ("client/entities.py", "from cairn.client import errors as _errors", "sdk-floors"),
    ("artifacts/local.py", "from cairn.store import db as _db", "artifacts"),
    ("ml/models.py", "from cairn.entities import errors as _errors", "ml"),
    ("demo/lims.py", "from cairn.store import db as _db", "demo"),
    ("sync/ledger.py", "from cairn.server import app as _app", "sync"),
    ("wire.py", "from cairn.entities import tracking as _tracking", "leaves"),
    ("client/config.py", "from cairn.client import fluent as _fluent", "no-circles"),
    ("store/schema.py", "from cairn.store import runs as _runs", "no-circles"),
    ("access/service.py", "from cairn.server import state as _state", "access"),
    ("access/policy.py", "import starlette as _starlette", "access"),
    ("store/access.py", "from cairn.access import secrets as _secrets", "store"),
]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(
        REPO / "cairn",
        root / "cairn",
        ignore=shutil.ignore_patterns("__pycache__", "static", "node_modules"),
    )
    return root


@pytest.mark.parametrize(("path", "line", "contract"), BREAKS)
def test_a_forbidden_import_breaks_the_check(
    tree_copy: Path, path: str, line: str, contract: str
) -> None:
    target = tree_copy / "cairn" / path
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}  # added by test_layers\n")
        result = _lint(tree_copy)
    finally:
        target.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    names = {str(c["id"]): str(c["name"]) for c in _contracts()}
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert names[contract] in broken, result.stdout


def test_a_new_sdk_module_must_be_given_a_floor(tree_copy: Path) -> None:
    """The "sdk-floors" contract is exhaustive: a module of cairn.client left off it fails."""
    target = tree_copy / "cairn" / "client" / "unplaced.py"
    target.write_text('"""added by test_layers"""\n')
    try:
        result = _lint(tree_copy)
    finally:
        target.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unplaced" in result.stdout, result.stdout


CYCLES = """
import grimp
graph = grimp.build_graph("cairn", cache_dir=None)
for module in sorted(graph.modules):
    for imported in sorted(graph.find_modules_directly_imported_by(module)):
        chain = graph.find_shortest_chain(importer=imported, imported=module)
        if chain:
            print(" -> ".join((module, *chain)))
"""


def _module_cycles(tree: Path) -> list[str]:
    """Every import circle between two modules anywhere in ``cairn``, whatever rooms it
    crosses: also through a package's ``__init__``, which the per-package "no-circles"
    contract (siblings inside one package) does not look at."""
    result = subprocess.run(
        [sys.executable, "-c", CYCLES],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.splitlines()


def test_no_module_imports_itself_back() -> None:
    assert _module_cycles(REPO) == []


def test_a_circle_through_a_package_init_is_found(tree_copy: Path) -> None:
    """A package that re-exports a module, and a module below it that imports the package:
    every contract still holds, and the walk finds the circle."""
    edits = {
        tree_copy / "cairn" / "store" / "__init__.py": "from cairn.store import runs as runs",
        tree_copy / "cairn" / "store" / "prepared.py": "import cairn.store as _package",
    }
    originals = {path: path.read_text() for path in edits}
    try:
        for path, line in edits.items():
            path.write_text(originals[path] + f"\n{line}  # added by test_layers\n")
        assert _lint(tree_copy).returncode == 0
        cycles = _module_cycles(tree_copy)
    finally:
        for path, text in originals.items():
            path.write_text(text)
    assert "cairn.store -> cairn.store.runs -> cairn.store.prepared -> cairn.store" in cycles
