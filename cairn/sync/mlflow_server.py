"""``cairn import mlflow``: a running MLflow tracking server (2.x or 3.x) read over its REST
API, the calls the stock client makes, authenticated the same way (``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD``, or ``MLFLOW_TRACKING_TOKEN``; ``MLFLOW_TRACKING_INSECURE_TLS``).

Read: experiments (``experiments/search``, deleted ones too), runs (``runs/search`` with
``run_view_type=ALL``: info, params, tags, dataset inputs, MLflow 3 outputs), every metric point
(the UI's ``metrics/get-history-bulk``: one request per metric for several consecutive runs,
up to 25,000 points written as plain JSON; a run the cap may have cut, longer histories and
servers without that route go through ``metrics/get-history``, paged), artifacts (listed with
``artifacts/list`` and streamed from the server's ``/get-artifact``, which serves proxied and
server-side stores alike), MLflow 3 logged models (``logged-models/search`` and their artifact
routes) and the registry (``registered-models/search``, ``model-versions/search``). The source
server is only read.

Metric histories are what takes time: an MLflow server spends about 30 µs of CPU per point it
answers (most of it building SQLAlchemy objects), whatever the route. So they are read ahead,
several requests at a time, in the order the engine will send the runs
(:meth:`MlflowServerSource.prefetch`), while the points of the run before go to the
destination; the engine's plan does not read them at all (:meth:`guess_counts`); and a run's
artifact files are downloaded ahead too, since the source's workers are busy with histories.

An artifact "folder" handed to the sync engine is a handle, ``<kind>/<id>`` (``run/<run id>``
or ``logged-model/<model id>``), not a local path: the files behind it are listed and streamed
over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from cairn import wire
from cairn.client.config import SOURCE_TRACKING, source_prefix
from cairn.client.errors import CairnConnectionError, CairnRestError
from cairn.entities.registry import ModelVersion, RegisteredModel
from cairn.entities.tracking import Dataset, DatasetInput, Experiment, Run, RunInfo
from cairn.sync.errors import ServerRefused, SyncError
from cairn.sync.importing import ImportSource, home_state_dir
from cairn.sync.remote import Destination
from cairn.sync.source import ImportedModel, StoredPoint

PAGE = 1000  # runs/search and experiments/search; MLflow's own limit for runs is 50,000
HISTORY_PAGE = 25_000
BULK_MAX = 25_000  # MLflow's cap on metrics/get-history-bulk (it truncates, no paging)
GROUP_POINTS = 20_000  # one metric's points read in one request for several runs (a guess)
GROUP_RUNS = 100  # MLflow's limit of runs in one metrics/get-history-bulk
READERS = 4  # history requests at once
READ_AHEAD = 8  # history requests read ahead of the run the engine is sending
FILE_READERS = 2  # artifact files downloaded at once, ahead of the run being sent
FILE_RUNS_AHEAD = 4  # runs whose artifact files are downloaded ahead of the one being sent
FILE_AHEAD = 64 << 20  # at most this many bytes of them held in memory
CHUNK = 1 << 20
MAX_PAGES = 10**5
AJAX = "/ajax-api/2.0/mlflow"
API_V3 = "/api/3.0/mlflow"
TRACE_PAGE = 500  # MLflow's limit for traces/search
TRACES_PER_GET = 20  # the UI's routes MLflow serves logged-model files on
MAX_DEPTH = 64  # artifact folders nested deeper than this are not followed
RUN_HANDLE = "run"
MODEL_HANDLE = "logged-model"


def _handle(kind: str, ident: str) -> Path:
    return Path(str(PurePosixPath(kind, ident)))


class MlflowServerSource(ImportSource):
    """A live MLflow tracking server as a source of the sync engine."""

    keep_lifecycle = True

    def __init__(
        self,
        url: str,
        *,
        state_dir: Path | None = None,
        experiments: list[str] | None = None,
        api: Destination | None = None,
    ):
        """``api``: the client to read through (``cairn export`` passes the embedded
        store's or a Cairn server's; it stays open after :meth:`close`)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SyncError(f"--from must be the http(s) URL of an MLflow server, not '{url}'")
        self.url = url.rstrip("/")
        self._owns_api = api is None
        self.api = api or Destination(self.url, credentials=source_prefix())
        try:
            self._check()
        except SyncError:
            if self._owns_api:
                self.api.close()
            raise
        super().__init__(state_dir or home_state_dir(f"mlflow-server:{self.url}"), experiments)
        self._uri_run: dict[str, str] = {}  # a run's artifact URI -> its run id
        self._metric_keys: dict[str, list[str]] = {}  # run id -> its metric keys
        # run id -> each metric's latest point, as runs/search shows it
        self._latest: dict[str, dict[str, StoredPoint]] = {}
        self._experiments: list[Experiment] | None = None
        self._bulk: bool | None = None  # whether the server has metrics/get-history-bulk
        self._pool: ThreadPoolExecutor | None = None
        # history requests in the engine's send order: (run ids, key), one metric of a group
        self._tasks: list[tuple[list[str], str]] = []
        # run id -> (its group's first request, key -> the request that reads it)
        self._task_of: dict[str, tuple[int, dict[str, int]]] = {}
        self._futures: dict[int, Future[dict[str, list[StoredPoint]]]] = {}
        self._next = 0  # the next entry of _tasks to start reading
        # run id -> (artifact folder, its files the engine will send), from prefetch
        self._run_files: dict[str, tuple[Path, list[tuple[str, int, int]]]] = {}
        self._file_pool: ThreadPoolExecutor | None = None
        self._listed: dict[str, Future[list[dict[str, Any]]]] = {}  # run id -> its top folder
        self._file_order: list[str] = []  # runs with files to send, in send order
        self._file_at: dict[str, int] = {}  # run id -> its entry in _file_order
        self._file_next = 0  # the next entry of _file_order to download
        # (folder, path) -> (its run's entry in _file_order, size, the file's bytes)
        self._fetched: dict[tuple[str, str], tuple[int, int, Future[bytes]]] = {}

    def _check(self) -> None:
        """Fail fast, naming the URL, when nothing MLflow-like answers there."""
        try:
            self.api.call("GET", "experiments/search", params={"max_results": 1}, retry=False)
        except ServerRefused as exc:
            if exc.status in (401, 403):
                used = source_prefix()
                raise SyncError(
                    f"{self.url} refused the credentials of {used}USERNAME/PASSWORD or "
                    f"{used}TOKEN ({exc.message}). Give the source its own with "
                    f"{SOURCE_TRACKING}USERNAME and {SOURCE_TRACKING}PASSWORD (or "
                    f"{SOURCE_TRACKING}TOKEN); MLFLOW_TRACKING_* stay the destination's"
                ) from None
            raise SyncError(
                f"{self.url} does not answer MLflow's REST API: experiments/search was refused "
                f"({exc.message})"
            ) from None

    def close(self) -> None:
        super().close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._futures.clear()
            self._listed.clear()
        if self._file_pool is not None:
            self._file_pool.shutdown(wait=True, cancel_futures=True)
            self._file_pool = None
            self._fetched.clear()
        if self._owns_api:
            self.api.close()

    def _pages(
        self, method: str, path: str, query: dict[str, Any], items: str
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = {**query, "page_token": token} if token else query
            if method == "GET":
                out = self.api.call("GET", path, params=page)
            else:
                out = self.api.call(method, path, page)
            yield from out.get(items, [])
            token = out.get("next_page_token")
            if not token:
                return

    # ---------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        if self._experiments is None:
            found: list[Experiment] = []
            names: set[str] = set()
            query = {"max_results": PAGE, "view_type": "ALL"}
            for item in self._pages("POST", "experiments/search", query, "experiments"):
                experiment = Experiment(
                    experiment_id=str(item["experiment_id"]),
                    name=item["name"],
                    artifact_location=item.get("artifact_location", ""),
                    lifecycle_stage=item.get("lifecycle_stage", "active"),
                    creation_time=int(item.get("creation_time") or 0),
                    last_update_time=int(item.get("last_update_time") or 0),
                    tags=wire.kv_dict(item.get("tags")),
                )
                names.add(experiment.name)
                if self.wanted(experiment):
                    found.append(experiment)
            self.check_filter(names)
            found.sort(key=lambda e: (len(e.experiment_id), e.experiment_id))
            self._experiments = found
        return list(self._experiments)

    # ----------------------------------------------------------------------- runs
    def runs(self, experiment_id: str) -> list[Run]:
        query = {"experiment_ids": [experiment_id], "run_view_type": "ALL", "max_results": PAGE}
        out: list[Run] = []
        for item in self._pages("POST", "runs/search", query, "runs"):
            out.append(self._run(item, experiment_id))
        out.sort(key=lambda r: (r.info.start_time or 0, r.info.run_id))
        # the engine's plan lists every run's artifacts next: READERS listings at a time
        if self._pool is None:
            self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="cairn-import-read")
        for run in out:
            if run.info.artifact_uri:
                rid = run.info.run_id
                self._listed[rid] = self._pool.submit(self._list_now, RUN_HANDLE, rid, "")
        return out

    def _run(self, item: dict[str, Any], experiment_id: str) -> Run:
        info = item.get("info", {})
        data = item.get("data", {})
        rid = wire.run_id(info)
        if not rid:
            raise SyncError(f"{self.url}: runs/search answered a run without an id: {info}")
        tags = wire.kv_dict(data.get("tags"))
        run_info = RunInfo(
            run_id=rid,
            experiment_id=experiment_id,
            run_name=info.get("run_name") or tags.get("mlflow.runName"),
            user_id=info.get("user_id"),
            status=info.get("status", "FINISHED"),
            start_time=_int(info.get("start_time")),
            end_time=_int(info.get("end_time")),
            artifact_uri=info.get("artifact_uri"),
            lifecycle_stage=info.get("lifecycle_stage", "active"),
        )
        if run_info.artifact_uri:
            self._uri_run[run_info.artifact_uri] = rid
        latest: dict[str, StoredPoint] = {}
        for m in data.get("metrics", []):
            value = wire.parse_number(m.get("value"))
            nan = value != value
            point = (_int(m.get("step")) or 0, _int(m.get("timestamp")) or 0, value, nan)
            latest[str(m["key"])] = (point[0], point[1], 0.0 if nan else value, nan)
        self._latest[rid] = latest
        self._metric_keys[rid] = sorted(latest)
        run = Run(info=run_info, params=wire.kv_dict(data.get("params")), tags=tags)
        inputs = item.get("inputs") or {}
        for entry in inputs.get("dataset_inputs", []):
            d = entry.get("dataset", {})
            dataset = Dataset(
                d.get("name", ""),
                d.get("digest", ""),
                d.get("source_type", ""),
                d.get("source", ""),
                d.get("schema") or None,
                d.get("profile") or None,
            )
            run.inputs.append(DatasetInput(dataset, wire.kv_dict(entry.get("tags"))))
        outputs = item.get("outputs") or {}
        for entry in outputs.get("model_outputs", []):
            run.outputs.append((str(entry["model_id"]), int(entry.get("step") or 0)))
        return run

    # -------------------------------------------------------------------- metrics
    def guess_counts(self, run_id: str, sent: dict[str, Any]) -> dict[str, int]:
        """Each metric's point count as far as it can be told without reading the history
        (for the engine's plan): a metric whose latest point (runs/search shows it) is the
        last one the ledger recorded as sent has nothing new; one with another latest point
        has at least one more; a metric never sent is guessed from its latest step."""
        latest = self._latest.get(run_id)
        if latest is None:
            return self.metric_counts(run_id)
        out: dict[str, int] = {}
        for key, (step, ts, value, nan) in latest.items():
            have = sent.get(key) or {}
            last = have.get("last")
            if last is None:
                out[key] = max(step + 1, 1)
                continue
            s, t, v, n = last
            same = (int(s), int(t), bool(n)) == (step, ts, nan) and (nan or float(v) == value)
            out[key] = int(have.get("count", 0)) + (0 if same else 1)
        return out

    def prefetch(
        self,
        run_ids: list[str],
        files: dict[str, tuple[Path, list[tuple[str, int, int]]]] | None = None,
    ) -> None:
        """The engine will send these runs in this order: read their metric histories ahead,
        READERS requests at a time, at most READ_AHEAD requests beyond the run being sent.
        Consecutive runs share a request per metric (:meth:`_group`). ``files``: each run's
        artifact files the engine will send; they are downloaded while its points are sent
        (:meth:`_fetch_files`)."""
        self._run_files = dict(files or {})
        self._file_order = [rid for rid in run_ids if rid in self._run_files]
        self._file_at = {rid: i for i, rid in enumerate(self._file_order)}
        self._file_next = 0
        self._tasks = []
        self._task_of = {}
        self._futures = {}
        self._next = 0
        for group in self._group(run_ids):
            start = len(self._tasks)
            keys = {rid: self._metric_keys.get(rid, []) for rid in group}
            index: dict[str, int] = {}
            for key in sorted({key for found in keys.values() for key in found}):
                index[key] = len(self._tasks)
                self._tasks.append(([rid for rid in group if key in keys[rid]], key))
            for rid in group:
                self._task_of[rid] = (start, {key: index[key] for key in keys[rid]})
        if self._tasks and self._pool is None:  # (runs() made it, unless the engine gave none)
            self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="cairn-import-read")

    def _group(self, run_ids: list[str]) -> Iterator[list[str]]:
        """Runs in send order, cut into groups whose histories are read together: as long as
        each metric's points, guessed from its latest step, stay within GROUP_POINTS (a wrong
        guess costs a second read of the runs cut off, never a point). The first groups are
        smaller, so that the first run's points arrive soon."""
        group: list[str] = []
        sums: dict[str, int] = {}
        cap = GROUP_POINTS // 4
        for rid in run_ids:
            guess = {k: max(p[0] + 1, 1) for k, p in self._latest.get(rid, {}).items()}
            if group and (
                len(group) >= GROUP_RUNS or any(sums.get(k, 0) + n > cap for k, n in guess.items())
            ):
                yield group
                group, sums = [], {}
                cap = min(cap * 2, GROUP_POINTS)
            group.append(rid)
            for k, n in guess.items():
                sums[k] = sums.get(k, 0) + n
        if group:
            yield group

    def _read_ahead(self, upto: int) -> None:
        assert self._pool is not None
        for i in range(self._next, min(upto, len(self._tasks))):
            rids, key = self._tasks[i]
            self._futures[i] = self._pool.submit(self._histories, rids, key)
        self._next = max(self._next, upto)

    def read_points(self, run_id: str) -> dict[str, list[StoredPoint]]:
        keys = self._metric_keys.get(run_id)
        if keys is None:
            got = self.api.get_if_exists("runs/get", {"run_id": run_id}) or {}
            metrics = got.get("run", {}).get("data", {}).get("metrics", [])
            keys = sorted({str(m["key"]) for m in metrics})
        self._fetch_files(run_id)
        found = self._task_of.get(run_id)
        if found is None or self._pool is None:
            return {key: self._history(run_id, key) for key in keys}
        start, mine = found
        self._read_ahead(max(mine.values(), default=start) + 1 + READ_AHEAD)
        for done in [i for i in self._futures if i < start]:
            self._futures.pop(done).cancel()  # earlier groups: runs sent or skipped
        out: dict[str, list[StoredPoint]] = {}
        for key in keys:
            future = self._futures.get(mine[key]) if key in mine else None
            points = future.result().pop(run_id, None) if future is not None else None
            out[key] = points if points is not None else self._history(run_id, key)
        return out

    def _fetch_files(self, run_id: str) -> None:
        """The engine starts sending this run: download the artifact files of this run and
        the next FILE_RUNS_AHEAD ones (up to FILE_AHEAD bytes held), so that their uploads do
        not wait for the source, which is busy answering history reads; what earlier runs
        left unread is dropped."""
        at = self._file_at.get(run_id)
        if at is None:
            return
        for name in [k for k, (i, _, _) in self._fetched.items() if i < at]:
            self._fetched.pop(name)[2].cancel()
        held = sum(size for _, size, _ in self._fetched.values())
        if self._file_pool is None:
            self._file_pool = ThreadPoolExecutor(
                FILE_READERS, thread_name_prefix="cairn-import-file"
            )
        self._file_next = max(self._file_next, at)
        while self._file_next < min(len(self._file_order), at + 1 + FILE_RUNS_AHEAD):
            folder, files = self._run_files[self._file_order[self._file_next]]
            if held and held + sum(size for _, size, _ in files) > FILE_AHEAD:
                break
            for rel, size, _ in files:
                if 0 < size <= FILE_AHEAD:
                    held += size
                    download = self._file_pool.submit(self._download, folder, rel, size)
                    self._fetched[(str(folder), rel)] = (self._file_next, size, download)
            self._file_next += 1

    def _download(self, folder: Path, rel: str, size: int) -> bytes:
        return b"".join(self._read_stream(folder, rel, size))

    def _histories(self, run_ids: list[str], key: str) -> dict[str, list[StoredPoint]]:
        """Every point of one metric of several runs: one get-history-bulk request for them
        all when the server has the route; a run the answer may have cut (MLflow stops at
        BULK_MAX points in all, runs in id order) is read again on its own."""
        many = len(run_ids) > 1 and self._bulk is not False
        items = self._bulk_items(run_ids, key) if many else None
        if items is None:
            return {rid: self._history(rid, key) for rid in run_ids}
        complete = set(run_ids)
        if len(items) >= BULK_MAX:
            order = [str(m.get("run_id", "")) for m in items]
            in_order = all(a <= b for a, b in zip(order, order[1:], strict=False))
            complete = {r for r in run_ids if in_order and r < order[-1]}
        by_run: dict[str, list[dict[str, Any]]] = {rid: [] for rid in run_ids}
        for m in items:
            if m.get("key", key) == key and str(m.get("run_id")) in by_run:
                by_run[str(m["run_id"])].append(m)
        out: dict[str, list[StoredPoint]] = {}
        for rid in run_ids:
            points = self._checked(rid, key, by_run[rid]) if rid in complete else None
            out[rid] = points if points is not None else self._history(rid, key)
        return out

    def _history(self, run_id: str, key: str) -> list[StoredPoint]:
        """Every point of one metric: in one bulk request when the server has the route and
        the history fits, else paged through metrics/get-history."""
        if self._bulk is not False:
            items = self._bulk_items([run_id], key)
            if items is not None and len(items) < BULK_MAX:
                mine = [m for m in items if m.get("run_id", run_id) == run_id]
                found = self._checked(run_id, key, [m for m in mine if m.get("key", key) == key])
                if found is not None:
                    return found
        points: list[StoredPoint] = []
        query = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        for m in self._pages("GET", "metrics/get-history", query, "metrics"):
            value = wire.parse_number(m.get("value"))
            nan = value != value
            points.append(
                (_int(m.get("step")) or 0, int(m["timestamp"]), 0.0 if nan else value, nan)
            )
        return points

    def _bulk_items(self, run_ids: list[str], key: str) -> list[dict[str, Any]] | None:
        """metrics/get-history-bulk for these runs and one key, as the server answered it;
        None when the server has no such route."""
        url = f"{AJAX}/metrics/get-history-bulk"
        params = {"run_id": run_ids, "metric_key": key, "max_results": str(BULK_MAX)}
        try:
            response = self.api.rest.request("GET", url, params=params)
        except CairnRestError as exc:
            if exc.status in (404, 405, 501):
                self._bulk = False
                return None
            raise SyncError(
                f"GET {url}: the source server answered {exc.status}: {exc.message}"
            ) from None
        except CairnConnectionError as exc:
            raise SyncError(f"GET {url}: cannot reach {self.url} ({exc})") from None
        try:
            try:
                found = orjson.loads(response.content or b"{}")
            except orjson.JSONDecodeError:  # Flask writes NaN and Infinity bare
                found = json.loads(response.content)
            items = found.get("metrics", []) if isinstance(found, dict) else None
        except ValueError:
            items = None
        if not isinstance(items, list):
            self._bulk = False
            return None
        self._bulk = True
        return items

    def _checked(
        self, run_id: str, key: str, items: list[dict[str, Any]]
    ) -> list[StoredPoint] | None:
        """One run's points of one metric from a bulk answer; None when the answer may be
        cut short (it lacks the latest point runs/search showed)."""
        points: list[StoredPoint] = []
        for m in items:
            value = wire.parse_number(m.get("value"))
            nan = value != value
            points.append(
                (_int(m.get("step")) or 0, int(m["timestamp"]), 0.0 if nan else value, nan)
            )
        latest = self._latest.get(run_id, {}).get(key)
        if latest is not None and not points:
            return None
        if latest is not None and not any(p[:2] == latest[:2] for p in points):
            return None  # cut short by a cap this importer does not know
        return points

    # ------------------------------------------------------------------ artifacts
    def artifact_dir(self, artifact_uri: str | None) -> Path | None:
        if not artifact_uri:
            return None
        rid = self._uri_run.get(artifact_uri)
        return _handle(RUN_HANDLE, rid) if rid else None

    def artifact_files(self, folder: Path) -> Iterator[tuple[str, int, int]]:
        kind, ident = PurePosixPath(folder).parts
        pending: list[tuple[str, int]] = [("", 0)]
        for _ in range(10**7):
            if not pending:
                return
            directory, depth = pending.pop()
            entries = sorted(self._list(kind, ident, directory), key=lambda f: str(f["path"]))
            for entry in reversed(entries):
                path = str(entry["path"]).strip("/")
                inside = not directory or path.startswith(f"{directory}/")
                rel = path if inside else f"{directory}/{path}"
                if entry.get("is_dir"):
                    if depth < MAX_DEPTH:
                        pending.append((rel, depth + 1))
                    continue
                yield rel, int(entry.get("file_size") or 0), 0

    def _list(self, kind: str, ident: str, directory: str) -> list[dict[str, Any]]:
        listed = self._listed.pop(ident, None) if kind == RUN_HANDLE and not directory else None
        if listed is not None:
            return listed.result()
        return self._list_now(kind, ident, directory)

    def _list_now(self, kind: str, ident: str, directory: str) -> list[dict[str, Any]]:
        if kind == RUN_HANDLE:
            query: dict[str, Any] = {"run_id": ident}
            if directory:
                query["path"] = directory
            out = self.api.call("GET", "artifacts/list", params=query)
            return list(out.get("files", []))
        url = f"{AJAX}/logged-models/{quote(ident, safe='')}/artifacts/directories"
        params = {"artifact_directory_path": directory} if directory else {}
        try:
            response = self.api.rest.request("GET", url, params=params)
        except CairnRestError as exc:
            if exc.status == 404:
                return []
            raise SyncError(
                f"GET {url}: the source server answered {exc.status}: {exc.message}"
            ) from None
        except CairnConnectionError as exc:
            raise SyncError(f"GET {url}: cannot reach {self.url} ({exc})") from None
        found = orjson.loads(response.content or b"{}")
        return list(found.get("files", [])) if isinstance(found, dict) else []

    def read_artifact(self, folder: Path, rel: str, size: int) -> Iterator[bytes]:
        ahead = self._fetched.pop((str(folder), rel), None)
        if ahead is not None:
            try:
                data = ahead[2].result()
            except SyncError:
                data = None  # read it again below: a lasting failure is raised from there
            if data is not None and len(data) == size:
                return iter((data,))
        return self._read_stream(folder, rel, size)

    def _read_stream(self, folder: Path, rel: str, size: int) -> Iterator[bytes]:
        kind, ident = PurePosixPath(folder).parts
        if kind == RUN_HANDLE:
            url = "/get-artifact"
            params = {"run_id": ident, "path": rel}
        else:
            url = f"{AJAX}/logged-models/{quote(ident, safe='')}/artifacts/files"
            params = {"artifact_file_path": rel}
        return self._stream(url, params, f"{kind} {ident}: artifact '{rel}'", size)

    def _stream(self, url: str, params: dict[str, str], what: str, size: int) -> Iterator[bytes]:
        http = self.api.rest.http
        sent = 0
        try:
            with http.stream("GET", url, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise SyncError(
                        f"{what}: the source server answered {response.status_code}: "
                        f"{response.text[:200]}"
                    )
                for chunk in response.iter_bytes(CHUNK):
                    sent += len(chunk)
                    yield chunk
        except SyncError:
            raise
        except Exception as exc:  # a transport error: name the file
            raise SyncError(f"{what}: cannot read it from {self.url} ({exc})") from None
        if sent != size:
            raise SyncError(f"{what}: {sent} bytes read, the listing said {size}")

    # ------------------------------------------------------------- logged models
    def logged_models(self) -> list[ImportedModel]:
        ids = [e.experiment_id for e in self.experiments()]
        if not ids:
            return []
        out: list[ImportedModel] = []
        try:
            for start in range(0, len(ids), 100):
                query = {"experiment_ids": ids[start : start + 100], "max_results": 100}
                for item in self._pages("POST", "logged-models/search", query, "models"):
                    out.append(self._logged_model(item))
        except ServerRefused as exc:
            if exc.status == 404 or exc.error_code == "ENDPOINT_NOT_FOUND":
                return []  # an MLflow 2.x server: no logged models
            raise
        out.sort(key=lambda m: m.model_id)
        return out

    def _logged_model(self, item: dict[str, Any]) -> ImportedModel:
        info = item.get("info", {})
        data = item.get("data", {})
        mid = str(info["model_id"])
        return ImportedModel(
            model_id=mid,
            experiment_id=str(info.get("experiment_id")),
            name=info.get("name", ""),
            source_run_id=info.get("source_run_id") or None,
            model_type=info.get("model_type") or None,
            status=info.get("status", "LOGGED_MODEL_READY"),
            tags=wire.kv_dict(info.get("tags")),
            params=wire.kv_dict(data.get("params")),
            folder=_handle(MODEL_HANDLE, mid),
            lifecycle_stage=info.get("lifecycle_stage", "active"),
        )

    # --------------------------------------------------------------------- traces
    def traces(self, experiment_id: str) -> Iterator[dict[str, Any]]:
        """The experiment's MLflow 3 traces, oldest first, as ``traces/batchGet`` answers
        them: ``trace_info`` (with its assessments) and ``spans`` (OTLP/JSON). Nothing from
        a server without MLflow 3's trace routes (2.x)."""
        location = {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id},
        }
        query: dict[str, Any] = {
            "locations": [location],
            "max_results": TRACE_PAGE,
            "order_by": ["timestamp_ms ASC"],
        }
        ids: list[str] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = {**query, "page_token": token} if token else query
            out = self._v3("POST", "traces/search", body=page)
            if out is None:
                return  # no trace routes: an MLflow 2.x server
            ids += [str(t["trace_id"]) for t in out.get("traces", []) if t.get("trace_id")]
            token = out.get("next_page_token")
            if not token:
                break
        for start in range(0, len(ids), TRACES_PER_GET):
            group = ids[start : start + TRACES_PER_GET]
            found = self._v3("GET", "traces/batchGet", params={"trace_ids": group}) or {}
            by_id = {
                str((t.get("trace_info") or {}).get("trace_id")): t for t in found.get("traces", [])
            }
            for tid in group:
                trace = by_id.get(tid)
                if trace is None:  # an older 3.x server without batchGet: one at a time
                    got = self._v3("GET", "traces/get", params={"trace_id": tid}) or {}
                    trace = got.get("trace")
                if trace:
                    yield dict(trace)

    def _v3(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """One call under /api/3.0/mlflow/ (MLflow 3's trace routes); None when the server
        does not have the route."""
        url = f"{API_V3}/{path}"
        try:
            response = self.api.rest.request(method, url, body=body, params=params)
        except CairnRestError as exc:
            if exc.status in (404, 405, 501) and exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                return None
            raise SyncError(
                f"{method} {url}: the source server answered {exc.status}: {exc.message}"
            ) from None
        except CairnConnectionError as exc:
            raise SyncError(f"{method} {url}: cannot reach {self.url} ({exc})") from None
        found = orjson.loads(response.content or b"{}")
        return found if isinstance(found, dict) else {}

    # ------------------------------------------------------------------- registry
    def registered_models(self) -> list[tuple[RegisteredModel, list[ModelVersion]]]:
        out: list[tuple[RegisteredModel, list[ModelVersion]]] = []
        query: dict[str, Any] = {"max_results": PAGE}
        models = list(self._pages("GET", "registered-models/search", query, "registered_models"))
        for item in sorted(models, key=lambda m: str(m["name"])):
            name = str(item["name"])
            aliases = {a["alias"]: int(a["version"]) for a in item.get("aliases", [])}
            model = RegisteredModel(
                name=name,
                creation_timestamp=_int(item.get("creation_timestamp")) or 0,
                last_updated_timestamp=_int(item.get("last_updated_timestamp")) or 0,
                description=item.get("description") or None,
                tags=wire.kv_dict(item.get("tags")),
                aliases=aliases,
            )
            out.append((model, self._versions(name)))
        return out

    def _versions(self, name: str) -> list[ModelVersion]:
        escaped = name.replace("'", "\\'")
        query = {"filter": f"name='{escaped}'", "max_results": PAGE}
        found: dict[int, ModelVersion] = {}
        for v in self._pages("GET", "model-versions/search", query, "model_versions"):
            if v.get("name") != name:
                continue
            number = int(v["version"])
            found[number] = ModelVersion(
                name=name,
                version=number,
                creation_timestamp=_int(v.get("creation_timestamp")) or 0,
                last_updated_timestamp=_int(v.get("last_updated_timestamp")) or 0,
                description=v.get("description") or None,
                user_id=v.get("user_id") or None,
                current_stage=v.get("current_stage") or "None",
                source=v.get("source") or "",
                run_id=v.get("run_id") or None,
                status=v.get("status") or "READY",
                tags=wire.kv_dict(v.get("tags")),
                model_id=v.get("model_id") or None,
            )
        return [found[n] for n in sorted(found)]


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None
