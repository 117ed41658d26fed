"""``cairn import``: run an importer's source through the sync engine to a destination.

The destination is a server (``--to URL``, authenticated like the SDK through
``MLFLOW_TRACKING_*``/``CAIRN_*``) or, without ``--to``, the embedded store ``cairn server``
would open (``$CAIRN_HOME`` or ``./cairn-data``), reached in-process through the SDK's embedded
transport: the same requests either way.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from cairn import wire
from cairn.entities.tracking import Experiment, Run
from cairn.sync.engine import PARENT_TAG, Progress, Source, Syncer, SyncReport
from cairn.sync.errors import ServerRefused, SyncError
from cairn.sync.importing import models_in_scope
from cairn.sync.remote import (
    TRACE_FILES_TAG,
    Destination,
    Hook,
    RegistryCalls,
    artifact_prefix,
)
from cairn.sync.source import ImportedModel


@contextmanager
def destination(
    to: str | None,
    *,
    request_hook: Hook | None = None,
    transport: httpx.BaseTransport | None = None,
    dry_run: bool = False,
    must_exist: bool = False,
) -> Iterator[Destination]:
    """The server at ``to``, or the embedded store when ``to`` is None. A dry run against an
    embedded store that does not exist yet reads an empty one in a temporary folder instead
    of creating it; with ``must_exist`` (an export reading it) a missing store is an error."""
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if to is not None:
        dest = Destination(to, request_hook=request_hook, transport=transport)
    else:
        from cairn.client.config import default_tracking_uri, resolve_target
        from cairn.client.embedded import EMBEDDED_BASE_URL, EmbeddedTransport, embedded_app

        target = resolve_target(default_tracking_uri())
        db = (target.backend_store_uri or "").removeprefix("sqlite:///")
        if must_exist and target.backend_store_uri != db and not Path(db).is_file():
            raise SyncError(f"There is no Cairn store at {db} (set CAIRN_HOME, or give --from URL)")
        if dry_run and target.backend_store_uri != db and not Path(db).is_file():
            scratch = tempfile.TemporaryDirectory(prefix="cairn-import-dry-")
            target = resolve_target(scratch.name)
        app = embedded_app(target)
        dest = Destination(
            EMBEDDED_BASE_URL,
            request_hook=request_hook,
            transport=EmbeddedTransport(app),
            identity=f"embedded://{target.backend_store_uri}",
        )
    try:
        yield dest
    finally:
        dest.close()
        if scratch is not None:
            app.close()
            scratch.cleanup()


def run_import(
    source: Source,
    to: str | None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    request_hook: Hook | None = None,
    transport: httpx.BaseTransport | None = None,
) -> SyncReport:
    """Import ``source`` into ``to`` (see :class:`cairn.sync.engine.Syncer`); the source is
    closed afterwards."""
    try:
        with destination(
            to, request_hook=request_hook, transport=transport, dry_run=dry_run
        ) as dest:
            return Syncer(source, dest, dry_run=dry_run, progress=progress).run()
    finally:
        source.close()


def _digest(chunks: Iterator[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


#: trace tags and metadata each server sets for itself (where it keeps the trace's files and spans)
TRACE_OWN_KEYS = frozenset({TRACE_FILES_TAG, "mlflow.trace.spansLocation"})


def _trace_field(value: object) -> object:
    """A trace info field comparable across servers: RFC 3339 times as milliseconds,
    protobuf durations (``"0.125s"``) as milliseconds."""
    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        try:
            return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return value
    if isinstance(value, str) and value.endswith("s"):
        try:
            return round(float(value[:-1]) * 1000)
        except ValueError:
            return value
    return value


def _spans(spans: object) -> list[tuple[str, ...]]:
    """Spans as comparable rows: ids, parent, name, start and end (ns), status code."""
    out = []
    for s in spans if isinstance(spans, list) else []:
        status = s.get("status") or {}
        out.append(
            (
                _span_id(s.get("span_id") or s.get("spanId")),
                _span_id(s.get("parent_span_id") or s.get("parentSpanId")),
                str(s.get("name", "")),
                str(int(s.get("start_time_unix_nano") or s.get("startTimeUnixNano") or 0)),
                str(int(s.get("end_time_unix_nano") or s.get("endTimeUnixNano") or 0)),
                str(status.get("code", "")),
            )
        )
    return sorted(out)


def _span_id(value: object) -> str:
    """A span id as hex, from hex or protobuf's base64."""
    if not value:
        return ""
    text = str(value)
    try:
        bytes.fromhex(text)
        return text.lower()
    except ValueError:
        try:
            return base64.b64decode(text).hex()
        except ValueError:
            return text


def _checksum(points: list[tuple[int, int, float, bool]]) -> tuple[int, str]:
    """Distinct points (a server keeps a repeated identical point once) and their sha256."""
    distinct = sorted({(s, t, "nan" if n else repr(float(v))) for s, t, v, n in points})
    return len(distinct), hashlib.sha256(repr(distinct).encode()).hexdigest()[:16]


