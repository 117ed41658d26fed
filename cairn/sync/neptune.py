"""``cairn import neptune``: the Parquet files and downloaded files of ``neptune-exporter``
(neptune.ai's tool for taking a project's runs out of Neptune 2.x or 3.x), read directly.

The layout the exporter writes::

    DATA/<project dir>/<run>_part_<n>.parquet   one run's rows, in parts; part 0 is renamed
                                                into place last, so a run without it is
                                                incomplete (and skipped, as the exporter's
                                                own loaders do)
    FILES/<project dir>/<path>                  the files that file_value.path names

where a project dir is the project id with every character but letters, digits, '_' and '-'
made '_', then '-' and the hex BLAKE2b (8 bytes) of the project id. Every row is one value of
one attribute: ``project_id``, ``run_id``, ``attribute_path``, ``attribute_type``, ``step``
(decimal), ``timestamp`` (ms, UTC) and one typed value column (``int_value``,
``float_value``, ``string_value``, ``bool_value``, ``datetime_value``, ``string_set_value``,
``file_value`` {path}, ``histogram_value`` {type, edges, values}).

What becomes what:

    sys/name                          the experiment '<project id>/<sys/name>' (no name: the
                                      project id), as the exporter's MLflow loader names it
    sys/custom_run_id or run_id       the run name; the run id is derived from project and run
    sys/creation_time, modification   start and end time; sys/failed: status FAILED
    sys/owner, sys/description        user, the mlflow.note.content tag
    sys/tags                          the tag neptune.tags (comma-separated)
    sys/forking/parent, /step         mlflow.parentRunId (the parent's derived id), the tag
                                      neptune.fork_step
    other float, int, string, bool,   params (datetime as ISO 8601, string sets
    datetime, string_set attributes   comma-separated, sorted)
    float_series                      metrics (step times --step-multiplier, a whole number)
    string_series, histogram_series   artifacts <path>.txt (step, time, value per line) and
                                      <path>.jsonl (one histogram per line)
    file, file_series, file_set       artifacts <path>/<name>, <path>/step_<n>/<name>,
                                      <path>/<tree>
    other sys/* attributes            not imported

A file that is not Parquet, lacks the exporter's columns, or names a downloaded file that
is missing stops the import with an error naming it before anything of its run is sent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cairn.entities.numbers import decimal
from cairn.entities.tracking import Experiment, Run, RunInfo
from cairn.sync.errors import SyncError
from cairn.sync.importing import ImportSource, default_state_dir, real, stream_file
from cairn.sync.source import StoredPoint

PART = "_part_"
COLUMNS = (
    "project_id",
    "run_id",
    "attribute_path",
    "attribute_type",
    "step",
    "timestamp",
    "int_value",
    "float_value",
    "string_value",
    "bool_value",
    "datetime_value",
    "string_set_value",
    "file_value",
)
OPTIONAL = ("histogram_value",)
PARAM_TYPES = {"float", "int", "string", "bool", "datetime", "string_set"}
FILE_TYPES = {"file", "file_series", "file_set", "artifact"}
SYS = "sys/"
PARENT_TAG = "mlflow.parentRunId"
_KEY_CHARS = re.compile(r"[^/\w.\- :]")
MAX_FOLDERS = 10**6


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SyncError(
            "cairn import neptune needs pyarrow to read Parquet: pip install 'cairn-ml[neptune]'"
        ) from None
    return pq


def project_dir_name(project_id: str) -> str:
    """The folder neptune-exporter names after a project id."""
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in project_id)
    return f"{safe}-{hashlib.blake2b(project_id.encode(), digest_size=8).hexdigest()}"


def key(path: str) -> str:
    """An attribute path as a metric or param name (MLflow's characters; empty, '.' and '..'
    parts become '_')."""
    parts = _KEY_CHARS.sub("_", path).split("/")
    return "/".join("_" if p in ("", ".", "..") else p for p in parts)


def run_id_for(project_id: str, run_id: str) -> str:
    return hashlib.sha256(f"neptune\0{project_id}\0{run_id}".encode()).hexdigest()[:32]


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class RunData:
    """Everything read from one run's Parquet parts."""

    project_id: str = ""
    run_id: str = ""
    sys: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    points: dict[str, list[StoredPoint]] = field(default_factory=dict)
    # artifact path -> a downloaded file, or text the importer writes
    files: dict[str, Path | bytes] = field(default_factory=dict)
    last_ms: int | None = None


