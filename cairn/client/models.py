"""log_model / load_model: MLflow's MLmodel layout, uploaded as run artifacts, resolved from
``models:/`` and ``runs:/`` URIs with plain registry calls. The model files themselves are
written and read by :mod:`cairn.ml.models`."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from importlib import import_module
from pathlib import Path
from typing import Any

from cairn.client.client import RUNS_URI, Client, artifact_path_of
from cairn.client.entities import ModelInfo, RunInfo
from cairn.client.errors import CairnRestError, CairnUsageError

MODELS_URI = re.compile(r"^models:/(?P<rest>.+)$")
STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


def log_model_to_run(
    client: Client,
    run: RunInfo,
    estimator: Any,
    name: str,
    input_example: Any,
    registered_model_name: str | None,
) -> ModelInfo:
    save_model = import_module("cairn.ml.models").save_model

    clean = name.strip("/")
    if not clean or ".." in clean.split("/"):
        raise CairnUsageError(f"log_model: invalid model name '{name}'")
    root = artifact_path_of(run.artifact_uri)
    with tempfile.TemporaryDirectory(prefix="cairn-model-") as tmp:
        local = Path(tmp) / "model"
        save_model(estimator, str(local), input_example=input_example)
        _stamp_mlmodel(local / "MLmodel", run.run_id, clean)
        client.upload_dir(root, local, clean)
        mlmodel = (local / "MLmodel").read_text(encoding="utf-8")
    _record_history(client, run.run_id, mlmodel)
    info = ModelInfo(
        run_id=run.run_id,
        artifact_path=clean,
        model_uri=f"runs:/{run.run_id}/{clean}",
        artifact_uri=f"{run.artifact_uri}/{clean}",
    )
    if registered_model_name:
        version = client.register_model(info.model_uri, registered_model_name)
        info = ModelInfo(**{**info.__dict__, "registered_model_version": version.version})
    return info


def _stamp_mlmodel(path: Path, run_id: str, artifact_path: str) -> None:
    """Add run_id and artifact_path to MLmodel, as MLflow 2 clients write them."""
    import yaml  # lazy, as everywhere in the SDK: only model calls pay its import

    if not path.is_file():
        return
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if isinstance(data, dict):
        if not data.get("run_id"):
            data["run_id"] = run_id
        if not data.get("artifact_path"):
            data["artifact_path"] = artifact_path
        path.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")


def _record_history(client: Client, run_id: str, mlmodel: str) -> None:
    """runs/log-model: the server appends the model to the run's mlflow.log-model.history."""
    import yaml  # lazy: see _stamp_mlmodel

    data = yaml.safe_load(mlmodel) or {}
    try:
        client.rest.call(
            "POST",
            "runs/log-model",
            {"run_id": run_id, "model_json": json.dumps(data, default=str)},
        )
    except CairnRestError as exc:  # an MLflow 3 server may not have it; the files are what count
        if exc.status not in (404, 501):
            raise


def resolve_model_uri(client: Client, model_uri: str) -> tuple[str, str] | Path:
    """(artifact root under the server's artifact API, path under it), or a local folder."""
    if m := RUNS_URI.match(model_uri):
        run_id, path = m.group("run_id"), (m.group("path") or "").strip("/")
        run = client.get_run(run_id)
        root = artifact_path_of(run.info.artifact_uri)
        if path and client._list(root, path):
            return root, path
        # MLflow 3 clients store models as logged models: find it by name in the experiment
        first = path.split("/", 1)[0] if path else ""
        for model in client.search_logged_models(
            [run.info.experiment_id], f"name = '{first}'" if first else ""
        ):
            info = model.get("info", {})
            if info.get("source_run_id") == run_id:
                rest = path.split("/", 1)[1] if "/" in path else ""
                return artifact_path_of(str(info["artifact_uri"])), rest
        return root, path
    if m := MODELS_URI.match(model_uri):
        rest = m.group("rest").strip("/")
        if rest.startswith("m-") and "/" not in rest and "@" not in rest:
            info = client.get_logged_model(rest)["info"]
            return artifact_path_of(str(info["artifact_uri"])), ""
        version = _registry_version(client, rest, model_uri)
        name = rest.split("@", 1)[0] if "@" in rest else rest.rsplit("/", 1)[0]
        uri = client.get_model_version_download_uri(name, version)
        # a version whose source is a logged model, or (a stock MLflow server) a run path
        if uri.startswith(("models:/", "runs:/")):
            return resolve_model_uri(client, uri)
        return artifact_path_of(uri), ""
    if model_uri.startswith("mlflow-artifacts:"):
        return artifact_path_of(model_uri), ""
    local = Path(model_uri[len("file://") :] if model_uri.startswith("file://") else model_uri)
    if local.is_dir():
        return local
    raise CairnUsageError(
        f"Cannot load model '{model_uri}': use models:/NAME/VERSION, models:/NAME/STAGE, "
        "models:/NAME@ALIAS, models:/NAME/latest, models:/m-<id>, runs:/<run_id>/<path> or "
        "a local folder"
    )


def _registry_version(client: Client, rest: str, model_uri: str) -> str:
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return client.get_model_version_by_alias(name, alias).version
    if "/" not in rest:
        raise CairnUsageError(f"'{model_uri}' names no version, stage or alias")
    name, selector = rest.rsplit("/", 1)
    if selector.isascii() and selector.isdigit():
        return selector
    if selector.lower() == "latest":
        versions = client.get_latest_versions(name)
    else:
        stage = STAGES.get(selector.lower())
        if stage is None:
            raise CairnUsageError(
                f"'{model_uri}': '{selector}' is not a version number, stage "
                "(None, Staging, Production, Archived) or 'latest'"
            )
        versions = client.get_latest_versions(name, [stage])
    if not versions:
        raise CairnUsageError(f"'{model_uri}': no version of model '{name}' matches")
    return str(max(int(v.version) for v in versions))


def download_model(client: Client, model_uri: str, dst: Path) -> Path:
    """Download the model folder ``model_uri`` names into ``dst``; returns the folder."""
    where = resolve_model_uri(client, model_uri)
    if isinstance(where, Path):
        return where
    root, path = where
    target = dst / "model"
    if path:
        local = Path(client.download_uri_path(root, path, dst / "download"))
        shutil.move(str(local), target)
    else:
        client.download_uri_path(root, "", target)
    if not (target / "MLmodel").is_file():
        raise CairnUsageError(f"'{model_uri}' is not a model folder (it has no MLmodel file)")
    return target


def load_model_uri(client: Client, model_uri: str) -> Any:
    load_model_dir = import_module("cairn.ml.models").load_model_dir

    with tempfile.TemporaryDirectory(prefix="cairn-load-") as tmp:
        folder = download_model(client, model_uri, Path(tmp))
        return load_model_dir(str(folder))
