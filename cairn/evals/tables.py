"""Reading evaluation data (CSV, JSON Lines, Parquet) into a DataFrame, and small checks of
benchmark configs shared by the built-in providers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cairn.entities.errors import CairnError

MAX_ROWS = 10_000_000
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}  # fmt: skip
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def read_table(path: Path, field: str, max_rows: int | None = None) -> Any:
    """The rows of a CSV, JSON Lines or Parquet file (by its suffix) as a pandas DataFrame,
    the first ``max_rows`` only when given; a 400 naming ``field`` for a file it cannot read."""
    import pandas as pd

    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(FORMATS))
        raise CairnError.invalid(f"{field}: {path.name!r} is not a data file ({known})")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, nrows=max_rows)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, nrows=max_rows)
        else:
            frame = pd.read_parquet(path)
            if max_rows is not None:
                frame = frame.head(max_rows)
    except ImportError as exc:
        raise CairnError.invalid(f"{field}: reading {kind} needs {exc.name}") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CairnError.invalid(f"{field}: cannot read {path.name!r}: {exc}"[:600]) from None
    if frame.empty:
        raise CairnError.invalid(f"{field}: {path.name!r} has no rows")
    return frame


def metric_suffix(value: object) -> str:
    """A class label as a metric-key suffix (``f1_<class>``): letters, digits, ``_.-``."""
    text = _KEY_UNSAFE.sub("_", str(value)).strip("_")
    return text[:100] or "_"


def check_keys(config: Mapping[str, Any], known: set[str]) -> None:
    if not isinstance(config, Mapping):
        raise CairnError.invalid("config: expected an object")
    unknown = sorted(str(k) for k in config if k not in known)
    if unknown:
        raise CairnError.invalid(
            f"config.{unknown[0]}: unknown parameter (known: {', '.join(sorted(known))})"
        )


def text_value(config: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = config.get(key)
    if value is None:
        if required:
            raise CairnError.invalid(f"config.{key}: required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 1024:
        raise CairnError.invalid(f"config.{key}: expected a non-empty string (≤ 1024 chars)")
    return value


def int_value(config: Mapping[str, Any], key: str, upper: int = MAX_ROWS) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= upper:
        raise CairnError.invalid(f"config.{key}: expected an integer from 1 to {upper}")
    return value
