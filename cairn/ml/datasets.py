"""Describe a dataset for logging: its digest, MLflow-shaped schema, source and profile.

``describe_dataset`` accepts a pandas DataFrame or Series, a NumPy array, a dict of
equal-length arrays or a list (of scalars, rows or dicts) and returns the strings MLflow's
``log-inputs`` call carries, plus the profile Cairn's UI reads::

    {"num_rows": int, "num_elements": int, "targets": "label" | null,
     "label_distribution": {"<class>": count, ...} | null,
     "numeric": {"<col>": {"count", "nulls", "min", "max", "mean", "std", "p50"}},
     "text_length": {"<col>": {"count", "nulls", "min", "max", "mean", "std", "p50"}}}

Everything is first turned into a table (a pandas DataFrame): a 1-D array or a list of
scalars is one column ``value``; a 2-D array has columns ``"0"``, ``"1"``, …; an array of
more dimensions is flattened to one column per element of a row. Targets given as an array
(rather than a column name) become a column named ``targets``.

**Digest.** SHA-256 over a canonical encoding of the table, first 16 hex digits: a version
prefix, the row count, then per column its name and its values — booleans as bytes, plain
integers as little-endian int64, other numbers as little-endian float64 with every null
written as one NaN bit pattern, datetimes as int64 nanoseconds, and anything else value by
value as a type mark plus length-prefixed UTF-8 text (nulls as one mark). It depends only
on column names, order, kinds and values: not on the index, the pandas or NumPy version, the
machine's byte order or the process, so the same data logged twice has the same digest.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DIGEST_VERSION = b"cairn-dataset-digest-v1\n"
DIGEST_HEX_CHARS = 16
MAX_PROFILED_COLUMNS = 100
MAX_LABEL_CLASSES = 1000
ARRAY_TARGETS_COLUMN = "targets"
SINGLE_COLUMN = "value"


@dataclass(frozen=True)
class DatasetDescription:
    """What ``log-inputs`` sends for one dataset; every field but ``context`` is a string."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    context: str = "training"

    def to_mlflow_dataset(self) -> dict[str, str]:
        """The ``dataset`` object of MLflow's ``log-inputs`` request."""
        fields = asdict(self)
        fields.pop("context")
        return fields


def describe_dataset(
    data: Any,
    name: str | None = None,
    targets: Any = None,
    source: Any = None,
    context: str = "training",
) -> DatasetDescription:
    """Digest, schema, source and profile of ``data`` (see the module docstring).

    ``targets`` is the name of the label column, or an array of labels as long as ``data``.
    ``source`` is where the data came from: ``None`` (this script), a URL (type ``http``),
    any ``scheme://`` URI (type ``scheme``: ``s3``, ``gs``, ``lims``…), a local path or
    ``file://`` URI (type ``local``), or a dict (stored as given; type from its
    ``source_type`` key, else ``external``). Raises ``ValueError`` or ``TypeError`` naming
    the argument at fault.
    """
    frame, target_column = _as_table(data, targets)
    digest = table_digest(frame)
    source_type, source_json = _source(source)
    return DatasetDescription(
        name=name or "dataset",
        digest=digest,
        source_type=source_type,
        source=source_json,
        schema=json.dumps({"mlflow_colspec": table_schema(frame)}),
        profile=json.dumps(table_profile(frame, target_column), allow_nan=False),
        context=context,
    )


# -- turning the input into a table -------------------------------------------------------


def _as_table(data: Any, targets: Any) -> tuple[pd.DataFrame, str | None]:
    import numpy as np
    import pandas as pd

    frame: pd.DataFrame
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(name=str(data.name) if data.name is not None else SINGLE_COLUMN)
    elif isinstance(data, np.ndarray):
        frame = _array_frame(data)
    elif isinstance(data, dict):
        try:
            frame = pd.DataFrame({str(k): _column_values(v) for k, v in data.items()})
        except ValueError as exc:
            raise ValueError(f"data: the dict's arrays must all have one length ({exc})") from exc
    elif isinstance(data, (list, tuple)):
        frame = _list_frame(list(data))
    else:
        raise TypeError(
            f"data: expected a pandas DataFrame or Series, a NumPy array, a dict of arrays or "
            f"a list, got {type(data).__name__}"
        )
    frame = frame.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != len(frame.columns):
        raise ValueError("data: column names must be unique")
    target_column: str | None = None
    if targets is None:
        pass
    elif isinstance(targets, str):
        if targets not in frame.columns:
            shown = ", ".join(list(frame.columns)[:20])
            raise ValueError(f"targets: no column {targets!r} in the data (columns: {shown})")
        target_column = targets
    else:
        labels = _column_values(targets)
        if np.ndim(labels) != 1 or len(labels) != len(frame):
            raise ValueError(
                f"targets: expected a column name or {len(frame)} labels, one per row, "
                f"got shape {np.shape(labels)}"
            )
        if ARRAY_TARGETS_COLUMN in frame.columns:
            raise ValueError(
                f"targets: the data already has a column {ARRAY_TARGETS_COLUMN!r}; "
                "pass the label column's name instead"
            )
        frame[ARRAY_TARGETS_COLUMN] = np.asarray(labels)
        target_column = ARRAY_TARGETS_COLUMN
    return frame, target_column


