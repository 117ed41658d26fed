"""The fluent API (``cairn.start_run``, ``cairn.log_metric`` …): one active run stack per
process, values queued and sent by a background thread (see :mod:`cairn.client.batching`)."""

from __future__ import annotations

import getpass
import io
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from cairn.client import state
from cairn.client.batching import METRIC, PARAM, TAG, BatchLogger, Item, spooled_batches
from cairn.client.client import Client, artifact_path_of
from cairn.client.config import env_bool, resolve_target
from cairn.client.entities import Experiment, ModelInfo, Run, RunData, RunInfo
from cairn.client.errors import (
    CairnRestError,
    CairnUsageError,
    DeliveryError,
    MissingDependencyError,
)
from cairn.client.models import load_model_uri, log_model_to_run
from cairn.client.state import get_tracking_uri
from cairn.client.system_metrics import SystemMetricsMonitor, require_psutil
from cairn.wire import dataset_input

log = logging.getLogger("cairn")

_lock = threading.RLock()
_experiment_id: str | None = None
_clients: dict[str, Client] = {}
_loggers: dict[str, BatchLogger] = {}
_run_stack: list[ActiveRun] = []
_params_seen: dict[str, dict[str, str]] = {}
_spool_warned = False


class ActiveRun:
    """The run :func:`start_run` made active; a context manager that ends it on exit
    (``FAILED`` if the block raised, else ``FINISHED``)."""

    def __init__(self, run: Run, client: Client, logger: BatchLogger) -> None:
        self._run = run
        self.client = client
        self.logger = logger
        self.monitor: SystemMetricsMonitor | None = None

    @property
    def info(self) -> RunInfo:
        return self._run.info

    @property
    def data(self) -> RunData:
        return self._run.data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = "FINISHED" if exc_type is None else "FAILED"
        if exc_type is None:
            end_run(status)
            return
        try:
            end_run(status)
        except DeliveryError as delivery:  # already logged; do not hide the block's error
            log.error("cairn: %s", delivery)


# -- tracking URI and experiment -----------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Send data to ``uri``: ``http(s)://host:port`` for a server, or a folder path,
    ``file:path`` or ``sqlite:///file.db`` for the embedded store (no server needed)."""
    global _experiment_id
    target = resolve_target(os.fspath(uri))
    with _lock:
        if state.set_tracking_uri(target.uri):
            _experiment_id = None


def _client() -> Client:
    uri = get_tracking_uri()
    with _lock:
        client = _clients.get(uri)
        if client is None:
            client = _clients[uri] = Client(uri)
            state.register_exit()
        return client


def _logger(client: Client) -> BatchLogger:
    with _lock:
        logger = _loggers.get(client.tracking_uri)
        if logger is None:
            logger = _loggers[client.tracking_uri] = BatchLogger(client.rest)
        return logger


