"""Model registry entities: registered models, their versions, and the promotion history."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Stage(StrEnum):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: object) -> Stage:
        """A stage name in any case (``production``), as its canonical spelling."""
        if isinstance(value, str):
            for stage in cls:
                if stage.value.lower() == value.strip().lower():
                    return stage
        names = ", ".join(s.value for s in cls)
        raise ValueError(f"Invalid Model Version stage: {value!r}. Value must be one of {names}.")


class EventKind(StrEnum):
    VERSION_CREATED = "version_created"
    VERSION_DELETED = "version_deleted"
    STAGE_TRANSITION = "stage_transition"
    ALIAS_SET = "alias_set"
    ALIAS_MOVED = "alias_moved"
    ALIAS_DELETED = "alias_deleted"
    MODEL_RENAMED = "model_renamed"
    MODEL_DELETED = "model_deleted"


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    current_stage: str = Stage.NONE.value
    source: str = ""
    run_id: str | None = None
    run_link: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None


@dataclass(slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass(slots=True)
class ModelEvent:
    model_name: str
    version: int | None
    kind: str
    from_value: str | None
    to_value: str | None
    actor: str | None
    time: int