class Verifier:
    """Compares a source with what the destination shows, through the same REST calls the
    stock client makes; every difference is a line naming the object and the field."""

    def __init__(
        self,
        source: Source,
        dest: Destination,
        here: str = "in the source",
        there: str = "on the destination",
        ids: dict[str, str] | None = None,
        traces: bool = True,
        model_uris: dict[str, str] | None = None,
    ):
        """``here`` and ``there`` name the two sides in the lines (an export verifies the
        other way: the folder it wrote is the source, Cairn the destination). ``ids``: the
        destination's ids of runs and logged models that got new ones (an export to an
        MLflow server), by source id. ``traces``: compare the source's traces too (an export
        does not carry them). ``model_uris``: where logged models a destination without
        them (MLflow 2.x) received as run artifacts are, by model id."""
        self.ids = ids or {}
        self.model_uris = model_uris or {}
        self.with_traces = traces
        self.source = source
        self.dest = dest
        self.here = here
        self.there = there
        self.out: list[str] = []

    def run(self) -> list[str]:
        self.dest.ping()
        for experiment in self.source.experiments():
            self._experiment(experiment)
        for model in self.source.logged_models():
            self._logged_model(model)
        self._registry()
        self._traces()
        return self.out

    def _traces(self) -> None:
        """Each source trace on the destination: its info (times, state, previews, tags,
        metadata), its spans (ids, names, parents, times, status) and assessment ids."""
        read = getattr(self.source, "traces", None)
        if read is None or not self.with_traces:
            return
        for experiment in self.source.experiments():
            for trace in read(experiment.experiment_id):
                self._trace(trace)

    def _trace(self, trace: dict[str, Any]) -> None:
        mine = trace.get("trace_info") or {}
        tid = str(mine.get("trace_id"))
        got = self.dest.get_trace(tid)
        if got is None:
            self.out.append(f"trace {tid}: missing")
            return
        theirs = got.get("trace_info") or {}
        for name in ("request_time", "execution_duration", "state", "client_request_id"):
            a, b = _trace_field(mine.get(name)), _trace_field(theirs.get(name))
            if a != b:
                self.out.append(f"trace {tid}: {name} is {b!r} {self.there}, {a!r} {self.here}")
        for name in ("request_preview", "response_preview"):
            if (mine.get(name) or "") != (theirs.get(name) or ""):
                self.out.append(f"trace {tid}: {name} differs")
        for name in ("tags", "trace_metadata"):
            there = theirs.get(name) or {}
            for key, value in (mine.get(name) or {}).items():
                if key not in TRACE_OWN_KEYS and there.get(key) != value:
                    self.out.append(f"trace {tid}: {name} '{key}' differs")
        a_spans, b_spans = _spans(trace.get("spans")), _spans(got.get("spans"))
        if a_spans != b_spans:
            self.out.append(
                f"trace {tid}: {len(b_spans)} span(s) {self.there}, {len(a_spans)} {self.here}"
                + (" (same count, other fields)" if len(a_spans) == len(b_spans) else "")
            )
        a_ids = {str(x.get("assessment_id")) for x in mine.get("assessments") or []}
        b_ids = {str(x.get("assessment_id")) for x in theirs.get("assessments") or []}
        if not a_ids <= b_ids:
            self.out.append(f"trace {tid}: assessments {sorted(a_ids - b_ids)} missing")

    def _experiment(self, experiment: Experiment) -> None:
        name = experiment.name
        found = self.dest.experiment_by_name(name)
        if found is None:
            self.out.append(f"experiment '{name}': missing")
            return
        if found.get("lifecycle_stage") != experiment.lifecycle_stage:
            self.out.append(
                f"experiment '{name}': lifecycle {found.get('lifecycle_stage')} "
                f"{self.there}, {experiment.lifecycle_stage} {self.here}"
            )
        tags = wire.kv_dict(found.get("tags"))
        for key, value in experiment.tags.items():
            if tags.get(key) != value:
                self.out.append(f"experiment '{name}': tag '{key}' differs")
        there = self.dest.runs_of(str(found["experiment_id"]))
        runs = self.source.runs(experiment.experiment_id)
        if len(there) != len(runs):
            self.out.append(
                f"experiment '{name}': {len(there)} run(s) {self.there}, {len(runs)} {self.here}"
            )
        for run in runs:
            got = there.get(self.ids.get(run.info.run_id, run.info.run_id))
            if got is None:
                self.out.append(f"run {run.info.run_id}: missing")
                continue
            self._run(run, got)

    def _run(self, run: Run, got: dict[str, Any]) -> None:
        rid = run.info.run_id
        info = got.get("info", {})
        data = got.get("data", {})
        mine = {
            "status": run.info.status,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "lifecycle_stage": run.info.lifecycle_stage,
            "user_id": run.info.user_id,
        }
        for key, value in mine.items():
            if value is not None and info.get(key) != value:
                self.out.append(
                    f"run {rid}: {key} is {info.get(key)!r} {self.there}, {value!r} {self.here}"
                )
        params = wire.kv_dict(data.get("params"))
        if params != run.params:
            self.out.append(f"run {rid}: params differ ({len(params)} vs {len(run.params)})")
        tags = wire.kv_dict(data.get("tags"))
        for key, value in run.tags.items():
            if key == PARENT_TAG:
                value = self.ids.get(value, value)
            if tags.get(key) != value:
                self.out.append(f"run {rid}: tag '{key}' differs")
        counts = self.source.metric_counts(rid)
        for key in counts:
            mine_points: list[tuple[int, int, float, bool]] = []
            for page in self.source.history_after(rid, key, None, 10_000):
                mine_points.extend(page)
            theirs = self.dest.metric_history(self.ids.get(rid, rid), key)
            a, b = _checksum(mine_points), _checksum(theirs)
            if a != b:
                self.out.append(
                    f"run {rid}: metric '{key}' has {b[0]} distinct point(s) {self.there}, "
                    f"{a[0]} {self.here}" + (" (same count, other values)" if a[0] == b[0] else "")
                )
        folder = self.source.artifact_dir(run.info.artifact_uri)
        uri = info.get("artifact_uri")
        if folder is not None and uri:
            self._files(f"run {rid}", folder, uri)

    def _files(self, what: str, folder: Path, dest_uri: str) -> None:
        prefix = artifact_prefix(dest_uri)
        for rel, size, _ in self.source.artifact_files(folder):
            got = self.dest.download(f"{prefix}/{rel}")
            if got is None:
                self.out.append(f"{what}: artifact '{rel}' missing")
                continue
            if len(got) != size:
                self.out.append(
                    f"{what}: artifact '{rel}' is {len(got)} bytes {self.there}, {size} {self.here}"
                )
            elif hashlib.sha256(got).hexdigest() != _digest(
                self.source.read_artifact(folder, rel, size)
            ):
                self.out.append(f"{what}: artifact '{rel}' differs (sha256)")

    def _logged_model(self, model: ImportedModel) -> None:
        uri = self.model_uris.get(model.model_id)
        if uri is not None:
            if model.folder is not None:
                self._files(f"logged model {model.model_id}", model.folder, uri)
            return
        try:
            info = self.dest.get_logged_model(self.ids.get(model.model_id, model.model_id))
        except ServerRefused:
            self.out.append(f"logged model {model.model_id}: missing")
            return
        if model.folder is not None and info.get("artifact_uri"):
            self._files(f"logged model {model.model_id}", model.folder, info["artifact_uri"])

    def _registry(self) -> None:
        calls = RegistryCalls(self.dest)
        imported = {r for e in self.source.experiments() for r in self._run_ids(e)}
        in_scope = models_in_scope(self.source, self.source.registered_models(), imported)
        for model, versions in in_scope:
            name = model.name
            found = calls.get_model(name)
            if found is None:
                self.out.append(f"registered model '{name}': missing")
                continue
            if (found.get("description") or "") != (model.description or ""):
                self.out.append(f"registered model '{name}': description differs")
            tags = wire.kv_dict(found.get("tags"))
            for key, value in model.tags.items():
                if tags.get(key) != value:
                    self.out.append(f"registered model '{name}': tag '{key}' differs")
            there = sorted(calls.versions_of(name), key=lambda v: int(v["version"]))
            wanted = [v for v in versions if not v.run_id or v.run_id in imported]
            if len(there) != len(wanted):
                self.out.append(
                    f"registered model '{name}': {len(there)} version(s) {self.there}, "
                    f"{len(wanted)} {self.here}"
                )
                continue
            numbers = {}
            for mine, theirs in zip(wanted, there, strict=True):
                numbers[mine.version] = str(theirs["version"])
                label = f"registered model '{name}' version {mine.version}"
                if theirs.get("current_stage", "None") != mine.current_stage:
                    self.out.append(f"{label}: stage {theirs.get('current_stage')!r}")
                if (theirs.get("run_id") or None) != self.ids.get(mine.run_id or "", mine.run_id):
                    self.out.append(f"{label}: run {theirs.get('run_id')!r}")
            aliases = {a["alias"]: str(a["version"]) for a in found.get("aliases", [])}
            expected = {a: numbers[v] for a, v in model.aliases.items() if v in numbers}
            if aliases != expected:
                self.out.append(f"registered model '{name}': aliases {aliases} != {expected}")

    def _run_ids(self, experiment: Experiment) -> list[str]:
        return [r.info.run_id for r in self.source.runs(experiment.experiment_id)]


def verify_import(
    source: Source,
    to: str | None,
    *,
    request_hook: Hook | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[str]:
    """Compare ``source`` with the destination; the differences (empty: equal)."""
    try:
        with destination(to, request_hook=request_hook, transport=transport) as dest:
            return Verifier(source, dest).run()
    finally:
        source.close()
