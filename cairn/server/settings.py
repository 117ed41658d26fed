"""Server settings: one validated, frozen object, read from CLI options or ``CAIRN_*`` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def data_dir() -> Path:
    return Path(os.environ.get("CAIRN_HOME", "./cairn-data")).resolve()


def default_backend_uri() -> str:
    return f"sqlite:///{data_dir() / 'cairn.db'}"


def default_artifacts_destination() -> str:
    return str(data_dir() / "artifacts")


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    backend_store_uri: str = field(default_factory=default_backend_uri)
    # where artifact bytes live: a folder, file:///abs/dir or s3://bucket/prefix
    artifacts_destination: str = field(default_factory=default_artifacts_destination)
    # proxy artifacts through the server (mlflow-artifacts:/ URIs) or hand out storage URIs
    serve_artifacts: bool = True
    # largest single artifact upload in bytes (0: no limit)
    max_artifact_bytes: int = 0
    # MLflow's MLFLOW_TRUNCATE_LONG_VALUES: cut over-long params/tags (default) or reject them
    truncate_long_values: bool = True
    # largest JSON request body accepted by the tracking API, in bytes
    max_request_bytes: int = 32 * 1024 * 1024
    # SQLite durability: NORMAL (WAL: safe against crashes, may lose the last commits on
    # power loss) or FULL (fsync on every commit group)
    sqlite_synchronous: str = "NORMAL"
    # more than one server process writes to the store (set by `cairn server --workers N`)
    shared_store: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        truncate = _env_bool(
            "CAIRN_TRUNCATE_LONG_VALUES", _env_bool("MLFLOW_TRUNCATE_LONG_VALUES", True)
        )
        return cls(
            backend_store_uri=os.environ.get("CAIRN_BACKEND_STORE_URI") or default_backend_uri(),
            artifacts_destination=os.environ.get("CAIRN_ARTIFACTS_DESTINATION")
            or default_artifacts_destination(),
            serve_artifacts=_env_bool("CAIRN_SERVE_ARTIFACTS", True),
            max_artifact_bytes=int(os.environ.get("CAIRN_MAX_ARTIFACT_BYTES", 0)),
            truncate_long_values=truncate,
            max_request_bytes=int(os.environ.get("CAIRN_MAX_REQUEST_BYTES", 32 * 1024 * 1024)),
            sqlite_synchronous=os.environ.get("CAIRN_SQLITE_SYNCHRONOUS", "NORMAL").upper(),
            shared_store=_env_bool("CAIRN_SHARED_STORE", False),
        )

    def to_env(self) -> dict[str, str]:
        """The variables that make :meth:`from_env` rebuild these settings (worker processes)."""
        names = {f.name for f in fields(self)}
        out = {f"CAIRN_{n.upper()}": str(getattr(self, n)) for n in names}
        out["CAIRN_TRUNCATE_LONG_VALUES"] = "true" if self.truncate_long_values else "false"
        out["CAIRN_SHARED_STORE"] = "true" if self.shared_store else "false"
        out["CAIRN_SERVE_ARTIFACTS"] = "true" if self.serve_artifacts else "false"
        return out
