"""``cairn import wandb``: W&B run folders (``wandb/run-*``, ``wandb/offline-run-*``), read
directly (never written).

A run folder holds ``run-<id>.wandb``, the run's transaction log, and ``files/`` (what the run
saved, media, ``output.log``, ``requirements.txt``...). The log is LevelDB's log format as W&B
writes it: a 7-byte file header (``:W&B``, magic 0xBEE1, version 0), then 32 KiB blocks of
records, each with a 7-byte header (CRC-32 of the type byte and the data, length, type: full,
first, middle or last fragment); a block's tail shorter than a header is padding. Each record
is a W&B ``Record`` protocol buffer (the ``wandb`` package's own message definitions decode
it). What becomes what::

    run record                  the run: project as the experiment, display name, start time,
                                notes (mlflow.note.content), tags (wandb.tags), group and job
                                type (wandb.group, wandb.job_type), W&B id (wandb.run_id)
    config records              params (strings as they are, other values as JSON)
    history records             metrics: each numeric value (nested keys joined with '/') at
                                the row's _step and _timestamp
    summary records             values never in the history: one point at the last step
    exit record                 status (exit code 0: FINISHED, else FAILED), end time
    files/                      artifacts, every file as it is (media included)

System metrics (``stats`` records), console output records, artifacts logged with
``log_artifact`` (their manifests live on the W&B server) and media tables are not imported.

Every record's checksum is checked: a corrupt or truncated log stops the import with an
error naming the file and the byte offset, before anything of its run is sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.entities.tracking import Experiment, Run, RunInfo
from cairn.sync.errors import SyncError
from cairn.sync.importing import ImportSource, default_state_dir, real, stream_file
from cairn.sync.source import StoredPoint

HEADER = struct.Struct("<4sHB")
RECORD = struct.Struct("<IHB")
IDENT, MAGIC, VERSION = b":W&B", 0xBEE1, 0
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_PARAM = 6000
_KEY_CHARS = re.compile(r"[^/\w.\- :]")
SPECIAL = {"_step", "_timestamp", "_runtime"}


def _pb() -> Any:
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError:
        raise SyncError(
            "cairn import wandb needs the wandb package's message definitions to read a run's "
            ".wandb log: pip install 'cairn-ml[wandb]'"
        ) from None
    return wandb_internal_pb2


def records(path: Path) -> Iterator[bytes]:
    """The records of one ``.wandb`` log, each checked against its checksum."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise SyncError(f"Cannot read {path}: {exc.strerror}") from None
    with fh:
        head = fh.read(HEADER.size)
        if len(head) < HEADER.size or HEADER.unpack(head) != (IDENT, MAGIC, VERSION):
            raise SyncError(f"{path} is not a W&B run log (it does not start with ':W&B')")
        pos = HEADER.size
        pending: bytes | None = None
        for _ in range(10**12):
            left = BLOCK - pos % BLOCK
            if left < RECORD.size:
                pad = fh.read(left)
                pos += len(pad)
                if len(pad) < left:
                    break
                continue
            raw = fh.read(RECORD.size)
            if not raw:
                break
            if len(raw) < RECORD.size:
                raise SyncError(f"{path}: the log ends inside a record header (byte {pos})")
            crc, length, kind = RECORD.unpack(raw)
            if crc == 0 and length == 0 and kind == 0:  # zero padding to the block's end
                pos += len(fh.read(left - RECORD.size)) + RECORD.size
                continue
            data = fh.read(length)
            if len(data) < length:
                raise SyncError(
                    f"{path}: the record at byte {pos} is cut short (was the run still writing it?)"
                )
            if zlib.crc32(data, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
                raise SyncError(
                    f"{path}: corrupt log (the record at byte {pos} fails its checksum)"
                )
            pos += RECORD.size + length
            if kind == FULL:
                yield data
            elif kind == FIRST:
                pending = data
            elif kind in (MIDDLE, LAST) and pending is not None:
                pending += data
                if kind == LAST:
                    yield pending
                    pending = None
            else:
                raise SyncError(f"{path}: the record at byte {pos} has an unknown type {kind}")


def metric_key(path: str) -> str:
    parts = _KEY_CHARS.sub("_", path).split("/")
    return "/".join("_" if p in ("", ".", "..") else p for p in parts)


def _item_key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else str(item.key)


def _param(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value in ("NaN", "nan"):
            return math.nan
        if value in ("Infinity", "inf"):
            return math.inf
        if value in ("-Infinity", "-inf"):
            return -math.inf
        return None
    return float(value)


@dataclass
class RunData:
    wandb_id: str = ""
    project: str = ""
    entity: str = ""
    name: str = ""
    start_ms: int | None = None
    end_ms: int | None = None
    exit_code: int | None = None
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    group: str = ""
    job_type: str = ""
    params: dict[str, str] = field(default_factory=dict)
    points: dict[str, list[StoredPoint]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    last_step: int = 0
    last_ms: int | None = None


def _loads(text: str, path: Path, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise SyncError(f"{path}: a {what} value is not JSON: {text[:80]!r}") from None


def read_log(path: Path) -> RunData:
    pb = _pb()
    from google.protobuf.message import DecodeError

    data = RunData()
    for index, raw in enumerate(records(path)):
        try:
            record = pb.Record.FromString(raw)
        except DecodeError:
            raise SyncError(f"{path}: record {index} is not a W&B record") from None
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            data.wandb_id = data.wandb_id or run.run_id
            data.project = run.project or data.project
            data.entity = run.entity or data.entity
            data.name = run.display_name or data.name
            data.notes = run.notes or data.notes
            data.tags = list(run.tags) or data.tags
            data.group = run.run_group or data.group
            data.job_type = run.job_type or data.job_type
            if run.HasField("start_time") and data.start_ms is None:
                data.start_ms = run.start_time.seconds * 1000 + run.start_time.nanos // 1_000_000
            _config(data, run.config.update, path)
        elif kind == "config":
            _config(data, record.config.update, path)
        elif kind == "history":
            _history(data, record.history, path)
        elif kind == "summary":
            for item in record.summary.update:
                data.summary[_item_key(item)] = _loads(item.value_json, path, "summary")
        elif kind == "exit":
            data.exit_code = int(record.exit.exit_code)
            if data.start_ms is not None and record.exit.runtime:
                data.end_ms = data.start_ms + int(record.exit.runtime) * 1000
    if data.end_ms is None:
        data.end_ms = data.last_ms
    if data.last_ms is not None and data.end_ms is not None:
        data.end_ms = max(data.end_ms, data.last_ms)
    last = data.end_ms or data.start_ms or 0
    for name, value in data.summary.items():
        if name.split("/")[0] in SPECIAL or name.startswith("_wandb"):
            continue
        key = metric_key(name)
        number = _number(value)
        if number is None or key in data.points:
            continue
        data.points[key] = [_point(data.last_step, last, number)]
    return data


def _point(step: int, ms: int, value: float) -> StoredPoint:
    return (step, ms, 0.0, True) if math.isnan(value) else (step, ms, value, False)


def _config(data: RunData, items: Any, path: Path) -> None:
    for item in items:
        name = _item_key(item)
        if name.startswith("_wandb"):
            continue
        text = _param(_loads(item.value_json, path, "config"))
        data.params[metric_key(name)] = text[:MAX_PARAM]


def _history(data: RunData, history: Any, path: Path) -> None:
    values = {_item_key(i): _loads(i.value_json, path, "history") for i in history.item}
    given = values.get("_step")
    step = int(given) if isinstance(given, int | float) else int(history.step.num)
    stamp = values.get("_timestamp")
    if isinstance(stamp, int | float):
        ms = int(round(float(stamp) * 1000))
    else:
        ms = data.start_ms or 0
    data.last_step = max(data.last_step, step)
    data.last_ms = ms if data.last_ms is None else max(data.last_ms, ms)
    for name, value in values.items():
        if name in SPECIAL:
            continue
        number = _number(value)
        if number is not None:
            data.points.setdefault(metric_key(name), []).append(_point(step, ms, number))


@dataclass
class _Planned:
    folder: Path
    log: Path
    run: Run
    experiment: str
    counts: dict[str, int]


class WandbSource(ImportSource):
    """W&B run folders as a source of the sync engine."""

    def __init__(
        self,
        folder: str | Path,
        *,
        state_dir: Path | None = None,
        experiments: list[str] | None = None,
    ):
        _pb()
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise SyncError(f"'{folder}' is not a folder (a wandb/ folder or a run folder)")
        self.root = real(path)
        self.found = self._find()
        if not self.found:
            raise SyncError(
                f"'{folder}' holds no W&B run: no run-*/ or offline-run-*/ folder with a "
                "run-<id>.wandb log in it (or under its wandb/ folder)"
            )
        state = state_dir or default_state_dir(self.root.parent, self.root.name)
        super().__init__(state, experiments)
        self._planned: dict[str, _Planned] = {}
        self._by_uri: dict[str, str] = {}
        self._experiment_ids: dict[str, str] = {}
        self._full: tuple[str, RunData] | None = None

    def _find(self) -> list[tuple[Path, Path]]:
        """(run folder, its .wandb log) for the folder itself, its run folders or those
        of its wandb/ folder."""
        candidates = [self.root]
        for base in (self.root, self.root / "wandb"):
            if base.is_dir():
                try:
                    candidates += sorted(d for d in base.iterdir() if d.is_dir())
                except OSError as exc:
                    raise SyncError(f"Cannot list {base}: {exc.strerror}") from None
        out = []
        for folder in candidates:
            if not folder.name.startswith(("run-", "offline-run-")):
                continue
            logs = sorted(folder.glob("run-*.wandb"))
            if logs:
                out.append((folder, logs[0]))
        return out

    def _plan(self) -> None:
        if self._planned:
            return
        for folder, log in self.found:
            data = read_log(log)
            if not data.wandb_id:
                raise SyncError(f"{log}: the log has no run record")
            project = data.project or "uncategorized"
            rid = hashlib.sha256(f"wandb\0{project}\0{data.wandb_id}".encode()).hexdigest()[:32]
            self._full = (rid, data)
            tags = {"wandb.run_id": data.wandb_id, "wandb.project": project}
            if data.entity:
                tags["wandb.entity"] = data.entity
            if data.notes:
                tags["mlflow.note.content"] = data.notes
            if data.tags:
                tags["wandb.tags"] = ",".join(data.tags)
            if data.group:
                tags["wandb.group"] = data.group
            if data.job_type:
                tags["wandb.job_type"] = data.job_type
            status = "FINISHED" if data.exit_code == 0 else "FAILED"
            if data.exit_code is None:
                status = "KILLED"  # the log has no exit record: the process ended abruptly
            info = RunInfo(
                run_id=rid,
                experiment_id="",
                run_name=data.name or data.wandb_id,
                user_id=None,
                status=status,
                start_time=data.start_ms,
                end_time=data.end_ms,
                artifact_uri=(folder / "files").as_uri(),
                lifecycle_stage="active",
            )
            run = Run(info=info, params=dict(data.params), tags=tags)
            counts = {k: len(v) for k, v in data.points.items()}
            self._planned[rid] = _Planned(folder, log, run, project, counts)
            self._by_uri[info.artifact_uri or ""] = rid
        for i, name in enumerate(sorted({p.experiment for p in self._planned.values()}), 1):
            self._experiment_ids[name] = str(i)
        for planned in self._planned.values():
            planned.run.info.experiment_id = self._experiment_ids[planned.experiment]

    def experiments(self) -> list[Experiment]:
        self._plan()
        return self.named_experiments(self._experiment_ids)

    def runs(self, experiment_id: str) -> list[Run]:
        self._plan()
        out = [p.run for p in self._planned.values() if p.run.info.experiment_id == experiment_id]
        out.sort(key=lambda r: (r.info.start_time or 0, r.info.run_id))
        return out

    def _data(self, run_id: str) -> RunData:
        if self._full is None or self._full[0] != run_id:
            self._full = (run_id, read_log(self._planned[run_id].log))
        return self._full[1]

    def read_points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        return {k: list(v) for k, v in self._data(run_id).points.items()}

    def metric_counts(self, run_id: str) -> dict[str, int]:
        return dict(self._planned[run_id].counts)

    def artifact_dir(self, artifact_uri: str | None) -> Path | None:
        rid = self._by_uri.get(artifact_uri or "")
        return self._planned[rid].folder / "files" if rid is not None else None

    def artifact_files(self, folder: Path) -> Iterator[tuple[str, int, int]]:
        """Every file under the run's files/ folder, following the symlinks W&B makes for
        the files a run saves (``wandb.save`` links them in place of a copy)."""
        if not folder.is_dir():
            return
        found = []
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in names:
                path = Path(root) / name
                try:
                    st = path.stat()
                except OSError:
                    continue  # a dangling link: the saved file is gone
                found.append((path.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
        yield from sorted(found)

    def read_artifact(self, folder: Path, rel: str, size: int) -> Iterator[bytes]:
        return stream_file(folder / rel, size) if size else iter(())

    def close(self) -> None:
        super().close()
        self._full = None
