"""The destination: a Cairn (or MLflow) server, spoken to over MLflow's REST API with httpx."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from cairn.sync.errors import ServerRefused, SyncError

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
SYNC_TAG = "cairn.sync.source"
RETRIES = 5
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)

Hook = Callable[[httpx.Request], None]


def metric_value(value: float, is_nan: bool) -> float | str:
    """MLflow's JSON spelling of a metric value: NaN and infinities as strings."""
    if is_nan or math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _auth_from_env() -> httpx.Auth | None:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return _Bearer(token)
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        return httpx.BasicAuth(user, os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
    return None


class _Bearer(httpx.Auth):
    def __init__(self, token: str):
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class Destination:
    """MLflow REST calls with bounded retries (connection errors and 5xx answers)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 120.0,
        request_hook: Hook | None = None,
        retries: int = RETRIES,
        transport: httpx.BaseTransport | None = None,
    ):
        """``transport``: httpx's transport (default: a real connection pool); tests pass
        one that loses answers to check that a retried create never makes a duplicate."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SyncError(f"--to must be an http(s) URL of a Cairn server, not '{url}'")
        self.url = url.rstrip("/")
        self.retries = retries
        hooks: dict[str, list[Callable[..., Any]]] = (
            {"request": [request_hook]} if request_hook else {}
        )
        self.http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            auth=_auth_from_env(),
            event_hooks=hooks,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ plumbing
    def _send(
        self, build: Callable[[], httpx.Request], what: str, attempts: int | None = None
    ) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retries + 1 if attempts is None else attempts):
            if attempt:
                time.sleep(BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)])
            try:
                response = self.http.send(build())
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code >= 500:
                last = SyncError(
                    f"{what}: the server answered {response.status_code}: {_message(response)}"
                )
                continue
            if response.status_code >= 400:
                code, message = _error(response)
                raise ServerRefused(f"{what}: {message} ({code})", response.status_code, code)
            return response
        if isinstance(last, SyncError):
            raise last
        raise SyncError(f"{what}: cannot reach the server at {self.url} ({_reason(last)})")

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        url = API + path
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        response = self._send(
            lambda: self.http.build_request(
                method, url, content=content, params=params, headers=headers
            ),
            f"{method} {url}",
            attempts,
        )
        if not response.content:
            return {}
        out = response.json()
        return out if isinstance(out, dict) else {}

    def create_once(
        self,
        path: str,
        body: Mapping[str, Any],
        find: Callable[[], dict[str, Any] | None],
    ) -> dict[str, Any] | None:
        """POST a create that must not happen twice. A lost answer (connection error, 5xx)
        may hide a success, so before each new attempt ``find`` looks for what the previous
        one may have made; its result is returned (None: the call's own answer was used)."""
        last: SyncError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF_S[min(attempt - 1, len(BACKOFF_S) - 1)])
                found = find()
                if found is not None:
                    return {"found": found}
            try:
                return self._call("POST", path, body, attempts=1)
            except ServerRefused:
                raise
            except SyncError as exc:
                last = exc
        assert last is not None
        raise last

    # --------------------------------------------------------------------- checks
    def ping(self) -> None:
        """Fail fast, without retries, when nothing answers at the URL."""
        try:
            response = self.http.get("/health")
        except httpx.TransportError as exc:
            raise SyncError(
                f"Cannot reach the server at {self.url} ({_reason(exc)}). Is `cairn server` "
                "running there?"
            ) from None
        if response.status_code != 200:
            raise SyncError(
                f"{self.url} does not look like a Cairn server: GET /health answered "
                f"{response.status_code}"
            )

    # ---------------------------------------------------------------- experiments
    def experiment_by_name(self, name: str) -> dict[str, Any] | None:
        try:
            out = self._call("GET", "/experiments/get-by-name", params={"experiment_name": name})
        except ServerRefused as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        experiment = out.get("experiment")
        return experiment if isinstance(experiment, dict) else None

    def create_experiment(self, name: str, tags: Mapping[str, str]) -> str:
        body = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        return str(self._call("POST", "/experiments/create", body)["experiment_id"])

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": value}
        self._call("POST", "/experiments/set-experiment-tag", body)

    # ----------------------------------------------------------------------- runs
    def runs_from_store(self, experiment_id: str, store_id: str) -> dict[str, dict[str, Any]]:
        """Active runs of a destination experiment that earlier syncs of this source store
        created: source run id -> run (info and data as the server returns them)."""
        found: dict[str, dict[str, Any]] = {}
        token: str | None = None
        prefix = f"{store_id}/"
        for _ in range(10**5):
            body: dict[str, Any] = {
                "experiment_ids": [experiment_id],
                "filter": f"tags.`{SYNC_TAG}` LIKE '{prefix}%'",
                "max_results": 1000,
            }
            if token:
                body["page_token"] = token
            out = self._call("POST", "/runs/search", body)
            for run in out.get("runs", []):
                tags = {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}
                source = tags.get(SYNC_TAG, "")
                if source.startswith(prefix):
                    found[source[len(prefix) :]] = run
            token = out.get("next_page_token")
            if not token:
                return found
        return found

    def has_run(self, run_id: str) -> bool:
        try:
            self._call("GET", "/runs/get", params={"run_id": run_id})
        except ServerRefused as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        return True

    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        user_id: str | None,
        start_time: int | None,
        tags: Mapping[str, str],
        find: Callable[[], dict[str, Any] | None],
    ) -> dict[str, Any]:
        """Create a run; ``find`` finds it on the destination after a lost answer."""
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if run_name:
            body["run_name"] = run_name
        if user_id is not None:
            body["user_id"] = user_id
        if start_time is not None:
            body["start_time"] = start_time
        out = self.create_once("/runs/create", body, find)
        run = out["found"] if out and "found" in out else (out or {}).get("run")
        assert isinstance(run, dict)
        return run

    def update_run(self, run_id: str, status: str, end_time: int | None) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        self._call("POST", "/runs/update", body)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        body: dict[str, Any] = {"run_id": run_id, "metrics": list(metrics)}
        body["params"] = [{"key": k, "value": v} for k, v in (params or {}).items()]
        body["tags"] = [{"key": k, "value": v} for k, v in (tags or {}).items()]
        self._call("POST", "/runs/log-batch", body)

    def log_inputs(self, run_id: str, datasets: Sequence[dict[str, Any]]) -> None:
        self._call("POST", "/runs/log-inputs", {"run_id": run_id, "datasets": list(datasets)})

    # ------------------------------------------------------------------ artifacts
    def upload(self, dest_path: str, size: int, body: Callable[[], Iterator[bytes]]) -> None:
        """PUT one file through the server's artifact proxy, streamed; ``body`` is called
        again for a retry, so each attempt reads the file from the start."""
        url = f"{ARTIFACTS}/{quote(dest_path, safe='/')}"
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        self._send(
            lambda: self.http.build_request("PUT", url, content=body(), headers=headers),
            f"PUT {url}",
        )


