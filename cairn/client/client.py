"""``cairn.Client``: synchronous calls to the tracking API, artifacts and the model registry."""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cairn.client.batching import METRIC, PARAM, TAG, Item, batches
from cairn.client.config import resolve_target
from cairn.client.entities import (
    Experiment,
    FileInfo,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
)
from cairn.client.errors import CairnRestError, CairnUsageError
from cairn.client.rest import ARTIFACTS_API, rest_error, rest_for
from cairn.client.state import get_tracking_uri, register_exit
from cairn.wire import kv, number

PROXY_SCHEME = "mlflow-artifacts:"
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
RUNS_URI = re.compile(r"^runs:/(?P<run_id>[^/]+)(?:/(?P<path>.*))?$")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _tags(tags: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return kv({str(k): str(v) for k, v in (tags or {}).items()})


def artifact_path_of(uri: str) -> str:
    """``mlflow-artifacts:/0/<run>/artifacts`` (or ``mlflow-artifacts://host/…``) -> the path
    under the server's artifact API."""
    if not uri.startswith(PROXY_SCHEME):
        raise CairnUsageError(
            f"Artifact location '{uri}' is not proxied by the server (mlflow-artifacts:/…); "
            "the Cairn SDK reads and writes artifacts through the server only. Run the server "
            "with --serve-artifacts (the default)."
        )
    rest = uri[len(PROXY_SCHEME) :]
    if rest.startswith("//"):
        rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
    return rest.strip("/")


class Client:
    """Low-level, synchronous access to a Cairn (or MLflow) tracking server or embedded store.

    ``Client()`` uses the same tracking URI as the fluent API (argument >
    ``CAIRN_TRACKING_URI`` > ``MLFLOW_TRACKING_URI`` > ./cairn-data). Every method sends its
    request at once and raises :class:`cairn.CairnRestError` or
    :class:`cairn.CairnConnectionError` on failure.
    """

    def __init__(self, tracking_uri: str | os.PathLike[str] | None = None) -> None:
        if tracking_uri is None:
            tracking_uri = get_tracking_uri()
        self.target = resolve_target(os.fspath(tracking_uri))
        self.rest = rest_for(self.target)
        register_exit()  # close embedded stores at exit

    @property
    def tracking_uri(self) -> str:
        return self.target.uri

    # -- experiments ---------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {"name": name, "tags": _tags(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self.rest.call("POST", "experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        data = self.rest.call("GET", "experiments/get", params={"experiment_id": experiment_id})
        return Experiment.from_json(data["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            data = self.rest.call(
                "GET", "experiments/get-by-name", params={"experiment_name": name}
            )
        except CairnRestError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return Experiment.from_json(data["experiment"])

    def search_experiments(
        self,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        view_type: str = "ACTIVE_ONLY",
    ) -> list[Experiment]:
        body: dict[str, Any] = {"view_type": view_type, "order_by": order_by or []}
        if filter_string:
            body["filter"] = filter_string
        return [
            Experiment.from_json(e)
            for e in self._pages("POST", "experiments/search", body, "experiments", max_results)
        ]

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.rest.call(
            "POST",
            "experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": key, "value": str(value)},
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self.rest.call("POST", "experiments/delete", {"experiment_id": experiment_id})

    # -- runs ----------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tag_map = dict(tags or {})
        if run_name:
            tag_map.setdefault("mlflow.runName", run_name)
        body: dict[str, Any] = {
            "experiment_id": str(experiment_id),
            "start_time": start_time if start_time is not None else _now_ms(),
            "tags": _tags(tag_map),
            "user_id": str(tag_map.get("mlflow.user", "")),
        }
        if run_name:
            body["run_name"] = run_name
        return Run.from_json(self.rest.call("POST", "runs/create", body)["run"])

    def get_run(self, run_id: str) -> Run:
        data = self.rest.call("GET", "runs/get", params={"run_id": run_id, "run_uuid": run_id})
        return Run.from_json(data["run"])

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        name: str | None = None,
        end_time: int | None = None,
    ) -> None:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status is not None:
            body["status"] = status
        if name is not None:
            body["run_name"] = name
        if end_time is not None:
            body["end_time"] = end_time
        self.rest.call("POST", "runs/update", body)

    def set_terminated(
        self, run_id: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        self.update_run(run_id, status=status, end_time=end_time or _now_ms())

    def delete_run(self, run_id: str) -> None:
        self.rest.call("POST", "runs/delete", {"run_id": run_id})

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        self.rest.call(
            "POST",
            "runs/log-metric",
            {
                "run_id": run_id,
                "run_uuid": run_id,
                "key": key,
                "value": number(float(value)),
                "timestamp": timestamp if timestamp is not None else _now_ms(),
                "step": step or 0,
            },
        )

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.rest.call(
            "POST",
            "runs/log-parameter",
            {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)},
        )

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.rest.call(
            "POST",
            "runs/set-tag",
            {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)},
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        self.rest.call("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Send values at once, split into requests within MLflow's batch limits."""
        items: list[Item] = [
            (run_id, METRIC, m.key, float(m.value), m.timestamp, m.step) for m in metrics
        ]
        items += [(run_id, PARAM, k, str(v), 0, 0) for k, v in (params or {}).items()]
        items += [(run_id, TAG, k, str(v), 0, 0) for k, v in (tags or {}).items()]
        for _run, body in batches(items):
            self.rest.call("POST", "runs/log-batch", body)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        out: list[Metric] = []
        token: str | None = None
        for _ in range(1_000_000):
            params = {"run_id": run_id, "run_uuid": run_id, "metric_key": key}
            params["max_results"] = "25000"
            if token:
                params["page_token"] = token
            data = self.rest.call("GET", "metrics/get-history", params=params)
            out.extend(Metric.from_json(m) for m in data.get("metrics", []))
            token = data.get("next_page_token")
            if not token:
                break
        return out

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: str = "ACTIVE_ONLY",
        max_results: int = 1000,
        order_by: list[str] | None = None,
    ) -> list[Run]:
        if run_view_type not in VIEW_TYPES:
            raise CairnUsageError(f"run_view_type must be one of {VIEW_TYPES}")
        body: dict[str, Any] = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "run_view_type": run_view_type,
            "order_by": order_by or [],
        }
        return [
            Run.from_json(r) for r in self._pages("POST", "runs/search", body, "runs", max_results)
        ]

    def log_inputs(self, run_id: str, datasets: list[dict[str, Any]]) -> None:
        """``datasets``: MLflow's ``[{"dataset": {...}, "tags": [{key, value}]}]``."""
        self.rest.call("POST", "runs/log-inputs", {"run_id": run_id, "datasets": datasets})

    def _pages(
        self, method: str, endpoint: str, body: dict[str, Any], field: str, max_results: int
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        left = max_results
        while left > 0:
            page = dict(body, max_results=min(left, 10_000 if field == "runs" else 1000))
            if token:
                page["page_token"] = token
            if method == "GET":
                data = self.rest.call("GET", endpoint, params=page)
            else:
                data = self.rest.call("POST", endpoint, page)
            items = data.get(field, [])
            yield from items[:left]
            left -= len(items)
            token = data.get("next_page_token")
            if not token or not items:
                return

    # -- artifacts -----------------------------------------------------------------------------

    def _artifact_root(self, run_id: str) -> str:
        return artifact_path_of(self.get_run(run_id).info.artifact_uri)

    def upload_bytes(self, artifact_root: str, rel_path: str, data: bytes | Path) -> None:
        """Store ``data`` (bytes, or a file streamed from disk) at ``rel_path`` under an
        artifact root (``<exp>/<run>/artifacts``)."""
        rel = rel_path.replace(os.sep, "/").strip("/")
        if not rel:
            raise CairnUsageError("An artifact needs a file name")
        kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        self.rest.request(
            "PUT",
            f"{ARTIFACTS_API}/{quote(artifact_root + '/' + rel)}",
            content=data,
            headers={"Content-Type": kind},
        )

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        path = Path(local_path)
        if not path.is_file():
            raise CairnUsageError(f"log_artifact: '{path}' is not a file")
        rel = f"{artifact_path.strip('/')}/{path.name}" if artifact_path else path.name
        self.upload_bytes(self._artifact_root(run_id), rel, path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        root_dir = Path(local_dir)
        if not root_dir.is_dir():
            raise CairnUsageError(f"log_artifacts: '{root_dir}' is not a folder")
        self.upload_dir(self._artifact_root(run_id), root_dir, artifact_path)

    def upload_dir(self, artifact_root: str, local_dir: Path, artifact_path: str | None) -> None:
        prefix = artifact_path.strip("/") + "/" if artifact_path else ""
        for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            rel = file.relative_to(local_dir).as_posix()
            self.upload_bytes(artifact_root, prefix + rel, file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._list(self._artifact_root(run_id), path or "")

    def _list(self, root: str, rel: str) -> list[FileInfo]:
        full = f"{root}/{rel.strip('/')}".rstrip("/")
        data = self.rest.request("GET", ARTIFACTS_API, params={"path": full}).json()
        prefix = rel.strip("/") + "/" if rel.strip("/") else ""
        return [
            FileInfo(prefix + f["path"], bool(f.get("is_dir")), f.get("file_size"))
            for f in data.get("files", [])
        ]

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Download a file or folder of the run's artifacts; returns the local path."""
        return self.download_uri_path(self._artifact_root(run_id), path, dst_path)

    def download_uri_path(
        self, root: str, path: str, dst_path: str | os.PathLike[str] | None
    ) -> str:
        dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="cairn-"))
        dst.mkdir(parents=True, exist_ok=True)
        rel = path.strip("/")
        entries = self._list(root, rel) if rel else self._list(root, "")
        if not entries and rel:  # a file (listing a file gives nothing)
            target = dst / Path(rel).name
            self._download_file(root, rel, target)
            return str(target)
        base = dst / Path(rel).name if rel else dst
        base.mkdir(parents=True, exist_ok=True)
        stack = list(entries)
        budget = 1_000_000
        while stack and budget > 0:
            budget -= 1
            entry = stack.pop()
            local = base / Path(entry.path).relative_to(rel) if rel else base / entry.path
            if entry.is_dir:
                local.mkdir(parents=True, exist_ok=True)
                stack.extend(self._list(root, entry.path))
            else:
                self._download_file(root, entry.path, local)
        return str(base)

    def _download_file(self, root: str, rel: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        url = f"{ARTIFACTS_API}/{quote(root + '/' + rel)}"
        with self.rest.http.stream("GET", url) as response:
            if response.status_code >= 400:
                response.read()
                raise rest_error(response, url)
            with target.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)

    # -- model registry ------------------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        body: dict[str, Any] = {"name": name, "tags": _tags(tags)}
        if description is not None:
            body["description"] = description
        data = self.rest.call("POST", "registered-models/create", body)
        return RegisteredModel.from_json(data["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        data = self.rest.call("GET", "registered-models/get", params={"name": name})
        return RegisteredModel.from_json(data["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        data = self.rest.call(
            "POST", "registered-models/rename", {"name": name, "new_name": new_name}
        )
        return RegisteredModel.from_json(data["registered_model"])

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        data = self.rest.call(
            "PATCH", "registered-models/update", {"name": name, "description": description}
        )
        return RegisteredModel.from_json(data["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self.rest.call("DELETE", "registered-models/delete", {"name": name})

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.rest.call(
            "POST", "registered-models/set-tag", {"name": name, "key": key, "value": str(value)}
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.rest.call("DELETE", "registered-models/delete-tag", {"name": name, "key": key})

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
    ) -> list[RegisteredModel]:
        found = self._search_registry(
            "registered-models/search", "registered_models", filter_string, order_by, max_results
        )
        return [RegisteredModel.from_json(m) for m in found]

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        body: dict[str, Any] = {"name": name, "source": source, "tags": _tags(tags)}
        if run_id:
            body["run_id"] = run_id
        if description is not None:
            body["description"] = description
        if model_id:
            body["model_id"] = model_id
        data = self.rest.call("POST", "model-versions/create", body)
        return ModelVersion.from_json(data["model_version"])

    def register_model(
        self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None
    ) -> ModelVersion:
        """Register ``runs:/<run_id>/<path>``, ``models:/m-<id>`` or an artifact URI as the
        next version of ``name`` (the registered model is created if it does not exist)."""
        try:
            self.create_registered_model(name)
        except CairnRestError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        run_id: str | None = None
        model_id: str | None = None
        if m := RUNS_URI.match(model_uri):
            run_id = m.group("run_id")
        elif model_uri.startswith("models:/m-"):
            model_id = model_uri[len("models:/") :].strip("/")
        return self.create_model_version(
            name, model_uri, run_id=run_id, tags=tags, model_id=model_id
        )

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        data = self.rest.call(
            "GET", "model-versions/get", params={"name": name, "version": str(version)}
        )
        return ModelVersion.from_json(data["model_version"])

    def update_model_version(self, name: str, version: str | int, description: str) -> ModelVersion:
        data = self.rest.call(
            "PATCH",
            "model-versions/update",
            {"name": name, "version": str(version), "description": description},
        )
        return ModelVersion.from_json(data["model_version"])

    def delete_model_version(self, name: str, version: str | int) -> None:
        self.rest.call("DELETE", "model-versions/delete", {"name": name, "version": str(version)})

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        data = self.rest.call(
            "POST",
            "model-versions/transition-stage",
            {
                "name": name,
                "version": str(version),
                "stage": stage,
                "archive_existing_versions": archive_existing_versions,
            },
        )
        return ModelVersion.from_json(data["model_version"])

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self.rest.call(
            "POST",
            "model-versions/set-tag",
            {"name": name, "version": str(version), "key": key, "value": str(value)},
        )

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self.rest.call(
            "DELETE",
            "model-versions/delete-tag",
            {"name": name, "version": str(version), "key": key},
        )

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        self.rest.call(
            "POST",
            "registered-models/alias",
            {"name": name, "alias": alias, "version": str(version)},
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.rest.call("DELETE", "registered-models/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        data = self.rest.call(
            "GET", "registered-models/alias", params={"name": name, "alias": alias}
        )
        return ModelVersion.from_json(data["model_version"])

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        body: dict[str, Any] = {"name": name}
        if stages:
            body["stages"] = stages
        data = self.rest.call("POST", "registered-models/get-latest-versions", body)
        return [ModelVersion.from_json(v) for v in data.get("model_versions", [])]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
    ) -> list[ModelVersion]:
        found = self._search_registry(
            "model-versions/search", "model_versions", filter_string, order_by, max_results
        )
        return [ModelVersion.from_json(v) for v in found]

    def _search_registry(
        self,
        endpoint: str,
        field: str,
        filter_string: str | None,
        order_by: list[str] | None,
        max_results: int,
    ) -> Iterator[dict[str, Any]]:
        """The pages of a registry search (models or versions: GET, the same parameters)."""
        params: dict[str, Any] = {}
        if filter_string:
            params["filter"] = filter_string
        if order_by:
            params["order_by"] = order_by
        return self._pages("GET", endpoint, params, field, max_results)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        data = self.rest.call(
            "GET", "model-versions/get-download-uri", params={"name": name, "version": str(version)}
        )
        return str(data["artifact_uri"])

    def get_logged_model(self, model_id: str) -> dict[str, Any]:
        """An MLflow 3 logged model (``{"info": {...}, "data": {...}}``)."""
        data = self.rest.call("GET", f"logged-models/{quote(model_id)}")
        model: dict[str, Any] = data["model"]
        return model

    def search_logged_models(
        self, experiment_ids: list[str], filter_string: str = ""
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"experiment_ids": experiment_ids}
        if filter_string:
            body["filter"] = filter_string
        return list(self._pages("POST", "logged-models/search", body, "models", 1000))