def _column_values(values: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(values, (pd.Series, pd.Index, np.ndarray)):
        return values.to_numpy() if not isinstance(values, np.ndarray) else values
    return np.asarray(list(values), dtype=object) if _ragged(values) else np.asarray(values)


def _ragged(values: Any) -> bool:
    if isinstance(values, (str, bytes)):
        return False
    try:
        items = list(values)
    except TypeError:
        return False
    return any(isinstance(v, (list, tuple, dict)) for v in items)


def _array_frame(array: Any) -> pd.DataFrame:
    import pandas as pd

    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 1:
        return pd.DataFrame({SINGLE_COLUMN: array})
    if array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])


def _list_frame(items: list[Any]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if not items:
        return pd.DataFrame()
    if all(isinstance(item, dict) for item in items):
        return pd.DataFrame.from_records(items)
    if all(isinstance(item, (list, tuple)) for item in items):
        widths = {len(item) for item in items}
        if len(widths) != 1:
            raise ValueError("data: every row of a list of rows must have the same length")
        return _array_frame(np.asarray(items, dtype=object)).infer_objects()
    if any(isinstance(item, (list, tuple, dict)) for item in items):
        raise ValueError("data: a list must hold only scalars, only rows or only dicts")
    return pd.DataFrame({SINGLE_COLUMN: pd.Series(items).infer_objects()})


# -- digest --------------------------------------------------------------------------------


def table_digest(frame: pd.DataFrame) -> str:
    """The stable content hash described in the module docstring."""
    import numpy as np
    import pandas as pd

    hasher = hashlib.sha256(DIGEST_VERSION)
    hasher.update(f"rows={len(frame)}\n".encode())
    for column in frame.columns:
        series = frame[column]
        name = str(column).encode()
        hasher.update(struct.pack("<Q", len(name)) + name)
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype) and not series.isna().any():
            hasher.update(b"b" + series.to_numpy(dtype=np.uint8).tobytes())
        elif isinstance(dtype, np.dtype) and dtype.kind in "iu":
            hasher.update(b"i" + series.to_numpy().astype("<i8").tobytes())
        elif _is_numeric(series):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan).astype("<f8")
            values[np.isnan(values)] = np.nan  # one NaN bit pattern for every null
            hasher.update(b"f" + values.tobytes())
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            stamps = series.to_numpy(dtype="datetime64[ns]").view("<i8")
            hasher.update(b"t" + stamps.tobytes())
        else:
            hasher.update(b"o" + b"".join([_value_bytes(v) for v in series.tolist()]))
    return hasher.hexdigest()[:DIGEST_HEX_CHARS]


def _value_bytes(value: Any) -> bytes:
    if type(value) is str:  # the common case first
        raw = value.encode("utf-8", "surrogatepass")
        return b"s" + len(raw).to_bytes(8, "little") + raw
    if _is_null(value):
        return b"N"
    if isinstance(value, str):
        mark, raw = b"s", value.encode("utf-8", "surrogatepass")
    elif isinstance(value, bytes):
        mark, raw = b"y", value
    else:
        mark, raw = b"r", f"{type(value).__name__}:{value!r}".encode("utf-8", "surrogatepass")
    return mark + struct.pack("<Q", len(raw)) + raw


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return bool(
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_datetime64_any_dtype(dtype)
    ) and not isinstance(dtype, pd.CategoricalDtype)


# -- schema --------------------------------------------------------------------------------