def artifact_prefix(artifact_uri: str) -> str:
    """The proxied path of a destination run's artifact folder (``mlflow-artifacts:/1/<id>/
    artifacts`` -> ``1/<id>/artifacts``)."""
    parts = urlsplit(artifact_uri)
    if parts.scheme.lower() != "mlflow-artifacts":
        raise SyncError(
            f"The destination stores this run's artifacts at '{artifact_uri}', not behind its "
            "artifact proxy; start the server with --serve-artifacts (the default) to sync "
            "artifacts through it"
        )
    return parts.path.strip("/")


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        doc = response.json()
    except ValueError:
        return str(response.status_code), response.text[:300] or response.reason_phrase
    if isinstance(doc, dict):
        return str(doc.get("error_code", response.status_code)), str(doc.get("message", doc))
    return str(response.status_code), str(doc)[:300]


def _message(response: httpx.Response) -> str:
    return _error(response)[1]


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return str(exc) if exc is not None else "no answer"


class RegistryCalls:
    """The model-registry half of the destination's API (same retries and errors)."""

    def __init__(self, dest: Destination):
        self.dest = dest

    def get_model(self, name: str) -> dict[str, Any] | None:
        try:
            out = self.dest._call("GET", "/registered-models/get", params={"name": name})
        except ServerRefused as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        model = out.get("registered_model")
        return model if isinstance(model, dict) else None

    def create_model(self, name: str, tags: Mapping[str, str], description: str | None) -> None:
        body: dict[str, Any] = {
            "name": name,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if description:
            body["description"] = description
        self.dest._call("POST", "/registered-models/create", body)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.dest._call(
            "POST", "/registered-models/set-tag", {"name": name, "key": key, "value": value}
        )

    def update_model(self, name: str, description: str) -> None:
        self.dest._call(
            "PATCH", "/registered-models/update", {"name": name, "description": description}
        )

    def versions_from_store(self, name: str, store_id: str) -> dict[str, dict[str, Any]]:
        """Versions of a destination model that earlier syncs of this store created:
        source version number -> version (as the server returns it)."""
        found: dict[str, dict[str, Any]] = {}
        prefix = f"{store_id}/{name}/"
        escaped = name.replace("'", "''")
        token: str | None = None
        for _ in range(10**5):
            params: dict[str, Any] = {"filter": f"name = '{escaped}'", "max_results": 1000}
            if token:
                params["page_token"] = token
            out = self.dest._call("GET", "/model-versions/search", params=params)
            for version in out.get("model_versions", []):
                tags = {t["key"]: t.get("value", "") for t in version.get("tags", [])}
                source = tags.get(SYNC_TAG, "")
                if source.startswith(prefix):
                    found[source[len(prefix) :]] = version
            token = out.get("next_page_token")
            if not token:
                return found
        return found

    def create_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: Mapping[str, str],
        description: str | None,
        user_id: str | None,
        find: Callable[[], dict[str, Any] | None],
    ) -> str:
        body: dict[str, Any] = {
            "name": name,
            "source": source,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if run_id:
            body["run_id"] = run_id
        if description:
            body["description"] = description
        if user_id:
            body["user_id"] = user_id
        out = self.dest.create_once("/model-versions/create", body, find) or {}
        version = out["found"] if "found" in out else out["model_version"]
        return str(version["version"])

    def transition(self, name: str, version: str, stage: str) -> None:
        body = {
            "name": name,
            "version": version,
            "stage": stage,
            "archive_existing_versions": False,
        }
        self.dest._call("POST", "/model-versions/transition-stage", body)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self.dest._call("POST", "/model-versions/set-tag", body)

    def update_version(self, name: str, version: str, description: str) -> None:
        body = {"name": name, "version": version, "description": description}
        self.dest._call("PATCH", "/model-versions/update", body)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self.dest._call("POST", "/registered-models/alias", body)