class _Reader:
    def __init__(self, files_for: Callable[[str], Path | None], step_multiplier: int):
        self.files_for = files_for  # a project's folder of downloaded files
        self.files_root: Path | None = None
        self.multiplier = step_multiplier
        self.data = RunData()
        self.series: dict[str, list[str]] = {}  # string series lines, by artifact path
        self.histograms: dict[str, list[str]] = {}

    def read(self, path: Path) -> None:
        import pyarrow as pa

        pq = _pyarrow()
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            raise SyncError(f"{path} is not a Parquet file ({exc})") from None
        missing = [c for c in COLUMNS if c not in schema.names]
        if missing:
            raise SyncError(
                f"{path} is not a neptune-exporter Parquet file: it has no column(s) "
                f"{', '.join(missing)}"
            )
        wanted = [*COLUMNS, *(c for c in OPTIONAL if c in schema.names)]
        try:
            table = pq.read_table(path, columns=wanted)
            if table.num_rows and not self.data.project_id:
                self.data.project_id = str(table.column("project_id")[0].as_py() or "")
                self.data.run_id = str(table.column("run_id")[0].as_py() or "")
                self.files_root = self.files_for(self.data.project_id)
            # metric points, the bulk of an export, are read column-wise; the rest row by row
            import pyarrow.compute as pc

            is_series = pc.fill_null(
                pc.equal(table.column("attribute_type"), "float_series"), False
            )
            self._points(table.filter(is_series), path)
            rest = table.filter(pc.invert(is_series))
            cols: dict[str, list[Any]] = {}
            for name in wanted:
                column = rest.column(name)
                if pa.types.is_timestamp(column.type):
                    column = column.cast(pa.int64())
                cols[name] = column.to_pylist()
        except (OSError, pa.ArrowException) as exc:
            raise SyncError(f"{path} cannot be read: {exc}") from None
        for i in range(rest.num_rows):
            row = {name: values[i] for name, values in cols.items()}
            try:
                self._row(row)
            except (TypeError, ValueError, KeyError) as exc:
                raise SyncError(
                    f"{path} ('{row.get('attribute_path')}'): cannot be read: {exc}"
                ) from None
            except SyncError as exc:
                raise SyncError(f"{path}: {exc.message}") from None

    def _points(self, table: Any, path: Path) -> None:
        """The float_series rows of one part: steps scaled and checked whole in one pass."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        steps_column = table.column("step")
        factor = pa.scalar(Decimal(self.multiplier), pa.decimal128(18, 0))
        try:
            steps = pc.multiply(steps_column, factor).cast(pa.int64()).to_pylist()
        except pa.ArrowInvalid:  # a step that is not whole: name the first one
            attrs = table.column("attribute_path").to_pylist()
            for attr, raw in zip(attrs, steps_column.to_pylist(), strict=True):
                try:
                    self._step(raw, attr)
                except SyncError as exc:
                    raise SyncError(f"{path}: {exc.message}") from None
            raise
        stamps = table.column("timestamp").cast(pa.int64()).to_pylist()
        values = table.column("float_value").to_pylist()
        latest = pc.max(table.column("timestamp").cast(pa.int64())).as_py()
        if latest is not None:
            last = self.data.last_ms
            self.data.last_ms = latest if last is None else max(last, latest)
        keys: dict[str, str] = {}
        points = self.data.points
        for attr, step, ts, value in zip(
            table.column("attribute_path").to_pylist(), steps, stamps, values, strict=True
        ):
            if value is None:
                continue
            name = keys.get(attr)
            if name is None:
                name = keys[attr] = key(str(attr))
            if value != value:  # NaN
                point = (step or 0, ts or 0, 0.0, True)
            else:
                point = (step or 0, ts or 0, float(value), False)
            points.setdefault(name, []).append(point)

    def _row(self, row: dict[str, Any]) -> None:
        data = self.data
        data.run_id = data.run_id or str(row["run_id"] or "")
        path, kind = str(row["attribute_path"]), str(row["attribute_type"])
        ts = row["timestamp"]
        if ts is not None:
            data.last_ms = ts if data.last_ms is None else max(data.last_ms, ts)
        if kind in PARAM_TYPES:
            value = _param(kind, row)
            if value is None:
                return
            if path.startswith(SYS):
                data.sys[path] = row.get(f"{kind}_value") if kind != "string_set" else value
            else:
                data.params[key(path)] = value
        elif kind == "string_series":
            line = f"{row['step']}\t{_iso(ts) if ts is not None else ''}\t{row['string_value']}"
            self.series.setdefault(f"{key(path)}.txt", []).append(line)
        elif kind == "histogram_series":
            histogram = row.get("histogram_value") or {}
            doc = {"step": str(row["step"]), "timestamp": ts, **histogram}
            self.histograms.setdefault(f"{key(path)}.jsonl", []).append(json.dumps(doc))
        elif kind in FILE_TYPES:
            self._file(path, kind, row)

    def _step(self, raw: Any, path: str) -> int:
        if raw is None:
            return 0
        scaled = Decimal(raw) * self.multiplier
        if scaled != scaled.to_integral_value():
            raise SyncError(
                f"'{path}' has step {raw}, not a whole number: import with --step-multiplier "
                "(e.g. 1000) so that every step becomes one"
            )
        return int(scaled)

    def _file(self, path: str, kind: str, row: dict[str, Any]) -> None:
        value = row["file_value"] or {}
        rel = value.get("path")
        if not rel:
            return
        if self.files_root is None:
            raise SyncError(
                f"'{path}' names the downloaded file '{rel}': give the exporter's --files-path "
                "folder with --files"
            )
        local = self.files_root / rel
        if not local.exists():
            raise SyncError(f"'{path}': its file {local} is missing (was --files right?)")
        base = key(path)
        if kind == "file_series":
            base = f"{base}/step_{self._step(row['step'], path)}"
        if local.is_dir():
            for root, _dirs, names in os.walk(local):
                for name in sorted(names):
                    item = Path(root) / name
                    self.data.files[f"{base}/{item.relative_to(local).as_posix()}"] = item
        else:
            self.data.files[f"{base}/{local.name}"] = local

    def finish(self) -> RunData:
        for rel, lines in self.series.items():
            self.data.files[rel] = ("\n".join(lines) + "\n").encode("utf-8")
        for rel, lines in self.histograms.items():
            self.data.files[rel] = ("\n".join(lines) + "\n").encode("utf-8")
        return self.data


def _param(kind: str, row: dict[str, Any]) -> str | None:
    value = row.get(f"{kind}_value")
    if value is None:
        return None
    if kind == "float":
        return repr(float(value))
    if kind == "bool":
        return str(bool(value))
    if kind == "datetime":
        return _iso(int(value))
    if kind == "string_set":
        return ",".join(sorted(str(v) for v in value))
    return str(value)


@dataclass
class _Planned:
    parts: list[Path]
    run: Run
    experiment: str
    counts: dict[str, int]
    listing: list[tuple[str, int, int]]
    folder: Path


class NeptuneSource(ImportSource):
    """neptune-exporter's data folder as a source of the sync engine."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        files_dir: str | Path | None = None,
        step_multiplier: int = 1,
        state_dir: Path | None = None,
        experiments: list[str] | None = None,
    ):
        _pyarrow()
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise SyncError(f"'{data_dir}' is not a folder (neptune-exporter's --data-path)")
        if step_multiplier < 1:
            raise SyncError("--step-multiplier must be 1 or more")
        self.root = real(path)
        self.runs_found = self._find_runs()
        if not self.runs_found:
            raise SyncError(
                f"'{data_dir}' is not a neptune-exporter data folder: no <run>{PART}0.parquet "
                "in it or in a project folder under it"
            )
        if files_dir is not None:
            self.files: Path | None = real(Path(files_dir).expanduser())
            if not self.files.is_dir():
                raise SyncError(f"--files: '{files_dir}' is not a folder")
        else:
            sibling = self.root.parent / "files"
            self.files = sibling if sibling.is_dir() else None
        self.multiplier = step_multiplier
        state = state_dir or default_state_dir(self.root.parent, self.root.name)
        super().__init__(state, experiments)
        self._planned: dict[str, _Planned] = {}
        self._by_folder: dict[Path, str] = {}
        self._by_uri: dict[str, str] = {}
        self._experiment_ids: dict[str, str] = {}  # name -> id
        self._full: tuple[str, RunData] | None = None

    def _find_runs(self) -> list[list[Path]]:
        """Each complete run's parts (part 0 first), from the folder or its project folders."""
        out: list[list[Path]] = []
        folders = [self.root]
        try:
            folders += sorted(d for d in self.root.iterdir() if d.is_dir())
        except OSError as exc:
            raise SyncError(f"Cannot list {self.root}: {exc.strerror}") from None
        for folder in folders[:MAX_FOLDERS]:
            for first in sorted(folder.glob(f"*{PART}0.parquet")):
                prefix = first.name[: -len(f"{PART}0.parquet")]
                parts = []
                for part in folder.glob(f"{prefix}{PART}*.parquet"):
                    number = part.name[len(prefix) + len(PART) : -len(".parquet")]
                    index = decimal(number)
                    if index is not None:
                        parts.append((index, part))
                out.append([p for _, p in sorted(parts)])
        return out

    def _files_root(self, project_id: str) -> Path | None:
        if self.files is None:
            return None
        inside = self.files / project_dir_name(project_id)
        return inside if inside.is_dir() else self.files

    def _read(self, parts: list[Path]) -> RunData:
        reader = _Reader(self._files_root, self.multiplier)
        for part in parts:
            reader.read(part)
        return reader.finish()

    def _plan(self) -> None:
        if self._planned:
            return
        for parts in self.runs_found:
            data = self._read(parts)
            project = data.project_id
            if not project or not data.run_id:
                raise SyncError(f"{parts[0]}: its rows name no project_id or run_id")
            rid = run_id_for(project, data.run_id)
            self._full = (rid, data)
            name = data.sys.get("sys/name")
            experiment = f"{project}/{name}" if name else project
            run = self._run(rid, data, parts[0])
            listing = []
            for rel, item in sorted(data.files.items()):
                if isinstance(item, bytes):
                    listing.append((rel, len(item), (data.last_ms or 0) * 1_000_000))
                else:
                    st = item.stat()
                    listing.append((rel, st.st_size, st.st_mtime_ns))
            counts = {k: len(v) for k, v in data.points.items()}
            folder = parts[0].with_suffix("")  # a key for the run's artifacts
            self._planned[rid] = _Planned(parts, run, experiment, counts, listing, folder)
            self._by_folder[folder] = rid
            self._by_uri[folder.as_uri()] = rid
        for i, name in enumerate(sorted({p.experiment for p in self._planned.values()}), 1):
            self._experiment_ids[name] = str(i)
        for planned in self._planned.values():
            planned.run.info.experiment_id = self._experiment_ids[planned.experiment]

    def _run(self, rid: str, data: RunData, part0: Path) -> Run:
        sys = data.sys
        tags = {"neptune.run_id": data.run_id, "neptune.project": data.project_id}
        if sys.get("sys/description"):
            tags["mlflow.note.content"] = str(sys["sys/description"])
        if sys.get("sys/tags"):
            tags["neptune.tags"] = str(sys["sys/tags"])
        parent = sys.get("sys/forking/parent")
        if parent:
            tags[PARENT_TAG] = run_id_for(data.project_id, str(parent))
            if sys.get("sys/forking/step") is not None:
                tags["neptune.fork_step"] = repr(float(sys["sys/forking/step"]))
        start = sys.get("sys/creation_time")
        end = sys.get("sys/modification_time")
        if end is None:
            end = data.last_ms
        owner = sys.get("sys/owner")
        info = RunInfo(
            run_id=rid,
            experiment_id="",
            run_name=str(sys.get("sys/custom_run_id") or data.run_id),
            user_id=str(owner) if owner else None,
            status="FAILED" if sys.get("sys/failed") else "FINISHED",
            start_time=int(start) if start is not None else None,
            end_time=int(end) if end is not None else None,
            artifact_uri=part0.with_suffix("").as_uri(),
            lifecycle_stage="active",
        )
        return Run(info=info, params=dict(data.params), tags=tags)

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        self._plan()
        return self.named_experiments(self._experiment_ids)

    def runs(self, experiment_id: str) -> list[Run]:
        self._plan()
        out = [p.run for p in self._planned.values() if p.run.info.experiment_id == experiment_id]
        out.sort(key=lambda r: (r.info.start_time or 0, r.info.run_id))
        return out

    # -------------------------------------------------------------------- metrics
    def _data(self, run_id: str) -> RunData:
        if self._full is None or self._full[0] != run_id:
            self._full = (run_id, self._read(self._planned[run_id].parts))
        return self._full[1]

    def read_points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        return {k: list(v) for k, v in self._data(run_id).points.items()}

    def metric_counts(self, run_id: str) -> dict[str, int]:
        return dict(self._planned[run_id].counts)

    # ------------------------------------------------------------------ artifacts
    def artifact_dir(self, artifact_uri: str | None) -> Path | None:
        rid = self._by_uri.get(artifact_uri or "")
        return self._planned[rid].folder if rid is not None else None

    def artifact_files(self, folder: Path) -> Iterator[tuple[str, int, int]]:
        rid = self._by_folder.get(folder)
        if rid is not None:
            yield from self._planned[rid].listing

    def read_artifact(self, folder: Path, rel: str, size: int) -> Iterator[bytes]:
        rid = self._by_folder[folder]
        if size == 0:
            return iter(())
        item = self._data(rid).files[rel]
        if isinstance(item, bytes):
            return iter([item[:size]])
        return stream_file(item, size)

    def close(self) -> None:
        super().close()
        self._full = None
