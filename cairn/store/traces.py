"""MLflow traces in SQL: trace info, tags, request metadata, spans (one row per span),
assessments and links to runs. One code path for SQLite and PostgreSQL.

Spans arrive in batches (OTLP): a batch is written in one transaction with one change event,
whatever the number of spans and traces in it. A trace row is made by whichever comes first,
its spans or its info (``start_trace``); the other fills in the rest.
"""

from __future__ import annotations

import uuid
from collections import namedtuple
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from cairn.entities.errors import CairnError
from cairn.entities.events import Change, EntityType
from cairn.entities.traces import (
    ARTIFACT_LOCATION_TAG,
    PREVIEW_CHARS,
    SPAN_INPUTS_ATTRIBUTE,
    SPAN_OUTPUTS_ATTRIBUTE,
    SPANS_IN_STORE,
    SPANS_LOCATION_TAG,
    TRACE_NAME_TAG,
    Assessment,
    Span,
    TraceInfo,
    TraceState,
)
from cairn.entities.tracking import LifecycleStage
from cairn.store import events
from cairn.store import experiments as experiment_store
from cairn.store import runs as run_store
from cairn.store.prepared import Prepared, PreparedIn
from cairn.store.schema import (
    assessments,
    experiments,
    runs,
    spans,
    trace_metadata,
    trace_runs,
    trace_tags,
    traces,
)
from cairn.store.sql import AnyRow, dialect_insert, now_ms, upsert_insert

t = traces.c
MAX_EVENT_IDS = 20
"""How many trace ids one change event names (a batch may hold more)."""


def new_trace_id() -> str:
    return f"tr-{uuid.uuid4().hex}"


