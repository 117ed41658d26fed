"""MLflow 3 logged models and a run's model outputs and 2.x model history: rules, then one
store transaction per call."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Connection

from cairn.entities.errors import CairnError
from cairn.entities.logged_models import (
    STATUS_NUMBERS,
    LoggedModel,
    LoggedModelStatus,
    ModelMetricPoint,
)
from cairn.entities.tracking import Page, parse_experiment_id
from cairn.services import validation as v
from cairn.services.artifacts import ArtifactService
from cairn.store import logged_models as store
from cairn.store import runs as run_store
from cairn.store.db import Database
from cairn.store.logged_model_search import search_logged_models

LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
MODEL_JSON_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")
# what MLflow keeps of an MLmodel in the history tag (Model.get_tags_dict)
HISTORY_KEYS = ("run_id", "utc_time_created", "artifact_path", "model_uuid")
FINAL_STATUSES = (
    LoggedModelStatus.LOGGED_MODEL_READY,
    LoggedModelStatus.LOGGED_MODEL_UPLOAD_FAILED,
)


def parse_status(value: object) -> LoggedModelStatus:
    text = str(value).upper() if value is not None else ""
    text = STATUS_NUMBERS.get(text, text)
    try:
        return LoggedModelStatus(text)
    except ValueError:
        raise CairnError.invalid(
            f"Invalid logged model status '{value}'; valid: "
            + ", ".join(s.value for s in LoggedModelStatus)
        ) from None


class LoggedModelService:
    def __init__(
        self, db: Database, artifacts: ArtifactService, limits: v.ValueLimits | None = None
    ):
        self.db = db
        self.artifacts = artifacts
        self.limits = limits or v.ValueLimits()

    def _tags(self, tags: Iterable[tuple[str, object]]) -> dict[str, str]:
        return {v.validate_key("Tag", k): self.limits.tag_value(k, val) for k, val in tags}

    def _params(self, params: Iterable[tuple[str, object]]) -> dict[str, str]:
        return {v.validate_key("Param", k): self.limits.param_value(k, val) for k, val in params}

    def create(
        self,
        experiment_id: object,
        name: str | None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        tags: Iterable[tuple[str, object]] = (),
        params: Iterable[tuple[str, object]] = (),
        model_id: str | None = None,
    ) -> LoggedModel:
        """``model_id``: the id to give the model (imports keep their source's ids)."""
        eid = parse_experiment_id(experiment_id)
        chosen = v.validate_new_model_id(model_id) if model_id is not None else None
        model_name = name or f"model-{store.new_model_id()[2:10]}"
        run_id = v.validate_run_id(source_run_id, "source_run_id") if source_run_id else None
        tag_map, param_map = self._tags(tags), self._params(params)
        return self.db.write(
            lambda c: store.create(
                c, eid, model_name, run_id, model_type, tag_map, param_map, chosen
            )
        )

    def get(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self.db.read(lambda c: store.get(c, model_id, allow_deleted))

    def artifact_uri(self, model_id: str) -> str | None:
        """Where a logged model's artifacts are, or None when there is no such model (what the
        registry asks of versions registered from ``models:/m-…``)."""
        try:
            found = self.get(model_id).artifact_uri
        except CairnError:
            return None
        return found or None

    def finalize(self, model_id: str, status: object) -> LoggedModel:
        final = parse_status(status)
        if final not in FINAL_STATUSES:
            raise CairnError.invalid(
                f"A logged model is finalized as {' or '.join(FINAL_STATUSES)}, not '{final}'"
            )
        return self.db.write(lambda c: store.finalize(c, model_id, final))

    def set_tags(self, model_id: str, tags: Iterable[tuple[str, object]]) -> None:
        # tag values are kept verbatim (mlflow.modelVersions is a JSON list the client rewrites)
        tag_map = self._tags(tags)
        self.db.write(lambda c: store.set_tags(c, model_id, tag_map))

    def delete_tag(self, model_id: str, key: str) -> None:
        self.db.write(lambda c: store.delete_tag(c, model_id, key))

    def delete(self, model_id: str) -> None:
        self.db.write(lambda c: store.delete_model(c, model_id))

    def log_params(self, model_id: str, params: Iterable[tuple[str, object]]) -> None:
        param_map = self._params(params)
        self.db.write(lambda c: store.add_params(c, model_id, param_map))

    def search(
        self,
        experiment_ids: Sequence[object],
        filter_text: str | None = None,
        order_by: Sequence[tuple[str, bool]] = (),
        max_results: int = 100,
        page_token: str | None = None,
        datasets: Sequence[tuple[object, object]] = (),
    ) -> Page[LoggedModel]:
        """``datasets``: (name, digest or None) pairs; only models with metrics logged
        against one of them (MLflow's ``datasets`` filter)."""
        eids = [parse_experiment_id(e, "experiment_ids") for e in experiment_ids]
        wanted: list[tuple[str, str | None]] = []
        for i, (name, digest) in enumerate(datasets):
            if not isinstance(name, str) or not name:
                raise CairnError.invalid(
                    f"Missing value for required parameter 'datasets[{i}].dataset_name'."
                )
            wanted.append((name, digest if isinstance(digest, str) and digest else None))
        return self.db.read(
            lambda c: search_logged_models(
                c, eids, filter_text, order_by, max_results, page_token, wanted
            )
        )

    # ------------------------------------------------------------------ run side
    def log_outputs(self, run_id: object, models: Sequence[tuple[str, int]]) -> None:
        rid = v.validate_run_id(run_id)
        self.db.write(lambda c: store.log_outputs(c, rid, models))

    def metrics_job(
        self, run_id: str | None, points: Sequence[ModelMetricPoint]
    ) -> Callable[[Connection], None]:
        """The write that attaches run metrics carrying a ``model_id`` to their models (to run
        in the same transaction as the run's own log-batch)."""
        rid = v.validate_run_id(run_id) if run_id else None
        return lambda c: store.log_metrics(c, rid, points)

    def log_model_json(self, run_id: object, model_json: str) -> None:
        """2.x ``runs/log-model``: append the MLmodel to the run's history tag, as MLflow does
        (the whole history is kept, even past the 8,000-character tag limit, unless the server
        rejects long values)."""
        rid = v.validate_run_id(run_id)
        try:
            model = json.loads(model_json)
        except ValueError:
            raise CairnError.invalid(
                f"Malformed model info. \n {model_json} \n is not a valid JSON."
            ) from None
        if not isinstance(model, dict):
            raise CairnError.invalid("Model json must be a JSON object")
        missing = set(MODEL_JSON_FIELDS) - set(model)
        if missing:
            raise CairnError.invalid(f"Model json is missing mandatory fields: {sorted(missing)}")
        entry = {k: model[k] for k in HISTORY_KEYS if k in model}
        flavors = model.get("flavors") or {}
        entry["flavors"] = {name: _without_config(conf) for name, conf in flavors.items()}
        limits = self.limits

        def write(c: Connection) -> None:
            row = run_store.resolve_active(c, rid)
            old = run_store.get(c, rid).tags.get(LOG_MODEL_HISTORY_TAG)
            history = json.loads(old) if old else []
            value = json.dumps([*history, entry])
            if not limits.truncate and len(value) > v.MAX_TAG_VALUE_LENGTH:
                limits.tag_value(LOG_MODEL_HISTORY_TAG, value)  # raises
            run_store.set_tags(c, row.id, {LOG_MODEL_HISTORY_TAG: value})
            run_store.record(c, "run.log_model", row, after={"model": entry})

        self.db.write(write)


def _without_config(conf: object) -> object:
    if isinstance(conf, dict):
        return {k: x for k, x in conf.items() if k != "config"}
    return conf
