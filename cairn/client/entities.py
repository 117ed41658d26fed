"""Plain read-only records for what the server returns (MLflow's JSON shapes, typed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.wire import kv_dict, parse_number, run_id


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Metric:
        return cls(
            str(d["key"]),
            parse_number(d.get("value")),
            int(d.get("timestamp", 0)),
            int(d.get("step", 0)),
        )


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str]
    creation_time: int | None
    last_update_time: int | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Experiment:
        return cls(
            str(d["experiment_id"]),
            str(d.get("name", "")),
            str(d.get("artifact_location", "")),
            str(d.get("lifecycle_stage", "active")),
            kv_dict(d.get("tags")),
            d.get("creation_time"),
            d.get("last_update_time"),
        )


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        return self.run_id

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunInfo:
        return cls(
            str(run_id(d)),
            str(d.get("experiment_id", "")),
            str(d.get("run_name", "")),
            str(d.get("user_id", "")),
            str(d.get("status", "RUNNING")),
            d.get("start_time"),
            d.get("end_time"),
            str(d.get("artifact_uri", "")),
            str(d.get("lifecycle_stage", "active")),
        )


@dataclass(frozen=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None
    profile: str | None
    tags: dict[str, str]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetInput:
        ds = d.get("dataset", {})
        return cls(
            str(ds.get("name", "")),
            str(ds.get("digest", "")),
            str(ds.get("source_type", "")),
            str(ds.get("source", "")),
            ds.get("schema"),
            ds.get("profile"),
            kv_dict(d.get("tags")),
        )


@dataclass(frozen=True)
class RunData:
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: list[DatasetInput] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Run:
        data = d.get("data", {})
        metrics = {str(m["key"]): parse_number(m.get("value")) for m in data.get("metrics") or []}
        inputs = [DatasetInput.from_json(i) for i in d.get("inputs", {}).get("dataset_inputs", [])]
        return cls(
            RunInfo.from_json(d["info"]),
            RunData(metrics, kv_dict(data.get("params")), kv_dict(data.get("tags"))),
            inputs,
        )


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    current_stage: str
    description: str
    source: str
    run_id: str
    status: str
    tags: dict[str, str]
    aliases: list[str]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ModelVersion:
        return cls(
            str(d["name"]),
            str(d["version"]),
            d.get("creation_timestamp"),
            d.get("last_updated_timestamp"),
            str(d.get("current_stage", "None")),
            str(d.get("description", "")),
            str(d.get("source", "")),
            str(d.get("run_id", "")),
            str(d.get("status", "READY")),
            kv_dict(d.get("tags")),
            [str(a) for a in d.get("aliases") or []],
        )


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str
    latest_versions: list[ModelVersion]
    tags: dict[str, str]
    aliases: dict[str, str]  # alias -> version

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RegisteredModel:
        return cls(
            str(d["name"]),
            d.get("creation_timestamp"),
            d.get("last_updated_timestamp"),
            str(d.get("description", "")),
            [ModelVersion.from_json(v) for v in d.get("latest_versions") or []],
            kv_dict(d.get("tags")),
            {str(a["alias"]): str(a["version"]) for a in d.get("aliases") or []},
        )


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`cairn.log_model` logged: ``model_uri`` (``runs:/<run_id>/<name>``) loads it."""

    run_id: str
    artifact_path: str
    model_uri: str
    artifact_uri: str
    registered_model_version: str | None = None
