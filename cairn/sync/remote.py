"""The destination: a Cairn (or MLflow) server, spoken to over MLflow's REST API through the
SDK's REST client (its transport, authentication and retries), with sync's errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from cairn import wire
from cairn.client.config import TRACKING, Target
from cairn.client.errors import CairnConfigError, CairnConnectionError, CairnRestError
from cairn.client.rest import API, ARTIFACTS_API, RestClient
from cairn.sync.errors import ServerRefused, SyncError
from cairn.sync.source import ImportedModel

SYNC_TAG = "cairn.sync.source"
TRACE_EXPERIMENT = "x-mlflow-experiment-id"  # the header OTLP ingest reads the experiment from
TRACE_FILES_TAG = "mlflow.artifactLocation"
RETRIES = 5  # 0.5 + 1 + 2 + 4 + 8 s of backoff: a server restart is waited out
RETRY_STATUSES = range(500, 600)  # every 5xx answer; a 4xx one is a refusal, never retried

Hook = Callable[[httpx.Request], None]


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
        identity: str | None = None,
        credentials: str = TRACKING,
    ):
        """``transport``: httpx's transport (default: a real connection pool); tests pass
        one that loses answers to check that a retried create never makes a duplicate, and
        an import without --to passes the embedded app's. ``identity``: what the ledger
        knows this destination by (default: the URL; the embedded store's path).
        ``credentials``: the prefix of the variables it authenticates with."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SyncError(f"--to must be an http(s) URL of a Cairn server, not '{url}'")
        self.url = url.rstrip("/")
        self.identity = identity or self.url
        self.retries = retries
        try:
            self.rest = RestClient(
                Target(uri=self.url, url=self.url),
                transport=transport,
                retry_statuses=RETRY_STATUSES,
                max_retries=retries,
                backoff=0.5,
                timeout=httpx.Timeout(timeout_s, connect=10.0),
                request_hook=request_hook,
                credentials=credentials,
            )
        except CairnConfigError as exc:
            raise SyncError(str(exc)) from None

    def close(self) -> None:
        self.rest.close()

    # ------------------------------------------------------------------ plumbing
    def _failed(self, exc: CairnConnectionError | CairnRestError, what: str) -> SyncError:
        """Sync's error for what the REST client raised: a 4xx answer is a refusal."""
        if isinstance(exc, CairnConnectionError):
            reason = _reason(exc.__cause__)
            return SyncError(f"{what}: cannot reach the server at {self.url} ({reason})")
        if exc.status >= 500:
            return SyncError(f"{what}: the server answered {exc.status}: {exc.message}")
        return ServerRefused(
            f"{what}: {exc.message} ({exc.error_code})", exc.status, exc.error_code
        )

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """``path`` is under /api/2.0/mlflow/; ``retry=False`` makes a single attempt."""
        try:
            return self.rest.call(
                method,
                path,
                dict(body) if body is not None else None,
                dict(params) if params is not None else None,
                retry=retry,
            )
        except (CairnConnectionError, CairnRestError) as exc:
            raise self._failed(exc, f"{method} {API}{path}") from None

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        """One MLflow REST call under /api/2.0/mlflow/ with the retry policy (an importer
        reading another server uses this client too)."""
        return self._call(method, path, body, params, retry=retry)

    def get_if_exists(self, path: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """GET ``path``; None when the server answers that the thing does not exist."""
        try:
            return self._call("GET", path, params=params)
        except ServerRefused as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

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
                time.sleep(self.rest.delay(attempt))
                found = find()
                if found is not None:
                    return {"found": found}
            try:
                return self._call("POST", path, body, retry=False)
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
            status = self.rest.request("GET", "/health", retry=False).status_code
        except CairnConnectionError as exc:
            raise SyncError(
                f"Cannot reach the server at {self.url} ({_reason(exc.__cause__)}). Is `cairn "
                "server` running there?"
            ) from None
        except CairnRestError as exc:
            status = exc.status
        if status != 200:
            raise SyncError(
                f"{self.url} does not look like a Cairn server: GET /health answered {status}"
            )

    # ---------------------------------------------------------------- experiments
    def experiment_by_name(self, name: str) -> dict[str, Any] | None:
        out = self.get_if_exists("experiments/get-by-name", {"experiment_name": name})
        return _object(out, "experiment")

    def create_experiment(self, name: str, tags: Mapping[str, str]) -> str:
        body = {"name": name, "tags": wire.kv(tags)}
        return str(self._call("POST", "experiments/create", body)["experiment_id"])

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        body = {"experiment_id": experiment_id, "key": key, "value": value}
        self._call("POST", "experiments/set-experiment-tag", body)

    # ----------------------------------------------------------------------- runs
    def runs_from_store(self, experiment_id: str, store_id: str) -> dict[str, dict[str, Any]]:
        """Active runs of a destination experiment that earlier syncs of this source store
        created: source run id -> run (info and data as the server returns them)."""
        prefix = f"{store_id}/"
        query = {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`{SYNC_TAG}` LIKE '{prefix}%'",
            "max_results": 1000,
        }
        return self.synced("POST", "runs/search", query, "runs", prefix)

    def synced(
        self, method: str, path: str, query: dict[str, Any], items: str, prefix: str
    ) -> dict[str, dict[str, Any]]:
        """Page through a search (a POST body or GET parameters) and keep what earlier syncs
        made: the items whose sync tag starts with ``prefix``, by the rest of that tag."""
        found: dict[str, dict[str, Any]] = {}
        token: str | None = None
        for _ in range(10**5):
            page = {**query, "page_token": token} if token else query
            if method == "GET":
                out = self._call(method, path, params=page)
            else:
                out = self._call(method, path, page)
            for item in out.get(items, []):
                # a run keeps its tags under "data", a model version at the top
                tags = item["data"].get("tags") if "data" in item else item.get("tags")
                source = wire.kv_dict(tags).get(SYNC_TAG, "")
                if source.startswith(prefix):
                    found[source[len(prefix) :]] = item
            token = out.get("next_page_token")
            if not token:
                return found
        return found

    def runs_of(self, experiment_id: str) -> dict[str, dict[str, Any]]:
        """Every run of a destination experiment, deleted ones too, by run id."""
        found: dict[str, dict[str, Any]] = {}
        query: dict[str, Any] = {
            "experiment_ids": [experiment_id],
            "run_view_type": "ALL",
            "max_results": 1000,
        }
        token: str | None = None
        for _ in range(10**5):
            page = {**query, "page_token": token} if token else query
            out = self._call("POST", "runs/search", page)
            for item in out.get("runs", []):
                found[str(wire.run_id(item["info"]))] = item
            token = out.get("next_page_token")
            if not token:
                break
        return found

    def run_in(self, experiment_id: str, run_id: str) -> dict[str, Any] | None:
        """The run ``run_id`` if the destination has it in that experiment."""
        out = _object(self.get_if_exists("runs/get", {"run_id": run_id}), "run")
        if out is None or str(out.get("info", {}).get("experiment_id")) != experiment_id:
            return None
        return out

    def delete_run(self, run_id: str) -> None:
        self._call("POST", "runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._call("POST", "runs/restore", {"run_id": run_id})

    def delete_experiment(self, experiment_id: str) -> None:
        self._call("POST", "experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self._call("POST", "experiments/restore", {"experiment_id": experiment_id})

    # -------------------------------------------------------------- logged models
    def create_logged_model(
        self,
        experiment_id: str,
        model: ImportedModel,
        *,
        keep_id: bool = True,
        source_run_id: str | None = None,
    ) -> dict[str, Any]:
        """Create an MLflow 3 logged model, under its source's id with ``keep_id`` (Cairn's
        extension; MLflow makes its own); its info as answered."""
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "name": model.name,
            "tags": wire.kv(model.tags),
            "params": wire.kv(model.params),
        }
        if keep_id:
            body["model_id"] = model.model_id
        run_id = source_run_id if source_run_id is not None else model.source_run_id
        if run_id:
            body["source_run_id"] = run_id
        if model.model_type:
            body["model_type"] = model.model_type
        out = self._call("POST", "logged-models", body)
        return dict(out["model"]["info"])

    def get_logged_model(self, model_id: str) -> dict[str, Any]:
        out = self._call("GET", f"logged-models/{quote(model_id, safe='')}")
        return dict(out["model"]["info"])

    def finalize_logged_model(self, model_id: str, status: str) -> None:
        body = {"model_id": model_id, "status": status}
        self._call("PATCH", f"logged-models/{quote(model_id, safe='')}", body)

    def log_outputs(self, run_id: str, models: Sequence[tuple[str, int]]) -> None:
        """Record the logged models a run produced (MLflow 3's run outputs)."""
        body = {"run_id": run_id, "models": [{"model_id": m, "step": s} for m, s in models]}
        self._call("POST", "runs/outputs", body)

    # --------------------------------------------------------------------- traces
    def get_trace(self, trace_id: str) -> dict[str, Any] | None:
        """A trace with its spans (``trace_info``, ``spans``) as traces/get answers it; None
        when there is none."""
        found = self.get_if_exists("traces/get", {"trace_id": trace_id})
        return None if found is None else dict(found.get("trace") or {})

    def import_trace(self, experiment_id: str, trace: Mapping[str, Any]) -> None:
        """Copy an MLflow 3 trace under its own id into ``experiment_id``: its spans to
        ``/v1/traces`` (OTLP/JSON, the trace id is the spans' own), its info (times, state,
        previews, tags, metadata; the location made this experiment) and the assessments the
        destination does not have yet, with their ids and times. Repeating it is harmless:
        the destination replaces spans and info it already holds."""
        info = dict(trace.get("trace_info") or {})
        trace_id = str(info["trace_id"])
        there = self.get_trace(trace_id) or {}
        have = {
            str(a.get("assessment_id"))
            for a in (there.get("trace_info") or {}).get("assessments", [])
        }
        spans = list(trace.get("spans") or [])
        if spans:
            body = {"resource_spans": [{"resource": {}, "scope_spans": [{"spans": spans}]}]}
            what = f"POST /v1/traces ({trace_id})"
            try:
                self.rest.request(
                    "POST", "/v1/traces", body=body, headers={TRACE_EXPERIMENT: experiment_id}
                )
            except (CairnConnectionError, CairnRestError) as exc:
                raise self._failed(exc, what) from None
        assessments = info.pop("assessments", None) or []
        info["trace_location"] = {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id},
        }
        # where the source kept the trace's files: the destination names its own
        tags = {k: v for k, v in (info.get("tags") or {}).items() if k != TRACE_FILES_TAG}
        info["tags"] = tags
        self._call("POST", "traces", {"trace": {"trace_info": info}})
        for assessment in assessments:
            if str(assessment.get("assessment_id")) in have:
                continue
            path = f"traces/{quote(trace_id, safe='')}/assessments"
            self._call("POST", path, {"assessment": {**assessment, "trace_id": trace_id}})

    def has_run(self, run_id: str) -> bool:
        return self.get_if_exists("runs/get", {"run_id": run_id}) is not None

    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        user_id: str | None,
        start_time: int | None,
        tags: Mapping[str, str],
        find: Callable[[], dict[str, Any] | None],
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a run (with the id ``run_id`` when given: Cairn's extension, for imports);
        ``find`` finds it on the destination after a lost answer."""
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "tags": wire.kv(tags),
        }
        if run_id is not None:
            body["run_id"] = run_id
        if run_name:
            body["run_name"] = run_name
        if user_id is not None:
            body["user_id"] = user_id
        if start_time is not None:
            body["start_time"] = start_time
        out = self.create_once("runs/create", body, find)
        run = out["found"] if out and "found" in out else (out or {}).get("run")
        assert isinstance(run, dict)
        return run

    def update_run(self, run_id: str, status: str, end_time: int | None) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        self._call("POST", "runs/update", body)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[dict[str, Any]] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        body: dict[str, Any] = {"run_id": run_id, "metrics": list(metrics)}
        body["params"] = wire.kv(params or {})
        body["tags"] = wire.kv(tags or {})
        self._call("POST", "runs/log-batch", body)

    def log_inputs(self, run_id: str, datasets: Sequence[dict[str, Any]]) -> None:
        self._call("POST", "runs/log-inputs", {"run_id": run_id, "datasets": list(datasets)})

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, int, float, bool]]:
        """Every point of a metric as (step, timestamp, value, is_nan)."""
        out: list[tuple[int, int, float, bool]] = []
        query: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        token: str | None = None
        for _ in range(10**6):
            page = {**query, "page_token": token} if token else query
            found = self._call("GET", "metrics/get-history", params=page)
            for m in found.get("metrics", []):
                value = float(m.get("value", 0.0))
                nan = value != value
                out.append((int(m.get("step", 0)), int(m["timestamp"]), 0.0 if nan else value, nan))
            token = found.get("next_page_token")
            if not token:
                break
        return out

    # ------------------------------------------------------------------ artifacts
    def download(self, dest_path: str) -> bytes | None:
        """One file through the artifact proxy; None when it does not exist."""
        url = f"{ARTIFACTS_API}/{quote(dest_path, safe='/')}"
        try:
            return self.rest.request("GET", url).content
        except CairnRestError as exc:
            if exc.status == 404:
                return None
            raise self._failed(exc, f"GET {url}") from None
        except CairnConnectionError as exc:
            raise self._failed(exc, f"GET {url}") from None

    def upload(self, dest_path: str, size: int, body: Callable[[], Iterator[bytes]]) -> None:
        """PUT one file through the server's artifact proxy, streamed; ``body`` is called
        again for a retry, so each attempt reads the file from the start."""
        url = f"{ARTIFACTS_API}/{quote(dest_path, safe='/')}"
        headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        try:
            self.rest.request("PUT", url, content=body, headers=headers)
        except (CairnConnectionError, CairnRestError) as exc:
            raise self._failed(exc, f"PUT {url}") from None


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


def _object(answer: dict[str, Any] | None, field: str) -> dict[str, Any] | None:
    """The object under ``field`` of an answer, if there is one."""
    found = (answer or {}).get(field)
    return found if isinstance(found, dict) else None


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
        out = self.dest.get_if_exists("registered-models/get", {"name": name})
        return _object(out, "registered_model")

    def create_model(self, name: str, tags: Mapping[str, str], description: str | None) -> None:
        body: dict[str, Any] = {
            "name": name,
            "tags": wire.kv(tags),
        }
        if description:
            body["description"] = description
        self.dest._call("POST", "registered-models/create", body)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self.dest._call(
            "POST", "registered-models/set-tag", {"name": name, "key": key, "value": value}
        )

    def update_model(self, name: str, description: str) -> None:
        self.dest._call(
            "PATCH", "registered-models/update", {"name": name, "description": description}
        )

    def versions_from_store(self, name: str, store_id: str) -> dict[str, dict[str, Any]]:
        """Versions of a destination model that earlier syncs of this store created:
        source version number -> version (as the server returns it)."""
        escaped = name.replace("'", "''")
        query = {"filter": f"name = '{escaped}'", "max_results": 1000}
        return self.dest.synced(
            "GET", "model-versions/search", query, "model_versions", f"{store_id}/{name}/"
        )

    def versions_of(self, name: str) -> list[dict[str, Any]]:
        """Every version of a destination model (as the server returns them)."""
        escaped = name.replace("'", "''")
        query: dict[str, Any] = {"filter": f"name = '{escaped}'", "max_results": 1000}
        out: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(10**5):
            page = {**query, "page_token": token} if token else query
            found = self.dest._call("GET", "model-versions/search", params=page)
            out.extend(found.get("model_versions", []))
            token = found.get("next_page_token")
            if not token:
                break
        return out

    def create_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: Mapping[str, str],
        description: str | None,
        user_id: str | None,
        find: Callable[[], dict[str, Any] | None],
        model_id: str | None = None,
    ) -> str:
        """``model_id``: the logged model a ``models:/m-…`` source names (MLflow 3 servers
        refuse such a source without it)."""
        body: dict[str, Any] = {
            "name": name,
            "source": source,
            "tags": wire.kv(tags),
        }
        if model_id:
            body["model_id"] = model_id
        if run_id:
            body["run_id"] = run_id
        if description:
            body["description"] = description
        if user_id:
            body["user_id"] = user_id
        out = self.dest.create_once("model-versions/create", body, find) or {}
        version = out["found"] if "found" in out else out["model_version"]
        return str(version["version"])

    def transition(self, name: str, version: str, stage: str) -> None:
        body = {
            "name": name,
            "version": version,
            "stage": stage,
            "archive_existing_versions": False,
        }
        self.dest._call("POST", "model-versions/transition-stage", body)

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self.dest._call("POST", "model-versions/set-tag", body)

    def update_version(self, name: str, version: str, description: str) -> None:
        body = {"name": name, "version": version, "description": description}
        self.dest._call("PATCH", "model-versions/update", body)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self.dest._call("POST", "registered-models/alias", body)
