"""``cairn import mlflow-db``: an MLflow tracking database (SQLite or PostgreSQL; MySQL
through the same SQL) read directly, with plain SELECTs, for a server that is gone.

Tables read: experiments, experiment_tags, runs, tags, params, metrics, and when the
database's MLflow version has them datasets/inputs/input_tags (2.4+), logged_models and their
tags and params (3.x), registered_models, registered_model_tags, registered_model_aliases
(2.3+), model_versions and model_version_tags. Artifact files are read from the local paths
the database records, or for ``mlflow-artifacts:/…`` URIs (a server that proxied
artifacts) under ``--artifact-root``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import Dataset, DatasetInput, Experiment, Run, RunInfo
from cairn.sync.errors import SyncError
from cairn.sync.importing import (
    MODEL_STATUS,
    ImportSource,
    default_state_dir,
    home_state_dir,
    real,
    run_status,
)
from cairn.sync.source import ImportedModel, StoredPoint

REQUIRED = ("experiments", "experiment_tags", "runs", "tags", "params", "metrics")


def _engine(uri: str) -> tuple[Engine, Path | None]:
    """A read-only engine and, for SQLite, the file."""
    try:
        url = make_url(uri)
    except ArgumentError:
        raise SyncError(
            f"'{uri}' is not a database URI (expected sqlite:///path/mlflow.db or "
            "postgresql://user@host/db)"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise SyncError(f"'{uri}' names no SQLite file")
        path = Path(url.database).expanduser()
        if not path.is_file():
            raise SyncError(f"'{uri}': the SQLite file {path} does not exist")
        ro = f"sqlite:///file:{real(path)}?mode=ro&uri=true"
        return create_engine(ro), real(path)
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    try:
        return create_engine(url, pool_size=2), None
    except (NoSuchModuleError, ImportError) as exc:
        raise SyncError(f"'{uri}': no driver for this database ({exc})") from None


def _local(uri: str | None, artifact_root: Path | None) -> Path | None:
    if not uri:
        return None
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return Path(unquote(parts.path))
    if scheme == "" and uri.startswith("/"):
        return Path(uri)
    if scheme == "mlflow-artifacts" and artifact_root is not None:
        rel = unquote(parts.path).lstrip("/")
        target = (artifact_root / rel).resolve()
        if not target.is_relative_to(artifact_root.resolve()):
            return None
        return target
    return None


class MlflowDbSource(ImportSource):
    """An MLflow tracking database as a source of the sync engine."""

    def __init__(
        self,
        uri: str,
        *,
        artifact_root: Path | None = None,
        state_dir: Path | None = None,
        experiments: list[str] | None = None,
    ):
        self.engine, sqlite_file = _engine(uri)
        self.uri = uri
        self.artifact_root = artifact_root.expanduser() if artifact_root else None
        try:
            with self.engine.connect() as conn:
                self.tables = set(inspect(conn).get_table_names())
                self._check(conn)
        except DBAPIError as exc:
            self.engine.dispose()
            raise SyncError(f"Cannot read the database {uri}: {exc.orig}") from None
        except SyncError:
            self.engine.dispose()
            raise
        if state_dir is None:
            if sqlite_file is not None:
                state_dir = default_state_dir(sqlite_file.parent, sqlite_file.stem)
            else:
                state_dir = home_state_dir(make_url(uri).render_as_string(hide_password=True))
        super().__init__(state_dir, experiments)
        self._run_experiment: dict[str, str] = {}

    def _check(self, conn: Connection) -> None:
        missing = [t for t in REQUIRED if t not in self.tables]
        if missing:
            raise SyncError(
                f"{self.uri} is not an MLflow tracking database: it has no "
                f"{', '.join(missing)} table(s)"
            )
        columns = {c["name"] for c in inspect(conn).get_columns("metrics")}
        if "run_uuid" not in columns:
            raise SyncError(
                f"{self.uri} is not an MLflow tracking database: its metrics table has no "
                "run_uuid column (is it a Cairn store? `cairn sync` copies those)"
            )

    def close(self) -> None:
        super().close()
        self.engine.dispose()

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(text(sql), params).all())
        except DBAPIError as exc:
            raise SyncError(f"Cannot read {self.uri}: {exc.orig}") from None

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for key, value, eid in self._rows("SELECT key, value, experiment_id FROM experiment_tags"):
            tags[str(eid)][key] = value or ""
        out: list[Experiment] = []
        names: set[str] = set()
        rows = self._rows(
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time FROM experiments ORDER BY experiment_id"
        )
        for eid, name, location, stage, created, updated in rows:
            experiment = Experiment(
                experiment_id=str(eid),
                name=name,
                artifact_location=location or "",
                lifecycle_stage=stage or "active",
                creation_time=created or 0,
                last_update_time=updated or 0,
                tags=tags.get(str(eid), {}),
            )
            names.add(name)
            if self.wanted(experiment):
                out.append(experiment)
        self.check_filter(names)
        return out

    # ----------------------------------------------------------------------- runs
    def runs(self, experiment_id: str) -> list[Run]:
        eid = int(experiment_id)
        where = "run_uuid IN (SELECT run_uuid FROM runs WHERE experiment_id = :eid)"
        params: dict[str, dict[str, str]] = defaultdict(dict)
        for key, value, rid in self._rows(
            f"SELECT key, value, run_uuid FROM params WHERE {where}", eid=eid
        ):
            params[rid][key] = value
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for key, value, rid in self._rows(
            f"SELECT key, value, run_uuid FROM tags WHERE {where}", eid=eid
        ):
            tags[rid][key] = value or ""
        inputs = self._inputs(eid)
        outputs = self._outputs(eid)
        out: list[Run] = []
        rows = self._rows(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, artifact_uri, "
            "lifecycle_stage FROM runs WHERE experiment_id = :eid ORDER BY start_time, run_uuid",
            eid=eid,
        )
        for rid, name, user, status, start, end, uri, stage in rows:
            info = RunInfo(
                run_id=rid,
                experiment_id=experiment_id,
                run_name=name or tags[rid].get("mlflow.runName"),
                user_id=user,
                status=run_status(status, f"{self.uri}, table runs, run {rid}"),
                start_time=start,
                end_time=end,
                artifact_uri=uri,
                lifecycle_stage=stage or "active",
            )
            self._run_experiment[rid] = experiment_id
            run = Run(info=info, params=params[rid], tags=tags[rid], inputs=inputs[rid])
            run.outputs = outputs.get(rid, [])
            out.append(run)
        return out

    def _outputs(self, eid: int) -> dict[str, list[tuple[str, int]]]:
        """The logged models each run produced (MLflow 3's RUN_OUTPUT rows of ``inputs``)."""
        out: dict[str, list[tuple[str, int]]] = defaultdict(list)
        if "inputs" not in self.tables:
            return out
        with self.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("inputs")}
        step = "i.step" if "step" in columns else "0"
        rows = self._rows(
            f"SELECT i.source_id, i.destination_id, {step} FROM inputs i "
            "JOIN runs r ON r.run_uuid = i.source_id WHERE i.source_type = 'RUN_OUTPUT' "
            "AND i.destination_type = 'MODEL_OUTPUT' AND r.experiment_id = :eid",
            eid=eid,
        )
        for rid, model_id, at in rows:
            out[rid].append((model_id, int(at or 0)))
        return out

    def _inputs(self, eid: int) -> dict[str, list[DatasetInput]]:
        out: dict[str, list[DatasetInput]] = defaultdict(list)
        if not {"datasets", "inputs", "input_tags"} <= self.tables:
            return out
        input_tags: dict[str, dict[str, str]] = defaultdict(dict)
        rows = self._rows(
            "SELECT t.input_uuid, t.name, t.value FROM input_tags t JOIN inputs i "
            "ON i.input_uuid = t.input_uuid JOIN runs r ON r.run_uuid = i.destination_id "
            "WHERE r.experiment_id = :eid",
            eid=eid,
        )
        for uuid, name, value in rows:
            input_tags[uuid][name] = value
        rows = self._rows(
            "SELECT i.input_uuid, i.destination_id, d.name, d.digest, d.dataset_source_type, "
            "d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i "
            "JOIN datasets d ON d.dataset_uuid = i.source_id "
            "JOIN runs r ON r.run_uuid = i.destination_id "
            "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' "
            "AND r.experiment_id = :eid",
            eid=eid,
        )
        for uuid, rid, name, digest, source_type, source, schema, profile in rows:
            dataset = Dataset(name, digest, source_type, source, schema, profile)
            out[rid].append(DatasetInput(dataset, input_tags.get(uuid, {})))
        return out

    # -------------------------------------------------------------------- metrics
    def read_points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        out: dict[str, list[StoredPoint]] = defaultdict(list)
        rows = self._rows(
            "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = :rid",
            rid=run_id,
        )
        for key, value, ts, step, is_nan in rows:
            nan = bool(is_nan) or (isinstance(value, float) and math.isnan(value))
            out[key].append((int(step or 0), int(ts), 0.0 if nan else float(value), nan))
        return dict(out)

    # ------------------------------------------------------------------ artifacts
    def artifact_dir(self, artifact_uri: str | None) -> Path | None:
        return _local(artifact_uri, self.artifact_root)

    # ------------------------------------------------------------- logged models
    def logged_models(self) -> list[ImportedModel]:
        if "logged_models" not in self.tables:
            return []
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        params: dict[str, dict[str, str]] = defaultdict(dict)
        if "logged_model_tags" in self.tables:
            for mid, key, value in self._rows(
                "SELECT model_id, tag_key, tag_value FROM logged_model_tags"
            ):
                tags[mid][key] = value
        if "logged_model_params" in self.tables:
            for mid, key, value in self._rows(
                "SELECT model_id, param_key, param_value FROM logged_model_params"
            ):
                params[mid][key] = value
        out = []
        rows = self._rows(
            "SELECT model_id, experiment_id, name, artifact_location, status, lifecycle_stage, "
            "model_type, source_run_id FROM logged_models ORDER BY creation_timestamp_ms"
        )
        wanted = {e.experiment_id for e in self.experiments()}
        for mid, eid, name, location, status, stage, model_type, run_id in rows:
            if str(eid) not in wanted:
                continue
            out.append(
                ImportedModel(
                    model_id=mid,
                    experiment_id=str(eid),
                    name=name,
                    source_run_id=run_id,
                    model_type=model_type,
                    status=MODEL_STATUS.get(int(status), str(status)),
                    tags=tags.get(mid, {}),
                    params=params.get(mid, {}),
                    folder=_local(location, self.artifact_root),
                    lifecycle_stage=stage or "active",
                )
            )
        return out

    # ------------------------------------------------------------------- registry
    def registered_models(self) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
        if not {"registered_models", "model_versions"} <= self.tables:
            return []
        model_tags: dict[str, dict[str, str]] = defaultdict(dict)
        if "registered_model_tags" in self.tables:
            for key, value, name in self._rows(
                "SELECT key, value, name FROM registered_model_tags"
            ):
                model_tags[name][key] = value or ""
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        if "registered_model_aliases" in self.tables:
            for alias, version, name in self._rows(
                "SELECT alias, version, name FROM registered_model_aliases"
            ):
                aliases[name][alias] = int(version)
        version_tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        if "model_version_tags" in self.tables:
            for key, value, name, version in self._rows(
                "SELECT key, value, name, version FROM model_version_tags"
            ):
                version_tags[(name, int(version))][key] = value or ""
        versions: dict[str, list[ModelVersion]] = defaultdict(list)
        rows = self._rows(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, "
            "current_stage, source, run_id, status FROM model_versions ORDER BY name, version"
        )
        for (
            name,
            number,
            created,
            updated,
            description,
            user,
            stage,
            source,
            run_id,
            status,
        ) in rows:
            if stage == "Deleted_Internal":
                continue
            versions[name].append(
                ModelVersion(
                    name=name,
                    version=int(number),
                    creation_timestamp=created or 0,
                    last_updated_timestamp=updated or 0,
                    description=description,
                    user_id=user,
                    current_stage=stage or "None",
                    source=source or "",
                    run_id=run_id or None,
                    status=status or "READY",
                    tags=version_tags.get((name, int(number)), {}),
                )
            )
        out = []
        for name, created, updated, description in self._rows(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models "
            "ORDER BY name"
        ):
            model = RegisteredModel(
                name=name,
                creation_timestamp=created or 0,
                last_updated_timestamp=updated or 0,
                description=description,
                tags=model_tags.get(name, {}),
                aliases=aliases.get(name, {}),
            )
            out.append((model, versions.get(name, [])))
        return out
