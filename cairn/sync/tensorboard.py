"""``cairn import tensorboard``: a TensorBoard log directory, read directly (never written).

Every folder under LOGDIR that holds event files (``events.out.tfevents.*``) is one run, named
by its path relative to LOGDIR (LOGDIR itself: its own name); all runs go into one experiment
(LOGDIR's folder name, or ``--experiment-name``). What an event file holds becomes::

    scalars (simple values, TF2 'scalars' tensors)  metrics: step, wall time (ms), value
    hparams (the hparams plugin's session start)     params (numbers, strings, booleans)
    images (TF1 image summaries, 'images' tensors)   artifacts images/<tag>/step_<n>.<png|jpg|gif>
    text ('text' tensors)                            artifacts text/<tag>/step_<n>.txt
    first and last event wall time                   the run's start and end time

Histograms, distributions, audio, graphs, embeddings and other plugins' data are not imported.

An event file is a sequence of TFRecord frames (length, masked CRC-32C of the length, an
``Event`` protocol buffer, masked CRC-32C of the data). Every frame's checksums are checked:
a corrupt or truncated file stops the import with an error naming it and the byte offset
before anything of its run is sent (a run is read whole when it is planned). The ``Event``
messages and tensors are decoded with TensorBoard's own protocol buffers and tensor helper.

A run's id is derived from its relative path and the name of its oldest event file (which
holds the writer's start time, host and process id), so re-importing the same folder, or a
copy of it, finds the same runs, and a training resumed later (a new event file in the same
folder) adds its points to the run imported before.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.entities.tracking import Experiment, Run, RunInfo
from cairn.sync.errors import SyncError
from cairn.sync.importing import ImportSource, default_state_dir, real
from cairn.sync.source import StoredPoint

EVENT_FILE = "events.out.tfevents"
EXPERIMENT_ID = "1"
RUN_TAG = "tensorboard.run"
#: a frame larger than this is taken for a corrupt length (TensorBoard's images are far smaller)
MAX_RECORD = 1 << 30
MAX_FOLDERS = 10**6
_KEY_CHARS = re.compile(r"[^/\w.\- :]")
_PATH_CHARS = re.compile(r"[^\w.\- ]")
_IMAGE_TYPES = ((b"\x89PNG", "png"), (b"\xff\xd8", "jpg"), (b"GIF8", "gif"))


def _libraries() -> tuple[Any, Any, Any, Any, Any]:
    """TensorBoard's protocol buffers and tensor helper, and the CRC-32C checker (the
    ``tensorboard`` extra)."""
    try:
        import google_crc32c
        import numpy
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.hparams import plugin_data_pb2
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise SyncError(
            f"cairn import tensorboard needs the tensorboard reader ({exc.name} is missing): "
            "pip install 'cairn-ml[tensorboard]'"
        ) from None
    return event_pb2, plugin_data_pb2, tensor_util, google_crc32c, numpy


def _masked(crc: int) -> int:
    """TFRecord's masked CRC-32C."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path: Path, crc32c: Any) -> Iterator[bytes]:
    """The records of one TFRecord file, each checked against its two checksums."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise SyncError(f"Cannot read {path}: {exc.strerror}") from None
    with fh:
        offset = 0
        for _ in range(10**12):
            header = fh.read(12)
            if not header:
                return
            if len(header) < 12:
                raise SyncError(
                    f"{path}: not a complete event file (it ends inside the record "
                    f"header at byte {offset})"
                )
            length, length_crc = struct.unpack("<QI", header)
            if _masked(crc32c.value(header[:8])) != length_crc:
                raise SyncError(
                    f"{path}: not a valid event file (the record at byte {offset} fails its "
                    "length checksum)"
                )
            if length > MAX_RECORD:
                raise SyncError(f"{path}: the record at byte {offset} claims {length} bytes")
            data = fh.read(length)
            footer = fh.read(4)
            if len(data) < length or len(footer) < 4:
                raise SyncError(
                    f"{path}: not a complete event file (the record at byte {offset} is cut "
                    "short; was it still being written?)"
                )
            if _masked(crc32c.value(data)) != struct.unpack("<I", footer)[0]:
                raise SyncError(
                    f"{path}: corrupt event file (the record at byte {offset} fails its data "
                    "checksum)"
                )
            yield data
            offset += 16 + length


def metric_key(tag: str) -> str:
    """A TensorBoard tag as a metric name: characters MLflow does not allow in names become
    '_', and so do empty, '.' and '..' path parts."""
    parts = _KEY_CHARS.sub("_", tag).split("/")
    return "/".join("_" if p in ("", ".", "..") else p for p in parts)


def _path_part(text: str) -> str:
    cleaned = _PATH_CHARS.sub("_", text)
    return "_" if cleaned in ("", ".", "..") else cleaned


def _tag_path(tag: str) -> str:
    return "/".join(_path_part(p) for p in tag.split("/"))


def _param(value: Any) -> str | None:
    """An hparam's value (a protobuf ``Value``) as a param string."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = float(value.number_value)
        if math.isfinite(number) and number.is_integer():
            return str(int(number))
        return repr(number)
    if kind == "string_value":
        return str(value.string_value)
    if kind == "bool_value":
        return str(bool(value.bool_value))
    return None