def table_schema(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """MLflow column specs: ``[{"type", "name", "required"}, ...]``."""
    return [
        {
            "type": column_type(frame[column]),
            "name": str(column),
            "required": not bool(frame[column].isna().any()),
        }
        for column in frame.columns
    ]


def column_type(series: pd.Series) -> str:
    """MLflow's name for the column's type: double, float, long, integer, boolean, string,
    binary or datetime."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(pd.Series(dtype.categories))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        size = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype).itemsize
        return "integer" if size <= 4 else "long"
    if pd.api.types.is_float_dtype(dtype):
        size = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype).itemsize
        return "float" if size <= 4 else "double"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return {
        "bytes": "binary",
        "boolean": "boolean",
        "integer": "long",
        "floating": "double",
        "mixed-integer-float": "double",
        "decimal": "double",
    }.get(inferred, "string")


# -- profile -------------------------------------------------------------------------------


def table_profile(frame: pd.DataFrame, targets: str | None) -> dict[str, Any]:
    """Row and element counts, label distribution and per-column statistics.

    Numeric statistics cover the first ``MAX_PROFILED_COLUMNS`` numeric columns (the target
    column included when it is numeric); text lengths are in characters. ``std`` is the
    sample standard deviation (null below two values). Null labels are not counted.
    """
    numeric: dict[str, dict[str, Any]] = {}
    text_length: dict[str, dict[str, Any]] = {}
    for column in frame.columns:
        series = frame[column]
        if _is_numeric(series) and len(numeric) < MAX_PROFILED_COLUMNS:
            numeric[str(column)] = _numeric_stats(series)
        elif column_type(series) == "string" and len(text_length) < MAX_PROFILED_COLUMNS:
            text_length[str(column)] = _text_stats(series)
    return {
        "num_rows": len(frame),
        "num_elements": int(frame.shape[0] * frame.shape[1]),
        "targets": targets,
        "label_distribution": _label_distribution(frame[targets]) if targets else None,
        "numeric": numeric,
        "text_length": text_length,
    }


def _stats(values: Any, total: int) -> dict[str, Any]:
    import numpy as np

    count = int(values.size)
    stats: dict[str, Any] = {"count": count, "nulls": total - count}
    if count == 0:
        stats.update(min=None, max=None, mean=None, std=None, p50=None)
        return stats
    with np.errstate(all="ignore"):
        stats.update(
            min=_finite(values.min()),
            max=_finite(values.max()),
            mean=_finite(values.mean()),
            std=_finite(values.std(ddof=1)) if count > 1 else None,
            p50=_finite(np.median(values)),
        )
    return stats


def _numeric_stats(series: pd.Series) -> dict[str, Any]:
    import numpy as np

    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return _stats(values[~np.isnan(values)], len(values))


def _text_stats(series: pd.Series) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    present = series.dropna()
    if len(present) and pd.api.types.infer_dtype(present, skipna=False) == "string":
        lengths = present.astype(object).str.len().to_numpy(dtype=np.float64)
    else:
        lengths = np.asarray([len(str(v)) for v in present.tolist()], dtype=np.float64)
    return _stats(lengths, len(series))


def _finite(value: Any) -> float | int | None:
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _label_distribution(series: pd.Series) -> dict[str, int] | None:
    import pandas as pd

    present = series.dropna()
    if isinstance(present.dtype, pd.CategoricalDtype):
        present = present.astype(object)
    if present.nunique() > MAX_LABEL_CLASSES:
        return None
    counts: Counter[str] = Counter()
    for value, count in present.value_counts(sort=False).items():
        counts[_label_key(value)] += int(count)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ordered)


def _label_key(value: Any) -> str:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# -- source --------------------------------------------------------------------------------


def _source(source: Any) -> tuple[str, str]:
    """``(source_type, source JSON)`` in the shapes MLflow's dataset sources use."""
    if source is None:
        script = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
        tags = {"mlflow.source.name": script, "mlflow.source.type": "LOCAL"}
        return "code", json.dumps({"tags": tags})
    if isinstance(source, dict):
        return str(source.get("source_type", "external")), json.dumps(source, default=str)
    if not isinstance(source, str):
        source = str(source)
    if not source:
        raise ValueError("source: must not be empty")
    lowered = source.lower()
    if lowered.startswith(("http://", "https://")):
        return "http", json.dumps({"url": source})
    scheme, sep, _rest = lowered.partition("://")
    if sep and scheme and scheme != "file" and scheme.replace("+", "").isalnum():
        return scheme, json.dumps({"uri": source})
    return "local", json.dumps({"uri": source})