def new_assessment_id() -> str:
    return f"a-{uuid.uuid4().hex}"


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def preview(value: Any) -> str | None:
    """A listing's preview of a span's inputs or outputs (JSON text, cut)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else dumps(value)
    return text[:PREVIEW_CHARS]


def _change(
    action: str,
    trace_id: str,
    experiment_id: int,
    after: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> Change:
    eid = str(experiment_id)
    return Change(action, EntityType.TRACE, trace_id, eid, before=before, after=after)


_EXPERIMENT_STATE = Prepared(
    select(experiments.c.lifecycle_stage, experiments.c.artifact_location).where(
        experiments.c.experiment_id == bindparam("experiment_id")
    )
)


def _experiment_active(conn: Connection, experiment_id: int) -> str:
    """The artifact root of an active experiment (a 404 or 400 otherwise)."""
    state = _EXPERIMENT_STATE.first(conn, experiment_id=experiment_id)
    if state is None:
        raise CairnError.not_found(f"No Experiment with id={experiment_id} exists")
    if state[0] != LifecycleStage.ACTIVE:
        raise CairnError.invalid(
            f"Experiment {experiment_id} is deleted; restore it before logging traces in it"
        )
    return experiment_store.artifact_location_of(experiment_id, state[1]).rstrip("/")


def _row(conn: Connection, trace_id: str) -> AnyRow:
    row = conn.execute(select(traces).where(t.trace_id == trace_id)).first()
    if row is None:
        raise CairnError.not_found(f"Trace with ID '{trace_id}' not found.")
    return row


def experiment_of(conn: Connection, trace_id: str) -> int | None:
    found = conn.execute(select(t.experiment_id).where(t.trace_id == trace_id)).scalar()
    return None if found is None else int(found)


def _set_pairs(conn: Connection, table: Any, pk: int, values: dict[str, str]) -> None:
    if not values:
        return
    stmt = upsert_insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["trace_pk", "key"], set_={"value": stmt.excluded.value}
    )
    conn.execute(stmt, [{"trace_pk": pk, "key": k, "value": v} for k, v in values.items()])


def _set_missing(conn: Connection, table: Any, pk: int, values: dict[str, str]) -> None:
    if not values:
        return
    stmt = upsert_insert(conn, table).on_conflict_do_nothing(index_elements=["trace_pk", "key"])
    conn.execute(stmt, [{"trace_pk": pk, "key": k, "value": v} for k, v in values.items()])


def _insert_trace(conn: Connection, trace_id: str, experiment_id: int, **values: Any) -> int | None:
    """Insert the trace row; None when a concurrent writer (its spans, or its info) made it
    first, and the caller goes on with the row that is there."""
    root = _experiment_active(conn, experiment_id)
    stmt = upsert_insert(conn, traces).values(
        trace_id=trace_id,
        experiment_id=experiment_id,
        span_count=0,
        updated_time=now_ms(),
        **values,
    )
    pk: int | None = conn.execute(
        stmt.on_conflict_do_nothing(index_elements=["trace_id"]).returning(t.id)
    ).scalar()
    if pk is not None:
        location = f"{root}/traces/{trace_id}/artifacts"
        _set_pairs(conn, trace_tags, pk, {ARTIFACT_LOCATION_TAG: location})
    return pk


def _same_experiment(row: Any, experiment_id: int) -> None:
    if row.experiment_id != experiment_id:
        raise CairnError.invalid(
            f"Trace '{row.trace_id}' belongs to experiment {row.experiment_id}, not to "
            f"experiment {experiment_id} (x-mlflow-experiment-id / trace_location)"
        )


# ---- ingest ----


SPAN_COLUMNS = (
    "trace_pk",
    "span_id",
    "parent_span_id",
    "name",
    "span_type",
    "status",
    "status_message",
    "kind",
    "start_ns",
    "end_ns",
    "attributes",
    "events",
    "inputs_preview",
    "outputs_preview",
)
INSERT_SPANS = Prepared(insert(spans).values({c: bindparam(c) for c in SPAN_COLUMNS}), SPAN_COLUMNS)
"""A batch's spans in one executemany on the driver's cursor: through Core, building the
parameters of 100 rows cost about as much as SQLite storing them (benchmarks/trace_bench.py)."""


def _span_row(pk: int, s: Span) -> tuple[Any, ...]:
    """A span's values in :data:`SPAN_COLUMNS` order."""
    attributes = s.attributes
    return (
        pk,
        s.span_id,
        s.parent_span_id,
        s.name,
        s.span_type,
        s.status_code,
        s.status_message or None,
        s.kind,
        s.start_ns,
        s.end_ns,
        dumps(attributes),
        dumps(s.events),
        preview(attributes.get(SPAN_INPUTS_ATTRIBUTE)),
        preview(attributes.get(SPAN_OUTPUTS_ATTRIBUTE)),
    )


