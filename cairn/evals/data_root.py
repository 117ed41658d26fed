"""The evaluation data root: the one folder whose files a request may name (datasets, task
YAMLs, attack suites), and the one check that a named path stays inside it.

``$CAIRN_EVAL_DATA_ROOT``, else ``<CAIRN_HOME>/eval-data``. A path is refused (400 naming the
request field) when it is too long or has control characters, names ``..`` in any spelling
(raw or percent-encoded, any depth), has a backslash, or resolves outside the root (an
absolute path elsewhere, or a symlink leading out).
"""

from __future__ import annotations

import os
from pathlib import Path

from cairn.artifacts.paths import refuse_traversal
from cairn.entities.errors import CairnError
from cairn.home import DEFAULT_HOME, HOME_VARIABLE

DATA_ROOT_VARIABLE = "CAIRN_EVAL_DATA_ROOT"
MAX_PATH_LENGTH = 1024


def data_root() -> Path:
    """``$CAIRN_EVAL_DATA_ROOT``, else ``<CAIRN_HOME>/eval-data`` (resolved)."""
    explicit = os.environ.get(DATA_ROOT_VARIABLE, "").strip()
    if explicit:
        return Path(explicit).resolve()
    return (Path(os.environ.get(HOME_VARIABLE) or DEFAULT_HOME) / "eval-data").resolve()


def confined_path(value: str, field_name: str, root: Path) -> Path:
    """``value`` (relative to ``root``, or absolute) resolved, when it lies under ``root``;
    else a 400 naming ``field_name``. Whether the file exists is the caller's question."""
    shown = repr(value[:200])
    if len(value) > MAX_PATH_LENGTH or any(ord(ch) < 32 for ch in value):
        raise CairnError.invalid(f"{field_name}: not a usable path")
    try:
        refuse_traversal(value, field_name)
    except CairnError as exc:
        raise CairnError.invalid(f"{field_name}: {exc.message}") from None
    if "\\" in value:
        raise CairnError.invalid(f"{field_name}: backslashes are not allowed in {shown}")
    base = root.resolve()
    path = Path(value)
    candidate = (path if path.is_absolute() else base / path).resolve()
    if candidate != base and not candidate.is_relative_to(base):
        raise CairnError.invalid(
            f"{field_name}: {shown} is outside the evaluation data root ({DATA_ROOT_VARIABLE})"
        )
    return candidate