def set_experiment(name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active (created if ``name`` does not exist yet) and return it."""
    global _experiment_id
    if (name is None) == (experiment_id is None):
        raise CairnUsageError("set_experiment needs exactly one of name or experiment_id")
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        assert name is not None
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                client.create_experiment(name)
            except CairnRestError as exc:  # created meanwhile by someone else
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            found = client.get_experiment_by_name(name)
            assert found is not None
        experiment = found
    if experiment.lifecycle_stage != "active":
        raise CairnUsageError(
            f"Experiment '{experiment.name}' (id {experiment.experiment_id}) is deleted; "
            "restore it or choose another name"
        )
    with _lock:
        _experiment_id = experiment.experiment_id
    return experiment


def _active_experiment_id(client: Client) -> str:
    with _lock:
        if _experiment_id is not None:
            return _experiment_id
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    if os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        return set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"]).experiment_id
    return "0"


# -- runs ----------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it active; use it as a context manager.

    A second run while one is active must be ``nested=True`` (it gets the active run as
    parent). System metrics are sampled when ``log_system_metrics`` is true, or when it is None
    and ``CAIRN_ENABLE_SYSTEM_METRICS`` is true.
    """
    global _spool_warned
    client = _client()
    with _lock:
        parent = _run_stack[-1] if _run_stack else None
    if parent is not None and not nested:
        raise CairnUsageError(
            f"Run {parent.info.run_id} is already active. End it with cairn.end_run(), or "
            "start this one with nested=True"
        )
    if log_system_metrics is None:
        log_system_metrics = env_bool("CAIRN_ENABLE_SYSTEM_METRICS", False)
    if log_system_metrics:
        require_psutil()  # before the run exists: a missing psutil leaves nothing half-done
    if run_id is not None:
        client.update_run(run_id, status="RUNNING")
        run = client.get_run(run_id)
        if run_name is not None and run.info.run_name != run_name:
            client.update_run(run_id, name=run_name)
        extra = dict(tags or {})
        if description is not None:
            extra["mlflow.note.content"] = description
        if extra:
            client.log_batch(run_id, tags=extra)
        run = client.get_run(run_id)
    else:
        exp_id = str(experiment_id) if experiment_id is not None else _active_experiment_id(client)
        all_tags: dict[str, Any] = {
            "mlflow.user": _user(),
            "mlflow.source.name": _source_name(),
            "mlflow.source.type": "LOCAL",
        }
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent.info.run_id
        if description is not None:
            all_tags["mlflow.note.content"] = description
        all_tags.update(tags or {})
        run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    active = ActiveRun(run, client, _logger(client))
    with _lock:
        _run_stack.append(active)
    if log_system_metrics:
        active.monitor = SystemMetricsMonitor(run.info.run_id, active.logger.put_many)
        active.monitor.start()
    if not _spool_warned:
        _spool_warned = True
        waiting = spooled_batches()
        if waiting:
            log.warning(
                "cairn: %d undelivered logging batch(es) wait in the spool; send them with "
                "cairn.replay_spool()",
                waiting,
            )
    return active


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _source_name() -> str:
    return os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else "<interactive>"


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    with _lock:
        return _run_stack[-1] if _run_stack else None


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run: stop its system metrics, flush its queued values, set
    its status. Raises DeliveryError afterwards if values could not be delivered."""
    with _lock:
        if not _run_stack:
            return
        active = _run_stack.pop()
    if active.monitor is not None:
        active.monitor.stop()
    failure: DeliveryError | None = None
    try:
        active.logger.flush()
    except DeliveryError as exc:
        failure = exc
    active.client.set_terminated(active.info.run_id, status=status)
    _params_seen.pop(active.info.run_id, None)
    if failure is not None:
        raise failure


def _run_id() -> str:
    with _lock:
        if _run_stack:
            return _run_stack[-1].info.run_id
    start_run()  # like MLflow: logging without a run starts one
    with _lock:
        return _run_stack[-1].info.run_id


def _active() -> ActiveRun:
    _run_id()
    with _lock:
        return _run_stack[-1]


def flush(timeout: float | None = None) -> None:
    """Wait until every value logged so far has reached the server (or the spool); raises
    DeliveryError if some could not be delivered since the last flush."""
    with _lock:
        loggers = list(_loggers.values())
    for logger in loggers:
        logger.flush(timeout)


# -- params, metrics, tags (queued) ----------------------------------------------------------


def log_param(key: str, value: Any) -> Any:
    """Log a parameter. Params are immutable: the same value again is fine, another is an
    error (raised here when this process logged the first value)."""
    _queue_params({key: value})
    return value


def log_params(params: Mapping[str, Any]) -> None:
    _queue_params(params)


def _queue_params(params: Mapping[str, Any]) -> None:
    active = _active()
    run_id = active.info.run_id
    items: list[Item] = []
    with _lock:
        seen = _params_seen.setdefault(run_id, {})
        for key, raw in params.items():
            _check_key(key)
            value = str(raw)
            old = seen.get(key)
            if old is not None:
                if old != value:
                    raise CairnUsageError(
                        f"Param '{key}' of run {run_id} was already logged with value "
                        f"'{old}'; params cannot change (new value '{value}')"
                    )
                continue
            seen[key] = value
            items.append((run_id, PARAM, key, value, 0, 0))
    if items:
        active.logger.put_many(items)


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise CairnUsageError(f"A key must be a non-empty string, got {key!r}")


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Queue one metric point (returns at once; the background thread sends it)."""
    active = _run_stack[-1] if _run_stack else _active()
    if not isinstance(key, str) or not key:
        _check_key(key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CairnUsageError(f"Metric '{key}' must be a number, got {value!r}") from None
    active.logger.put(
        (
            active.info.run_id,
            METRIC,
            key,
            number,
            int(timestamp) if timestamp is not None else int(time.time() * 1000),
            int(step) if step is not None else 0,
        )
    )


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    active = _active()
    ts = int(timestamp) if timestamp is not None else int(time.time() * 1000)
    st = int(step) if step is not None else 0
    items: list[Item] = []
    for key, value in metrics.items():
        _check_key(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise CairnUsageError(f"Metric '{key}' must be a number, got {value!r}") from None
        items.append((active.info.run_id, METRIC, key, number, ts, st))
    active.logger.put_many(items)


def set_tag(key: str, value: Any) -> None:
    set_tags({key: value})


def set_tags(tags: Mapping[str, Any]) -> None:
    active = _active()
    items: list[Item] = []
    for key, value in tags.items():
        _check_key(key)
        items.append((active.info.run_id, TAG, key, str(value), 0, 0))
    active.logger.put_many(items)


# -- artifacts (sent at once) ----------------------------------------------------------------


def _artifact_root(active: ActiveRun) -> str:
    return artifact_path_of(active.info.artifact_uri)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Upload one file into the active run's artifacts (under ``artifact_path``)."""
    active = _active()
    path = Path(local_path)
    if not path.is_file():
        raise CairnUsageError(f"log_artifact: '{path}' is not a file")
    rel = f"{artifact_path.strip('/')}/{path.name}" if artifact_path else path.name
    active.client.upload_bytes(_artifact_root(active), rel, path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Upload a folder's files (recursively) into the active run's artifacts."""
    active = _active()
    folder = Path(local_dir)
    if not folder.is_dir():
        raise CairnUsageError(f"log_artifacts: '{folder}' is not a folder")
    active.client.upload_dir(_artifact_root(active), folder, artifact_path)


def _put_bytes(data: bytes, artifact_file: str) -> None:
    active = _active()
    active.client.upload_bytes(_artifact_root(active), artifact_file, data)


def log_text(text: str, artifact_file: str) -> None:
    """Store ``text`` as the artifact ``artifact_file`` (UTF-8)."""
    _put_bytes(text.encode("utf-8"), artifact_file)


def log_dict(dictionary: Mapping[str, Any] | list[Any], artifact_file: str) -> None:
    """Store a dict as JSON, or as YAML when ``artifact_file`` ends in .yaml/.yml."""
    if artifact_file.lower().endswith((".yaml", ".yml")):
        import yaml  # lazy, as everywhere in the SDK: only YAML files pay its import

        text = yaml.safe_dump(dictionary, sort_keys=False, default_flow_style=False)
    else:
        text = json.dumps(dictionary, indent=2, default=_json_default)
    log_text(text, artifact_file)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Store a matplotlib figure (format from the file extension, e.g. .png or .svg) or a
    plotly figure (.html)."""
    buffer = io.BytesIO()
    if hasattr(figure, "savefig"):
        ext = Path(artifact_file).suffix.lstrip(".").lower() or "png"
        figure.savefig(buffer, format=ext)
    elif hasattr(figure, "to_html"):
        buffer.write(figure.to_html().encode("utf-8"))
    else:
        raise CairnUsageError(
            f"log_figure needs a matplotlib or plotly figure, got {type(figure).__name__}"
        )
    _put_bytes(buffer.getvalue(), artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    """Store a PIL image or a NumPy array (H×W, H×W×1, H×W×3 or H×W×4; integers 0–255 or
    floats 0–1) as an image file (PNG unless the extension says otherwise). Needs Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise MissingDependencyError("pillow", "cairn.log_image") from None
    if not isinstance(image, Image.Image):
        image = Image.fromarray(_image_array(image))
    buffer = io.BytesIO()
    fmt = Path(artifact_file).suffix.lstrip(".").upper() or "PNG"
    image.save(buffer, format={"JPG": "JPEG"}.get(fmt, fmt))
    _put_bytes(buffer.getvalue(), artifact_file)


def _image_array(array: Any) -> Any:
    import numpy as np  # lazy: optional (ml extra) and heavy; Pillow needs it for arrays anyway

    data = np.asarray(array)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] not in (3, 4)):
        raise CairnUsageError(
            f"log_image: an image array must be H×W, H×W×1, H×W×3 or H×W×4, got {data.shape}"
        )
    if data.dtype.kind == "f":
        if data.size and (np.nanmin(data) < 0 or np.nanmax(data) > 1):
            raise CairnUsageError("log_image: float pixel values must lie in [0, 1]")
        data = (np.nan_to_num(data) * 255).round()
    elif data.dtype.kind in "iub":
        if data.dtype.kind != "b" and data.size and (data.min() < 0 or data.max() > 255):
            raise CairnUsageError("log_image: integer pixel values must lie in [0, 255]")
    else:
        raise CairnUsageError(f"log_image: unsupported pixel type {data.dtype}")
    return data.astype(np.uint8)


def log_table(data: Any, artifact_file: str) -> None:
    """Store a table (a dict of equal-length columns, or a pandas DataFrame) as JSON in
    MLflow's table format ``{"columns": [...], "data": [[...], ...]}``."""
    if not artifact_file.lower().endswith(".json"):
        raise CairnUsageError("log_table: artifact_file must end in .json")
    if isinstance(data, Mapping):
        columns = [str(c) for c in data]
        values = [_as_list(v) for v in data.values()]
        lengths = {len(v) for v in values}
        if len(lengths) > 1:
            raise CairnUsageError(f"log_table: columns have different lengths {sorted(lengths)}")
        table = {"columns": columns, "data": [list(row) for row in zip(*values, strict=True)]}
        text = json.dumps(table, default=_json_default, allow_nan=True)
    elif hasattr(data, "to_json") and hasattr(data, "columns"):
        text = data.to_json(orient="split", index=False)
    else:
        raise CairnUsageError(
            f"log_table needs a dict of columns or a pandas DataFrame, got {type(data).__name__}"
        )
    log_text(text, artifact_file)
    active = _active()
    tag = "mlflow.loggedArtifacts"
    known = active.client.get_run(active.info.run_id).data.tags.get(tag)
    entries = json.loads(known) if known else []
    entry = {"path": artifact_file, "type": "table"}
    if entry not in entries:
        entries.append(entry)
        active.client.set_tag(active.info.run_id, tag, json.dumps(entries))


def _as_list(values: Any) -> list[Any]:
    if hasattr(values, "tolist"):
        out: list[Any] = values.tolist()
        return out
    return list(values)


# -- datasets and models (need cairn.ml) -----------------------------------------------------


def log_dataset(
    data: Any,
    name: str | None = None,
    context: str = "training",
    targets: str | None = None,
    source: str | None = None,
) -> None:
    """Record a dataset as an input of the active run: digest, schema and a profile (row
    count, label distribution, numeric and text-length statistics), with its context."""
    describe_dataset = import_module("cairn.ml.datasets").describe_dataset

    desc = describe_dataset(data, name=name, targets=targets, source=source, context=context)
    active = _active()
    active.client.log_inputs(
        active.info.run_id, [dataset_input(desc, {"mlflow.data.context": desc.context})]
    )


def log_model(
    estimator: Any,
    name: str,
    input_example: Any = None,
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Save ``estimator`` in MLflow's MLmodel layout under the run's artifacts at ``name``
    (``runs:/<run_id>/<name>``), and register it as a new version of
    ``registered_model_name`` when given."""
    active = _active()
    return log_model_to_run(
        active.client, active.info, estimator, name, input_example, registered_model_name
    )


def load_model(model_uri: str) -> Any:
    """Load a model logged by Cairn or by the stock mlflow client: ``models:/NAME/3``,
    ``models:/NAME/Production``, ``models:/NAME@alias``, ``models:/NAME/latest``,
    ``models:/m-<id>``, ``runs:/<run_id>/<path>`` or a local folder."""
    return load_model_uri(_client(), model_uri)


# -- search ----------------------------------------------------------------------------------


def search_runs(
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    run_view_type: str = "ACTIVE_ONLY",
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
) -> Any:
    """Runs matching MLflow's filter language. Returns a pandas DataFrame (columns run_id,
    experiment_id, status, artifact_uri, start_time, end_time, metrics.*, params.*, tags.*)
    when ``output_format="pandas"`` and pandas is installed, else a list of Run objects."""
    client = _client()
    ids = [str(e) for e in experiment_ids or []]
    for experiment_name in experiment_names or []:
        found = client.get_experiment_by_name(experiment_name)
        if found is not None:
            ids.append(found.experiment_id)
    if not ids:
        if search_all_experiments:
            ids = [e.experiment_id for e in client.search_experiments(view_type="ALL")]
        elif experiment_names:
            ids = []
        else:
            ids = [_active_experiment_id(client)]
    runs = (
        client.search_runs(ids, filter_string, run_view_type, max_results, order_by) if ids else []
    )
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise CairnUsageError("output_format must be 'pandas' or 'list'")
    try:
        pd = import_module("pandas")
    except ImportError:
        return runs
    return _runs_frame(pd, runs)


def _runs_frame(pd: Any, runs: list[Run]) -> Any:
    rows: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "artifact_uri": run.info.artifact_uri,
            "start_time": _ts(pd, run.info.start_time),
            "end_time": _ts(pd, run.info.end_time),
        }
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        rows.append(row)
    base = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    order = base + sorted(c for c in frame.columns if c not in base)
    return frame[order]


def _ts(pd: Any, millis: int | None) -> Any:
    if millis is None:
        return pd.NaT
    return pd.to_datetime(millis, unit="ms", utc=True)


# -- exit ------------------------------------------------------------------------------------


def _end_all() -> None:
    """fluent's exit step (see cairn.client.state; rest's step, closing clients and embedded
    stores, runs after it): end open runs (FINISHED) and flush the queues."""
    for _ in range(100):
        with _lock:
            if not _run_stack:
                break
            top = _run_stack[-1]
        status = "FINISHED"
        try:
            end_run(status)
        except Exception as exc:
            log.error("cairn: could not end run %s at exit: %s", top.info.run_id, exc)
            with _lock:
                if _run_stack and _run_stack[-1] is top:
                    _run_stack.pop()
    with _lock:
        loggers = list(_loggers.values())
        _loggers.clear()
    for logger in loggers:
        try:
            logger.close()
        except Exception as exc:  # still report, never raise at exit
            log.error("cairn: flushing at exit failed: %s", exc)


state.on_exit(_end_all)


def _reset() -> None:
    """Forget all state (tests): end runs without flushing errors, close queues and stores."""
    global _experiment_id, _spool_warned
    state.shutdown()
    with _lock:
        _experiment_id = None
        _spool_warned = False
        _clients.clear()
        _run_stack.clear()
        _params_seen.clear()
    state.reset()