def _text(array: Any) -> str:
    def one(item: Any) -> str:
        return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)

    if array.ndim == 0:
        return one(array.item())
    if array.ndim == 1:
        return "\n".join(one(x) for x in array)
    return "\n".join("\t".join(one(x) for x in row.reshape(-1)) for row in array)


def _run_id(rel: str, first: Path) -> str:
    """A run's id, the same on every import of the same folder: its path in the log
    directory, its first event file's name and that file's first record (the writer's
    ``file_version`` event, stamped to the microsecond). The name alone (second, host, pid)
    is shared by two writers that one process starts within a second."""
    with first.open("rb") as f:
        head = f.read(FIRST_RECORD_BYTES)
    digest = hashlib.sha256(f"tensorboard\0{rel}\0{first.name}\0".encode() + head)
    return digest.hexdigest()[:32]


FIRST_RECORD_BYTES = 64
"""Enough for an event file's first record: its length, CRCs and the ``file_version`` event."""


@dataclass
class RunData:
    """Everything imported from one run folder."""

    points: dict[str, list[StoredPoint]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # rel -> (data, mtime ns)
    first_ms: int | None = None
    last_ms: int | None = None


class _Reader:
    """Decodes the events of one run's files into :class:`RunData`."""

    def __init__(self) -> None:
        libraries = _libraries()
        self.event_pb2, self.plugin_data_pb2, self.tensor_util, self.crc32c, self.np = libraries
        self.data = RunData()
        self.plugins: dict[str, str] = {}  # tag -> plugin (TF1 writes it on the first value)

    def read(self, path: Path) -> None:
        from google.protobuf.message import DecodeError

        for number, record in enumerate(records(path, self.crc32c)):
            try:
                event = self.event_pb2.Event.FromString(record)
            except DecodeError:
                raise SyncError(
                    f"{path}: record {number} is not a TensorBoard event (not an event file?)"
                ) from None
            try:
                self._event(event)
            except (ValueError, TypeError, DecodeError) as exc:
                raise SyncError(f"{path}: record {number} cannot be read: {exc}") from None

    def _event(self, event: Any) -> None:
        data = self.data
        ms = int(round(event.wall_time * 1000))
        if event.wall_time > 0:
            data.first_ms = ms if data.first_ms is None else min(data.first_ms, ms)
            data.last_ms = ms if data.last_ms is None else max(data.last_ms, ms)
        if not event.HasField("summary"):
            return
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
            if plugin:
                self.plugins[value.tag] = plugin
            else:
                plugin = self.plugins.get(value.tag, "")
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                self._point(value.tag, event.step, ms, self._float32(value.simple_value))
            elif kind == "image":
                self._images(
                    value.tag, event.step, event.wall_time, [value.image.encoded_image_string]
                )
            elif kind == "tensor" and plugin == "scalars":
                array = self.tensor_util.make_ndarray(value.tensor)
                if array.size != 1:
                    raise ValueError(f"scalar '{value.tag}' holds {array.size} values")
                item = array.reshape(-1)[0]
                number = self._float32(item) if array.dtype == self.np.float32 else float(item)
                self._point(value.tag, event.step, ms, number)
            elif kind == "tensor" and plugin == "images":
                array = self.tensor_util.make_ndarray(value.tensor).reshape(-1)
                self._images(value.tag, event.step, event.wall_time, list(array[2:]))
            elif kind == "tensor" and plugin == "text":
                text = _text(self.tensor_util.make_ndarray(value.tensor))
                rel = f"text/{_tag_path(value.tag)}/step_{event.step}.txt"
                data.files[rel] = (text.encode("utf-8"), int(event.wall_time * 1e9))
            elif plugin == "hparams":
                self._hparams(value.metadata.plugin_data.content)

    def _float32(self, value: Any) -> float:
        """A 32-bit float (what TensorBoard stores) as the shortest decimal that reads back as
        the same 32-bit float: 0.1 logged in Python comes back as 0.1, not
        0.10000000149011612."""
        return float(str(self.np.float32(value)))

    def _point(self, tag: str, step: int, ms: int, value: float) -> None:
        point = (int(step), ms, 0.0, True) if math.isnan(value) else (int(step), ms, value, False)
        self.data.points.setdefault(metric_key(tag), []).append(point)

    def _images(self, tag: str, step: int, wall_time: float, blobs: list[bytes]) -> None:
        for i, blob in enumerate(blobs):
            ext = next((e for magic, e in _IMAGE_TYPES if blob.startswith(magic)), "bin")
            suffix = f"_{i}" if len(blobs) > 1 else ""
            rel = f"images/{_tag_path(tag)}/step_{step}{suffix}.{ext}"
            self.data.files[rel] = (bytes(blob), int(wall_time * 1e9))

    def _hparams(self, content: bytes) -> None:
        doc = self.plugin_data_pb2.HParamsPluginData.FromString(content)
        if not doc.HasField("session_start_info"):
            return
        for name, value in doc.session_start_info.hparams.items():
            text = _param(value)
            if text is not None:
                self.data.params[metric_key(name)] = text


def read_run(files: list[Path]) -> RunData:
    """Read one run's event files (oldest first)."""
    reader = _Reader()
    for path in files:
        reader.read(path)
    return reader.data


@dataclass
class _Planned:
    folder: Path
    files: list[Path]
    run: Run
    counts: dict[str, int]
    listing: list[tuple[str, int, int]]


class TensorBoardSource(ImportSource):
    """A TensorBoard log directory as a source of the sync engine."""

    def __init__(
        self,
        logdir: str | Path,
        *,
        experiment_name: str | None = None,
        state_dir: Path | None = None,
        experiments: list[str] | None = None,
    ):
        _libraries()
        path = Path(logdir).expanduser()
        if not path.is_dir():
            raise SyncError(
                f"'{logdir}' is not a folder (a TensorBoard log directory was expected)"
            )
        self.root = real(path)
        self.folders = self._run_folders()
        if not self.folders:
            raise SyncError(
                f"'{logdir}' is not a TensorBoard log directory: no folder under it holds an "
                f"event file ({EVENT_FILE}.*)"
            )
        self.name = experiment_name or self.root.name
        state = state_dir or default_state_dir(self.root.parent, self.root.name)
        super().__init__(state, experiments)
        self._planned: dict[str, _Planned] = {}  # run id -> what was read
        self._by_folder: dict[Path, str] = {}
        self._by_uri: dict[str, str] = {}
        self._full: tuple[str, RunData] | None = None

    def _run_folders(self) -> dict[Path, list[Path]]:
        """Every folder holding event files, with its event files (oldest first: the writer
        names them after its start time)."""
        out: dict[Path, list[Path]] = {}
        pending = [self.root]
        for _ in range(MAX_FOLDERS):
            if not pending:
                break
            folder = pending.pop()
            try:
                entries = sorted(folder.iterdir())
            except OSError as exc:
                raise SyncError(f"Cannot list {folder}: {exc.strerror}") from None
            events = [e for e in entries if e.name.startswith(EVENT_FILE) and e.is_file()]
            if events:
                out[folder] = sorted(events, key=_event_file_order)
            pending.extend(
                e
                for e in entries
                if e.is_dir() and not e.name.startswith(".") and not e.is_symlink()
            )
        return dict(sorted(out.items()))

    def _rel(self, folder: Path) -> str:
        rel = folder.relative_to(self.root).as_posix()
        return self.root.name if rel == "." else rel

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        experiment = Experiment(
            experiment_id=EXPERIMENT_ID,
            name=self.name,
            artifact_location="",
            lifecycle_stage="active",
            creation_time=0,
            last_update_time=0,
        )
        self.check_filter({self.name})
        return [experiment] if self.wanted(experiment) else []

    def runs(self, experiment_id: str) -> list[Run]:
        out = []
        for folder, files in self.folders.items():
            rel = self._rel(folder)
            rid = _run_id(rel, files[0])
            data = read_run(files)
            self._full = (rid, data)
            info = RunInfo(
                run_id=rid,
                experiment_id=experiment_id,
                run_name=rel,
                user_id=None,
                status="FINISHED",
                start_time=data.first_ms,
                end_time=data.last_ms,
                artifact_uri=folder.as_uri(),
                lifecycle_stage="active",
            )
            run = Run(info=info, params=dict(data.params), tags={RUN_TAG: rel})
            listing = [
                (rel_path, len(blob), mtime)
                for rel_path, (blob, mtime) in sorted(data.files.items())
            ]
            counts = {key: len(points) for key, points in data.points.items()}
            self._planned[rid] = _Planned(folder, files, run, counts, listing)
            self._by_folder[folder] = rid
            self._by_uri[folder.as_uri()] = rid
            out.append(run)
        out.sort(key=lambda r: (r.info.start_time or 0, r.info.run_id))
        return out

    # -------------------------------------------------------------------- metrics
    def _data(self, run_id: str) -> RunData:
        if self._full is None or self._full[0] != run_id:
            self._full = (run_id, read_run(self._planned[run_id].files))
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
        blob, _ = self._data(rid).files[rel]
        return iter([blob[:size]]) if size else iter(())

    def close(self) -> None:
        super().close()
        self._full = None


def _event_file_order(path: Path) -> tuple[int, str]:
    """``events.out.tfevents.<start time>.<host>...``: by start time, then name."""
    parts = path.name.split(".")
    try:
        return int(parts[3]), path.name
    except (IndexError, ValueError):
        return 0, path.name