def _root_values(root: Span) -> dict[str, Any]:
    """What a trace's root span says of the trace, for traces whose info never comes."""
    state = {
        "STATUS_CODE_OK": TraceState.OK,
        "STATUS_CODE_ERROR": TraceState.ERROR,
    }.get(root.status_code, TraceState.OK)
    values: dict[str, Any] = {"request_time": root.start_ns // 1_000_000}
    if root.end_ns:
        values["execution_duration"] = max(0, (root.end_ns - root.start_ns) // 1_000_000)
        values["state"] = state.value
    values["request_preview"] = preview(root.attributes.get(SPAN_INPUTS_ATTRIBUTE))
    values["response_preview"] = preview(root.attributes.get(SPAN_OUTPUTS_ATTRIBUTE))
    return values


_TRACE_COLUMNS = (
    "trace_id",
    "experiment_id",
    "span_count",
    "updated_time",
    "request_time",
    "execution_duration",
    "state",
    "request_preview",
    "response_preview",
)
_INSERT_TRACES = Prepared(
    lambda dialect: (
        dialect_insert(dialect, traces)
        .values({c: bindparam(c) for c in _TRACE_COLUMNS})
        .on_conflict_do_nothing(index_elements=["trace_id"])
    ),
    _TRACE_COLUMNS,
)
_TAG_COLUMNS = ("trace_pk", "key", "value")
_KEEP_TAGS = Prepared(
    lambda dialect: (
        dialect_insert(dialect, trace_tags)
        .values({c: bindparam(c) for c in _TAG_COLUMNS})
        .on_conflict_do_nothing(index_elements=["trace_pk", "key"])
    ),
    _TAG_COLUMNS,
)


def _set_tags(dialect: str) -> Any:
    stmt = dialect_insert(dialect, trace_tags).values({c: bindparam(c) for c in _TAG_COLUMNS})
    return stmt.on_conflict_do_update(
        index_elements=["trace_pk", "key"], set_={"value": stmt.excluded.value}
    )


_SET_TAGS = Prepared(_set_tags, _TAG_COLUMNS)
_INGEST_STATES = PreparedIn(
    lambda ids: select(t.id, t.trace_id, t.experiment_id, t.state, t.execution_duration).where(
        t.trace_id.in_(ids)
    ),
    pad="",
)
_IngestState = namedtuple("_IngestState", "id trace_id experiment_id state execution_duration")


def _ingest_states(conn: Connection, trace_ids: Sequence[str]) -> list[_IngestState]:
    """What ingest needs of the traces named (those that exist)."""
    return [_IngestState(*row) for row in _INGEST_STATES.rows(conn, trace_ids)]


def log_spans(
    conn: Connection,
    experiment_id: int,
    batch: Sequence[Span],
    resource_tags: dict[str, str],
) -> list[str]:
    """Store a batch of spans (all or nothing); the ids of the traces they belong to.

    A handful of statements per batch whatever its size: the traces it names are read at
    once, the new ones inserted at once, then every span in one insert."""
    unique: dict[str, dict[str, Span]] = {}
    for span in batch:  # a span sent twice in one batch: the last one counts
        unique.setdefault(span.trace_id, {})[span.span_id] = span
    by_trace = {trace_id: list(group.values()) for trace_id, group in unique.items()}
    batch = [span for group in by_trace.values() for span in group]
    trace_ids = list(by_trace)
    root = _experiment_active(conn, experiment_id)
    found = {r.trace_id: r for r in _ingest_states(conn, trace_ids)}
    for row in found.values():
        _same_experiment(row, experiment_id)
    now = now_ms()
    new_rows = []
    for trace_id in trace_ids:
        if trace_id in found:
            continue
        group = by_trace[trace_id]
        first = min(group, key=lambda s: s.start_ns)
        values: dict[str, Any] = {
            "trace_id": trace_id,
            "experiment_id": experiment_id,
            "span_count": 0,
            "updated_time": now,
            "request_time": first.start_ns // 1_000_000,
            "execution_duration": None,
            "state": TraceState.IN_PROGRESS.value,
            "request_preview": None,
            "response_preview": None,
        }
        roots = [s for s in group if s.parent_span_id is None]
        if roots:
            values.update(_root_values(roots[0]))
        new_rows.append(values)
    if new_rows:
        _INSERT_TRACES.many(conn, [tuple(v[c] for c in _TRACE_COLUMNS) for v in new_rows])
        made = {r.trace_id: r for r in _ingest_states(conn, [v["trace_id"] for v in new_rows])}
        for row in made.values():  # a concurrent writer may have made it elsewhere
            _same_experiment(row, experiment_id)
        fresh = {v["trace_id"] for v in new_rows}
        location = {
            "key": ARTIFACT_LOCATION_TAG,
            "value": "",
        }
        tag_rows = [
            {**location, "trace_pk": r.id, "value": f"{root}/traces/{r.trace_id}/artifacts"}
            for r in made.values()
            if r.trace_id in fresh
        ]
        _KEEP_TAGS.many(conn, [(r["trace_pk"], r["key"], r["value"]) for r in tag_rows])
        known = {tid: r for tid, r in made.items() if tid not in found}
    else:
        known = {}
    pks = {tid: r.id for tid, r in {**found, **known}.items()}
    # traces that existed before: their root span completes them, unless their info came
    for trace_id, row in found.items():
        info_given = row.state != TraceState.IN_PROGRESS and row.execution_duration is not None
        roots = [s for s in by_trace[trace_id] if s.parent_span_id is None]
        if roots and not info_given:
            conn.execute(update(traces).where(t.id == row.id).values(**_root_values(roots[0])))
    if found:
        existing = [(pks[tid], s.span_id) for tid in found for s in by_trace[tid]]
        for pk in {pk for pk, _ in existing}:
            ids = [span_id for owner, span_id in existing if owner == pk]
            conn.execute(delete(spans).where(spans.c.trace_pk == pk, spans.c.span_id.in_(ids)))
    INSERT_SPANS.many(conn, [_span_row(pks[s.trace_id], s) for s in batch])
    counted = (
        select(func.count()).select_from(spans).where(spans.c.trace_pk == t.id).scalar_subquery()
    )
    conn.execute(
        update(traces)
        .where(t.id.in_(list(pks.values())))
        .values(span_count=counted, updated_time=now)
    )
    tag_rows = []
    missing_rows = []
    for trace_id, pk in pks.items():
        tag_rows.append({"trace_pk": pk, "key": SPANS_LOCATION_TAG, "value": SPANS_IN_STORE})
        missing = dict(resource_tags)
        roots = [s for s in by_trace[trace_id] if s.parent_span_id is None]
        if roots:
            missing[TRACE_NAME_TAG] = roots[0].name
        missing_rows += [{"trace_pk": pk, "key": k, "value": v} for k, v in missing.items()]
    _SET_TAGS.many(conn, [(r["trace_pk"], r["key"], r["value"]) for r in tag_rows])
    _KEEP_TAGS.many(conn, [(r["trace_pk"], r["key"], r["value"]) for r in missing_rows])
    after = {"traces": trace_ids[:MAX_EVENT_IDS], "trace_count": len(trace_ids)}
    after["span_count"] = len(batch)
    events.record(conn, _change("trace.spans_log", trace_ids[0], experiment_id, after=after))
    return trace_ids


def start_trace(conn: Connection, info: TraceInfo) -> TraceInfo:
    """Create or complete a trace from its info (3.x clients send it when the trace ends)."""
    eid = int(info.experiment_id)
    row = conn.execute(select(traces).where(t.trace_id == info.trace_id)).first()
    values = {
        "client_request_id": info.client_request_id,
        "request_time": info.request_time,
        "execution_duration": info.execution_duration,
        "state": info.state,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
    }
    made = None
    if row is None:
        made = _insert_trace(conn, info.trace_id, eid, **values)
        if made is None:  # its spans came in meanwhile
            row = _row(conn, info.trace_id)
    if made is not None:
        pk = made
        action = "trace.create"
    else:
        assert row is not None
        _same_experiment(row, eid)
        pk = row.id
        keep = {k: v for k, v in values.items() if v is not None}
        conn.execute(update(traces).where(t.id == pk).values(updated_time=now_ms(), **keep))
        action = "trace.update"
    tags = {k: v for k, v in info.tags.items() if k != SPANS_LOCATION_TAG}
    _set_pairs(conn, trace_tags, pk, tags)
    _set_pairs(conn, trace_metadata, pk, info.metadata)
    after = {"state": info.state, "tags": info.tags, "metadata": info.metadata}
    events.record(conn, _change(action, info.trace_id, eid, after=after))
    return get_info(conn, info.trace_id)


def end_trace_v2(
    conn: Connection,
    trace_id: str,
    end_ms: int,
    state: str,
    metadata: dict[str, str],
    tags: dict[str, str],
) -> TraceInfo:
    """A 2.x client's end of a trace: its end time, status, more metadata and tags."""
    row = _row(conn, trace_id)
    duration = max(0, end_ms - row.request_time)
    conn.execute(
        update(traces)
        .where(t.id == row.id)
        .values(execution_duration=duration, state=state, updated_time=now_ms())
    )
    _set_pairs(conn, trace_tags, row.id, tags)
    _set_pairs(conn, trace_metadata, row.id, metadata)
    after = {"state": state, "tags": tags, "metadata": metadata}
    events.record(conn, _change("trace.update", trace_id, row.experiment_id, after=after))
    return get_info(conn, trace_id)


# ---- reads ----


def load_infos(conn: Connection, rows: Sequence[AnyRow]) -> list[TraceInfo]:
    """Whole trace infos (tags, metadata, assessments) for rows of ``traces``, in order."""
    infos = {
        r.id: TraceInfo(
            trace_id=r.trace_id,
            experiment_id=str(r.experiment_id),
            request_time=r.request_time,
            execution_duration=r.execution_duration,
            state=r.state,
            client_request_id=r.client_request_id,
            request_preview=r.request_preview,
            response_preview=r.response_preview,
        )
        for r in rows
    }
    if not infos:
        return []
    pks = list(infos)
    for table, into in ((trace_tags, "tags"), (trace_metadata, "metadata")):
        c = table.c
        for pk, key, value in conn.execute(
            select(c.trace_pk, c.key, c.value).where(c.trace_pk.in_(pks))
        ):
            getattr(infos[pk], into)[key] = value
    ids = {r.id: r.trace_id for r in rows}
    for pk, found in _assessments(conn, pks, ids).items():
        infos[pk].assessments = found
    return [infos[r.id] for r in rows]


def get_info(conn: Connection, trace_id: str) -> TraceInfo:
    return load_infos(conn, [_row(conn, trace_id)])[0]


def get_infos(
    conn: Connection, trace_ids: Sequence[str], experiment_ids: Sequence[int] | None = None
) -> list[TraceInfo]:
    """The traces of ``trace_ids`` that exist (in ``experiment_ids`` when given), in order."""
    query = select(traces).where(t.trace_id.in_(list(trace_ids)))
    if experiment_ids is not None:
        query = query.where(t.experiment_id.in_(list(experiment_ids)))
    rows = {r.trace_id: r for r in conn.execute(query)}
    return load_infos(conn, [rows[i] for i in dict.fromkeys(trace_ids) if i in rows])


def get_spans(conn: Connection, trace_ids: Sequence[str]) -> dict[str, list[Span]]:
    """The stored spans of each trace, ordered by start time."""
    s = spans.c
    out: dict[str, list[Span]] = {i: [] for i in trace_ids}
    query = (
        select(t.trace_id, spans)
        .join(traces, t.id == s.trace_pk)
        .where(t.trace_id.in_(list(trace_ids)))
        .order_by(s.trace_pk, s.start_ns, s.span_id)
    )
    for r in conn.execute(query):
        attributes = loads(r.attributes) or {}
        out[r.trace_id].append(
            Span(
                trace_id=r.trace_id,
                span_id=r.span_id,
                parent_span_id=r.parent_span_id,
                name=r.name,
                start_ns=r.start_ns,
                end_ns=r.end_ns,
                status_code=r.status,
                status_message=r.status_message or "",
                kind=r.kind,
                attributes=attributes,
                events=loads(r.events) or [],
                otel_trace_id=r.trace_id[3:] if r.trace_id.startswith("tr-") else "",
            )
        )
    return out


# ---- tags, deletion, runs ----


def set_tag(conn: Connection, trace_id: str, key: str, value: str) -> None:
    row = _row(conn, trace_id)
    before = conn.execute(
        select(trace_tags.c.value).where(trace_tags.c.trace_pk == row.id, trace_tags.c.key == key)
    ).scalar()
    _set_pairs(conn, trace_tags, row.id, {key: value})
    events.record(
        conn,
        _change(
            "trace.tag_set",
            trace_id,
            row.experiment_id,
            after={"key": key, "value": value},
            before=None if before is None else {"key": key, "value": before},
        ),
    )


def delete_tag(conn: Connection, trace_id: str, key: str) -> None:
    row = _row(conn, trace_id)
    c = trace_tags.c
    before = conn.execute(select(c.value).where(c.trace_pk == row.id, c.key == key)).scalar()
    if before is None:
        raise CairnError.not_found(f"No trace tag with key '{key}' for trace with ID '{trace_id}'")
    conn.execute(delete(trace_tags).where(c.trace_pk == row.id, c.key == key))
    events.record(
        conn,
        _change(
            "trace.tag_delete",
            trace_id,
            row.experiment_id,
            before={"key": key, "value": before},
        ),
    )


def delete_traces(
    conn: Connection,
    experiment_id: int,
    max_timestamp_millis: int | None,
    max_traces: int | None,
    trace_ids: Sequence[str],
) -> int:
    """Delete traces of an experiment by id, or those older than a time (oldest first, at
    most ``max_traces``); how many were deleted."""
    query = select(t.id, t.trace_id).where(t.experiment_id == experiment_id)
    if trace_ids:
        query = query.where(t.trace_id.in_(list(trace_ids)))
    else:
        assert max_timestamp_millis is not None
        query = query.where(t.request_time <= max_timestamp_millis).order_by(t.request_time, t.id)
        if max_traces:
            query = query.limit(max_traces)
    found = list(conn.execute(query))
    if not found:
        return 0
    pks = [r.id for r in found]
    for start in range(0, len(pks), 500):
        chunk = pks[start : start + 500]
        for table in (spans, trace_tags, trace_metadata, assessments, trace_runs):
            conn.execute(delete(table).where(table.c.trace_pk.in_(chunk)))
        conn.execute(delete(traces).where(t.id.in_(chunk)))
    ids = [r.trace_id for r in found]
    after = {"traces": ids[:MAX_EVENT_IDS], "trace_count": len(ids)}
    events.record(conn, _change("trace.delete", ids[0], experiment_id, before=after))
    return len(ids)


def link_to_run(conn: Connection, trace_ids: Sequence[str], run_uuid: str) -> None:
    run = run_store.resolve(conn, run_uuid)
    rows = list(
        conn.execute(
            select(t.id, t.trace_id, t.experiment_id).where(t.trace_id.in_(list(trace_ids)))
        )
    )
    known = {r.trace_id for r in rows}
    missing = [i for i in trace_ids if i not in known]
    if missing:
        raise CairnError.not_found(f"Trace with ID '{missing[0]}' not found.")
    stmt = upsert_insert(conn, trace_runs).on_conflict_do_nothing(
        index_elements=["trace_pk", "run_id"]
    )
    conn.execute(stmt, [{"trace_pk": r.id, "run_id": run.id} for r in rows])
    for r in rows:
        events.record(
            conn, _change("trace.link_run", r.trace_id, r.experiment_id, after={"run_id": run_uuid})
        )


def linked_run_pks(conn: Connection, run_uuid: str) -> Any:
    """The subquery of traces a run is linked to (for search)."""
    return (
        select(trace_runs.c.trace_pk)
        .join(runs, runs.c.id == trace_runs.c.run_id)
        .where(runs.c.run_uuid == run_uuid)
    )


# ---- assessments ----

a = assessments.c


def _assessment(r: AnyRow, trace_id: str) -> Assessment:
    stored = loads(r.value)
    value, serialized = stored, None
    if isinstance(stored, dict) and "__serialized__" in stored:
        serialized = stored["__serialized__"]
        value = None
    return Assessment(
        assessment_id=r.assessment_id,
        trace_id=trace_id,
        name=r.name,
        kind=r.kind,
        value=value,
        source_type=r.source_type,
        source_id=r.source_id,
        create_time=r.create_time,
        last_update_time=r.last_update_time,
        span_id=r.span_id,
        rationale=r.rationale,
        error=loads(r.error),
        metadata=loads(r.metadata) or {},
        overrides=r.overrides,
        valid=bool(r.valid),
        serialized=serialized,
    )


def _assessments(
    conn: Connection, pks: Sequence[int], ids: dict[int, str]
) -> dict[int, list[Assessment]]:
    out: dict[int, list[Assessment]] = {}
    query = select(assessments).where(a.trace_pk.in_(list(pks))).order_by(a.create_time, a.id)
    for r in conn.execute(query):
        out.setdefault(r.trace_pk, []).append(_assessment(r, ids[r.trace_pk]))
    return out


def _stored_value(x: Assessment) -> str | None:
    if x.serialized is not None:
        return dumps({"__serialized__": x.serialized})
    return dumps(x.value)


def create_assessment(conn: Connection, x: Assessment) -> Assessment:
    row = _row(conn, x.trace_id)
    now = now_ms()
    x.assessment_id = x.assessment_id or new_assessment_id()
    x.create_time = x.create_time or now
    x.last_update_time = x.last_update_time or now
    if x.overrides:
        c = assessments.c
        found = conn.execute(
            update(assessments)
            .where(c.assessment_id == x.overrides, c.trace_pk == row.id)
            .values(valid=False)
        )
        if not found.rowcount:
            raise CairnError.not_found(
                f"Assessment with ID '{x.overrides}' (overrides) not found on trace '{x.trace_id}'"
            )
    conn.execute(
        insert(assessments).values(
            assessment_id=x.assessment_id,
            trace_pk=row.id,
            name=x.name,
            kind=x.kind,
            value=_stored_value(x),
            error=None if x.error is None else dumps(x.error),
            rationale=x.rationale,
            source_type=x.source_type,
            source_id=x.source_id,
            span_id=x.span_id,
            metadata=dumps(x.metadata) if x.metadata else None,
            overrides=x.overrides,
            valid=x.valid,
            create_time=x.create_time,
            last_update_time=x.last_update_time,
        )
    )
    after = {"assessment_id": x.assessment_id, "name": x.name, "kind": x.kind}
    events.record(conn, _change("trace.assessment_create", x.trace_id, row.experiment_id, after))
    return get_assessment(conn, x.trace_id, x.assessment_id)


def _assessment_row(conn: Connection, trace_id: str, assessment_id: str) -> tuple[AnyRow, AnyRow]:
    trace = _row(conn, trace_id)
    found = conn.execute(
        select(assessments).where(a.assessment_id == assessment_id, a.trace_pk == trace.id)
    ).first()
    if found is None:
        raise CairnError.not_found(
            f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'"
        )
    return trace, found


def get_assessment(conn: Connection, trace_id: str, assessment_id: str) -> Assessment:
    _, found = _assessment_row(conn, trace_id, assessment_id)
    return _assessment(found, trace_id)


def update_assessment(
    conn: Connection, trace_id: str, assessment_id: str, changes: Assessment, fields: Iterable[str]
) -> Assessment:
    trace, _ = _assessment_row(conn, trace_id, assessment_id)
    values: dict[str, Any] = {"last_update_time": now_ms()}
    for name in fields:
        if name == "value":
            values["value"] = _stored_value(changes)
        elif name == "error":
            values["error"] = None if changes.error is None else dumps(changes.error)
        elif name == "metadata":
            values["metadata"] = dumps(changes.metadata) if changes.metadata else None
        elif name in ("name", "rationale", "span_id", "valid", "source_type", "source_id"):
            values[name] = getattr(changes, name)
    conn.execute(update(assessments).where(a.assessment_id == assessment_id).values(**values))
    after = {"assessment_id": assessment_id, "fields": sorted(set(fields))}
    events.record(conn, _change("trace.assessment_update", trace_id, trace.experiment_id, after))
    return get_assessment(conn, trace_id, assessment_id)


def delete_assessment(conn: Connection, trace_id: str, assessment_id: str) -> None:
    trace, found = _assessment_row(conn, trace_id, assessment_id)
    if found.overrides:  # the one it replaced counts again
        conn.execute(
            update(assessments)
            .where(a.assessment_id == found.overrides, a.trace_pk == trace.id)
            .values(valid=True)
        )
    conn.execute(delete(assessments).where(a.id == found.id))
    before = {"assessment_id": assessment_id, "name": found.name}
    events.record(
        conn,
        _change("trace.assessment_delete", trace_id, trace.experiment_id, before=before),
    )
