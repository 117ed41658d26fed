"""Datasets as Cairn's datasets API shows them: with usage counts, and with their lineage (the
runs that used them, the model versions registered from those runs)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DatasetRow:
    dataset_id: str
    experiment_id: str
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None
    profile: str | None
    run_count: int


@dataclass(slots=True)
class RunUse:
    run_id: str
    run_name: str | None
    context: str | None


@dataclass(slots=True)
class VersionUse:
    name: str
    version: str
    run_id: str
    current_stage: str
    status: str
    source: str
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Lineage:
    dataset: DatasetRow
    runs: list[RunUse]
    model_versions: list[VersionUse]
